"""Guards on the repository itself: pinned environments in step, notebooks stored clean, small
functions and modules, text that names only what exists, dependencies that are used."""
import json
import re
import tomllib
from pathlib import Path

import yaml

from bwkit.runs.paths import NOTEBOOKS, ROOT


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


def stored(path) -> str:
    """The notebook as git stores it (through the nbstripout filter), or the file outside a git checkout."""
    import subprocess

    done = subprocess.run(["git", "-C", str(ROOT), "show", f":{path.relative_to(ROOT)}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else path.read_text()


def test_notebooks_are_stored_without_outputs_and_with_the_python3_kernel():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = json.loads(stored(path))
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell["outputs"] and cell["execution_count"] is None, path.name


def test_committed_notebooks_are_exactly_what_the_git_filter_writes():
    """Otherwise a fresh clone shows them modified: every run would record a dirty tree, and each `git status`
    would run the filter on every notebook again."""
    import subprocess
    import sys

    def filtered(*paths) -> str:
        return subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", "-t", *map(str, paths)],
                              capture_output=True, text=True, check=True).stdout

    paths = sorted([*NOTEBOOKS.glob("*.ipynb"), *(ROOT / "tests" / "notebooks").rglob("*.ipynb")])
    # one filter process writes them all in turn (a Python start per notebook was most of this test's time);
    # only on a difference is each filtered alone, to name it
    if filtered(*paths) != "".join(map(stored, paths)):
        for path in paths:
            assert filtered(path) == stored(path), f"{path.name}: run `.venv/bin/nbstripout --keep-id {path}` and commit it"
        raise AssertionError("nbstripout -t wrote the notebooks differently together than one by one")


def test_notebooks_keep_functions_in_the_package_and_checks_in_the_tests():
    """Thin notebooks: no def, class or assert; anything worth testing lives in bwkit/, checks in tests/."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"])
            assert not re.search(r"^\s*(def|class|assert) ", source, re.M), path.name


# --------------------------------------------------------------------------- size and text guards

PACKAGE = sorted((ROOT / "bwkit").rglob("*.py"))
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TEXT = [*DOCS, ROOT / "Makefile", ROOT / "pyproject.toml", ROOT / "environment.yml", ROOT / ".ci" / "run",
        *PACKAGE, *sorted((ROOT / "tests").rglob("*.py")), *sorted((ROOT / "tests").rglob("*.ipynb")),
        *sorted(NOTEBOOKS.glob("*.ipynb")), *sorted((ROOT / "bench").glob("*.py")),
        *sorted((ROOT / "presets").glob("*.yml"))]


def test_user_facing_text_names_no_issue_numbers_and_no_folder_outside_the_repository():
    this = Path(__file__).resolve()
    outside = re.compile(r"\.\./shared|shared/tools|DESIGN\.md|STYLE\.md|NOTES-ecosystem|/work/")
    for path in TEXT:
        if path.resolve() == this:
            continue
        text = path.read_text()
        assert not re.search(r"\b[Ii]ssues? #?\d", text), path.name
        assert not outside.search(text), f"{path.name}: {outside.search(text).group()}"


def test_every_repository_path_named_in_code_comments_and_docs_exists():
    named = re.compile(r"(?<![\w/.])((?:bwkit|tests|notebooks|bench|presets|data/irish5g|\.ci|docs)/[\w./*<>-]*[\w*>])")
    for path in TEXT:
        for name in named.findall(path.read_text()):
            if "<" not in name and "*" not in name and name != "data/generated":
                assert (ROOT / name).exists(), f"{path.name} names {name}, which does not exist"
    for path in TEXT:
        for test_file in re.findall(r"\btest_\w+\.py\b", path.read_text()):
            assert any((ROOT / "tests").rglob(test_file)), f"{path.name} names {test_file}"


def heading_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", markdown, flags=re.M | re.S), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_relative_link_in_the_docs_resolves_to_a_file_and_a_heading():
    for path in DOCS:
        text = path.read_text()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            linked = (path.parent / file).resolve() if file else path
            assert linked.exists(), f"{path.relative_to(ROOT)} links {target}: no such file"
            if anchor and linked.suffix == ".md":
                assert anchor in heading_anchors(linked.read_text()), f"{path.relative_to(ROOT)} links {target}: no such heading"


# Declared, used by a tool rather than imported: the reason is the test.
NOT_IMPORTED = {"jupyterlab": "make lab", "ipykernel": "the kernel papermill and JupyterLab start",
                "nbstripout": "the git filter make installs, so saved outputs never reach git",
                "ipywidgets": "tqdm.auto's progress bars in notebooks",
                "httptools": "uvicorn's HTTP parser under bwkit serve"}
IMPORT_NAMES = {"scikit-learn": "sklearn", "pyyaml": "yaml", "pillow": "PIL", "distributed": r"dask\.distributed"}
# pytest plugins, switched on by the Makefile's flag rather than imported.
PLUGIN_FLAGS = {"pytest-cov": "--cov", "pytest-xdist": "-n $(PYTEST_WORKERS)"}


def test_every_declared_dependency_is_imported_somewhere_or_is_a_named_tool():
    sources = "\n".join(p.read_text() for p in TEXT if p.suffix in {".py", ".ipynb"})
    for package in pins_from_pyproject():
        if package.lower() in NOT_IMPORTED:
            continue
        if package.lower() in PLUGIN_FLAGS:
            assert PLUGIN_FLAGS[package.lower()] in (ROOT / "Makefile").read_text(), package
            continue
        module = IMPORT_NAMES.get(package.lower(), package.replace("-", "_"))
        assert re.search(rf"^\s*(import|from) {module}\b|importorskip\(\"{module}\b", sources, re.M), package
