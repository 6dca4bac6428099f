"""Where each target is observed: one bool per row and target, used by training, evaluation and rolling.

A target value is *masked* on a row when it is

* missing: empty or NaN in the file;
* stale: `fresh_column` is not 0 there and the target is one of `fresh_targets` (a value held
  between measurements, such as a ping result repeated until the next test);
* invalid: `valid_column` is not 1 there and the target is one of `valid_targets` (a
  1-when-valid flag such as `rtt_valid`).

A masked value gives no training loss and no validation loss, is not scored, and is not a
baseline's answer (the seasonal table and the ridge are fitted where the target is observed).
The inputs still see it: a held or invalid value is read as it is, and a missing one is carried
forward with its `_missing` flag (`bwkit.data.gaps.FILL_RULE`) when the target is also an input.
"""
from __future__ import annotations

import numpy as np

from bwkit.errors import DataError, ParameterError

MIN_OBSERVED = 2   # rows each target needs in each split: to train on, to validate (bands need 2) and to score
MASK_KINDS = ("missing", "stale", "invalid")


def _names(names) -> list[str]:
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n.strip()]


def check_masks(targets, fresh_column: str = "", fresh_targets="", *, valid_column: str = "", valid_targets="") -> None:
    """Masking parameters that need each other: a target list needs its column, and names only targets.

    The one check of these parameters: `bwkit.runs.params.configure` calls it before anything runs,
    and the loader calls it for callers that load directly.
    """
    targets = _names(targets)
    for kind, column, listed, role in (
            ("fresh", fresh_column, fresh_targets, "the column that is 0 on rows where a new measurement arrives"),
            ("valid", valid_column, valid_targets, "the column that is 1 on rows where the value is a real measurement")):
        held = _names(listed)
        if held and not column:
            raise ParameterError(f"parameter '{kind}_targets' ({listed!r}) needs '{kind}_column': {role}")
        if column and not held:
            raise ParameterError(f"parameter '{kind}_column' ({column!r}) needs '{kind}_targets': the targets it "
                                 "applies to, comma-separated")
        unknown = sorted(set(held) - set(targets))
        if unknown:
            raise ParameterError(f"parameter '{kind}_targets' names {unknown}, which are not among the targets "
                                 f"{targets}")


def observed_mask(finite: np.ndarray, targets: list[str], fresh: np.ndarray | None, *, fresh_targets,
                  valid: np.ndarray | None, valid_targets) -> tuple[np.ndarray, dict[str, dict[str, int]]]:
    """bool [rows, targets], True where the target is observed, and per target the rows masked by each rule.

    finite: bool [rows, targets], the target's value is a number; fresh / valid: bool [rows] of the
    fresh and validity columns (None without them). A row masked by several rules counts under the first.
    """
    held, checked = set(_names(fresh_targets)), set(_names(valid_targets))
    observed = np.array(finite, bool, copy=True, order="F")   # column j is contiguous: one target at a time
    counts = {}
    for j, target in enumerate(targets):
        column = observed[:, j]
        missing = int((~column).sum())
        stale = invalid = 0
        if fresh is not None and target in held:
            stale = int((column & ~fresh).sum())
            column &= fresh
        if valid is not None and target in checked:
            invalid = int((column & ~valid).sum())
            column &= valid
        counts[target] = {"missing": missing, "stale": stale, "invalid": invalid,
                          "masked": missing + stale + invalid, "rows": len(column)}
    return observed, counts


def mask_note(target: str, counts: dict[str, int]) -> str:
    """"target 'rtt_ms': 812 of 15,000 rows masked (missing 300, stale 512)...", for the report."""
    parts = ", ".join(f"{kind} {counts[kind]:,}" for kind in MASK_KINDS if counts[kind])
    return (f"target '{target}': {counts['masked']:,} of {counts['rows']:,} rows masked ({parts}): no training loss, "
            "not scored, not a baseline's answer")


def require_observed(observed: np.ndarray, targets: list[str], split: str, *, path, masked: dict | None = None) -> None:
    """Refuse a split in which a target is observed on fewer than MIN_OBSERVED of its windows, saying so."""
    counts = observed.sum(axis=0)
    for j, target in enumerate(targets):
        if counts[j] < MIN_OBSERVED:
            why = masked.get(target) if masked else None
            rules = (" (" + ", ".join(f"{kind} on {why[kind]:,} rows" for kind in MASK_KINDS if why[kind]) + ")"
                     if why and why["masked"] else "")
            raise DataError(f"{path}: target '{target}' is observed on {int(counts[j])} of the {len(observed):,} "
                            f"{split} windows{rules}; at least {MIN_OBSERVED} are needed to train on it and to "
                            f"score it. Use more data, drop '{target}' from targets, or check the masking columns")
