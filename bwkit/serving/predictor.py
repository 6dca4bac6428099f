"""Use a run's model from raw telemetry: onnxruntime, numpy and pandas; never torch.

    from bwkit.serving.predictor import Predictor
    predictor = Predictor.from_run("runs/<id>")
    predictor.predict(frame)           # every window of these rows: a DataFrame
    predictor.next(last_rows)          # the row after the last one: a dict
    stream = predictor.stream()        # one row at a time: stream.update(row) -> dict or None

Inputs are rows as the CSV had them (`timestamp`, the raw columns, legacy names
too, optional `trace_id`). The input channels are derived by `bwkit.features.recipe.Recipe`,
the code training used, from the recipe 04_export wrote into the run's metadata.
A window is `window_size` consecutive rows of one trace with no step longer than
`max_gap_cadences` x the training cadence; its prediction is for the next row of the
window's trace, as in training (at that row's time where the rows hold it, else one cadence after
the window's last), in original units, with the calibrated 80 % and 95 % bands.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data import Rows, breaks as window_breaks, iso, parse_rows, require_cadence, require_window, sha256_file
from bwkit.errors import DataError, RunError
from bwkit.evaluation import MethodBands, band_constants, window_scale
from bwkit.features import CALENDAR_FEATURES, Recipe, calendar_channels
from bwkit.runs import RunFolder, read_record

BATCH = 1024   # windows per onnxruntime call


def _session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    if not path.is_file():
        raise RunError(f"{path}: the ONNX model is missing; run the run's 04_export stage again")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes for a broken file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"{path}: not a loadable ONNX model ({first[:200]}); export it again") from None


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path}: not readable model metadata ({exc}); export it again") from None
    if not isinstance(value, dict) or not isinstance(value.get("onnx_file", ""), str):
        raise RunError(f"{path}: not model metadata (a JSON {type(value).__name__}); export it again")
    return value


def verify_model(run_dir: Path, paths, allow_modified: bool = False) -> None:
    """The model files are those the run recorded (its sha256 manifest); refused if changed, unless allowed.

    A folder without a run record (files copied by hand) has nothing to check against."""
    try:
        manifest = read_record(RunFolder(run_dir)).get("manifest") or {}
    except RunError:
        return
    for path in paths:
        name = str(Path(path).relative_to(run_dir))
        if name in manifest and sha256_file(path) != manifest[name]:
            message = (f"{path}: not the file run {run_dir.name} recorded (sha256 differs from its manifest); "
                       "restore it, or pass --allow-modified to use it anyway")
            if not allow_modified:
                raise RunError(message)
            warnings.warn(message.split(";")[0] + ": used anyway (--allow-modified)", stacklevel=2)


def _metadata_path(run_dir: Path, version: str | None) -> Path:
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run folder")
    found = sorted(run_dir.glob(f"model_metadata_{version or '*'}.json"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise RunError(f"{run_dir}: no model_metadata_{version or '*'}.json; run its 04_export stage first")
    raise RunError(f"{run_dir}: several exported models ({', '.join(p.name for p in found)}); choose one with "
                   f"--version (bwkit predict and serve), version= (Predictor.from_run, 06_predict)")


def carry_before(rows: Rows, cut: int, carry: dict) -> dict:
    """Each column's last valid value before row `cut`, in row `cut`'s trace (`carry`: those before row 0)."""
    same = rows.trace[:cut] == rows.trace[cut] if cut < len(rows) else np.zeros(cut, bool)
    start = 0 if same.all() else cut - int(np.argmin(same[::-1]))   # where row cut's trace begins
    out = {}
    for column, values in rows.values.items():
        valid = np.flatnonzero(np.isfinite(values[start:cut]))
        if valid.size:
            out[column] = float(values[start + valid[-1]])
        elif start == 0 and same.all() and column in carry:
            out[column] = carry[column]
    return out


class Predictor:
    """A run's exported model with its input recipe and calibrated bands."""

    def __init__(self, onnx_path, metadata: dict, threads: int = 1, *, metadata_path=None):
        if "recipe" not in metadata:
            raise RunError(f"{onnx_path}: its metadata has no input recipe (exported before bwkit wrote one); "
                           "run the run's 04_export stage again")
        self.metadata, self.recipe = metadata, Recipe.from_dict(metadata["recipe"])
        self.onnx_path, self.metadata_path = Path(onnx_path), metadata_path and Path(metadata_path)
        self.session = _session(self.onnx_path, threads)
        self.bands = metadata.get("intervals")
        self.levels = [] if self.bands is None else list(self.bands["levels"])
        if self.bands is not None:
            self._band = band_constants(MethodBands.from_dict(self.bands), self.levels, self.recipe.features,
                                        targets=self.targets)
        self._steps = np.arange(1 - self.recipe.window_size, 1)   # a window's rows, relative to its last
        self._calendar = [self.recipe.features.index(c) for c in CALENDAR_FEATURES] if self.recipe.known_future else []

    @classmethod
    def from_run(cls, run_dir, version: str | None = None, threads: int = 1, *,
                 allow_modified: bool = False) -> "Predictor":
        """The model 04_export wrote into `run_dir` (its only one, or `model_metadata_<version>.json`'s), checked
        against the run's sha256 manifest (a changed file is refused unless `allow_modified`)."""
        run_dir = Path(run_dir).expanduser().resolve()
        meta_path = _metadata_path(run_dir, version)
        metadata = _read_json(meta_path)
        onnx_path = meta_path.parent / metadata.get("onnx_file", "")
        verify_model(run_dir, [meta_path, onnx_path] if onnx_path.is_file() else [meta_path], allow_modified)
        return cls(onnx_path, metadata, threads, metadata_path=meta_path)

    @classmethod
    def from_files(cls, onnx_path, metadata_path, threads: int = 1) -> "Predictor":
        return cls(onnx_path, _read_json(Path(metadata_path)), threads, metadata_path=metadata_path)

    @property
    def targets(self) -> list[str]:
        return self.recipe.targets

    @property
    def data_path(self) -> str:
        """The file the model was trained on: the path its run recorded, or that run folder's own copy of it where
        the folder was copied or moved elsewhere (`RunFolder.data_file`)."""
        data = self.metadata.get("data", {})
        if self.metadata_path is None:   # built from files outside any run folder
            return data.get("path", "")
        return RunFolder(self.metadata_path.parent).data_file(data.get("path", ""), data.get("sha256"))

    def predict_windows(self, X: np.ndarray) -> np.ndarray:
        """Prepared windows [n, window, features] (float32, original units) -> predictions [n, targets]."""
        X = np.ascontiguousarray(X, np.float32)
        return np.concatenate([self.session.run(None, {"input": X[i:i + BATCH]})[0]
                               for i in range(0, len(X), BATCH)]) if len(X) else np.empty((0, len(self.targets)))

    def inputs(self, rows: Rows, carry: dict, *, next_known: bool = True):
        """Input channels [rows, features], each row's window segment, and the predicted row's time per row.

        A window predicts the next row of its segment, as in training: its time is that row's where the rows hold it,
        else (the last row, a break) one cadence on. The last row's calendar (known_future) is that time's.
        next_known=False: every window as a stream predicts it, before its next row comes (one cadence on)."""
        recipe, ts, n = self.recipe, rows.timestamps, len(rows)
        new_trace = rows.trace[1:] != rows.trace[:-1]
        breaks = np.zeros(n, bool)        # breaks[i]: row i + 1 starts a new window segment (the last: always)
        breaks[:-1] = window_breaks(ts, new_trace, recipe.cadence_seconds,   # training's rule
                                    max_gap_cadences=recipe.max_gap_cadences)
        breaks[-1] = True
        segment, trace = np.zeros(n, np.int64), np.zeros(n, np.int64)
        np.add.accumulate(breaks[:-1], out=segment[1:])   # ufuncs direct: one window is microseconds
        np.add.accumulate(new_trace, out=trace[1:])
        ahead = ts + recipe.cadence_seconds              # one cadence on ...
        next_ts = ahead.copy()
        next_ts[:-1][~breaks[:-1]] = ts[1:][~breaks[:-1]]   # ... or the next row, where the rows hold it
        X = recipe.matrix(rows.values, next_ts, trace, carry=carry)   # each row carries its next row's calendar
        return X, segment, next_ts if next_known else ahead

    def _window_ends(self, segment: np.ndarray, first: int, last: int) -> np.ndarray:
        w = self.recipe.window_size
        ends = np.arange(max(first, w - 1), last + 1)
        return ends[segment[ends - w + 1] == segment[ends]]

    def forecast(self, rows: Rows, carry: dict, first: int = 0, *, last: int | None = None,
                 next_known: bool = True) -> "Forecast":
        """Predictions (arrays) for the windows of `rows` ending at rows first..last (`next_known`: `inputs`')."""
        X, segment, predicted = self.inputs(rows, carry, next_known=next_known)
        ends = self._window_ends(segment, first, len(rows) - 1 if last is None else last)
        pred, half, scale = [], [], []
        for i in range(0, len(ends), BATCH):
            batch = ends[i:i + BATCH]
            windows = X[batch[:, None] + self._steps]
            if self._calendar:   # the last row carries the predicted row's calendar (next_known=False: one cadence on)
                windows[:, -1, self._calendar] = calendar_channels(predicted[batch])
            for into, value in zip((pred, half, scale), self.run_windows(windows)):
                if value is not None:
                    into.append(value)
        shape = (0, len(self.targets))
        out = Forecast(ends, predicted[ends],
                       (pred[0] if len(pred) == 1 else np.concatenate(pred)) if pred else np.empty(shape, np.float32),
                       (half[0] if len(half) == 1 else np.concatenate(half, axis=1)) if half
                       else np.empty((len(self.levels), *shape)), scale)
        if rows.actual:   # the predicted row's value, where the rows hold that row
            following = np.minimum(ends + 1, len(rows) - 1)
            has_next = (ends + 1 < len(rows)) & (segment[following] == segment[ends])
            out.actual = {t: np.where(has_next, v[following], np.nan) for t, v in rows.actual.items()}
        return out

    def run_windows(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """At most BATCH windows [n, window, features] (float32, as `inputs` makes them): the predictions [n, targets]
        their bands' half-widths [levels, n, targets] (no levels without bands) and each window's scale [n, targets]
        (None without bands)."""
        pred = self.session.run(None, {"input": windows})[0]
        if self.bands is None:
            return pred, np.empty((0, *pred.shape)), None
        q, base, pairs = self._band
        scale = window_scale(windows, base, pairs)
        return pred, q[:, None, :] * scale[None], scale

    def frame(self, forecast: "Forecast", rows: Rows) -> pd.DataFrame:
        """A forecast as a table: timestamp (UTC), trace_id when given, <target>_pred, actuals, band edges."""
        table = {"timestamp": pd.to_datetime(forecast.timestamp, unit="s", utc=True)}
        if (rows.trace != "").any():
            table["trace_id"] = rows.trace[forecast.end]
        for j, t in enumerate(self.targets):
            table[f"{t}_pred"] = forecast.pred[:, j].astype(np.float64)
            if t in forecast.actual:
                table[t] = forecast.actual[t]
        for k, level in enumerate(self.levels):
            for j, t in enumerate(self.targets):
                center, half = forecast.pred[:, j].astype(np.float64), forecast.half[k, :, j]
                table[f"{t}_lower_{100 * level:g}"], table[f"{t}_upper_{100 * level:g}"] = center - half, center + half
        return pd.DataFrame(table)

    def _checked(self, rows) -> Rows:
        """Rows parsed by the loader's rules, at least one window of them, at the training cadence."""
        parsed = parse_rows(rows, self.recipe)
        require_window(parsed, self.recipe)
        require_cadence(parsed, self.recipe)
        return parsed

    def predict(self, rows) -> pd.DataFrame:
        """Every window of `rows` (a DataFrame or list of dicts): one row per prediction, in time order."""
        parsed = self._checked(rows)
        return self.frame(self.forecast(parsed, {}), parsed)

    def next(self, rows) -> dict:
        """The prediction for the row after the last of `rows` (at least one window of them)."""
        parsed = self._checked(rows)
        return self.single(self.forecast(parsed, {}, first=len(parsed) - 1))

    def single(self, forecast: "Forecast") -> dict:
        """The first window's prediction as one flat dict: timestamp, <target>_pred, band edges."""
        if not len(forecast.end):
            raise DataError(f"the last {self.recipe.window_size} rows span a trace break (a new trace_id or a step "
                            f"over {self.recipe.max_gap_cadences:g} x {self.recipe.cadence_seconds:g} s); "
                            "pass a window of one trace")
        return self.answers(float(forecast.timestamp[0]), forecast.pred[0], forecast.half[:, 0, :])[0]

    def answers(self, timestamp: float, pred: np.ndarray, *halves: np.ndarray) -> list[dict]:
        """One prediction (unix seconds, [targets]) as flat dicts (timestamp, <target>_pred, band edges), one per
        set of band half-widths [levels, targets] given (the calibrated, the adaptive), sharing one timestamp."""
        pred, keys = pred.tolist(), ["timestamp", *self.output_names]   # float64s, as numpy's arithmetic has them
        stamp, out = pd.Timestamp(timestamp, unit="s", tz="UTC"), []
        for half in halves:
            edges = []
            for level in half.tolist():   # its lower edges, then its upper
                edges += [p - h for p, h in zip(pred, level)] + [p + h for p, h in zip(pred, level)]
            out.append(dict(zip(keys, [stamp, *pred, *edges])))
        return out

    @cached_property
    def adaptive_table(self) -> tuple[np.ndarray, float] | None:
        """The shipped adaptive-band quantiles [targets, levels] and step, or None: read once, shared by every stream
        (a service holds thousands)."""
        shipped = (self.bands or {}).get("adaptive")
        if shipped is None:
            return None
        quantiles = np.array([shipped["quantiles"][t] for t in self.targets], np.float64)
        quantiles.flags.writeable = False
        return quantiles, float(shipped["gamma"])

    @cached_property
    def output_names(self) -> list[str]:
        """Each prediction's names after `timestamp`: <target>_pred, then per level the lower and upper edges."""
        names = [f"{t}_pred" for t in self.targets]
        for level in self.levels:
            names += [f"{t}_{edge}_{100 * level:g}" for edge in ("lower", "upper") for t in self.targets]
        return names

    def stream(self, adaptive: bool = False):
        """One row at a time (`bwkit.serving.stream.Stream`); `adaptive`: bands that learn from their misses
        (`bwkit.evaluation.adaptive`), where the metadata ships the table for it."""
        from bwkit.serving.stream import Stream   # it builds on this module

        return Stream(self, adaptive)


@dataclass
class Forecast:
    """What a prediction is: for each window of the rows given, the predicted row's time, every target's value
    and its band half-widths (original units), and its actual value where the rows hold that row."""
    end: np.ndarray                  # int [n]: the row (of those given) each window ends at
    timestamp: np.ndarray            # float64 [n]: unix seconds of the row predicted (the next row's, or one cadence on)
    pred: np.ndarray                 # float32 [n, targets]
    half: np.ndarray                 # float64 [levels, n, targets]: half-width of each band
    scale: list = field(default_factory=list)    # per batch, each window's band scale [b, targets]
    actual: dict = field(default_factory=dict)   # target -> float64 [n], NaN where the rows end first

    def __len__(self) -> int:
        return len(self.end)


def check_continues(before: Rows, after: Rows, where: str) -> None:
    """`after` may follow `before`: a new trace, or a later time in the same one."""
    if len(before) and len(after) and after.trace[0] == before.trace[-1] and after.timestamps[0] <= before.timestamps[-1]:
        raise DataError(f"{where}: timestamp {iso(after.timestamps[0])} is not after the previous row's "
                        f"{iso(before.timestamps[-1])} (trace {after.trace[0]!r}); rows must come in time order")


def agreement(predictions: pd.DataFrame, targets: list[str]) -> pd.DataFrame:
    """Per target, on the rows whose actual value is known: mean absolute error and each band's coverage."""
    rows = []
    for t in targets:
        known = predictions[predictions[t].notna()] if t in predictions else predictions.iloc[:0]
        entry = {"target": t, "predictions": len(known), "MAE": float((known[f"{t}_pred"] - known[t]).abs().mean())}
        for level in ("80", "95"):
            if f"{t}_lower_{level}" in known:
                inside = (known[t] >= known[f"{t}_lower_{level}"]) & (known[t] <= known[f"{t}_upper_{level}"])
                entry[f"{level} % band coverage %"] = 100 * float(inside.mean())
        rows.append(entry)
    return pd.DataFrame(rows)
