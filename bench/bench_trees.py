"""Which gradient-boosting library the `gbm` baseline uses: scikit-learn against LightGBM, same rows, same features.

    python bench/bench_trees.py      # needs scikit-learn, the test extra: pip install -e '.[test]'
    python bench/bench_trees.py --memory 1000000   # the trees' peak memory on that many rows (LightGBM only)
    python bench/bench_trees.py --held    # irish5g: held targets learned from fresh rows only, or from every row
    python bench/bench_trees.py --side-by-side   # seconds to fit with one target at a time and with two at once
    python bench/bench_trees.py --learning-rates 0.05,0.1,0.2   # LightGBM at each rate: skill on validation, seconds
    python bench/bench_trees.py --importance   # irish5g: each target's five strongest features, by share of gain
    python bench/bench_trees.py --inputs       # irish5g: throughput's trees on groups of the inputs, validation skill
    python bench/bench_trees.py --ping-cycle   # irish5g: how throughput moves with the age of the last ping test

On the dwcp default data, the legacy profile (seed 1) and the irish5g preset, windows as the
kit's defaults make them (window_size 20, the 70/15/15 split), every target's trees are fitted
by `bwkit.evaluation.trees.fit` with each library's learner (LightGBM's is the kit's `trees.learn`) at the same settings (one thread, learning
rate 0.05, 31 leaves, at least 20 rows a leaf, L2 1.0, at most 1000 rounds, early stopping after
30 rounds without gain on validation), each target learning its next value ("level") or its
change from the window's last row ("change"), whichever has the lower validation MSE. Prints,
per data set and library: the form each target chose, the skill against persistence on
validation (the rows the choice is made on) and on test, per target and averaged, the seconds
to fit (both forms) and the rounds kept. Not a test: a record of how the choice was made.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from bwkit import synth
from bwkit.data import load_telemetry
from bwkit.evaluation import trees
from bwkit.features import prepare
from bwkit.runs import configure

ROOT = Path(__file__).resolve().parent.parent


def sklearn_learn(x, y, validation: tuple, *, seed: int):
    """scikit-learn's trees at LightGBM's settings; one OpenMP thread, as LightGBM's."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_limits

    x_val, y_val = validation
    model = HistGradientBoostingRegressor(learning_rate=0.05, max_iter=trees.ROUNDS, max_leaf_nodes=31,
                                          min_samples_leaf=20, l2_regularization=1.0, early_stopping=True,
                                          n_iter_no_change=trees.PATIENCE, scoring="loss", random_state=seed)
    with threadpool_limits(1, user_api="openmp"):
        model.fit(x, y, X_val=x_val, y_val=y_val)
    return model, int(model.n_iter_)


def datasets(folder: Path):
    defaults = configure(stage="02_train")
    for name, profile, seed in (("dwcp default", "dwcp", 42), ("legacy seed 1", "legacy", 1)):
        path = folder / f"{profile}.csv"
        synth.write(path, 15000, seed, profile=profile, start="2025-11-03T00:00:00Z")
        yield name, load_telemetry(path, defaults["features"], defaults["targets"],
                                   nan_policy=defaults["nan_policy"]), 20
    preset = yaml.safe_load((ROOT / "presets" / "irish5g.yml").read_text())
    yield "irish5g preset", load_telemetry(ROOT / "presets" / preset["data_path"], preset["features"],
                                           preset["targets"], nan_policy=preset["nan_policy"],
                                           fresh_column=preset["fresh_column"],
                                           fresh_targets=preset["fresh_targets"]), preset["window_size"]


def skills(telemetry, split, predicted) -> np.ndarray:
    """Skill per target against persistence on the observed rows of a split."""
    mask, actual, last = trees.observed(telemetry, split.row), telemetry.Y[split.row], telemetry.Y[split.row - 1]
    return np.array([1 - np.mean((predicted[mask[:, j], j] - actual[mask[:, j], j]) ** 2)
                     / np.mean((last[mask[:, j], j] - actual[mask[:, j], j]) ** 2) for j in range(actual.shape[1])])


def memory(rows: int) -> None:
    """Peak memory traced while the trees fit and predict on `rows` rows of random telemetry (9 inputs, 4 targets)."""
    import tracemalloc

    from bwkit.data import Telemetry

    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, 9), dtype=np.float32)
    telemetry = Telemetry(Path("random.csv"), "0" * 64, 1.7e9 + 60.0 * np.arange(rows), np.zeros(rows, np.int64),
                          [f"x{i}" for i in range(9)], [f"x{i}" for i in range(4)], X, X[:, :4].astype(np.float64))
    prepared = prepare(telemetry, 20, False)
    tracemalloc.start()
    started = time.perf_counter()
    result = trees.fit(prepared, telemetry)
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"{rows:,} rows: the trees' peak traced memory {peak / 2**20:.0f} MiB (numpy and LightGBM's Python-side "
          f"arrays; the booster's own C++ heap is not traced), {seconds:.1f} s; notes: {result.notes}")


def held() -> None:
    """On the irish5g preset, the trees learning the held targets from their fresh rows (the default) or from every
    row (held copies too, as the LSTM's loss does today); both scored on the fresh rows of validation and test."""
    from dataclasses import replace

    with tempfile.TemporaryDirectory() as folder:
        name, telemetry, window = list(datasets(Path(folder)))[-1]
    prepared = prepare(telemetry, window, False)
    fresh = telemetry.fresh[prepared.splits["train"].row].mean(axis=0)
    print(f"{name}: share of training windows with a fresh value per target: "
          + " / ".join(f"{v:.3f}" for v in fresh))
    for label, learned_on in (("fresh rows only", telemetry), ("every row", replace(telemetry, fresh=None))):
        result = trees.fit(prepared, learned_on)
        val = skills(telemetry, prepared.splits["val"], result.validation)
        test = skills(telemetry, prepared.splits["test"], result.test)
        print(f"| held targets learned on {label} | {' / '.join(f'{v:.3f}' for v in val)} ({val.mean():.3f}) | "
              f"{' / '.join(f'{v:.3f}' for v in test)} ({test.mean():.3f}) |", flush=True)


def side_by_side() -> None:
    """Seconds of `trees.fit` (fit and predict) with TARGETS_AT_ONCE 1 and 2 on each data set, and whether the two
    predict the same to the last digit."""
    print("| data | one target at a time, s | two at once, s | same predictions |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, telemetry, window in datasets(Path(folder)):
            prepared, seconds, predicted = prepare(telemetry, window, False), [], []
            for at_once in (1, 2):
                trees.TARGETS_AT_ONCE = at_once
                started = time.perf_counter()
                predicted.append(trees.fit(prepared, telemetry).test)
                seconds.append(time.perf_counter() - started)
            print(f"| {name} | {seconds[0]:.1f} | {seconds[1]:.1f} | {np.array_equal(*predicted)} |", flush=True)


def learning_rates(rates: list[float]) -> None:
    """LightGBM's learning rate: validation skill (where the choice is made), test skill (the record) and seconds
    to fit at each rate, everything else as the kit fits it (early stopping picks the rounds)."""
    print("| data | learning rate | val skill per target (avg) | test skill (avg) | fit s | rounds |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, telemetry, window in datasets(Path(folder)):
            prepared = prepare(telemetry, window, False)
            for rate in rates:
                trees.SETTINGS["learning_rate"] = rate
                result = trees.fit(prepared, telemetry)
                val = skills(telemetry, prepared.splits["val"], result.validation)
                test = skills(telemetry, prepared.splits["test"], result.test)
                print(f"| {name} | {rate} | {' / '.join(f'{v:.3f}' for v in val)} ({val.mean():.4f}) | "
                      f"{test.mean():.4f} | {result.details['training_seconds']:.1f} | "
                      f"{'/'.join(str(v['rounds']) for v in result.details['per_target'].values())} |", flush=True)


def importance(top: int = 5) -> None:
    """On the irish5g preset, the features each target's kept trees gain most from (share of the total gain)."""
    with tempfile.TemporaryDirectory() as folder:
        name, telemetry, window = list(datasets(Path(folder)))[-1]
    prepared, boosters = prepare(telemetry, window, False), []

    def learn(x, y, validation, *, seed):
        booster, rounds = trees.learn(x, y, validation, seed=seed)
        boosters.append(booster)
        return booster, rounds

    trees.TARGETS_AT_ONCE = 1   # in order: each target's forms, as trees.FORMS lists them
    result = trees.fit(prepared, telemetry, learner=learn)
    names = trees.feature_names(prepared.features, window)
    for j, (target, record) in enumerate(result.details["per_target"].items()):
        gain = boosters[j * len(trees.FORMS) + (record["learns"] == "change")].feature_importance("gain")
        strongest = np.argsort(-gain)[:top]
        print(f"{name}, {target} ({record['learns']}): "
              + ", ".join(f"{names[i]} {gain[i] / gain.sum():.1%}" for i in strongest), flush=True)


INPUT_GROUPS = {   # name -> the raw columns whose lag features the trees read (None: every feature)
    "every feature": None,
    "throughput alone": ["throughput_mbps"],
    "throughput and the ping age": ["throughput_mbps", "ping_age_s"],
    "throughput and uplink": ["throughput_mbps", "uplink_throughput_mbps"],
    "throughput and the radio columns": ["throughput_mbps", "rsrp_dbm", "rsrq_db", "snr_db", "cqi", "rssi_dbm"],
}


def inputs() -> None:
    """On the irish5g preset, throughput's trees (the kit's learner, both forms, the better kept) on the lag features
    of groups of the inputs, and on every feature but the ping age: validation skill against persistence."""
    with tempfile.TemporaryDirectory() as folder:
        _, telemetry, window = list(datasets(Path(folder)))[-1]
    prepared = prepare(telemetry, window, False)
    names = trees.feature_names(prepared.features, window)
    (x, level, last, _, _), (x_val, level_val, last_val, _, _) = (
        trees.training_set(prepared.splits[split], prepared.features, telemetry, most=10 ** 9)
        for split in ("train", "val"))
    j = prepared.targets.index("throughput_mbps")
    persistence = np.mean((last_val[:, j] - level_val[:, j]) ** 2)
    groups = {**INPUT_GROUPS, "every feature but the ping age": [c for c in telemetry.features if c != "ping_age_s"]}
    for group, columns in groups.items():
        kept = [i for i, n in enumerate(names) if columns is None or any(n.startswith(c + "_") for c in columns)]
        fitted, _ = trees._fit_target(x[:, kept], (level[:, j], last[:, j]),
                                      (x_val[:, kept], level_val[:, j], last_val[:, j]),
                                      learner=trees.learn, seed=0, forms=trees.FORMS)
        mse = np.mean((fitted.predict(x_val[:, kept], last_val[:, j]) - level_val[:, j]) ** 2)
        print(f"| {group} | {len(kept)} | {1 - mse / persistence:.4f} |", flush=True)


def ping_cycle() -> None:
    """On the irish5g file, each second's next throughput against its own by the ping test's age: the mean of
    log((next + 1) / (this + 1)) where this is above 5 Mbit/s, and how many such seconds, per age 0 to 14."""
    import pandas as pd

    preset = yaml.safe_load((ROOT / "presets" / "irish5g.yml").read_text())
    frame = pd.read_csv(ROOT / "presets" / preset["data_path"])
    following = frame.groupby("trace_id")["throughput_mbps"].shift(-1)   # the next second of the same trace
    ratio = np.log((following + 1) / (frame["throughput_mbps"] + 1))[frame["throughput_mbps"] > 5]
    table = ratio.groupby(frame["ping_age_s"]).agg(["mean", "count"]).loc[0:14]
    print("| ping age (s) | " + " | ".join(f"{age:g}" for age in table.index) + " |")
    print("|---|" + "---:|" * len(table))
    print("| mean log ratio | " + " | ".join(f"{v:+.2f}" for v in table["mean"]) + " |")
    print("| seconds | " + " | ".join(f"{int(v)}" for v in table["count"]) + " |")


def main() -> None:
    if sys.argv[1:] == ["--ping-cycle"]:
        return ping_cycle()
    if sys.argv[1:] == ["--importance"]:
        return importance()
    if sys.argv[1:] == ["--inputs"]:
        return inputs()
    if len(sys.argv) == 3 and sys.argv[1] == "--learning-rates":
        return learning_rates([float(v) for v in sys.argv[2].split(",")])
    if len(sys.argv) == 3 and sys.argv[1] == "--memory":
        return memory(int(sys.argv[2]))
    if sys.argv[1:] == ["--held"]:
        return held()
    if sys.argv[1:] == ["--side-by-side"]:
        return side_by_side()
    learners = {"scikit-learn": sklearn_learn, "LightGBM": trees.learn}
    print("| data | library | learns | val skill per target (avg) | test skill per target (avg) | fit s | rounds |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name, telemetry, window in datasets(Path(folder)):
            prepared = prepare(telemetry, window, False)
            for library, learner in learners.items():
                started = time.perf_counter()
                result = trees.fit(prepared, telemetry, learner=learner)
                seconds = time.perf_counter() - started
                val = skills(telemetry, prepared.splits["val"], result.validation)
                test = skills(telemetry, prepared.splits["test"], result.test)
                per_target = result.details["per_target"].values()
                print(f"| {name} | {library} | {'/'.join(v['learns'] for v in per_target)} | "
                      f"{' / '.join(f'{v:.3f}' for v in val)} ({val.mean():.3f}) | "
                      f"{' / '.join(f'{v:.3f}' for v in test)} ({test.mean():.3f}) | "
                      f"{result.details['training_seconds']:.1f} ({seconds:.1f} with predicting) | "
                      f"{'/'.join(str(v['rounds']) for v in per_target)} |", flush=True)


if __name__ == "__main__":
    main()
