"""Rolling-origin evaluation: k expanding-window folds, so one lucky split cannot carry a claim.

The windows after the first half are cut into k test blocks, with the run's split rule
(`bwkit.features.splits`: at instants across all traces for split="time", by position in the
file for "file"), and a target is trained on and scored where it is observed, as in the run. Fold i
trains on everything before its block (the last 15 % of that past validates: early
stopping, ridge's alpha, the interval calibration), with its own scalers, then
every method is scored on the block. The settings are the run's (as chosen for its
own split); only the weights and the data they see change from fold to fold.
"""
from __future__ import annotations

import pandas as pd
from tqdm.auto import tqdm

from bwkit.data import require_observed
from bwkit.errors import ParameterError
from bwkit.features import Prepared, SPLIT_FRACTIONS, assign, split_of, window_all
from bwkit.runs import Config

FIRST_TRAIN = 0.5   # share of the windows before the first test block


def fold_splits(n: int, k: int) -> list[dict[str, slice]]:
    """Train/val/test slices over n windows for each of k expanding-window folds."""
    start = int(n * FIRST_TRAIN)
    block = (n - start) // k if k >= 1 else 0
    if k < 1 or block < 2:
        raise ParameterError(f"folds={k} needs at least 2 test windows per fold; {n} windows give "
                             f"{max(block, 0)} (use fewer folds or more data)")
    out = []
    for i in range(k):
        begin, end = start + i * block, (start + (i + 1) * block if i < k - 1 else n)
        n_val = max(1, int(round(begin * SPLIT_FRACTIONS[1] / (SPLIT_FRACTIONS[0] + SPLIT_FRACTIONS[1]))))
        out.append({"train": slice(0, begin - n_val), "val": slice(begin - n_val, begin), "test": slice(begin, end)})
    return out


def prepared_folds(telemetry, config: Config, k: int) -> list[Prepared]:
    """Each fold's windows, cut by the run's split rule; a target observed too rarely in a part is refused."""
    features, windows = window_all(telemetry, config.window_size, config.known_future)
    times, folds = telemetry.timestamps[windows.row], []
    for i, split in enumerate(fold_splits(len(windows), k)):
        parts = {name: windows.take(part) for name, part in assign(times, split, split_of(config)).items()}
        for name, part in parts.items():
            require_observed(part.observed, telemetry.targets, f"fold {i + 1} {name}", path=telemetry.path,
                             masked=telemetry.masked)
        folds.append(Prepared(features, list(telemetry.targets), parts))
    return folds


def evaluate_folds(telemetry, config: Config | dict, k: int, *, files, progress: bool = True) -> pd.DataFrame:
    """Train and score every fold; one row per (fold, method, target) with the evaluation's metrics.

    config: the run's training configuration, a Config or as its checkpoint saved it (a plain dict)."""
    from bwkit.evaluation.evaluate import evaluate
    from bwkit.training import train_model

    config, records = Config(config), []
    folder = files.root / "folds"
    folder.mkdir(exist_ok=True)
    for i, prepared in enumerate(tqdm(prepared_folds(telemetry, config, k), desc="folds", disable=not progress)):
        result = train_model(prepared, config, folder / f"fold_{i + 1}.pth", log_path=folder / f"fold_{i + 1}.log",
                             data_info=telemetry.info(), progress=False)
        ev = evaluate(result.model, prepared, telemetry)
        table = ev.table()
        table.insert(0, "fold", i + 1)
        table.insert(1, "test rows", len(ev.rows))
        records.append(table)
    return pd.concat(records, ignore_index=True)


def summarise(per_fold: pd.DataFrame, metrics=("correlation", "mape", "skill")) -> pd.DataFrame:
    """Mean and standard deviation across folds of each method's averages over targets."""
    averages = per_fold[per_fold["target"] == "average"]
    grouped = averages.groupby("method", sort=False)[list(metrics)]
    mean, std = grouped.mean(), grouped.std(ddof=1)
    return pd.concat({"mean": mean, "std": std}, axis=1).swaplevel(axis=1)[[(m, s) for m in metrics
                                                                            for s in ("mean", "std")]]


def sentence(per_fold: pd.DataFrame) -> str:
    """Each method's average correlation and skill across folds, mean ± standard deviation, in one sentence."""
    table = summarise(per_fold)
    k = per_fold["fold"].nunique()
    parts = [f"{method} r {row[('correlation', 'mean')]:.4f} ± {row[('correlation', 'std')]:.4f}, "
             f"skill {row[('skill', 'mean')]:.3f} ± {row[('skill', 'std')]:.3f}" for method, row in table.iterrows()]
    return f"Across {k} rolling-origin folds (mean ± standard deviation of the averages over targets): " + \
        "; ".join(parts) + "."
