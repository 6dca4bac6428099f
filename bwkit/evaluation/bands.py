"""What the bands are: a `Calibration` of every method, each method's `MethodBands`, typed and read-only.

`uncertainty.calibration` builds a Calibration and `uncertainty.interval_check` returns it scored; the
library reads the typed objects. Dicts exist only at the JSON boundary: `to_dict` writes, and `from_dict`
reads, the report JSON's "intervals" in the shape it had before these types (key for key, in the same
order, so the JSON bytes are the same for the same numbers), and a report of that shape loads. The shipped
form (the ONNX metadata's "intervals", `uncertainty.shipped_bands`) carries the model's multiplier, scale
and adaptive table under the same keys, so `MethodBands.from_dict` reads it too; its other keys (use,
coverage) are for people.

Numbers stay as they were written: a floor share is inf in a fresh calibration and null (None) in a report
read back (strict JSON has no infinity); both mean a constant-width band.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType

import numpy as np


def _readonly(value):
    """`value` with every dict a read-only mapping and every list a tuple, all the way down."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _readonly(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_readonly(v) for v in value)
    return value


def _plain(value):
    """The JSON value of a `_readonly` one: dicts and lists again, keys in their order."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


class _Frozen:
    """Its fields made read-only as it is built (a frozen dataclass stops assignment, this stops the rest)."""

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if not hasattr(value, "to_dict"):
                object.__setattr__(self, f.name, _readonly(value))

    def __reduce__(self):   # pickle and deepcopy: a read-only mapping cannot be pickled, its JSON can
        return type(self).from_dict, (self.to_dict(),)


@dataclass(frozen=True)
class BandScale(_Frozen):
    """How a consumer computes a window's scale, per target: base, plus the window's population std of the input
    column `columns[target]` where `window_std[target]`; the floor share (of the target's training std) in base
    was chosen on validation halves."""
    columns: Mapping[str, str] | None    # target -> its input column; None when not every target is an input
    floor_share: Mapping[str, float | None]   # inf (None once read from a report): constant width
    window_std: Mapping[str, bool]
    base: Mapping[str, float]

    def to_dict(self) -> dict:
        return {"columns": _plain(self.columns), "floor_share": _plain(self.floor_share),
                "window_std": _plain(self.window_std), "base": _plain(self.base)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "BandScale":
        return cls(d["columns"], d["floor_share"], d["window_std"], d["base"])


@dataclass(frozen=True)
class AdaptiveTable(_Frozen):
    """What bands that learn from their misses start from (`bwkit.evaluation.adaptive`): per target, the
    validation quantiles of |residual| / scale on a grid of `grid` + 1 steps, and the learning step gamma."""
    gamma: float
    grid: int
    quantiles: Mapping[str, tuple[float, ...]]

    def array(self, targets) -> np.ndarray:
        """The quantiles [targets, grid + 1] in `targets`' order."""
        return np.array([self.quantiles[t] for t in targets], np.float64)

    def to_dict(self) -> dict:
        return {"gamma": self.gamma, "grid": self.grid, "quantiles": _plain(self.quantiles)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "AdaptiveTable":
        return cls(d["gamma"], d["grid"], d["quantiles"])


@dataclass(frozen=True)
class MethodBands(_Frozen):
    """One method's bands: half_width = multiplier[level][target] x the window's scale; and, once scored on the
    test rows, `intervals.score`'s records for them (`test`) and for the adaptive ones (`adaptive_test`)."""
    multiplier: Mapping[str, Mapping[str, float]]   # f"{level:g}" -> target -> multiplier
    scale: BandScale
    adaptive: AdaptiveTable | None = None              # None: calibrated before bwkit shipped one
    test: tuple[Mapping, ...] | None = None            # None: not scored
    adaptive_test: tuple[Mapping, ...] | None = None

    def multipliers(self, levels, targets) -> np.ndarray:
        """The multipliers [levels, targets] in the order asked for."""
        return np.array([[self.multiplier[f"{level:g}"][t] for t in targets] for level in levels], np.float64)

    def to_dict(self) -> dict:
        """Written in the order the keys always had: multiplier, adaptive, scale, then the scores made."""
        adaptive = None if self.adaptive is None else self.adaptive.to_dict()
        entries = (("multiplier", _plain(self.multiplier)), ("adaptive", adaptive), ("scale", self.scale.to_dict()),
                   ("test", _plain(self.test)), ("adaptive_test", _plain(self.adaptive_test)))
        return {key: value for key, value in entries if value is not None}

    @classmethod
    def from_dict(cls, d: Mapping) -> "MethodBands":
        """A report's method entry, or a shipped recipe (its other keys left aside)."""
        adaptive = None if d.get("adaptive") is None else AdaptiveTable.from_dict(d["adaptive"])
        return cls(d["multiplier"], BandScale.from_dict(d["scale"]), adaptive, d.get("test"), d.get("adaptive_test"))


@dataclass(frozen=True)
class Calibration(_Frozen):
    """Bands at `levels` for every method that predicts the validation rows, each from its own residuals there."""
    levels: tuple[float, ...]
    method: str             # how the multipliers were chosen, in words
    validation_rows: int
    methods: Mapping[str, MethodBands]

    def to_dict(self) -> dict:
        return {"levels": list(self.levels), "method": self.method, "validation_rows": self.validation_rows,
                "methods": {name: bands.to_dict() for name, bands in self.methods.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Calibration":
        """A report's "intervals"."""
        return cls(d["levels"], d["method"], d["validation_rows"],
                   {name: MethodBands.from_dict(entry) for name, entry in d["methods"].items()})
