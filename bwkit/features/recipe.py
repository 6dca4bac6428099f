"""The model's inputs from raw telemetry: one recipe, used by training and by serving.

Training (`bwkit.data.loader`, `bwkit.features.windows`) and serving (`bwkit.serving.predictor`) derive the
input matrix with the functions here, and an exported run writes the `Recipe` into
its metadata completely enough for a program in another language to do the same.
numpy only: a consumer imports this without torch.

Each input feature is one of:

* a raw column (legacy names mapped by `aliases`), as a float;
* `<column>_missing`, for a column that `nan_policy="fill_flag"` filled: 1.0 where the
  raw value is missing (empty, NaN or +-inf), else 0.0; the column itself is then
  filled by `fill_gaps`;
* `next_hour_HH` / `next_weekday_D` (`known_future` models): one-hot hour of day and
  weekday, in UTC, of the row *after* each row (`calendar_channels`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from bwkit.data import FILL_RULE, GAP_RULE, MAX_GAP_CADENCES, cadence_seconds, fill_gaps
from bwkit.features.calendar import CALENDAR_FEATURES, CALENDAR_RULE, calendar_channels
from bwkit.schema import ALIASES

RULE_WORDING = ("fill", "calendar", "timestamp", "trace")   # to_dict's keys that say a rule in words

FLAG_SUFFIX = "_missing"


@dataclass
class Recipe:
    """How a run's model input is made from raw rows: what its metadata's `recipe` says."""
    window_size: int
    features: list[str]              # the model's input channels, in order
    targets: list[str]
    flagged: list[str]               # raw columns filled by fill_gaps, each followed by its flag
    cadence_seconds: float
    aliases: dict[str, str] = field(default_factory=dict)   # legacy name -> the name training used
    max_gap_cadences: float = MAX_GAP_CADENCES

    @cached_property
    def columns(self) -> list[str]:
        """The raw columns a consumer must supply, in input order (after alias mapping)."""
        derived = set(CALENDAR_FEATURES) | {c + FLAG_SUFFIX for c in self.flagged}
        return [f for f in self.features if f not in derived]

    @cached_property
    def known_future(self) -> bool:
        return CALENDAR_FEATURES[0] in self.features

    @cached_property
    def derivation(self) -> list[dict]:
        """Per input channel: where it comes from (`value`, `missing_flag` or `next_hour` / `next_weekday`)."""
        spec = []
        for name in self.features:
            if name in CALENDAR_FEATURES:
                kind, number = name.rsplit("_", 1)
                spec.append({"name": name, "kind": kind, "equals": int(number)})
            elif name.endswith(FLAG_SUFFIX) and name.removesuffix(FLAG_SUFFIX) in self.flagged:
                spec.append({"name": name, "kind": "missing_flag", "column": name.removesuffix(FLAG_SUFFIX)})
            else:
                spec.append({"name": name, "kind": "value", "column": name, "filled": name in self.flagged})
        return spec

    def matrix(self, values: dict[str, np.ndarray], next_timestamps: np.ndarray, trace: np.ndarray, *,
               carry: dict[str, float] | None = None) -> np.ndarray:
        """The input channels [rows, features] (float32) from raw columns (NaN where missing).

        next_timestamps: each row's next row's time (the predicted row's for a window's last row);
        trace: contiguous trace ids for the fill; carry: each filled column's last valid value before.
        """
        carry = carry or {}
        out = np.empty((len(next_timestamps), len(self.features)), np.float32)
        calendar = calendar_channels(next_timestamps) if self.known_future else None
        for j, spec in enumerate(self.derivation):
            if spec["kind"] == "value":
                column = values[spec["column"]]
                out[:, j] = fill_gaps(column, trace, carry.get(spec["column"], np.nan)) if spec["filled"] else column
            elif spec["kind"] == "missing_flag":
                out[:, j] = ~np.isfinite(values[spec["column"]])
            else:
                out[:, j] = calendar[:, spec["equals"] + (24 if spec["kind"] == "next_weekday" else 0)]
        return out

    @cached_property
    def _row_layout(self) -> tuple[np.ndarray, ...]:
        """`roll`'s index arrays: features and their columns (raw, filled, missing flag), calendar features and cells."""
        columns, groups = self.columns, {"raw": ([], []), "filled": ([], []), "missing_flag": ([], []), "cal": ([], [])}
        for j, spec in enumerate(self.derivation):
            if spec["kind"] in ("value", "missing_flag"):
                kind = "filled" if spec.get("filled") else "raw" if spec["kind"] == "value" else "missing_flag"
                groups[kind][0].append(j)
                groups[kind][1].append(columns.index(spec["column"]))
            else:
                groups["cal"][0].append(j)
                groups["cal"][1].append(spec["equals"] + (24 if spec["kind"] == "next_weekday" else 0))
        return tuple(np.array(side, np.int64) for pair in groups.values() for side in pair)

    def roll(self, channels: np.ndarray, raw: np.ndarray, next_timestamps: tuple[float, float]) -> np.ndarray:
        """`channels` [rows, features] of rows of one trace (as `matrix` makes them) moved on by one row: the first
        dropped, one appended from `raw` [columns] (float64, NaN where missing, in `columns` order).

        next_timestamps: the next row's time of the last old row (the new row's) and of the new row. Each filled column
        must have had a valid value by the first old row (the rows' fill is then the last valid value, which a
        missing value in the new row carries on), so the result equals `matrix` on the rows moved on."""
        raw_at, raw_column, filled_at, filled_column, flag_at, flag_column, calendar_at, cell = self._row_layout
        out = np.empty_like(channels)
        out[:-1] = channels[1:]
        row = out[-1]
        row[raw_at] = raw[raw_column]
        if len(filled_at):
            filled = raw[filled_column]
            row[filled_at] = np.where(np.isfinite(filled), filled, channels[-1, filled_at])
        if len(flag_at):
            row[flag_at] = ~np.isfinite(raw[flag_column])
        if self.known_future:   # the last old row's calendar is now the new row's, the new row's the one after
            both = min(len(out), 2)
            out[-both:, calendar_at] = calendar_channels(np.array(next_timestamps[-both:], np.float64))[:, cell]
        return out

    def to_dict(self) -> dict:
        return {"window_size": self.window_size, "features": self.features, "targets": self.targets,
                "columns": self.columns, "flagged": self.flagged, "aliases": self.aliases,
                "cadence_seconds": self.cadence_seconds, "max_gap_cadences": self.max_gap_cadences,
                "derivation": self.derivation, "fill": FILL_RULE, "calendar": CALENDAR_RULE,
                "timestamp": "unix seconds (numbers above 1e11 are milliseconds) or ISO 8601 (UTC when no offset)",
                "trace": "rows of one trace_id are contiguous; " + GAP_RULE}

    @staticmethod
    def same_inputs(a: dict | None, b: dict | None) -> bool:
        """Whether two recipes (`to_dict`'s) read rows into the same inputs: their rules' wording (fill, calendar,
        timestamp, trace) may differ between kit versions; what they hold may not."""
        def held(recipe: dict | None) -> dict | None:
            return None if recipe is None else {k: v for k, v in recipe.items() if k not in RULE_WORDING}
        return a is not None and held(a) == held(b)

    @classmethod
    def from_dict(cls, entry: dict) -> "Recipe":
        return cls(int(entry["window_size"]), list(entry["features"]), list(entry["targets"]), list(entry["flagged"]),
                   float(entry["cadence_seconds"]), dict(entry.get("aliases", {})),
                   float(entry.get("max_gap_cadences", MAX_GAP_CADENCES)))


def training_recipe(telemetry, features: list[str], window_size: int) -> Recipe:
    """The recipe of a model trained on `telemetry` with input channels `features` (the checkpoint's)."""
    raw = set(features)
    return Recipe(window_size, list(features), list(telemetry.targets), [c for c in telemetry.flagged if c in raw],
                  telemetry.cadence_seconds, {alias: name for alias, name in ALIASES.items() if name in raw},
                  telemetry.max_gap_cadences)
