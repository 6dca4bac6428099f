"""Sliding windows, the chronological split and the scaler fit on training rows only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bwkit.errors import DataError, ParameterError
from bwkit.features.calendar import CALENDAR_FEATURES, next_row_cells
from bwkit.features.window_array import WindowArray

SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
@dataclass
class Windows:
    X: WindowArray       # float32 [n, window, features]: rows i .. i+window-1, gathered when indexed
    Y: np.ndarray        # float32 [n, targets]: row i+window, the one predicted
    row: np.ndarray      # int64 [n]: index of the predicted row in the CSV

    def __len__(self):
        return len(self.row)

    def take(self, part: slice) -> "Windows":
        X = self.X.take(part) if isinstance(self.X, WindowArray) else self.X[part]   # a view: nothing copied
        return Windows(X, self.Y[part], self.row[part])


def valid_starts(rows: int, window: int, segment: np.ndarray | None = None) -> np.ndarray:
    """Start rows whose window and predicted row all lie in one trace."""
    starts = np.arange(max(rows - window, 0))
    if segment is not None and starts.size:
        starts = starts[segment[starts] == segment[starts + window]]
    return starts


def make_windows(X: np.ndarray, Y: np.ndarray, window: int, segment: np.ndarray | None = None,
                 calendar: np.ndarray | None = None) -> Windows:
    """Window `window` rows of X to predict the next row of Y, vectorised (no Python loop).

    calendar: each row's next-row calendar cell (`next_row_cells`), expanded to one-hot channels after X's.
    """
    if window < 1:
        raise ParameterError(f"window_size must be >= 1, got {window}")
    starts = valid_starts(len(X), window, segment)
    rows = np.ascontiguousarray(X, dtype=np.float32)     # windows are gathered from it: the telemetry's own
                                                         # float32 rows are used as they are, not copied
    return Windows(WindowArray(rows, starts, window, calendar), Y[starts + window].astype(np.float32),
                   (starts + window).astype(np.int64))


def split_slices(n: int, fractions=SPLIT_FRACTIONS) -> dict[str, slice]:
    """Chronological train/val/test slices over n windows (no shuffling, no overlap of targets)."""
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val), "test": slice(n_train + n_val, n)}


@dataclass
class Scaler:
    """Standardisation fit on training rows only: x -> (x - mean) / std."""
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values) -> "Scaler":
        """Per last-axis column, over everything else: an array, or a WindowArray's every (window, step)."""
        if isinstance(values, WindowArray):
            mean, std = values.moments()
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
    """Every window of the telemetry in time order (with next-row calendar channels when asked), and the inputs' names."""
    if not isinstance(known_future, (bool, np.bool_)):
        raise ParameterError(f"known_future must be True or False here, got {known_future!r} "
                             "(bwkit.training.selection.choose resolves 'auto')")
    features = list(telemetry.features) + (list(CALENDAR_FEATURES) if known_future else [])
    calendar = next_row_cells(telemetry.timestamps) if known_future else None   # one byte per row, expanded when gathered
    return features, make_windows(telemetry.X, telemetry.Y, window_size, telemetry.segment, calendar)


def _checked_slices(telemetry, window_size: int, windows: int) -> dict[str, slice]:
    """split_slices over `windows` windows, refusing a split left empty."""
    slices = split_slices(windows)
    if min(s.stop - s.start for s in slices.values()) < 1:
        fewest = next(n for n in range(3, 100) if all(s.stop > s.start for s in split_slices(n).values()))
        raise DataError(
            f"{telemetry.path}: {telemetry.rows} rows give {windows} windows of {window_size} rows; "
            f"a 70/15/15 split needs at least {window_size + fewest} rows in one trace (use more data or a "
            "smaller window_size)")
    return slices


def split_rows(telemetry, window_size: int) -> dict[str, np.ndarray]:
    """Each split's predicted rows, as `prepare` splits them, without preparing any window."""
    starts = valid_starts(telemetry.rows, window_size, telemetry.segment)
    return {name: starts[part] + window_size
            for name, part in _checked_slices(telemetry, window_size, len(starts)).items()}


def prepare(telemetry, window_size: int, known_future: bool) -> Prepared:
    """Window the telemetry (adding next-row calendar channels when asked) and split it."""
    features, windows = window_all(telemetry, window_size, known_future)
    slices = _checked_slices(telemetry, window_size, len(windows))
    return Prepared(features, list(telemetry.targets), {name: windows.take(part) for name, part in slices.items()})
