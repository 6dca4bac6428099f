"""The links a service holds: one `Stream` per link, least recently used evicted, snapshotted to disk.

A snapshot is one `.npz` file (no pickle) with every link's window rows, carried values,
row count, adaptive-band state and latest prediction, written to a temporary name, flushed
to disk and renamed over the last one, so a reader (a restart) sees the old snapshot or the
new, never half of one. Restoring it leaves each stream exactly as it was when written.
"""
from __future__ import annotations

import io
import json
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data import Rows
from bwkit.files import whole_file
from bwkit.serving.predictor import Predictor

FORMAT = 1


class Link:
    """One link's stream and its latest answer (calibrated and, where shipped, adaptive bands)."""
    __slots__ = ("stream", "latest", "adaptive")

    def __init__(self, stream, latest=None, adaptive=None):
        self.stream, self.latest, self.adaptive = stream, latest, adaptive

    def update(self, rows) -> None:
        answer = self.stream.update(rows)
        self.latest = self.stream.static
        self.adaptive = answer if self.stream.tracker is not None else None

    def filled(self) -> int:
        """Rows in the current window (since the last trace change or long gap), at most window_size."""
        return self.stream.filled()


class Links:
    """At most `max_links` links, least recently used first out (`evicted` counts them)."""

    def __init__(self, predictor: Predictor, max_links: int):
        self.predictor, self.max_links, self.evicted = predictor, max_links, 0
        self.adaptive = predictor.adaptive_table is not None
        self.held: OrderedDict[str, Link] = OrderedDict()

    def __len__(self) -> int:
        return len(self.held)

    def get(self, name: str) -> Link | None:
        link = self.held.get(name)
        if link is not None:
            self.held.move_to_end(name)
        return link

    def post(self, name: str, rows) -> Link:
        """Rows into a link's stream (a new link is held, and the least recently used evicted past max_links, only
        once its first rows are taken: a refused row changes no link)."""
        link = self.get(name)
        if link is not None:
            link.update(rows)
            return link
        link = Link(self.predictor.stream(adaptive=self.adaptive))
        link.update(rows)
        self.held[name] = link
        while len(self.held) > self.max_links:
            self.held.popitem(last=False)
            self.evicted += 1
        return link

    def swap(self, predictor: Predictor) -> None:
        """Serve a newer model of the same recipe: every link keeps its rows; adaptive bands start afresh."""
        self.predictor, self.adaptive = predictor, predictor.adaptive_table is not None
        for link in self.held.values():
            old, link.stream = link.stream, predictor.stream(adaptive=self.adaptive)
            link.stream.tail, link.stream.carry, link.stream.rows_seen = old.tail, old.carry, old.rows_seen


def _answers(links: list[Link], key: str, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    times, values = np.full(len(links), np.nan), np.full((len(links), len(names)), np.nan)
    for i, link in enumerate(links):
        answer = getattr(link, key)
        if answer is not None:
            times[i] = answer["timestamp"].timestamp()
            values[i] = [answer[n] for n in names]
    return times, values


def snapshot_arrays(links: Links, run_id: str) -> dict[str, np.ndarray]:
    """Every link's state as arrays (taken between two requests, so it is consistent)."""
    predictor, held = links.predictor, list(links.held.values())
    columns, names = predictor.recipe.columns, predictor.output_names
    tails = [link.stream.tail for link in held]
    lengths = np.array([len(t) for t in tails], np.int64)
    out = {"meta": np.array(json.dumps({"format": FORMAT, "run_id": run_id, "recipe": predictor.metadata["recipe"],
                                        "evicted": links.evicted})),
           "link": np.array(list(links.held), dtype=str), "length": lengths,
           "rows_seen": np.array([link.stream.rows_seen for link in held], np.int64),
           "timestamps": np.concatenate([t.timestamps for t in tails]) if held else np.empty(0),
           "trace": np.concatenate([t.trace for t in tails]).astype(str) if held else np.empty(0, str),
           "values": np.concatenate([np.column_stack([t.values[c] for c in columns]) for t in tails])
           if held else np.empty((0, len(columns))),
           "carry": np.array([[link.stream.carry.get(c, np.nan) for c in columns] for link in held]).reshape(-1, len(columns))}
    for key in ("latest", "adaptive"):
        out[f"{key}_time"], out[key] = _answers(held, key, names)
    if links.adaptive:
        shape = (len(held), len(predictor.levels), len(predictor.targets))
        out["rate"] = np.array([link.stream.tracker.rate for link in held]).reshape(shape)
        pending = np.full((len(held), 2, len(predictor.targets)), np.nan)
        for i, link in enumerate(held):
            if link.stream.pending is not None:
                pending[i] = link.stream.pending
        out["pending"] = pending
    return out


def write_snapshot(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """The arrays to `path`, whole and durably (`bwkit.files.whole_file`): a crash or a full disk leaves the
    previous snapshot whole, and each write has a partial file of its own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    with whole_file(path, durable=True) as partial:
        partial.write_bytes(buffer.getbuffer())
    return path


def _answer(time: float, values: np.ndarray, names: list[str]) -> dict | None:
    if not np.isfinite(time):
        return None
    return {"timestamp": pd.Timestamp(float(time), unit="s", tz="UTC"), **dict(zip(names, values.tolist()))}


def restore(links: Links, path: Path) -> str:
    """Links from the snapshot at `path` into `links` (empty); what was restored, or why nothing was, in words."""
    if not path.is_file():
        return "no snapshot yet"
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
        meta = json.loads(str(arrays["meta"]))
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:   # not one we wrote whole: keep it aside
        aside = path.replace(path.with_name(path.name + ".unreadable"))
        return f"{path}: unreadable ({type(exc).__name__}: {exc}); moved to {aside.name}, starting with no links"
    predictor = links.predictor
    if meta.get("format") != FORMAT or meta.get("recipe") != predictor.metadata["recipe"]:
        return f"{path}: written for another input recipe or format; not restored"
    columns, names, bounds = predictor.recipe.columns, predictor.output_names, np.r_[0, np.cumsum(arrays["length"])]
    for i, name in enumerate(arrays["link"].tolist()):
        part = slice(bounds[i], bounds[i + 1])
        link = links.held[name] = Link(predictor.stream(adaptive=links.adaptive))
        stream = link.stream
        stream.tail = Rows(arrays["timestamps"][part], arrays["trace"][part].astype(object),
                           {c: arrays["values"][part, j].copy() for j, c in enumerate(columns)}, {})
        stream.carry = {c: float(v) for c, v in zip(columns, arrays["carry"][i]) if np.isfinite(v)}
        stream.rows_seen = int(arrays["rows_seen"][i])
        link.latest = stream.static = _answer(arrays["latest_time"][i], arrays["latest"][i], names)
        if stream.tracker is not None and "rate" in arrays:
            stream.tracker.rate = arrays["rate"][i].copy()
            pending = arrays["pending"][i]
            stream.pending = (pending[0].copy(), pending[1].copy()) if np.isfinite(pending[1]).all() else None
            link.adaptive = _answer(arrays["adaptive_time"][i], arrays["adaptive"][i], names)
    links.evicted = int(meta.get("evicted", 0))
    while len(links.held) > links.max_links:   # restarted with a smaller --max-links: the least recent go
        links.held.popitem(last=False)
        links.evicted += 1
    return f"{len(links.held)} links restored from {path}"
