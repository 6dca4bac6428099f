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

from bwkit.data.csvfile import Source, cut, name_list, read_table
from bwkit.data.gaps import FILL_RULE, fill_gaps
from bwkit.data.isotime import is_unix, iso_seconds
from bwkit.data.memory import give_back
from bwkit.errors import DataError  # re-exported: callers import it as bwkit.data.DataError
from bwkit.schema import ALIASES, ORACLE_PREFIX, oracle_column

NAN_POLICIES = ("error", "fill_flag", "drop")
FLOAT32_MAX = float(np.finfo(np.float32).max)   # the model computes in float32
OUTSIDE_FLOAT32 = "is outside float32's range (+-3.4e38); the model computes in float32: rescale the column (other units)"
# pandas' timestamps (nanoseconds in an int64) cover 1677-09-21 to 2262-04-11; the plots convert to them.
TIME_RANGE = (pd.Timestamp.min.value / 1e9, pd.Timestamp.max.value / 1e9)


@dataclass
class Telemetry:
    path: Path
    sha256: str
    timestamps: np.ndarray          # float64 unix seconds, one per row
    segment: np.ndarray             # int, one id per contiguous trace (all 0 without trace_id)
    features: list[str]
    targets: list[str]
    X: np.ndarray                   # float32 [rows, features]: what the model reads (range-checked as float64 first)
    Y: np.ndarray                   # float64 [rows, targets]
    oracle: np.ndarray | None = None  # [rows, targets]: row i's prediction of row i+1
    fresh: np.ndarray | None = None   # bool [rows, targets]: a new measurement arrived on that row
    notes: list[str] = field(default_factory=list)  # what loading did (fills, drops), for the report
    flagged: list[str] = field(default_factory=list)  # feature columns nan_policy="fill_flag" filled and flagged

    @property
    def rows(self) -> int:
        return len(self.timestamps)

    def info(self) -> dict:
        """Where the data came from and what loading did, for the run's record."""
        return {"path": str(self.path.resolve()), "sha256": self.sha256, "rows": self.rows,
                "traces": int(self.segment.max()) + 1, "notes": self.notes}


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


def _shown(value) -> str:
    return cut(repr(value.item() if isinstance(value, np.generic) else value))


def _where(path: Source, column, row=None) -> str:
    """"<file>, column 'x'" and, given a 0-based data row, ", row 3 (line 4)"."""
    place = f"{path}, column '{column}'"
    return place if row is None else f"{place}, {path.at(row)}"


def _numeric(frame: pd.DataFrame, column: str, path) -> np.ndarray:
    raw = frame[column]
    try:
        values = pd.to_numeric(raw, errors="coerce")
    except OverflowError:   # a Python integer past float64 (from JSON or a list of dicts): past float32 too
        row = next((i for i, v in enumerate(raw) if isinstance(v, int) and abs(v) > FLOAT32_MAX), 0)
        raise DataError(f"{_where(path, column, row)}: {cut(str(raw.iloc[row]))} {OUTSIDE_FLOAT32}") from None
    bad = values.isna() & raw.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{_where(path, column, row)}: {_shown(raw.iloc[row])} is not a number")
    values = values.to_numpy(dtype=np.float64)
    huge = np.flatnonzero(np.isfinite(values) & (np.abs(values) > FLOAT32_MAX))
    if huge.size:
        row = int(huge[0])
        raise DataError(f"{_where(path, column, row)}: {values[row]:g} {OUTSIDE_FLOAT32}")
    return values


UNIX_MS_ABOVE = 1e11  # unix seconds reach 1e11 in the year 5138; larger numbers are milliseconds


def _timestamps(frame: pd.DataFrame, path, notes: list[str]) -> np.ndarray:
    """Float unix seconds (sub-second cadences keep their fractions)."""
    if "timestamp" not in frame:
        raise DataError(f"{path}: no 'timestamp' column (ISO 8601 or unix seconds); "
                        f"columns: {name_list(frame.attrs.get('header', frame.columns))}")
    raw = frame["timestamp"]
    unix = is_unix(raw)
    seconds = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64) if unix else iso_seconds(raw)
    bad = ~np.isfinite(seconds)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{_where(path, 'timestamp', row)}: {_shown(raw.iloc[row])} is not an ISO 8601 time or "
                        "unix seconds" + (" (the first row's is a number, so all must be)" if unix else ""))
    if unix and np.median(np.minimum(np.abs(seconds), 1e300)) > UNIX_MS_ABOVE:   # no overflow in the mean of two
        seconds = seconds / 1000.0
        notes.append("timestamps read as unix milliseconds (values above 1e11) and converted to seconds")
    outside = np.flatnonzero((seconds < TIME_RANGE[0]) | (seconds > TIME_RANGE[1]))
    if outside.size:
        row = int(outside[0])
        raise DataError(f"{_where(path, 'timestamp', row)}: {_shown(raw.iloc[row])} is outside the times "
                        "pandas can hold (1677-09-21 to 2262-04-11); correct it (a placeholder date?)")
    return seconds


def _segments(frame: pd.DataFrame, path) -> np.ndarray:
    if "trace_id" not in frame:
        return np.zeros(len(frame), dtype=np.int64)
    empty = frame["trace_id"].isna().to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(f"{_where(path, 'trace_id', row)}: empty; give every row its trace")
    ids = frame["trace_id"].astype(str).to_numpy()
    change = np.r_[False, ids[1:] != ids[:-1]]
    seen = set()
    for row in np.flatnonzero(np.r_[True, change[1:]]):  # the first row of each contiguous trace
        if ids[row] in seen:
            raise DataError(f"{_where(path, 'trace_id', int(row))}: trace {ids[row]!r} appears again after another "
                            "trace; keep each trace's rows together")
        seen.add(ids[row])
    return np.cumsum(change)


def _handle_missing(frame, columns, targets, policy, path, notes, segment) -> tuple[list[str], list[str]]:
    """Apply the NaN policy to feature-only columns (in place); targets must always be complete.

    Returns the columns kept (each filled one followed by its flag) and the filled ones.
    """
    kept, flagged = [], []
    for column in columns:
        values = frame[column]
        missing = ~np.isfinite(values.to_numpy(dtype=np.float64))
        if not missing.any():
            kept.append(column)
            continue
        row = int(np.flatnonzero(missing)[0])
        if column in targets or policy == "error":
            raise DataError(f"{_where(path, column, row)}: {values.iloc[row]} (NaN or inf); "
                            + ("targets must be complete" if column in targets else
                               "clean the file, or pass nan_policy='fill_flag' or 'drop'"))
        share = f"{missing.mean():.1%} of rows"
        if policy == "drop":
            notes.append(f"feature '{column}' dropped: NaN/inf on {share}")
            continue
        if f"{column}_missing" in frame:
            raise DataError(f"{_where(path, column + '_missing')}: already in the file, so nan_policy='fill_flag' "
                            f"cannot add its flag for '{column}'; rename that column")
        frame[column] = fill_gaps(values.to_numpy(np.float64), segment)   # the rule serving applies too
        frame[f"{column}_missing"] = missing.astype(np.float64)
        kept += [column, f"{column}_missing"]
        flagged.append(column)
        notes.append(f"feature '{column}': NaN/inf on {share} filled ({FILL_RULE}) and flagged in '{column}_missing'")
    return kept, flagged


def _check_arguments(path: Path, features: list[str], targets: list[str], nan_policy: str) -> None:
    if nan_policy not in NAN_POLICIES:
        raise DataError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if not features or not targets:
        raise DataError(f"{path}: need at least one feature and one target")


def _resolve_columns(frame: pd.DataFrame, features, targets, fresh_column: str, path) -> list[str]:
    """Map legacy aliases (in place), check every named column exists and is no oracle; the used columns."""
    for alias, canonical in ALIASES.items():
        if canonical not in frame and alias in frame:
            frame[canonical] = frame[alias]
    used = list(dict.fromkeys(features + targets))
    for column in used + ([fresh_column] if fresh_column else []):
        if column not in frame:
            raise DataError(f"{_where(path, column)}: not found; columns are "
                            f"{name_list(frame.attrs.get('header', frame.columns))}")
        if column.startswith(ORACLE_PREFIX):
            raise DataError(f"{_where(path, column)}: oracle columns are the generator's answers, not inputs")
    return used


def _check_order(frame: pd.DataFrame, timestamps: np.ndarray, segment: np.ndarray, path) -> None:
    """Within each trace, every row's time is after the previous row's."""
    same_trace = segment[1:] == segment[:-1]
    backwards = np.flatnonzero(same_trace & (np.diff(timestamps) <= 0))
    if backwards.size:
        row = int(backwards[0]) + 1
        now, before = frame["timestamp"].iloc[row], frame["timestamp"].iloc[row - 1]
        what = "repeats" if timestamps[row] == timestamps[row - 1] else "comes before"
        raise DataError(f"{_where(path, 'timestamp', row)}: {now} {what} the previous row's {before}; rows must be "
                        "sorted by time with one row per time step (within each trace)")


def _numeric_columns(frame, used, features, targets, nan_policy, path, notes, segment) -> tuple[list[str], list[str]]:
    """Convert the used columns to float (in place), apply the NaN policy; the feature columns kept, those filled."""
    for column in used:
        frame[column] = _numeric(frame, column, path)
    feature_columns, flagged = _handle_missing(frame, features, targets, nan_policy, path, notes, segment)
    _handle_missing(frame, [t for t in targets if t not in features], targets, "error", path, notes, segment)
    if not feature_columns:
        raise DataError(f"{path}: every feature was dropped by nan_policy='drop'")
    return feature_columns, flagged


def _check_targets_vary(frame: pd.DataFrame, targets: list[str], path) -> None:
    """Every target varies over the file: a constant one leaves nothing to predict."""
    for target in targets:
        values = frame[target].to_numpy(np.float64)
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


def _fresh_mask(frame: pd.DataFrame, targets: list[str], fresh_column: str, fresh_targets, path) -> np.ndarray | None:
    """bool [rows, targets]: True where a target's value is a new measurement (always, for targets not held)."""
    if split_names(fresh_targets) and not fresh_column:
        raise DataError(f"fresh_targets={fresh_targets!r} needs fresh_column: the column that is 0 on fresh rows")
    if not fresh_column:
        return None
    held = set(split_names(fresh_targets))
    unknown = held - set(targets)
    if unknown:
        raise DataError(f"fresh_targets names {name_list(sorted(unknown))}, which are not targets {name_list(targets)}")
    is_fresh = _numeric(frame, fresh_column, path) == 0
    return np.column_stack([is_fresh if t in held else np.ones(len(frame), bool) for t in targets])


def _wanted(features, targets, fresh_column: str, oracle: bool) -> set[str]:
    """The columns loading reads: the used ones, their legacy names, flags they would clash with, oracles."""
    used = set(features) | set(targets) | {"timestamp", "trace_id", fresh_column}
    used |= {oracle_column(t) for t in targets} if oracle else set()
    return used | {alias for alias, name in ALIASES.items() if name in used} | {f + "_missing" for f in features}


def load_telemetry(path, features, targets, nan_policy: str, fresh_column: str = "",
                   fresh_targets="", oracle: bool = True) -> Telemetry:
    """Read `path`, map legacy aliases, check every used column, return arrays.

    features, targets: names (a list or "a, b"); nan_policy: one of NAN_POLICIES (defaults: 02_train's
    parameters cell). fresh_column / fresh_targets: for targets held between measurements (a ping
    every ~14 s), `fresh_column == 0` marks the rows where a new one arrived; evaluation scores those
    targets there only. "" means none. oracle: also read the generator's oracle columns (evaluation
    scores them; training never reads them). Only the columns these name are parsed.
    """
    path = Path(path)
    features, targets = split_names(features), split_names(targets)
    _check_arguments(path, features, targets, nan_policy)
    frame, source, sha256 = read_table(path, _wanted(features, targets, fresh_column, oracle))   # source: messages' path
    used = _resolve_columns(frame, features, targets, fresh_column, source)
    notes: list[str] = []
    timestamps = _timestamps(frame, source, notes)
    segment = _segments(frame, source)
    _check_order(frame, timestamps, segment, source)
    feature_columns, flagged = _numeric_columns(frame, used, features, targets, nan_policy, source, notes, segment)
    _check_targets_vary(frame, targets, source)
    fresh = _fresh_mask(frame, targets, fresh_column, fresh_targets, source)
    oracle = _oracle(frame, targets) if oracle else None
    Y = _take(frame, targets, np.float64)
    X = _take(frame, feature_columns, np.float32)
    del frame
    give_back()
    return Telemetry(path=path, sha256=sha256, timestamps=timestamps, segment=segment,
                     features=feature_columns, targets=targets, X=X, Y=Y, oracle=oracle, fresh=fresh, notes=notes,
                     flagged=flagged)
