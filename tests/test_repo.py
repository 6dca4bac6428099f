"""Guards on the repository itself: pinned environments in step, notebooks stored clean."""
import json
import re
import tomllib

import yaml

from bwkit.paths import NOTEBOOKS, ROOT


def pins_from_pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]
    return dict(line.split("==") for line in lines)


def pins_from_environment_yml() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return dict(line.split("==") for line in pip if "==" in line)


def test_environment_yml_pins_the_same_packages_as_pyproject():
    assert pins_from_environment_yml() == pins_from_pyproject()


def test_every_dependency_is_pinned_and_torch_is_the_local_cpu_release():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.+]*", d) for d in project["dependencies"])
    assert pins_from_pyproject()["torch"] == "2.13.0"


def test_notebooks_are_stored_without_outputs_and_with_the_python3_kernel():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_notebooks_keep_functions_in_the_package():
    """Thin notebooks: no def or class; anything worth testing lives in bwkit/."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert not re.search(r"^\s*(def|class) ", source, re.M), path.name
