"""Windows that are never copied out: the row array plus each window's first row.

A split of 1,000,000 windows of 20 rows is 20 times its rows when materialised as
[windows, window, features]. `WindowArray` keeps the rows once and gathers only what is
indexed: a batch (`X[i:j]`, `X[idx]`), some columns of every window (`X[:, :, cols]`), or
one step (`X[:, -1]`). `TorchWindows` does the same on a device for training.
"""
from __future__ import annotations

import numpy as np

CHUNK = 65536   # windows gathered at a time by whole-array reductions


class WindowArray:
    """Windows [n, window, features] (float32) of `rows`, window k covering rows starts[k] .. starts[k] + window - 1."""

    ndim = 3

    def __init__(self, rows: np.ndarray, starts: np.ndarray, window: int):
        self.rows, self.starts, self.window = rows, np.asarray(starts, np.int64), int(window)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (len(self.starts), self.window, self.rows.shape[1])

    @property
    def dtype(self):
        return self.rows.dtype

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, key) -> np.ndarray:
        first, *rest = key if isinstance(key, tuple) else (key,)
        starts = self.starts[first]
        steps = np.arange(self.window)[rest[0]] if rest else np.arange(self.window)
        index = np.add.outer(starts, steps)                  # [..windows, ..steps] of row numbers
        if len(rest) > 1:                                    # columns too: gather only those
            columns = np.arange(self.rows.shape[1])[rest[1]]
            return self.rows[index[..., None], columns] if np.ndim(columns) else self.rows[index, columns]
        return self.rows[index]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def take(self, part) -> "WindowArray":
        return WindowArray(self.rows, self.starts[part], self.window)

    def batches(self, size: int = CHUNK):
        """(offset, windows [b, window, features]) over the whole array, `size` windows at a time."""
        for i in range(0, len(self), size):
            yield i, self[i:i + size]

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and population std per feature over every (window, step), as of the materialised windows.

        Each row counts once per window holding it; two passes over the rows (mean, then deviations).
        """
        counts = np.zeros(len(self.rows) + 1, np.float64)
        np.add.at(counts, self.starts, 1.0)
        np.add.at(counts, self.starts + self.window, -1.0)
        weight = np.cumsum(counts)[:-1]                      # windows covering each row
        total = weight.sum()
        mean = np.zeros(self.rows.shape[1])
        for i in range(0, len(self.rows), CHUNK):
            mean += weight[i:i + CHUNK] @ self.rows[i:i + CHUNK].astype(np.float64)
        mean /= total
        square = np.zeros(self.rows.shape[1])
        for i in range(0, len(self.rows), CHUNK):
            square += weight[i:i + CHUNK] @ np.square(self.rows[i:i + CHUNK].astype(np.float64) - mean)
        return mean, np.sqrt(square / total)


class TorchWindows:
    """A WindowArray's rows and starts as tensors on one device: batches are gathered there.

    (Windows given as a plain [n, window, features] array are moved whole and indexed as they are.)
    """

    def __init__(self, windows, device):
        import torch

        if not isinstance(windows, WindowArray):
            windows = np.asarray(windows)
            windows = WindowArray(windows.reshape(-1, windows.shape[-1]), np.arange(len(windows)) * windows.shape[1],
                                  windows.shape[1])
        self.rows = torch.as_tensor(windows.rows, device=device)
        self.starts = torch.as_tensor(windows.starts, device=device)
        self.steps = torch.arange(windows.window, device=device)

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, key):
        return self.rows[self.starts[key][:, None] + self.steps]
