"""Notebook parameters: read from each notebook's `parameters` cell, checked everywhere.

The parameters cell is the one place a default lives. papermill only warns on an
unknown name and never checks a type, so the kit does both: the CLI before anything
runs (`coerce`), and every notebook in its first cell (`check_notebook`).
"""
from __future__ import annotations

import ast
import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from .data import NAN_POLICIES
from .paths import NOTEBOOKS, STAGES
from .synth import PROFILES

TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _at_least(low):
    return (lambda v: v >= low), f"at least {low}"


# What a value must be beyond its type; checked wherever the type is (CLI and notebooks).
RULES = {
    **{name: _at_least(1) for name in ("samples", "epochs", "batch_size", "window_size", "hidden_size",
                                       "num_layers", "patience")},
    "num_threads": _at_least(0),
    "learning_rate": ((lambda v: v > 0), "above 0"),
    "parity_tolerance": ((lambda v: v > 0), "above 0"),
    "dropout": ((lambda v: 0 <= v < 1), "in [0, 1)"),
    "profile": ((lambda v: v in PROFILES), "one of " + ", ".join(map(repr, PROFILES))),
    "nan_policy": ((lambda v: v in NAN_POLICIES), "one of " + ", ".join(map(repr, NAN_POLICIES))),
    "device": ((lambda v: re.fullmatch(r"auto|cpu|cuda(:\d+)?", v) is not None), "'auto', 'cpu', 'cuda' or 'cuda:N'"),
}


class ParameterError(ValueError):
    """A parameter name that no notebook declares, or a value of the wrong type."""


@dataclass(frozen=True)
class Parameter:
    name: str
    default: object
    type: type
    help: str


def parse_parameters_cell(source: str) -> dict[str, Parameter]:
    """`name: type = literal  # help` lines of a parameters cell, in order."""
    lines = source.splitlines()
    found = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, kind = node.target.id, TYPES.get(ast.unparse(node.annotation))
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name, kind = node.targets[0].id, None
        else:
            continue
        default = ast.literal_eval(node.value)
        comment = lines[node.end_lineno - 1][node.end_col_offset:].partition("#")[2].strip()
        found[name] = Parameter(name, default, kind or type(default), comment)
    return found


def notebook_parameters(stage: str) -> dict[str, Parameter]:
    """The declared parameters of notebooks/<stage>.ipynb."""
    path = NOTEBOOKS / f"{stage}.ipynb"
    cells = json.loads(Path(path).read_text())["cells"]
    for cell in cells:
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


def _unknown(name: str, known) -> ParameterError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    return ParameterError(f"unknown parameter '{name}' (known: {', '.join(sorted(known))}).{hint}")


def check_value(param: Parameter, value):
    """Return `value` as the parameter's type, or raise naming the parameter."""
    if param.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, param.type) or (param.type is int and isinstance(value, bool)):
        hint = {str: " (pass strings to papermill with -r name value)", bool: " (use True or False)"}
        raise ParameterError(f"parameter '{param.name}' expects {param.type.__name__} (default {param.default!r}), "
                             f"got {type(value).__name__} {value!r}" + hint.get(param.type, ""))
    rule = RULES.get(param.name)
    if rule and not rule[0](value):
        raise ParameterError(f"parameter '{param.name}' must be {rule[1]}, got {value!r}")
    return value


def coerce(param: Parameter, text: str):
    """Convert a command-line string to the parameter's type, then check it."""
    lowered = text.strip().lower()
    try:
        if param.type is bool and lowered not in {"true", "false", "1", "0", "yes", "no"}:
            raise ValueError
        value = lowered in {"true", "1", "yes"} if param.type is bool else param.type(text)
    except ValueError:
        raise ParameterError(
            f"parameter '{param.name}' expects {param.type.__name__} (default {param.default!r}), got {text!r}"
        ) from None
    return check_value(param, value)


def parse_overrides(pairs: list[str], known: dict[str, Parameter]) -> dict[str, object]:
    """`["epochs=150", ...]` -> {"epochs": 150}; refuses unknown names and bad values."""
    values = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep:
            raise ParameterError(f"--set expects key=value, got {pair!r}")
        if name not in known:
            raise _unknown(name, known)
        values[name] = coerce(known[name], text)
    return values


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


def check_notebook(namespace: dict, stage: str) -> dict[str, object]:
    """First cell of every notebook: refuse unknown or mistyped parameters.

    `namespace` is the notebook's globals(). Checked values are written back (an
    int given for a float becomes a float) and returned as the stage's config.
    """
    declared = notebook_parameters(stage)
    for name in sorted(injected_names(namespace) - set(declared)):
        raise _unknown(name, declared)
    config = {name: check_value(param, namespace[name]) for name, param in declared.items()}
    namespace.update(config)
    return config
