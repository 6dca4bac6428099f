"""Gradient-boosted trees on lag features of the window: the strong baseline a modeller tries first.

Per target, a LightGBM booster (docs/evaluation.md says why LightGBM and not scikit-learn's
`HistGradientBoostingRegressor`: it measured better on validation on every shipped data set)
learns the next row (its value, or its change from the window's last row,
whichever validation prefers) from features of the same window the LSTM reads:
each raw input column at lags 1, 2, 3, 5, 10 and 20 rows (those the window holds), its mean
and standard deviation over the last SHORT_ROWS rows and over the whole window, plus the
predicted row's hour of day and weekday. It trains on the LSTM's training windows, on the rows
where the target is observed (a target held between measurements: its fresh rows only),
stops early on the validation windows scored the same way, and predicts validation (for its
calibrated bands) and test in chunks.

Memory: the features of one window are about ten numbers per input column, so above
MAX_TRAINING_WINDOWS training windows (and MAX_STOPPING_WINDOWS validation windows for early
stopping) an evenly spaced sub-sample is used, and the report's notes say so.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bwkit.errors import DataError
from bwkit.features import CALENDAR_FEATURES, WindowArray, hour_and_weekday

LAGS = (1, 2, 3, 5, 10, 20)        # rows back from the predicted row (1: the window's last row)
SHORT_ROWS = 5                     # the short rolling window, rows
MAX_TRAINING_WINDOWS = 150_000     # sub-sampled (evenly spaced) above this: bounds the fit's memory
MAX_STOPPING_WINDOWS = 50_000      # validation windows that early stopping scores, at most
CHUNK_WINDOWS = 16_384             # windows turned into features at a time when predicting
SETTINGS = {                       # LightGBM's, fixed (early stopping picks the number of rounds)
    "objective": "regression", "learning_rate": 0.05, "num_leaves": 31, "min_data_in_leaf": 20,
    "lambda_l2": 1.0, "max_bin": 255, "num_threads": 1, "deterministic": True, "verbosity": -1,
    "force_col_wise": True,
}
ROUNDS, PATIENCE = 1000, 30        # at most ROUNDS rounds; stop after PATIENCE without a gain on validation
LIBRARY = "LightGBM"
# One thread per booster: on a busy 2-core machine a second OpenMP thread spins (scikit-learn's trees measured 7 s on
# one thread, 100 s on two); the features are few and the rows a bounded sub-sample. Two targets' boosters train at
# once instead, each on its own thread, each as deterministic as alone: on make run's data, 37.1 s -> 18.0 s on an
# idle 2-core machine, the same predictions to the last digit (`python bench/bench_trees.py --side-by-side`).
TARGETS_AT_ONCE = 2
# LightGBM's native code is not safe where two threads build a Dataset or predict at the same time: without this
# lock, fitting the tests' slice of real traces two targets at a time crashed the process now and then (SIGSEGV, or
# a std::bad_alloc that killed a run's kernel); `make test-slow` fits it 100 times in one process. Only the boosting
# rounds run side by side.
_NATIVE = threading.Lock()


@dataclass
class TreesFit:
    """The trees' predictions [rows, targets] on the validation and the test windows, and how they were made."""
    validation: np.ndarray
    test: np.ndarray
    details: dict
    notes: list[str] = field(default_factory=list)


def raw_columns(features: list[str]) -> list[int]:
    """The window's own columns (the next-row calendar channels of known_future windows left out)."""
    return [i for i, name in enumerate(features) if name not in CALENDAR_FEATURES]


def feature_names(features: list[str], window: int) -> list[str]:
    """Names of `lag_features`' columns, in order."""
    names = [features[i] for i in raw_columns(features)]
    lags = [k for k in LAGS if k <= window]
    return ([f"{n}_lag{k}" for k in lags for n in names]
            + [f"{n}_{stat}_{rows}" for rows in (min(SHORT_ROWS, window), window) for stat in ("mean", "std")
               for n in names] + ["next_hour", "next_weekday"])


def lag_features(X, features: list[str], next_timestamps: np.ndarray) -> np.ndarray:
    """float32 [windows, len(feature_names)] of windows X [n, window, features] and the predicted rows' unix seconds."""
    columns, window = raw_columns(features), X.shape[1]
    w = np.asarray(X[:, :, columns] if isinstance(X, WindowArray) else np.asarray(X)[:, :, columns], np.float64)
    parts = [w[:, window - k] for k in LAGS if k <= window]
    for rows in (min(SHORT_ROWS, window), window):
        part = w[:, window - rows:]
        parts += [part.mean(axis=1), part.std(axis=1)]
    hour, weekday = hour_and_weekday(np.asarray(next_timestamps, np.float64))
    parts += [hour[:, None], weekday[:, None]]
    return np.concatenate(parts, axis=1).astype(np.float32)


def _spaced(n: int, most: int) -> np.ndarray:
    """Indices 0 .. n-1, or `most` of them evenly spaced (first and last kept) when n is larger."""
    return np.arange(n) if n <= most else np.unique(np.linspace(0, n - 1, most).round().astype(np.int64))


def observed(telemetry, rows: np.ndarray) -> np.ndarray:
    """bool [rows, targets]: where each target is learned and scored (not missing, held or invalid: the masks)."""
    return telemetry.observed[rows]


def _features_of(split, features, telemetry, *, index: np.ndarray) -> np.ndarray:
    """lag_features of the split's windows at `index`, CHUNK_WINDOWS at a time (float32 out, float64 only per chunk)."""
    out = np.empty((len(index), len(feature_names(features, split.X.shape[1]))), np.float32)
    for start in range(0, len(index), CHUNK_WINDOWS):
        part = index[start:start + CHUNK_WINDOWS]
        windows = split.X.take(part) if isinstance(split.X, WindowArray) else split.X[part]   # a view: gathered below
        out[start:start + len(part)] = lag_features(windows, features, telemetry.timestamps[split.row[part]])
    return out


@dataclass
class TargetTrees:
    """One target's regressor, what it learned (the level, or the change from the last value) and that one's scale."""
    model: object
    change: bool
    scale: float

    def predict(self, x: np.ndarray, last: np.ndarray) -> np.ndarray:
        with _NATIVE:
            levels = self.model.predict(x)
        return levels * self.scale + (last if self.change else 0.0)


def predict_split(fitted: list[TargetTrees], split, features, *, telemetry) -> np.ndarray:
    """Every target's prediction [windows, targets] for a split, CHUNK_WINDOWS windows at a time."""
    out = np.empty((len(split), len(fitted)))
    last = telemetry.Y[split.row - 1]   # the window's last row: the same trace, as the windowing guarantees
    for start in range(0, len(split), CHUNK_WINDOWS):
        index = np.arange(start, min(start + CHUNK_WINDOWS, len(split)))
        x = _features_of(split, features, telemetry, index=index)
        for j, trees in enumerate(fitted):
            out[index, j] = trees.predict(x, last[index, j])
    return out


def learn(x, y, validation: tuple, *, seed: int):
    """One target's trees, early-stopped on validation = (x_val, y_val): (the booster, its best round).

    The booster predicts with its best round's trees (those after it are dropped)."""
    import lightgbm

    x_val, y_val = validation
    settings = {**SETTINGS, "seed": seed}
    with _NATIVE:   # the bins, built here rather than inside `train`, where another thread could be building its own
        train = lightgbm.Dataset(x, y, params=settings).construct()
        valid = lightgbm.Dataset(x_val, y_val, reference=train, params=settings).construct()
    booster = lightgbm.train(settings, train, num_boost_round=ROUNDS, valid_sets=[valid],
                             callbacks=[lightgbm.early_stopping(PATIENCE, verbose=False)])
    return booster, int(booster.best_iteration)


def training_set(split, features, telemetry, *, most: int) -> tuple[np.ndarray, ...]:
    """Features, the next values and the last ones [windows, targets], the observed mask and the indices of a split,
    sub-sampled (evenly spaced) to at most `most` windows."""
    index = _spaced(len(split), most)
    rows = split.row[index]
    return (_features_of(split, features, telemetry, index=index), telemetry.Y[rows], telemetry.Y[rows - 1],
            observed(telemetry, rows), index)


FORMS = (False, True)   # what the trees learn, chosen per target on validation: the level, the change from the last


def _fit_target(x, target: tuple, validation: tuple, *, learner, seed: int, forms) -> tuple[TargetTrees, dict]:
    """The form with the lower validation MSE (target = (next, last) on the training rows, validation = (x, next,
    last)), each learned in units of its training std (early stopping's tolerance is absolute)."""
    (level, last), (x_val, level_val, last_val) = target, validation
    best, record = None, {}
    for change in forms:
        y, y_val = level - last * change, level_val - last_val * change
        scale = float(y.std()) or 1.0
        model, rounds = learner(x, y / scale, (x_val, y_val / scale), seed=seed)
        candidate = TargetTrees(model, bool(change), scale)
        loss = float(np.mean((candidate.predict(x_val, last_val) - level_val) ** 2))
        record["change" if change else "level"] = {"validation_mse": loss, "rounds": rounds}
        if best is None or loss < best[1]:
            best = candidate, loss, rounds
    return best[0], {"learns": "change" if best[0].change else "level", "rounds": best[2], "forms": record}


def fit(prepared, telemetry, seed: int = 0, *, learner=learn, forms=FORMS) -> TreesFit:
    """One regressor per target on the training windows, early-stopped on validation; predictions on val and test.

    Each target's trees learn, on the rows where it is observed, its next value or its change from
    the window's last row (the one with the lower validation MSE, of `forms`); the prediction adds
    a change back to the last value. learner(x, y, (x_val, y_val), seed=seed) -> (model, rounds): `learn`.
    """
    started = time.perf_counter()
    train, val = prepared.splits["train"], prepared.splits["val"]
    x, level, last, mask, kept = training_set(train, prepared.features, telemetry, most=MAX_TRAINING_WINDOWS)
    x_val, level_val, last_val, mask_val, kept_val = training_set(val, prepared.features, telemetry,
                                                                  most=MAX_STOPPING_WINDOWS)
    counts, counts_val = mask.sum(axis=0), mask_val.sum(axis=0)
    for j, target in enumerate(prepared.targets):
        if counts[j] < 2 or not counts_val[j]:
            raise DataError(f"{telemetry.path}: {target} is observed on {int(counts[j])} training and "
                            f"{int(counts_val[j])} validation windows; the trees need at least 2 and 1. Use more "
                            f"data, or leave {target} out of fresh_targets")

    def one_target(j: int) -> tuple[TargetTrees, dict]:
        m, v = mask[:, j], mask_val[:, j]
        return _fit_target(x if m.all() else x[m], (level[m, j], last[m, j]),   # no copy where all observed
                           (x_val if v.all() else x_val[v], level_val[v, j], last_val[v, j]),
                           learner=learner, seed=seed, forms=forms)

    with ThreadPoolExecutor(max_workers=TARGETS_AT_ONCE) as pool:   # LightGBM lets go of the GIL while it trains
        results = list(pool.map(one_target, range(len(prepared.targets))))
    fitted = [trees for trees, _ in results]
    per_target = {target: {"training_windows": int(counts[j]), "stopping_windows": int(counts_val[j]), **record}
                  for j, (target, (_, record)) in enumerate(zip(prepared.targets, results))}
    details = {"library": LIBRARY, "settings": SETTINGS, "features": len(feature_names(prepared.features,
                                                                                       train.X.shape[1])),
               "training_seconds": time.perf_counter() - started, "per_target": per_target,
               "training_windows_of": len(train), "stopping_windows_of": len(val)}
    del x, x_val   # the training features, before the prediction's chunks
    result = TreesFit(*(predict_split(fitted, prepared.splits[name], prepared.features, telemetry=telemetry)
                        for name in ("val", "test")), details)
    details["seconds"] = time.perf_counter() - started
    if len(kept) < len(train) or len(kept_val) < len(val):
        result.notes.append(f"The gradient-boosted trees learned from {len(kept):,} of the {len(train):,} training "
                            f"windows and stopped early on {len(kept_val):,} of the {len(val):,} validation windows "
                            f"(evenly spaced), to stay within the memory budget; they predict every row.")
    return result


def comparison_sentence(ev, name: str, model: str) -> str:
    """In plain words, whether the trees (method `name`) beat the model, on average and per target, with intervals.

    "Beat" only where the paired bootstrap's 95 % interval of the MSE difference excludes zero.
    """
    from bwkit.evaluation.metrics import shown
    from bwkit.evaluation.significance import judged, no_relative, relative, verdict

    if name not in ev.averages or name not in ev.tests:
        return ""
    mine, theirs = (shown(ev.averages[m]["skill"], ".3f") for m in (model, name))
    t = ev.tests[name]["average"]
    word, rel = verdict(t["rel_low"], t["rel_high"]), relative(t)   # the model against the trees
    interval = (f"the {model}'s MSE {rel[0]:+.1f} % of theirs, 95 % interval {rel[1]:+.1f} to {rel[2]:+.1f} %"
                if rel is not None else no_relative(t))
    head = f"Gradient-boosted trees on lag features ({name}) "
    if word == "worse than":
        text = head + f"beat the {model}: average skill {theirs} against its {mine} ({interval})."
    elif word == "beats":
        text = head + f"lose to the {model}: average skill {theirs} against its {mine} ({interval})."
    else:
        text = head + f"and the {model} cannot be told apart: average skill {theirs} against its {mine} ({interval})."
    ahead = [target for target, r in ev.tests[name].items() if target != "average" and judged(r) == "worse than"]
    if ahead and word != "worse than":
        text += f" The trees beat the {model} on {', '.join(ahead)}."
    elif ahead and len(ahead) < len(ev.targets):
        text += f" Per target, they beat it on {', '.join(ahead)}."
    return text


def details_table(details: dict):
    """How each target's trees were fitted (a report's `method_details` entry): rows learned from, rows early
    stopping scored, what they learn, rounds kept, each form's validation MSE."""
    import pandas as pd

    return pd.DataFrame.from_records([
        {"target": target, "training windows": f["training_windows"],
         "validation windows (early stopping)": f["stopping_windows"], "learns (chosen on validation)": f["learns"],
         "rounds": f["rounds"], **{f"validation MSE ({form})": v["validation_mse"] for form, v in f["forms"].items()}}
        for target, f in details["per_target"].items()]).set_index("target")
