"""Notebook parameters: read from each notebook's `parameters` cell, checked, resolved.

The parameters cell is the one place a default lives. `configure` is the one path
from what a user says (a parameters file, Python values, `--set name=value`
strings) to a checked configuration, a frozen `Config`: the CLI (through
`pipeline.run`), every notebook's first cell (`check_notebook`), the tests and the
benchmark all call it. papermill only warns on an unknown name and never checks a
type, so the kit does both.
"""
from __future__ import annotations

import ast
import difflib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path

from bwkit.data import NAN_POLICIES, check_masks
from bwkit.errors import ParameterError
from bwkit.runs.paths import NOTEBOOKS, STAGES
from bwkit.synth import PROFILES, parse_start

AUTO = "auto"
# Parameters bwkit sets itself for each run (never the user's): the name and what it is.
SET_BY_BWKIT = {"run_dir": "is the run folder (use --run-id)", "output": "is the run's data/telemetry.csv"}
TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off"}   # how a bool may be spelled on the command line or in YAML


class bool_or_auto:
    """True, False, or "auto" for the kit to decide (on validation, `bwkit.training.selection`).

    Annotated `name: "bool_or_auto" = "auto"`: a string annotation, which Python
    never evaluates and papermill's parameter parser reads as a type name.
    """


TYPES = {"int": int, "float": float, "str": str, "bool": bool, "bool_or_auto": bool_or_auto}


def _at_least(low):
    return (lambda v: v >= low), f"at least {low}"


def _names(value: str) -> bool:
    names = [n.strip() for n in value.split(",") if n.strip()]
    return bool(names) and len(set(names)) == len(names)


def _parses_as_start(value: str) -> bool:
    try:
        parse_start(value)
    except ParameterError:
        return False
    return True


def _not_a_folder(value: str) -> bool:
    try:
        return not value or not Path(value).expanduser().is_dir()
    except (OSError, RuntimeError):   # a name too long, ~nouser: not this rule's to say; the stage says it
        return True


def _not_a_file(value: str) -> bool:
    try:
        path = Path(value).expanduser()
        return not path.exists() or path.is_dir()
    except (OSError, RuntimeError):
        return True


def _device_here(value: str) -> bool:
    if not value.startswith("cuda"):
        return True
    import torch   # only when a GPU is asked for: the CLI stays light otherwise

    index = int(value.partition(":")[2] or 0)
    return torch.cuda.is_available() and index < torch.cuda.device_count()


FILE_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
INT64 = 2**63
# What a value must be beyond its type; checked wherever the type is (CLI and notebooks), before anything runs.
RULES = {
    **{name: _at_least(1) for name in ("samples", "epochs", "batch_size", "window_size", "hidden_size",
                                       "num_layers", "patience")},
    "num_threads": _at_least(0),
    "folds": _at_least(0),
    **{name: _at_least(0) for name in ("rows", "break_after")},   # 06_predict's: 0 means all rows, no cut
    "select_epochs": _at_least(1),
    "seed": ((lambda v: 0 <= v < 2**32), "in [0, 2**32) (numpy and torch seeds)"),
    "learning_rate": ((lambda v: v > 0), "above 0"),
    "parity_tolerance": ((lambda v: v > 0), "above 0"),
    "dropout": ((lambda v: 0 <= v < 1), "in [0, 1)"),
    "ema_epochs": ((lambda v: v >= 0), "0 (no averaging) or more"),
    "profile": ((lambda v: v in PROFILES), "one of " + ", ".join(map(repr, PROFILES))),
    "nan_policy": ((lambda v: v in NAN_POLICIES), "one of " + ", ".join(map(repr, NAN_POLICIES))),
    "split": ((lambda v: v in ("time", "file")), "'time' or 'file'"),
    "max_gap_cadences": ((lambda v: v >= 1), "at least 1 (a step of one cadence never breaks a window)"),
    "device": ((lambda v: re.fullmatch(r"auto|cpu|cuda(:\d+)?", v) is not None), "'auto', 'cpu', 'cuda' or 'cuda:N'"),
    "features": (_names, "one or more comma-separated column names, each once"),
    "targets": (_names, "one or more comma-separated column names, each once"),
    "model_version": ((lambda v: FILE_SAFE.fullmatch(v) is not None),
                      "1 to 64 letters, digits, '.', '_' or '-' (it becomes part of file names)"),
    "output": (_not_a_folder, "a file's path to write, not an existing folder's"),
    **{name: (_not_a_file, "a folder's path, not an existing file's") for name in ("run_dir", "out_dir")},
    "start": (_parses_as_start, "an ISO 8601 time such as '2025-11-03T00:00:00Z', within the times pandas can hold "
                                "(1677-09-21 to 2262-04-11)"),
}
# Checked after RULES, where the machine matters.
MACHINE_RULES = {"device": (_device_here, "a device this machine has (no CUDA GPU is visible here; use 'auto' or 'cpu')")}


@dataclass(frozen=True)
class Parameter:
    name: str
    default: object
    type: type
    help: str


class Config(Mapping):
    """A checked configuration, frozen: `config.epochs`, and a read-only mapping (`config["epochs"]`, `**config`).

    `configure` builds one; `Config(saved)` wraps one read back (a checkpoint's or run.json's plain dict) as it is.
    Its fields are the notebooks' parameters, whose cells hold the defaults: this class holds none.
    `replace(name=value)` is a changed copy, its values checked; `to_dict()` is what JSON and checkpoints store.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping = ()):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str):
        if name.startswith("_"):   # copy's and pickle's probes, and the slot itself before it is set
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._values), n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise AttributeError(f"this configuration has no parameter {name!r}.{hint}") from None

    def __setattr__(self, name: str, value) -> None:
        raise FrozenInstanceError(f"a Config is frozen: config = config.replace({name}=...) makes a changed copy")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"a Config is frozen: config = config.without({name!r}) makes a copy without it")

    def __setitem__(self, name: str, value) -> None:
        raise TypeError(f"a Config is read-only: config = config.replace({name}=...) makes a changed copy")

    def __getitem__(self, name: str):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Config({self._values!r})"

    def __dir__(self):
        return sorted({*super().__dir__(), *self._values})

    def __reduce__(self):   # pickled as its values (Dask sends configurations to workers)
        return Config, (self._values,)

    def replace(self, **changes) -> Config:
        """A copy with `changes` to names it has; a known parameter's value is checked as `configure` checks it."""
        values, known = dict(self._values), pipeline_parameters() if changes else {}
        for name, value in changes.items():
            if name not in values:
                raise unknown_parameter(name, values)
            values[name] = check_value(known[name], value) if name in known else value
        _check_together(values)
        return Config(values)

    def without(self, *names: str) -> Config:
        """A copy without `names` (those it lacks are ignored)."""
        return Config({name: value for name, value in self._values.items() if name not in names})

    def to_dict(self) -> dict:
        return dict(self._values)


def parse_parameters_cell(source: str) -> dict[str, Parameter]:
    """`name: type = literal  # help` lines of a parameters cell, in order."""
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            annotation = node.annotation
            spelled = annotation.value if isinstance(annotation, ast.Constant) else ast.unparse(annotation)
            name, kind = node.target.id, TYPES.get(spelled)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name, kind = node.targets[0].id, None
        else:
            continue
        default = _literal(node.value)
        comment = lines[node.end_lineno - 1][node.end_col_offset:].partition("#")[2].strip()
        found[name] = Parameter(name, default, kind or type(default), comment)
    return found


def _literal(node: ast.expr):
    """`ast.literal_eval`, and papermill's spelling of the floats without a literal (`float('inf')`, `float('-inf')`,
    `float('nan')`): the checks then refuse them by name, as the CLI does, not with a parser's traceback."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float" and \
            len(node.args) == 1 and not node.keywords and isinstance(node.args[0], ast.Constant) and \
            node.args[0].value in ("inf", "-inf", "nan"):
        return float(node.args[0].value)
    return ast.literal_eval(node)


def notebook_path(stage: str) -> Path:
    """A stage name ("02_train") means notebooks/<stage>.ipynb; a path ending in .ipynb is itself."""
    return Path(stage) if str(stage).endswith(".ipynb") else NOTEBOOKS / f"{stage}.ipynb"


def notebook_parameters(stage: str) -> dict[str, Parameter]:
    """The declared parameters of a stage's notebook (or of any notebook, by path)."""
    path = notebook_path(stage)
    for cell in json.loads(path.read_text())["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return parse_parameters_cell("".join(cell["source"]))
    raise ParameterError(f"{path}: no cell tagged 'parameters'")


def pipeline_parameters() -> dict[str, Parameter]:
    """Union of every stage's parameters (a name shared by stages has one default)."""
    merged: dict[str, Parameter] = {}
    for stage in STAGES:
        for name, param in notebook_parameters(stage).items():
            merged.setdefault(name, param)
    return merged


def unknown_parameter(name: str, known) -> ParameterError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ParameterError(f"unknown parameter '{name}' (known: {', '.join(sorted(known))}).{hint}")


def check_value(param: Parameter, value):
    """Return `value` as the parameter's type, or raise naming the parameter."""
    if param.type is bool_or_auto:
        return _bool_or_auto_value(param, value)
    if param.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, param.type) or (param.type is int and isinstance(value, bool)):
        hint = {str: " (pass strings to papermill with -r name value)", bool: " (use True or False)"}
        raise ParameterError(f"parameter '{param.name}' expects {param.type.__name__} (default {param.default!r}), "
                             f"got {type(value).__name__} {value!r}" + hint.get(param.type, ""))
    if param.type is float and not math.isfinite(value):
        raise ParameterError(f"parameter '{param.name}' must be a finite number, got {value!r}")
    for rules in (RULES, MACHINE_RULES):
        rule = rules.get(param.name)
        if rule and not rule[0](value):
            raise ParameterError(f"parameter '{param.name}' must be {rule[1]}, got {value!r}")
    if param.type is int and not -INT64 <= value < INT64:   # what numpy and torch hold; past it, an OverflowError
        raise ParameterError(f"parameter '{param.name}' must be a 64-bit integer (below 2**63 in size), got {value!r}")
    return value


def _bool_or_auto_value(param: Parameter, value):
    """True, False or "auto", from a bool or its spelling ("true", "no", "Auto", ...)."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text == AUTO or text in TRUE | FALSE:
        return AUTO if text == AUTO else text in TRUE
    raise ParameterError(f"parameter '{param.name}' expects True, False or 'auto' (default {param.default!r}), "
                         f"got {type(value).__name__} {value!r}")


def coerce(param: Parameter, text: str):
    """Convert a command-line string to the parameter's type, then check it."""
    if param.type is bool_or_auto:
        return _bool_or_auto_value(param, text)
    lowered = text.strip().lower()
    try:
        if param.type is bool and lowered not in TRUE | FALSE:
            raise ValueError
        value = lowered in TRUE if param.type is bool else param.type(text)
    except ValueError:
        raise ParameterError(
            f"parameter '{param.name}' expects {param.type.__name__} (default {param.default!r}), got {text!r}"
        ) from None
    return check_value(param, value)


def _parse_sets(pairs, known: dict[str, Parameter]) -> dict[str, object]:
    """`["epochs=150", ...]` -> {"epochs": 150}."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep:
            raise ParameterError(f"--set expects key=value, got {pair!r}")
        if name not in known:
            raise unknown_parameter(name, known)
        values[name] = coerce(known[name], text)
    return values


def _yaml_text(param: Parameter, value):
    """A YAML list or date given for a text parameter, as the text it stands for: the list joined by commas, the date
    in ISO 8601. (papermill's `-y` and `-f` inject a list as a list, a date as text; `bwkit run -f` reads both.)"""
    import datetime as dt

    if param.type is str and isinstance(value, list):
        held = next((str(v) for v in value if "," in str(v)), None)
        if held is not None:   # joined, it would read as two names
            raise ParameterError(f"parameter '{param.name}': {held!r} holds a comma, which separates the names; rename "
                                 "that column in the CSV")
        return ",".join(str(v) for v in value)
    if param.type is str and isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _from_yaml(param: Parameter | None, value):
    """YAML's own types to the parameter's: lists joined by commas, dates as ISO text, `1e-3` as a number."""
    if param is None:
        return value  # unknown: refused, with the name, by configure
    if param.type is not str and isinstance(value, str):
        return coerce(param, value)
    return _yaml_text(param, value)


def _read_parameters_file(path, known: dict[str, Parameter]) -> dict:
    """YAML `name: value` pairs (like papermill -f); a relative data_path is relative to the file."""
    if not path:
        return {}
    import yaml

    try:
        values = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ParameterError(f"parameters file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:   # UTF-16 from an editor, or not text at all
        raise ParameterError(f"parameters file {path}: not UTF-8 text (byte {exc.start}: "
                             f"{exc.object[exc.start:exc.start + 1]!r}); save it as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = " ".join(str(p) for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p) or exc
        raise ParameterError(f"parameters file {path}{where}: not valid YAML ({what})") from None
    if not isinstance(values, dict):
        raise ParameterError(f"parameters file {path}: expected 'name: value' lines")
    values = {name: _from_yaml(known.get(name), value) for name, value in values.items()}
    if values.get("data_path") and not Path(values["data_path"]).expanduser().is_absolute():
        values["data_path"] = str((Path(path).resolve().parent / values["data_path"]).resolve())
    return values


def configure(values: Mapping | None = None, *, parameters_file=None, sets=(), stage: str | None = None,
              not_given: Mapping[str, str] = {}) -> Config:
    """Defaults, then a YAML parameters file, then `values`, then `--set` strings: one checked configuration.

    stage: one notebook's parameters (a stage name or a notebook path); default: every stage's.
    Unknown names are refused with a "did you mean"; every value is checked for type and range.
    not_given: names the caller sets itself, refused when given another value than the default, with the reason
    mapped to.
    """
    known = notebook_parameters(stage) if stage else pipeline_parameters()
    config = {name: p.default for name, p in known.items()}
    early = {**_read_parameters_file(parameters_file, known), **(values or {})}
    named = {**early, **{n.strip(): text for n, _, text in (pair.partition("=") for pair in sets)}}
    for name in named.keys() & not_given.keys():
        if named[name] != known[name].default:   # said before the value's own rules are checked
            raise ParameterError(f"parameter '{name}' {not_given[name]}")
    given = {**early, **_parse_sets(sets, known)}
    for name, value in given.items():
        if name not in known:
            raise unknown_parameter(name, known)
        config[name] = check_value(known[name], value)
    _check_together(config)
    return Config(config)


def _check_together(config: dict) -> None:
    """Parameters that need each other: the masking columns and their targets (`bwkit.data.check_masks`).

    A stage's configuration holds that stage's names only: one without targets has nothing to check."""
    if "targets" in config:
        check_masks(config["targets"], **{k: config.get(k, "") for k in ("fresh_column", "fresh_targets",
                                                                         "valid_column", "valid_targets")})


def injected_names(namespace: dict) -> set[str]:
    """Names papermill injected into this kernel, read from its input history.

    papermill's injected cell starts with "# Parameters"; IPython keeps every
    executed cell's source in `In`. Reading the history (not the globals) means a
    notebook re-run by hand in JupyterLab, whose globals hold its own later
    variables, is never mistaken for one given unknown parameters.
    """
    for source in reversed(namespace.get("In") or []):
        if source.lstrip().startswith("# Parameters"):
            return set(parse_parameters_cell(source))
    return set()


def check_notebook(namespace: dict, stage: str) -> Config:
    """First cell of every notebook: refuse unknown or mistyped parameters.

    `namespace` is the notebook's globals(). Checked values are written back (an
    int given for a float becomes a float, a YAML list from papermill's `-y` or `-f`
    given for a list of names becomes their comma-separated text) and returned as
    the stage's config.
    """
    declared = notebook_parameters(stage)
    injected = {name: namespace[name] for name in injected_names(namespace) if name in namespace}
    given = {name: _yaml_text(declared[name], namespace[name]) for name in declared}
    config = configure({**injected, **given}, stage=stage)  # unknown first
    namespace.update(config)
    return config
