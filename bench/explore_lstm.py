"""LSTM variants on the validation split (not a test, not the kit's code path): what might close the gap to the trees.

    python bench/explore_lstm.py --preset presets/irish5g.yml --set residual=false            # the defaults
    python bench/explore_lstm.py --preset presets/irish5g.yml --set residual=false --dropout 0.3
    python bench/explore_lstm.py --legacy 2 --set learning_rate=0.001                          # legacy profile, seed 2
    python bench/explore_lstm.py --set learning_rate=0.003 --set hidden_size=64               # the default dwcp data
    python bench/explore_lstm.py --short-traces --baselines      # many short real traces; the trees and ridge beside
    python bench/explore_lstm.py --preset presets/irish5g.yml --set linear_path=false --set ema_epochs=0

Trains one model by 02_train's own `train_run` (the selection race, early stopping, the seasonal blend), with one of these
changes patched in for this process only: `--dropout P` on the LSTM's last output before the head (the kit's
`dropout` acts between stacked layers only), `--weight-decay W` (AdamW instead of Adam), `--log-inputs a,b`
(log1p of those input columns; give residual=false, since the residual adds the last input value), `--carry C`
(a learned per-target weight on the last value, starting at C, instead of residual's fixed 1; needs residual=true).
Prints one JSON line: the choice, the best epoch, the best validation loss, and each target's validation skill
against persistence (1 - MSE / persistence's MSE, on the rows where the target is observed). With `--baselines`,
the gradient-boosted trees' and ridge's validation skill on the same windows too (each fitted as 03_evaluate fits
it). Test is never read.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import short_traces

from bwkit import synth
from bwkit.evaluation.metrics import skill
from bwkit.runs import RunFolder, configure
from bwkit.training import ensure_data, train_run
from bwkit.training import model as lstm
from bwkit.training.inputs import load_data


def patch(dropout: float, weight_decay: float, carry: float | None) -> None:
    """The variant's model and optimiser, for this process."""
    if weight_decay:
        torch.optim.Adam = lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if carry is not None:
        init = lstm.LSTMForecaster.__init__

        def with_carry(self, n_features, n_targets, *args, **kwargs):
            init(self, n_features, n_targets, *args, **kwargs)
            self.carry = torch.nn.Parameter(torch.full((n_targets,), carry))
        lstm.LSTMForecaster.__init__ = with_carry
    if dropout or carry is not None:
        def forward_scaled(self, x):
            scaled = (x - self.x_mean) / self.x_std
            out, _ = self.lstm(scaled)
            z = self.head(torch.nn.functional.dropout(out[:, -1], dropout, self.training))
            if self.linear is not None:
                z = z + self.linear(scaled.index_select(2, self.linear_columns).flatten(1))
            if self.residual:
                last = (x[:, -1].index_select(1, self.target_columns) - self.y_mean) / self.y_std
                z = z + (self.carry if carry is not None else 1.0) * last
            return z
        lstm.LSTMForecaster.forward_scaled = forward_scaled


def val_skill(predicted: np.ndarray, val, last: np.ndarray, targets: list[str]) -> dict:
    """Each target's skill against persistence on the validation rows where it is observed, and their average."""
    skills = {}
    for j, target in enumerate(targets):
        seen = val.observed[:, j]
        skills[target] = round(skill(np.mean((predicted[seen, j] - val.Y[seen, j]) ** 2),
                                     np.mean((last[seen, j] - val.Y[seen, j]) ** 2)), 4)
    return {**skills, "average": round(float(np.mean(list(skills.values()))), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", help="a parameters file (e.g. presets/irish5g.yml); default: the dwcp data")
    parser.add_argument("--legacy", type=int, metavar="SEED", help="the legacy profile drawn with this seed")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--log-inputs", default="")
    parser.add_argument("--carry", type=float)
    parser.add_argument("--short-traces", action="store_true", help="the data of bench/short_traces.py")
    parser.add_argument("--baselines", action="store_true", help="also the trees' and ridge's validation skill")
    args = parser.parse_args()
    patch(args.dropout, args.weight_decay, args.carry)
    scratch = tempfile.mkdtemp(prefix="bwkit-explore-")
    config = configure({"run_dir": scratch}, parameters_file=args.preset, sets=args.set, stage="02_train")
    if args.legacy is not None:
        path = Path(scratch) / f"legacy-{args.legacy}.csv"
        synth.write(path, configure(stage="01_generate_data").samples, args.legacy, profile="legacy",
                    start=configure(stage="01_generate_data").start)
        config = config.replace(data_path=str(path), seed=args.legacy)
    elif args.short_traces:
        config = configure({"run_dir": scratch}, sets=short_traces.SETTINGS[1::2] + args.set, stage="02_train")
        config = config.replace(data_path=str(short_traces.write(Path(scratch) / "short_traces.csv")))
    elif not config.data_path:
        config = config.replace(data_path=ensure_data(""))
    telemetry = load_data(config)
    raw = telemetry.X.copy()   # persistence's answers, before any transform of the inputs
    for name in filter(None, args.log_inputs.split(",")):
        j = list(telemetry.features).index(name)
        telemetry.X[:, j] = np.log1p(np.maximum(telemetry.X[:, j], 0))

    start = time.perf_counter()
    training = train_run(config.replace(compare_window_only=False), RunFolder(scratch), progress=False,
                         telemetry=telemetry)   # 02_train's own steps: the race, early stopping, the blend
    choice, model = training.choice, training.result.model
    val = choice.prepared.splits["val"]
    predicted = lstm.predict(model, val.X)
    last = raw[val.row - 1][:, [list(telemetry.features).index(t) for t in choice.prepared.targets]]
    out = {"settings": {k: v for k, v in vars(args).items() if v not in (None, "", 0.0, [], False)},
           "chosen": {k: choice.config.get(k) for k in ("residual", "known_future", "linear_path")},
           "best_epoch": training.result.best_epoch, "epochs": training.result.stopped_epoch,
           "val_loss": round(min(training.result.history["val_loss"]), 5),
           "seconds": round(time.perf_counter() - start, 1)}
    if args.carry is not None:
        out["carry"] = [round(float(v), 3) for v in model.carry.detach()]
    out["val_skill"] = val_skill(predicted, val, last, choice.prepared.targets)
    if args.baselines:
        from bwkit.evaluation import baselines, trees

        splits = choice.prepared.splits
        out["trees_val_skill"] = val_skill(trees.fit(choice.prepared, telemetry).validation, val, last,
                                           choice.prepared.targets)
        out["ridge_val_skill"] = val_skill(baselines.MaskedRidge(splits["train"], val).predict(val.X), val, last,
                                           choice.prepared.targets)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
