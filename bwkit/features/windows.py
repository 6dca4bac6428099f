"""Sliding windows, their split (`bwkit.features.splits`) and the scaler fit on training rows only.

A window never spans a new trace or a step longer than `max_gap_cadences` cadences (`bwkit.data.GAP_RULE`):
serving (`bwkit.serving.predictor`) builds the same windows from raw rows.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bwkit.data import MIN_OBSERVED, require_observed
from bwkit.errors import DataError, ParameterError
from bwkit.features.calendar import CALENDAR_FEATURES, next_row_cells
from bwkit.features.splits import assign, split_slices
from bwkit.features.window_array import WindowArray


@dataclass
class Windows:
    X: WindowArray       # float32 [n, window, features]: rows i .. i+window-1, gathered when indexed
    Y: np.ndarray        # float32 [n, targets]: row i+window, the one predicted
    row: np.ndarray      # int64 [n]: index of the predicted row in the CSV
    observed: np.ndarray | None = None   # bool [n, targets]: the predicted value is observed (None: everywhere)

    def __post_init__(self):
        if self.observed is None:
            self.observed = np.ones(self.Y.shape, bool)

    def __len__(self):
        return len(self.row)

    def take(self, part) -> "Windows":
        """A slice (views: nothing copied) or an index array of the windows."""
        X = self.X.take(part) if isinstance(self.X, WindowArray) else self.X[part]
        return Windows(X, self.Y[part], self.row[part], self.observed[part])


def valid_starts(rows: int, window: int, segment: np.ndarray | None = None) -> np.ndarray:
    """Start rows whose window and predicted row all lie in one run of `segment` (a trace, or a piece of one)."""
    starts = np.arange(max(rows - window, 0))
    if segment is not None and starts.size:
        starts = starts[segment[starts] == segment[starts + window]]
    return starts


def make_windows(X: np.ndarray, Y: np.ndarray, window: int, *, segment: np.ndarray | None = None,
                 calendar: np.ndarray | None = None, observed: np.ndarray | None = None) -> Windows:
    """Window `window` rows of X to predict the next row of Y, vectorised (no Python loop).

    segment: each row's run (`Telemetry.pieces`); calendar: each row's next-row calendar cell
    (`next_row_cells`), expanded to one-hot channels after X's; observed: bool [rows, targets].
    """
    if window < 1:
        raise ParameterError(f"window_size must be >= 1, got {window}")
    starts = valid_starts(len(X), window, segment)
    rows = np.ascontiguousarray(X, dtype=np.float32)     # windows are gathered from it: the telemetry's own
                                                         # float32 rows are used as they are, not copied
    predicted = starts + window
    return Windows(WindowArray(rows, starts, window, calendar=calendar), Y[predicted].astype(np.float32),
                   predicted.astype(np.int64), None if observed is None else observed[predicted])


def dropped_for_gaps(telemetry, window_size: int) -> int:
    """Windows inside one trace that the gap rule drops (they would span a step over max_gap_cadences)."""
    return len(valid_starts(telemetry.rows, window_size, telemetry.segment)) - \
        len(valid_starts(telemetry.rows, window_size, telemetry.pieces()))


@dataclass
class Scaler:
    """Standardisation fit on training rows only: x -> (x - mean) / std."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values, observed: np.ndarray | None = None) -> "Scaler":
        """Per last-axis column, over everything else: an array, or a WindowArray's every (window, step).

        observed: bool [rows, columns] of a 2-D array: each column's moments over its observed rows only.
        """
        if isinstance(values, WindowArray):
            mean, std = values.moments()
        elif observed is not None and not np.all(observed):   # all observed: the unmasked arithmetic, same bits
            weight = np.asarray(observed, np.float64)
            count = np.maximum(weight.sum(axis=0), 1.0)
            values = np.asarray(values, np.float64)
            mean = (np.where(observed, values, 0.0)).sum(axis=0) / count
            std = np.sqrt((np.where(observed, values - mean, 0.0) ** 2).sum(axis=0) / count)
        else:
            flat = values.reshape(-1, values.shape[-1]).astype(np.float64)
            mean, std = flat.mean(axis=0), flat.std(axis=0)
        return cls(mean, np.where(std > 1e-12, std, 1.0))

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}


@dataclass
class Prepared:
    """Windows of one CSV, split chronologically, with the feature names they carry."""
    features: list[str]
    targets: list[str]
    splits: dict[str, Windows]

    @property
    def target_columns(self) -> list[int] | None:
        """Each target's column among the inputs; None unless every target is an input."""
        if not all(t in self.features for t in self.targets):
            return None
        return [self.features.index(t) for t in self.targets]


def window_all(telemetry, window_size: int, known_future: bool) -> tuple[list[str], Windows]:
    """Every window of the telemetry in file order (with next-row calendar channels when asked), and the inputs' names."""
    if not isinstance(known_future, (bool, np.bool_)):
        raise ParameterError(f"known_future must be True or False here, got {known_future!r} "
                             "(bwkit.training.selection.choose resolves 'auto')")
    features = list(telemetry.features) + (list(CALENDAR_FEATURES) if known_future else [])
    calendar = next_row_cells(telemetry.timestamps) if known_future else None   # one byte per row, expanded when gathered
    return features, make_windows(telemetry.X, telemetry.Y, window_size, segment=telemetry.pieces(), calendar=calendar,
                                  observed=telemetry.observed)


def _fewest_windows() -> int:
    """The fewest windows whose 70/15/15 split gives every split MIN_OBSERVED windows."""
    return next(n for n in range(3, 1000) if all(s.stop - s.start >= MIN_OBSERVED for s in split_slices(n).values()))


def _parts(telemetry, window_size: int, rows: np.ndarray, *, split: str) -> dict:
    """Each split's windows (a slice or an index into `rows`, the windows' predicted rows), checked.

    Refused: a split of fewer than MIN_OBSERVED windows (to train, validate and score), or one in
    which a target is observed on too few of them.
    """
    parts = assign(telemetry.timestamps[rows], split_slices(len(rows)), split)
    for name, part in parts.items():
        if np.size(rows[part]) < MIN_OBSERVED:
            raise DataError(
                f"{telemetry.path}: {telemetry.rows} rows give {len(rows)} windows of {window_size} rows and the "
                f"{name} split (split={split}) has {np.size(rows[part])}; a 70/15/15 split needs at least "
                f"{window_size + _fewest_windows()} rows in one run of a trace (use more data or a smaller window_size)")
    for name, part in parts.items():
        require_observed(telemetry.observed[rows[part]], telemetry.targets, name, path=telemetry.path,
                         masked=telemetry.masked)
    return parts


def split_rows(telemetry, window_size: int, split: str = "time") -> dict[str, np.ndarray]:
    """Each split's predicted rows, as `prepare` splits them, without preparing any window."""
    rows = valid_starts(telemetry.rows, window_size, telemetry.pieces()) + window_size
    return {name: rows[part] for name, part in _parts(telemetry, window_size, rows, split=split).items()}


def prepare(telemetry, window_size: int, known_future: bool, *, split: str = "time") -> Prepared:
    """Window the telemetry (adding next-row calendar channels when asked) and split it (`bwkit.features.splits`)."""
    features, windows = window_all(telemetry, window_size, known_future)
    parts = _parts(telemetry, window_size, windows.row, split=split)
    return Prepared(features, list(telemetry.targets), {name: windows.take(part) for name, part in parts.items()})


def split_summary(telemetry, window_size: int, split: str) -> dict:
    """What the split holds, for the run's record and page: per split its span, windows and observed counts,
    each group's share, the warnings, and the windows the gap rule dropped."""
    from bwkit.features.splits import split_shares, split_table, split_warnings

    rows = split_rows(telemetry, window_size, split)
    return {"split": split, "table": split_table(telemetry, rows, split).reset_index().to_dict("records"),
            "shares": split_shares(telemetry, rows).reset_index().to_dict("records"),
            "warnings": split_warnings(telemetry, rows, split),
            "dropped_for_gaps": dropped_for_gaps(telemetry, window_size),
            "max_gap_cadences": telemetry.max_gap_cadences, "cadence_seconds": telemetry.cadence_seconds}
