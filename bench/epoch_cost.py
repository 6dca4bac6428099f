"""What an epoch of the default model costs with and without the linear path and the averaged weights.

    .venv/bin/python bench/epoch_cost.py [CSV]      # default: make run's data, generated into a temporary folder

On the default run's data (residual on, no calendar, 02_train's other defaults), each variant
trains one epoch, then 4 more, timed; prints seconds per epoch. Not a test: a record of where
02_train's time goes (docs/results.md, Timings).
"""
import sys
import tempfile
import time
from pathlib import Path

from bwkit import synth
from bwkit.features import prepare
from bwkit.runs import configure
from bwkit.training import load_data
from bwkit.training.train import Fit


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
    if len(sys.argv) > 1:
        main(sys.argv[1])
    else:
        with tempfile.TemporaryDirectory() as folder:
            generated = configure(stage="01_generate_data")
            csv = Path(folder) / "telemetry.csv"
            synth.write(csv, generated["samples"], generated["seed"], profile=generated["profile"],
                        start=generated["start"])
            main(str(csv))
