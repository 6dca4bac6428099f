"""Subpackage faces that import on first use.

Each subpackage's `__init__` names its public face with `face`: what other
subpackages may import from it. Nothing is imported until a name is asked for, so
`from bwkit.serving import Predictor` never imports torch, and `bwkit.training`'s
face costs nothing to a caller that only needs `selection`.
"""
from __future__ import annotations

import sys
from importlib import import_module


def face(package: str, **modules: list[str]):
    """`__getattr__`, `__dir__` and `__all__` of a package whose public names live in its `modules`.

    face(__name__, model=["LSTMForecaster"], train=["train_model"]): `package.LSTMForecaster` is
    `package.model.LSTMForecaster`, imported when first asked for.
    """
    home = {name: module for module, names in modules.items() for name in names}
    clash = sorted(set(home) & set(modules))
    if clash:   # once imported, the submodule would shadow the public name of the same spelling
        raise ImportError(f"{package}: public names {clash} are also module names")

    def __getattr__(name: str):
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(f"{package}.{home[name]}"), name)

    def __dir__() -> list[str]:
        return sorted(home)

    return __getattr__, __dir__, sorted(home)


def without_iri_grammars() -> None:
    """Keep jsonschema from importing `rfc3987_syntax` in this process (unless something already has).

    nbformat (papermill, nbconvert) imports jsonschema, which imports rfc3987_syntax where it is installed
    (JupyterLab's jupyter-events asks for it); it compiles 38 grammars at import, in every process that runs or
    renders a notebook (`bwkit run`, a sweep's workers; `bench/import_cost.py`: importing nbformat costs 2.07 s of
    CPU with it, 0.22 s without), for the "iri" string formats that no notebook schema uses. Without it jsonschema
    checks every other format as before.
    """
    sys.modules.setdefault("rfc3987_syntax", None)   # None: its import raises ImportError, which jsonschema expects
