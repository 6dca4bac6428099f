"""Where 02_train's time goes: an epoch with and without the linear path and the averaged weights, and the
selection with the linear path's twin trained beside its leader (a forked process) or after it.

    .venv/bin/python bench/epoch_cost.py [CSV]              # default: make run's data, generated into a temporary folder
    .venv/bin/python bench/epoch_cost.py --selection [CSV]  # the whole "auto" selection both ways

On the default run's data (residual on, no calendar, 02_train's other defaults), each variant
trains one epoch, then 4 more, timed; prints seconds per epoch. --selection runs
`bwkit.training.selection.choose` at the defaults with `side_by_side` as it is and forced off, and
prints the seconds and whether the two chose the same weights. Not a test: a record
(docs/results.md, Timings).
"""
import sys
import tempfile
import time
from pathlib import Path

from bwkit import synth
from bwkit.features import prepare
from bwkit.runs import configure
from bwkit.training import load_data
from bwkit.training import selection
from bwkit.training.train import Fit


def selection_both_ways(path: str) -> None:
    config = configure({"data_path": path}, stage="02_train")
    telemetry, chosen = load_data(config), {}
    for label, beside in (("twin beside its leader", selection.side_by_side), ("twin after it", lambda fit: False)):
        selection.side_by_side = beside
        started = time.perf_counter()
        chosen[label] = selection.choose(telemetry, config)
        print(f"{label}: {time.perf_counter() - started:.1f} s, linear path {chosen[label].record['linear_path']}",
              flush=True)
    a, b = chosen.values()
    same = all(a.fit.best_state[k].equal(b.fit.best_state[k]) for k in a.fit.best_state)
    print(f"the same weights chosen: {same and a.record['linear_path'] == b.record['linear_path']}")


def main(path: str) -> None:
    for linear, ema in ((False, 0.0), (True, 0.0), (False, 1.0), (True, 1.0)):
        config = configure({"data_path": path, "residual": True, "known_future": False, "linear_path": linear,
                            "ema_epochs": ema}, stage="02_train")
        fit = Fit(prepare(load_data(config), config.window_size, False), config, "cpu")
        fit.step()
        started = time.perf_counter()
        for _ in range(4):
            fit.step()
        print(f"linear_path={linear} ema_epochs={ema}: {(time.perf_counter() - started) / 4:.3f} s/epoch", flush=True)


if __name__ == "__main__":
    measure = selection_both_ways if "--selection" in sys.argv else main
    given = [a for a in sys.argv[1:] if a != "--selection"]
    if given:
        measure(given[0])
    else:
        with tempfile.TemporaryDirectory() as folder:
            generated = configure(stage="01_generate_data")
            csv = Path(folder) / "telemetry.csv"
            synth.write(csv, generated["samples"], generated["seed"], profile=generated["profile"],
                        start=generated["start"])
            measure(str(csv))
