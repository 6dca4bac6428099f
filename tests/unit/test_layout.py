"""The package's shape: subpackages by stage that import only downward and only through each other's faces,
no private name used outside its subpackage, small functions, one home for the record and the calendar."""
import ast
import importlib
import re
from pathlib import Path

import pytest

from bwkit.runs.paths import ROOT

PACKAGE = ROOT / "bwkit"
# Bottom to top: a module may import only its own subpackage and those before it.
LAYERS = ["errors", "files", "schema", "lazy", "data", "synth", "runs", "features", "training", "evaluation", "serving",
          "reports", "pipeline", "experiments", "predictor", "cli"]
SUBPACKAGES = [d.name for d in sorted(PACKAGE.iterdir()) if (d / "__init__.py").is_file()]
FACED = [s for s in SUBPACKAGES if s != "synth"]   # synth's __init__ is its whole API


def home(path: Path) -> str:
    """The layer a file belongs to: its subpackage, or its own name at the top."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return parts[0]


def imports(path: Path):
    """(line, module imported, names) of every bwkit import in a file, relative ones resolved, lazy ones included,
    `if TYPE_CHECKING:` blocks left out (annotations only)."""
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for child in node.body for n in ast.walk(child)}
    package = ".".join(("bwkit", *path.relative_to(PACKAGE).parts[:-1]))
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            module = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module
            if module and module.split(".")[0] == "bwkit":
                yield node.lineno, module, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "bwkit":
                    yield node.lineno, a.name, []


FILES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_sits_in_a_known_layer():
    assert sorted({home(p) for p in FILES} - {"__init__"}) == sorted(set(LAYERS) - {"__init__"}) or \
        {home(p) for p in FILES} - {"__init__"} <= set(LAYERS), {home(p) for p in FILES} - set(LAYERS)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_run_downward_and_cross_subpackages_only_through_their_faces(path):
    own = home(path)
    for line, module, names in imports(path):
        parts = module.split(".")
        if len(parts) == 1:   # `from bwkit import synth`: the named top-level modules and packages
            targets = names
        else:
            targets = [parts[1]]
        for target in targets:
            if target == own or target == "__version__":
                continue
            assert LAYERS.index(target) < LAYERS.index(own), \
                f"{path.relative_to(ROOT)}:{line} imports {module} {names}: {target} is not below {own}"
            if target in FACED and len(parts) > 2:
                pytest.fail(f"{path.relative_to(ROOT)}:{line} imports {module}: outside bwkit.{target}, import its "
                            f"face (from bwkit.{target} import ...)")
            if target in FACED and len(parts) == 2:
                face = importlib.import_module(f"bwkit.{target}")
                hidden = [n for n in names if n not in face.__all__]
                assert not hidden, f"{path.relative_to(ROOT)}:{line}: {hidden} are not on bwkit.{target}'s face"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_private_name_is_used_outside_its_subpackage(path):
    own, tree = home(path), ast.parse(path.read_text())
    aliases = {}
    for line, module, names in imports(path):
        target = module.split(".")[1] if "." in module else None
        for name in names:
            if name.startswith("_") and not name.startswith("__") and target != own:
                pytest.fail(f"{path.relative_to(ROOT)}:{line} imports the private {module}.{name}")
            aliases[name] = target
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases \
                and node.attr.startswith("_") and not node.attr.startswith("__") and aliases[node.value.id] != own:
            pytest.fail(f"{path.relative_to(ROOT)}:{node.lineno} uses the private {node.value.id}.{node.attr}")


@pytest.mark.parametrize("subpackage", FACED)
def test_every_name_on_a_face_resolves_and_the_serving_face_needs_no_torch(subpackage):
    face = importlib.import_module(f"bwkit.{subpackage}")
    for name in face.__all__:
        assert getattr(face, name) is not None, f"bwkit.{subpackage}.{name}"


def test_the_functions_are_small():
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= 50, f"{path.relative_to(ROOT)}:{node.lineno} {node.name} is {length} lines"


def test_run_json_is_read_in_one_place_and_the_calendar_cell_computed_in_one():
    readers, cells = [], []
    for path in FILES:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"run_json\.read_text\(\)|json\.loads?\(.*run\.json|RUN_JSON.*read_text", line):
                readers.append(f"{path.relative_to(ROOT)}:{i}")
            if re.search(r"\*\s*(7|WEEKDAYS)\s*\+|//\s*(7|WEEKDAYS)\b|%\s*(7|WEEKDAYS)\b", line) \
                    and not line.strip().startswith("#") and "86400" not in line:   # a weekday from epoch days
                cells.append(f"{path.relative_to(ROOT)}:{i}")
        for node in ast.walk(ast.parse(path.read_text())):   # a helper handed the path (`_read(files.run_json)`)
            if isinstance(node, ast.Call) and any(isinstance(a, ast.Attribute) and a.attr == "run_json"
                                                  for a in node.args):
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert all(r.startswith("bwkit/runs/record.py") for r in readers), readers
    assert {c.split(":")[0] for c in cells} <= {"bwkit/features/calendar.py"}, cells


def crowded(source: str, path: str = "") -> list[str]:
    """Functions (methods and nested ones too) with more than three positional parameters, self and cls not counted."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names = [a.arg for a in node.args.posonlyargs + node.args.args]
            names = names[1:] if names[:1] in (["self"], ["cls"]) else names
            if len(names) > 3:
                found.append(f"{path}:{node.lineno} {node.name}({', '.join(names)})")
    return found


def test_the_crowded_check_counts_positional_parameters_only():
    assert crowded("def f(a, b, c, d=1): pass") and crowded("class A:\n    def m(self, a, b, c, /, d): pass")
    assert not crowded("def f(a, b, c, *, d, e): pass\nclass A:\n    def m(self, a, b, c, *rest, d=1): pass")


def test_parameters_beyond_the_third_are_keyword_only():
    """Beyond three, a call names what it passes: `load_telemetry(path, features, targets, nan_policy="error")`."""
    found = [line for path in FILES for line in crowded(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, "more than three positional parameters (make the rest keyword-only):\n" + "\n".join(found)


def test_no_pipeline_parameter_default_is_copied_outside_the_notebooks():
    """`.get("model_version", "v1")` and its kind: the parameters cell's default written again in code, which drifts
    when the cell changes. (A different fallback for an old record, e.g. split "file", is not a copy.)"""
    from bwkit.runs.params import notebook_parameters
    from bwkit.runs.paths import STAGES

    defaults = {name: p.default for stage in STAGES for name, p in notebook_parameters(stage).items()}
    copies = []
    for path in FILES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                    and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args) \
                    and node.args[0].value in defaults and node.args[1].value == defaults[node.args[0].value]:
                copies.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    assert not copies, copies
