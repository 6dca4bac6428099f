"""Load and validate a telemetry CSV into arrays the rest of the kit trusts.

Every refusal is a `DataError` whose message names the file, the column and the
row (1-based data row, and its file line), and what would fix it. Reading the raw
file and checking its shape (ragged rows, repeated names) is `bwkit.data.csvfile`'s.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data.columns import _check_order, _groups, _numeric, _segments, _timestamps, _where, suspect_values
from bwkit.data.csvfile import name_list, read_table
from bwkit.data.gaps import FILL_RULE, MAX_GAP_CADENCES, cadence_seconds, fill_gaps, pieces
from bwkit.data.isotime import iso
from bwkit.data.masks import check_masks, mask_note, observed_mask
from bwkit.data.memory import give_back
from bwkit.errors import DataError  # re-exported: callers import it as bwkit.data.DataError
from bwkit.schema import ALIASES, ORACLE_PREFIX, oracle_column

NAN_POLICIES = ("error", "fill_flag", "drop")


@dataclass
class Telemetry:
    path: Path
    sha256: str
    timestamps: np.ndarray          # float64 unix seconds, one per row
    segment: np.ndarray             # int, one id per contiguous trace (all 0 without trace_id)
    features: list[str]
    targets: list[str]
    X: np.ndarray                   # float32 [rows, features]: what the model reads (range-checked as float64 first)
    Y: np.ndarray                   # float64 [rows, targets]; a missing value holds the carried one (masked)
    oracle: np.ndarray | None = None  # [rows, targets]: row i's prediction of row i+1
    observed: np.ndarray | None = None  # bool [rows, targets]: the target is a real, fresh, valid value (`masks`)
    notes: list[str] = field(default_factory=list)  # what loading did (fills, drops, masks), for the report
    flagged: list[str] = field(default_factory=list)  # input columns filled and flagged (`<column>_missing`)
    masked: dict = field(default_factory=dict)        # target -> rows masked per rule (`masks.observed_mask`)
    suspect: list[str] = field(default_factory=list)  # target values that are probably errors (`suspect_values`)
    group: np.ndarray | None = None   # int [rows]: each row's group (group_column's value; else its trace)
    group_names: list[str] = field(default_factory=list)   # group id -> its name
    group_column: str = ""            # "" : the groups are the traces
    max_gap_cadences: float = MAX_GAP_CADENCES   # a longer step breaks a window (`gaps.GAP_RULE`)

    def __post_init__(self):
        if self.observed is None:
            self.observed = np.ones(self.Y.shape, bool)
        if self.group is None:
            self.group, self.group_names = self.segment, self.group_names or [
                str(i) for i in range(int(self.segment.max()) + 1 if len(self.segment) else 1)]

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    @property
    def cadence_seconds(self) -> float:
        return cadence_seconds(self.timestamps, self.segment)

    def pieces(self) -> np.ndarray:
        """int64 [rows]: an id per run of rows one window may span (`gaps.GAP_RULE`)."""
        return pieces(self.timestamps, self.segment, self.cadence_seconds, max_gap_cadences=self.max_gap_cadences)

    def info(self) -> dict:
        """Where the data came from and what loading did, for the run's record."""
        return {"path": str(self.path.resolve()), "sha256": self.sha256, "rows": self.rows,
                "traces": int(self.segment.max()) + 1, "notes": self.notes, "masked": self.masked,
                "span": [iso(self.timestamps.min()), iso(self.timestamps.max())] if self.rows else [],
                "suspect": self.suspect,
                "cadence_seconds": self.cadence_seconds}


def split_names(names) -> list[str]:
    """"a, b" or ["a", "b"] -> ["a", "b"]."""
    if isinstance(names, str):
        names = names.split(",")
    return [n.strip() for n in names if n.strip()]


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def holds(path, sha256: str | None) -> bool:
    """Is `path` a file whose bytes are the ones recorded (their sha256)? The one test of "the same data file"."""
    return Path(path).is_file() and sha256_file(path) == sha256


def _target_gaps(frame, targets, path, *, segment) -> np.ndarray:
    """bool [rows, targets]: the target has a value there; a missing one is filled (in place) by FILL_RULE.

    A missing target is masked (`bwkit.data.masks`), never refused; an infinite one is a data error.
    """
    finite = np.ones((len(frame), len(targets)), bool, order="F")
    for j, target in enumerate(targets):
        values = frame[target].to_numpy(np.float64)
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            row = int(infinite[0])
            raise DataError(f"{_where(path, target, row)}: {values[row]} is infinite; a target may be missing "
                            "(empty or NaN: that row is then masked) but not infinite: correct the value")
        finite[:, j] = ~np.isnan(values)
        if not finite[:, j].all():
            frame[target] = fill_gaps(values, segment)   # the value the inputs see; never a loss or a score
    return finite


def _handle_missing(frame, columns, gaps: dict, *, policy, path, notes, segment) -> tuple[list[str], list[str]]:
    """Apply the NaN policy to the feature columns (in place); the columns kept and the filled ones.

    gaps: {target: bool [rows] missing} of the targets (already filled). A target's gaps are masked,
    not refused: as an input it is filled and flagged, or dropped when nan_policy is "drop".
    Returns the columns kept (each filled one followed by its flag) and the filled ones.
    """
    kept, flagged = [], []
    for column in columns:
        values = frame[column]
        missing = gaps[column] if column in gaps else ~np.isfinite(values.to_numpy(dtype=np.float64))
        if not missing.any():
            kept.append(column)
            continue
        row = int(np.flatnonzero(missing)[0])
        if policy == "error" and column not in gaps:
            raise DataError(f"{_where(path, column, row)}: {values.iloc[row]} (NaN or inf); "
                            "clean the file, or pass nan_policy='fill_flag' or 'drop'")
        share = f"{missing.mean():.1%} of rows"
        if policy == "drop":
            notes.append(f"feature '{column}' dropped: NaN/inf on {share}")
            continue
        if f"{column}_missing" in frame:
            raise DataError(f"{_where(path, column + '_missing')}: already in the file, so nan_policy='fill_flag' "
                            f"cannot add its flag for '{column}'; rename that column")
        if column not in gaps:   # a target is filled already
            frame[column] = fill_gaps(values.to_numpy(np.float64), segment)   # the rule serving applies too
        frame[f"{column}_missing"] = missing.astype(np.float64)
        kept += [column, f"{column}_missing"]
        flagged.append(column)
        notes.append(f"feature '{column}': NaN/inf on {share} filled ({FILL_RULE}) and flagged in '{column}_missing'")
    return kept, flagged


def _check_arguments(path: Path, features: list[str], targets: list[str], *, nan_policy: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if not features or not targets:
        raise DataError(f"{path}: need at least one feature and one target")


def _resolve_columns(frame: pd.DataFrame, features, targets, *, extra: list[str], path) -> list[str]:
    """Map legacy aliases (in place), check every named column exists and is no oracle; the used columns."""
    for alias, canonical in ALIASES.items():
        if canonical not in frame and alias in frame:
            frame[canonical] = frame[alias]
    used = list(dict.fromkeys(features + targets))
    for column in used + [c for c in extra if c]:
        if column not in frame:
            raise DataError(f"{_where(path, column)}: not found; columns are "
                            f"{name_list(frame.attrs.get('header', frame.columns))}")
        if column.startswith(ORACLE_PREFIX):
            raise DataError(f"{_where(path, column)}: oracle columns are the generator's answers, not inputs")
    return used


def _numeric_columns(frame, used, features, *, targets, nan_policy, path, notes, segment):
    """Convert the used columns to float (in place), apply the NaN policy.

    Returns the feature columns kept, those filled, and bool [rows, targets]: each target has a value.
    """
    for column in used:
        frame[column] = _numeric(frame, column, path)
    finite = _target_gaps(frame, targets, path, segment=segment)
    gaps = {t: ~finite[:, j] for j, t in enumerate(targets)}
    feature_columns, flagged = _handle_missing(frame, features, gaps, policy=nan_policy, path=path, notes=notes,
                                               segment=segment)
    if not feature_columns:
        raise DataError(f"{path}: every feature was dropped by nan_policy='drop'")
    return feature_columns, flagged, finite


def _check_targets_vary(frame: pd.DataFrame, targets: list[str], finite: np.ndarray, *, path) -> None:
    """Every target varies over the rows where it has a value: a constant one leaves nothing to predict."""
    for j, target in enumerate(targets):
        values = frame[target].to_numpy(np.float64)[finite[:, j]]
        if not values.size:
            raise DataError(f"{path}: target '{target}' has no value on any row (every one is empty or NaN); "
                            "choose a target the file measures")
        mean = float(values.mean())
        if float(values.std()) <= 1e-12 * max(1.0, abs(mean)):
            what = (f"every row is {float(values[0])!r}" if (values == values[0]).all()
                    else f"every row is {mean:g} to within {float(np.ptp(values)):.3g}")
            raise DataError(f"{path}: target '{target}' is constant ({what}): there is nothing to predict; "
                            "choose a target that varies over the file")


def _oracle(frame: pd.DataFrame, targets: list[str]) -> np.ndarray | None:
    """[rows, targets] of the generator's next-row predictions, when the file has one per target."""
    oracle_columns = [oracle_column(t) for t in targets]
    if not all(c in frame for c in oracle_columns):
        return None
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(np.float64)
                            for c in oracle_columns])


def _take(frame: pd.DataFrame, columns: list[str], dtype) -> np.ndarray:
    """[rows, columns] of `dtype`, a column at a time (no float64 copy of them all on the way to float32)."""
    out = np.empty((len(frame), len(columns)), dtype)
    for j, column in enumerate(columns):
        out[:, j] = frame[column].to_numpy()
    return out


def _observed(frame, targets, finite, *, masking: dict, path, notes) -> tuple[np.ndarray, dict]:
    """bool [rows, targets] where each target is observed (`bwkit.data.masks`), the counts, and a note per target."""
    fresh = _numeric(frame, masking["fresh_column"], path) == 0 if masking["fresh_column"] else None
    valid = _numeric(frame, masking["valid_column"], path) == 1 if masking["valid_column"] else None
    observed, masked = observed_mask(finite, targets, fresh, fresh_targets=masking["fresh_targets"], valid=valid,
                                     valid_targets=masking["valid_targets"])
    notes += [mask_note(t, counts) for t, counts in masked.items() if counts["masked"]]
    return observed, masked


def _wanted(features, targets, extra: list[str], *, oracle: bool) -> set[str]:
    """The columns loading reads: the used ones, their legacy names, flags they would clash with, oracles."""
    used = set(features) | set(targets) | {"timestamp", "trace_id"} | {c for c in extra if c}
    used |= {oracle_column(t) for t in targets} if oracle else set()
    return used | {alias for alias, name in ALIASES.items() if name in used} | {f + "_missing" for f in features}


def load_telemetry(path, features, targets, *, nan_policy: str, fresh_column: str = "", fresh_targets="",
                   oracle: bool = True, valid_column: str = "", valid_targets="", group_column: str = "",
                   max_gap_cadences: float = MAX_GAP_CADENCES) -> Telemetry:
    """Read `path`, map legacy aliases, check every used column, return arrays.

    features, targets: names (a list or "a, b"); nan_policy: one of NAN_POLICIES (defaults: 02_train's
    parameters cell). A target missing on a row (empty, NaN) is masked there (`bwkit.data.masks`), as
    it is where `fresh_column` is not 0 (fresh_targets: held between measurements, a ping every ~14 s)
    or `valid_column` is not 1 (valid_targets). "" means none. group_column: a column whose value
    names each row's group (the split table shows each group's share; default: the traces).
    max_gap_cadences: a longer step breaks a window (`bwkit.data.gaps.GAP_RULE`). oracle: also read
    the generator's oracle columns (evaluation scores them; training never reads them). Only the
    columns these name are parsed.
    """
    path = Path(path)
    features, targets = split_names(features), split_names(targets)
    _check_arguments(path, features, targets, nan_policy=nan_policy)
    masking = {"fresh_column": fresh_column, "fresh_targets": fresh_targets, "valid_column": valid_column,
               "valid_targets": valid_targets}
    check_masks(targets, **masking)
    extra = [fresh_column, valid_column, group_column]
    wanted = _wanted(features, targets, extra, oracle=oracle)
    frame, source, sha256 = read_table(path, wanted)   # source: messages' path
    used = _resolve_columns(frame, features, targets, extra=extra, path=source)
    notes: list[str] = []
    timestamps = _timestamps(frame, source, notes)
    segment, traces = _segments(frame, source)
    _check_order(frame, timestamps, segment, path=source)
    feature_columns, flagged, finite = _numeric_columns(frame, used, features, targets=targets, nan_policy=nan_policy,
                                                        path=source, notes=notes, segment=segment)
    _check_targets_vary(frame, targets, finite, path=source)
    observed, masked = _observed(frame, targets, finite, masking=masking, path=source, notes=notes)
    del finite
    group, group_names = _groups(frame, group_column)
    oracle = _oracle(frame, targets) if oracle else None
    Y = _take(frame, targets, np.float64)
    X = _take(frame, feature_columns, np.float32)
    del frame
    give_back()
    return Telemetry(path=path, sha256=sha256, timestamps=timestamps, segment=segment,
                     features=feature_columns, targets=targets, X=X, Y=Y, oracle=oracle, observed=observed,
                     notes=notes, flagged=flagged, masked=masked, suspect=suspect_values(Y, observed, targets),
                     group=group, group_names=group_names or traces,
                     group_column=group_column, max_gap_cadences=float(max_gap_cadences))
