"""Train / validation / test by time (two instants) or by position in the file, and what each split holds.

`split="time"` (the default): the boundaries are two instants, at 70 % and 85 % of the windows
ordered by their predicted row's time; every window whose predicted row falls before the first
is training, before the second validation, the rest test, across all traces. Several traces
recorded side by side then share every split; a trace crossing a boundary gives windows to both
sides, each window wholly to the side of its predicted row (its inputs are earlier rows, as in any
forecast). With one trace in time order this is exactly the file-order split.
`split="file"`: 70/15/15 of the windows in file order, as before time order was the rule.
The rolling-origin folds cut with the same rule (`assign`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

SPLITS = ("time", "file")
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)
DOMINANT_SHARE = 0.5   # a group holding at least this share of one split's windows ...
LACKING_SHARE = 0.05   # ... while another split holds less than this share of it: warned


def split_slices(n: int, fractions=SPLIT_FRACTIONS) -> dict[str, slice]:
    """Train/val/test slices over n windows in order (no shuffling, no overlap of targets)."""
    n_train = int(round(n * fractions[0]))
    n_val = int(round(n * fractions[1]))
    return {"train": slice(0, n_train), "val": slice(n_train, n_train + n_val), "test": slice(n_train + n_val, n)}


def _contiguous(index: np.ndarray):
    """A slice (a view when taken) where the index is a run of consecutive windows, else the index."""
    if not len(index):
        return slice(0, 0)
    if index[-1] - index[0] + 1 == len(index):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def assign(times: np.ndarray, slices: dict[str, slice], split: str) -> dict[str, slice | np.ndarray]:
    """Each part's windows: `slices` over positions in time order, turned into instants ("time"), or as they are.

    times: each window's predicted row's unix seconds, in file order. Under "time" a slice
    [a, b) of the time-ordered windows becomes [t_a, t_b): every window predicting a row in it.
    """
    if split == "file":
        return dict(slices)
    if split != "time":
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    ordered = np.sort(times)
    n = len(ordered)

    def instant(position: int) -> float:
        return float(ordered[position]) if position < n else np.inf
    out = {}
    for name, part in slices.items():
        low, high = (-np.inf if part.start == 0 else instant(part.start)), instant(part.stop)
        out[name] = _contiguous(np.flatnonzero((times >= low) & (times < high)))
    return out


def boundaries(times: np.ndarray, parts: dict) -> dict[str, tuple[float, float]]:
    """Each part's first and last predicted time (NaN for an empty part)."""
    return {name: (float(times[p].min()), float(times[p].max())) if np.size(times[p]) else (np.nan, np.nan)
            for name, p in parts.items()}


def _utc(seconds: float) -> str:
    return "" if not np.isfinite(seconds) else pd.Timestamp(seconds, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")


def split_shares(telemetry, split_rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Share (%) of each split's windows from each group (group_column's values, else the traces)."""
    groups = len(telemetry.group_names)
    table = {name: 100 * np.bincount(telemetry.group[rows], minlength=groups) / max(len(rows), 1)
             for name, rows in split_rows.items()}
    frame = pd.DataFrame(table, index=pd.Index(telemetry.group_names, name=telemetry.group_column or "trace"))
    return frame.round(1)


def split_table(telemetry, split_rows: dict[str, np.ndarray], split: str) -> pd.DataFrame:
    """Per split: its time span, windows, and the windows where each masked target is observed."""
    records = {}
    for name, rows in split_rows.items():
        t = telemetry.timestamps[rows]
        record = {"from (UTC)": _utc(t.min() if len(t) else np.nan), "to (UTC)": _utc(t.max() if len(t) else np.nan),
                  "windows": len(rows), "first predicted row": int(rows.min()) if len(rows) else -1,
                  "last predicted row": int(rows.max()) if len(rows) else -1}
        for j, target in enumerate(telemetry.targets):
            if telemetry.masked.get(target, {}).get("masked"):
                record[f"{target} observed"] = int(telemetry.observed[rows, j].sum())
        records[name] = record
    frame = pd.DataFrame(records).T
    frame.index.name = f"split={split}"
    return frame


def split_warnings(telemetry, split_rows: dict[str, np.ndarray], split: str) -> list[str]:
    """Sentences for the split table: a split dominated by a group that another split lacks; a file-order split."""
    share = split_shares(telemetry, split_rows) / 100
    out = []
    if split == "file" and len(telemetry.group_names) > 1:
        out.append("split=file: the boundaries are positions in the file, not instants; traces recorded at the same "
                   "time can fall in different splits (split=time cuts all traces at the same two instants)")
    for name in share.columns:
        for group, value in share[name].items():
            lacking = [other for other in share.columns if other != name and share.at[group, other] < LACKING_SHARE]
            if value >= DOMINANT_SHARE and lacking:
                out.append(f"warning: {100 * value:.0f} % of the {name} windows are from {group!r}, which is under "
                           f"{100 * LACKING_SHARE:.0f} % of {' and '.join(lacking)}: the splits hold different "
                           "populations, so choices made on validation may not carry to test")
    return out


def split_of(config: dict) -> str:
    """The split a configuration names (a checkpoint saved before `split` existed was split in file order)."""
    return config.get("split", "file")
