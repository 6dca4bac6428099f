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
(a learned per-target weight on the last value, starting at C, instead of residual's fixed 1; needs residual=true),
`--skill-weights` (each target's loss divided by persistence's training MSE), `--squash lstm|both` (asinh of the
standardised inputs), `--huber D` (the Huber loss in training), `--centred` (the window-centred inputs beside the
inputs), `--spread linear|head` (each input's std over the window, into the output or the head),
`--heads-per-target` (a head MLP of its own for each target, on the shared LSTM), `--without-last-to-head` (the
head reads the LSTM's output alone, as it did before `last_to_head`; the variants above are built that way too, as
they were measured), `--every-step W` (each earlier step of the window also predicts its next row where observed,
its loss weighted W beside the last step's; through the model's head, or with `--own-head` a head used only in
training), `--input-noise S` (Gaussian noise of S standard deviations on the inputs while training),
`--feature-dropout P` (each input channel of a window set to its mean with probability P while training),
`--gated-residual` (the head also scales the last value: z = (1 + gain) * last + change); these four train the kit's
model as it is, its head reading the last row. `--ensemble N` also trains seeds seed+1 .. seed+N-1 and scores their
averaged prediction.
Prints one JSON line: the choice, the best epoch, the best validation loss, and each target's validation skill
against persistence (1 - MSE / persistence's MSE, on the rows where the target is observed). With `--baselines`,
the gradient-boosted trees' and ridge's validation skill on the same windows too (each fitted as 03_evaluate fits
it). Test is never read.
"""
from __future__ import annotations

import argparse
import copy
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


def finish(self, x, z, linear_in, carry=1.0):
    """What the kit's `forward_scaled` adds to the head's output `z`: the linear path on `linear_in` (the standardised
    window, or a variant's transform of it) and, for the residual model, `carry` times the last value."""
    if self.linear is not None:
        z = z + self.linear(linear_in.index_select(2, self.linear_columns).flatten(1))
    if self.residual:
        z = z + carry * (x[:, -1].index_select(1, self.target_columns) - self.y_mean) / self.y_std
    return z


def without_last_to_head() -> None:
    """The model as it was before its head read the last row's inputs (`last_to_head=False`)."""
    original = lstm.LSTMForecaster.__init__
    lstm.LSTMForecaster.__init__ = lambda self, *args, **kwargs: original(self, *args, **{**kwargs,
                                                                                        "last_to_head": False})


def replace_model(forward_scaled, init=None) -> None:
    """The variant's `forward_scaled` (and, when given, `__init__(self, original_init, *args, **kwargs)`). The
    variants' heads read the LSTM's output alone, as the model's did when they were measured (`last_to_head=False`)."""
    without_last_to_head()
    if init is not None:
        original = lstm.LSTMForecaster.__init__
        lstm.LSTMForecaster.__init__ = lambda self, *args, **kwargs: init(self, original, *args, **kwargs)
    lstm.LSTMForecaster.forward_scaled = forward_scaled


def patch(dropout: float, weight_decay: float, carry: float | None) -> None:
    """The variant's model and optimiser, for this process."""
    if weight_decay:
        torch.optim.Adam = lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if dropout or carry is not None:
        def with_carry(self, original, n_features, n_targets, *args, **kwargs):
            original(self, n_features, n_targets, *args, **kwargs)
            if carry is not None:
                self.carry = torch.nn.Parameter(torch.full((n_targets,), carry))

        def forward_scaled(self, x):
            scaled = (x - self.x_mean) / self.x_std
            out, _ = self.lstm(scaled)
            z = self.head(torch.nn.functional.dropout(out[:, -1], dropout, self.training))
            return finish(self, x, z, scaled, self.carry if carry is not None else 1.0)
        replace_model(forward_scaled, with_carry)


def always_masked(loss) -> None:
    """Training's batch loss replaced by `loss(predicted, target, observed)`, with a mask even where every value is
    observed (the kit skips the mask there)."""
    from bwkit.training import train

    train._mask = lambda observed, device: torch.as_tensor(observed, dtype=torch.bool, device=device)
    train._masked_mse = loss


def weigh_by_skill() -> None:
    """Each target's squared error divided by persistence's mean squared error on the training rows (standardised,
    observed rows only), so the loss is the sum of the targets' (1 - skill): what the report's average skill reads.
    Validation (early stopping, the race) is weighted the same way."""
    from bwkit.training import train

    weights = {}
    init = train.Fit.__init__

    def remember(self, prepared, config, device):
        init(self, prepared, config, device)
        if "w" in weights:   # the race's candidates share the training rows and targets
            return
        split = prepared.splits["train"]
        columns = [list(prepared.features).index(t) for t in prepared.targets]
        last = np.asarray(split.X[np.arange(len(split))][:, -1][:, columns], np.float64)
        error = ((split.Y - last) / self.model.y_std.numpy()) ** 2
        p = np.array([error[split.observed[:, j], j].mean() for j in range(error.shape[1])])
        weights["w"] = torch.as_tensor((1 / p) / np.mean(1 / p), dtype=torch.float32)
        print(json.dumps({"loss_weights": dict(zip(prepared.targets, np.round(weights["w"].tolist(), 3)))}), flush=True)

    def squares(predicted, target, observed):
        """The weighted squared errors' sum over the observed entries, and how many there are."""
        return ((predicted - target) ** 2 * weights["w"])[observed].sum(), float(observed.sum())

    def masked(predicted, target, observed):
        total, count = squares(predicted, target, observed)
        return total / max(count, 1.0)

    def loss(model, X, Y, *, observed=None):
        model.eval()
        total, count = 0.0, 0.0
        with torch.no_grad():
            for i in range(0, len(X), lstm.PREDICT_BATCH):
                part = slice(i, i + lstm.PREDICT_BATCH)
                t, c = squares(model.forward_scaled(X[part]), (Y[part] - model.y_mean) / model.y_std, observed[part])
                total, count = total + float(t), count + c
        return total / max(count, 1.0)

    train.Fit.__init__ = remember
    always_masked(masked)
    train._loss = loss


def squash_inputs(where: str) -> None:
    """asinh of the standardised inputs (log-like beyond a standard deviation: heavy tails tamed, order kept) for the
    LSTM only (`where="lstm"`) or for the LSTM and the linear path (`"both"`)."""
    def forward_scaled(self, x):
        scaled = (x - self.x_mean) / self.x_std
        squashed = torch.asinh(scaled)
        out, _ = self.lstm(squashed)
        return finish(self, x, self.head(out[:, -1]), squashed if where == "both" else scaled)
    replace_model(forward_scaled)


def huber(delta: float) -> None:
    """Train on the Huber loss (quadratic within `delta` standardised units, linear beyond); validate on MSE."""
    def masked(predicted, target, observed):
        weight = observed.to(predicted.dtype)
        loss = torch.nn.functional.huber_loss(predicted, target, reduction="none", delta=delta)
        return (loss * weight).sum() / weight.sum().clamp(min=1.0)
    always_masked(masked)


def window_centred() -> None:
    """The LSTM also reads each standardised input minus its window's mean (as RevIN centres a window): what the
    window holds relative to its own level, beside the level."""
    def wider(self, original, n_features, n_targets, hidden_size, **kwargs):
        original(self, n_features, n_targets, hidden_size, **kwargs)
        self.lstm = torch.nn.LSTM(2 * n_features, hidden_size, kwargs["num_layers"], batch_first=True)

    def forward_scaled(self, x):
        scaled = (x - self.x_mean) / self.x_std
        out, _ = self.lstm(torch.cat([scaled, scaled - scaled.mean(dim=1, keepdim=True)], dim=2))
        return finish(self, x, self.head(out[:, -1]), scaled)
    replace_model(forward_scaled, wider)


def window_spread(where: str) -> None:
    """Each input's standard deviation over the window (standardised units; throughput's is what irish5g's RTT trees
    gain most from) added to the output by a linear map (`where="linear"`, starting at zero) or read by the head
    beside the LSTM's last output (`"head"`)."""
    def wider(self, original, n_features, n_targets, hidden_size, **kwargs):
        original(self, n_features, n_targets, hidden_size, **kwargs)
        own = len(self.linear_columns) or n_features
        if where == "linear":
            self.spread = torch.nn.Linear(own, n_targets)
            torch.nn.init.zeros_(self.spread.weight)
            torch.nn.init.zeros_(self.spread.bias)
        else:
            self.head[0] = torch.nn.Linear(hidden_size + own, hidden_size)

    def forward_scaled(self, x):
        scaled = (x - self.x_mean) / self.x_std
        own = scaled.index_select(2, self.linear_columns) if len(self.linear_columns) else scaled
        out, _ = self.lstm(scaled)
        z = (self.head(out[:, -1]) + self.spread(own.std(dim=1)) if where == "linear"
             else self.head(torch.cat([out[:, -1], own.std(dim=1)], dim=1)))
        return finish(self, x, z, scaled)
    replace_model(forward_scaled, wider)


def heads_per_target() -> None:
    """A head of its own for each target (the kit's head is one MLP for all four), on the shared LSTM: a target whose
    change is shaped unlike the others' (irish5g's throughput, where the trees lead) need not share the head's units."""
    def own_heads(self, original, n_features, n_targets, hidden_size, **kwargs):
        original(self, n_features, n_targets, hidden_size, **kwargs)
        self.heads = torch.nn.ModuleList(torch.nn.Sequential(torch.nn.Linear(hidden_size, hidden_size), torch.nn.ReLU(),
                                                             torch.nn.Linear(hidden_size, 1)) for _ in range(n_targets))
        for head in self.heads:
            torch.nn.init.zeros_(head[-1].weight)
            torch.nn.init.zeros_(head[-1].bias)
        del self.head

    def forward_scaled(self, x):
        scaled = (x - self.x_mean) / self.x_std
        out, _ = self.lstm(scaled)
        return finish(self, x, torch.cat([head(out[:, -1]) for head in self.heads], dim=1), scaled)
    replace_model(forward_scaled, own_heads)


def while_training(change) -> None:
    """While training only, the model reads `change(model, x)` in place of its raw window x; the residual still adds
    the true last value."""
    kit = lstm.LSTMForecaster.forward_scaled

    def forward_scaled(self, x):
        if not self.training:
            return kit(self, x)
        changed = change(self, x)
        z = kit(self, changed)
        if self.residual:
            z = z + (x[:, -1] - changed[:, -1]).index_select(1, self.target_columns) / self.y_std
        return z
    lstm.LSTMForecaster.forward_scaled = forward_scaled


def feature_dropout(rate: float) -> None:
    """While training only, each input channel of each window is set to its training mean (0 once standardised) with
    probability `rate`, at every step of the window alike: the model cannot lean on any one noisy channel. On
    irish5g the LSTM given only throughput and the ping age reaches a higher throughput skill than given all 19
    inputs, where the trees pick their inputs themselves."""
    def dropped(model, x):
        keep = (torch.rand(x.shape[0], 1, x.shape[2]) >= rate).to(x.dtype)
        return x * keep + model.x_mean * (1 - keep)
    while_training(dropped)


def gated_residual() -> None:
    """The head also scales the last value: z = (1 + gain(x)) * last + change(x) (standardised; with the linear path
    added), where the kit's residual model has a gain of 0. A change that is a share of the level (a download that
    stops before each ping test, irish5g's throughput) is then one output, not a product the ReLU head must build."""
    def wider(self, original, n_features, n_targets, hidden_size, **kwargs):
        original(self, n_features, n_targets, hidden_size, **kwargs)
        self.head[-1] = torch.nn.Linear(hidden_size, 2 * n_targets)
        torch.nn.init.zeros_(self.head[-1].weight)
        torch.nn.init.zeros_(self.head[-1].bias)

    def forward_scaled(self, x):
        scaled = (x - self.x_mean) / self.x_std
        out, _ = self.lstm(scaled)
        change, gain = self.head(torch.cat([out[:, -1], scaled[:, -1]], dim=1)).chunk(2, dim=1)
        z = change if self.linear is None else \
            change + self.linear(scaled.index_select(2, self.linear_columns).flatten(1))
        if self.residual:
            z = z + (1 + gain) * (x[:, -1].index_select(1, self.target_columns) - self.y_mean) / self.y_std
        return z
    original = lstm.LSTMForecaster.__init__
    lstm.LSTMForecaster.__init__ = lambda self, *args, **kwargs: wider(self, original, *args, **kwargs)
    lstm.LSTMForecaster.forward_scaled = forward_scaled


def input_noise(scale: float) -> None:
    """While training only, Gaussian noise of `scale` standard deviations added to the inputs the LSTM, the head and
    the linear path read: a regulariser for small data, where the best epoch comes early."""
    while_training(lambda model, x: x + scale * model.x_std * torch.randn_like(x))


def every_step(weight: float, own_head: bool, rows) -> None:
    """Train on every step of the window, not only its last: at each earlier step t the LSTM's output also predicts
    row t + 1's targets (where observed), weighted by `weight` beside the last step's loss, through the model's own
    head (the residual from row t, no linear path) or, with `own_head`, a head of its own that is never used to
    predict. `rows`: the telemetry (each row's targets and observed mask). Validation reads the last step only."""
    from bwkit.training import train

    init = train.Fit.__init__
    state = {}

    def remember(self, prepared, config, device):
        init(self, prepared, config, device)
        model = self.model
        if own_head:
            width = model.head[0].in_features
            model.aux = torch.nn.Sequential(torch.nn.Linear(width, config.hidden_size), torch.nn.ReLU(),
                                            torch.nn.Linear(config.hidden_size, model.y_mean.numel()))
            self.optimizer.add_param_group({"params": model.aux.parameters()})
            if self.average is not None:   # the averaged copy holds the same modules
                self.average.module.aux = copy.deepcopy(model.aux)
        state[id(model)] = (torch.as_tensor(rows.Y, dtype=torch.float32), torch.as_tensor(rows.observed))

    def epoch(model, optimizer, X, *, Y, order, batch_size, observed=None, average=None):
        model.train()
        targets_of, seen_of = state[id(model)]
        running = 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            x = X[idx]
            scaled = (x - model.x_mean) / model.x_std
            out, _ = model.lstm(scaled)
            both = torch.cat([out, scaled], dim=2)                          # [b, W, hidden + features]
            z = model.head(both[:, -1])
            if model.linear is not None:
                z = z + model.linear(scaled.index_select(2, model.linear_columns).flatten(1))
            if model.residual:
                z = z + (x[:, -1].index_select(1, model.target_columns) - model.y_mean) / model.y_std
            target = (Y[idx] - model.y_mean) / model.y_std
            mask = torch.ones_like(target, dtype=torch.bool) if observed is None else observed[idx]
            loss = train._masked_mse(z, target, mask)
            steps = (X.starts[idx][:, None] + torch.arange(1, X.steps.numel(), device=X.starts.device))   # rows t+1
            early = (model.aux if own_head else model.head)(both[:, :-1])   # [b, W-1, targets]
            if model.residual:
                early = early + (x[:, :-1].index_select(2, model.target_columns) - model.y_mean) / model.y_std
            loss = loss + weight * train._masked_mse(early, (targets_of[steps] - model.y_mean) / model.y_std,
                                                     seen_of[steps])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), train.CLIP_NORM)
            optimizer.step()
            if average is not None:
                average.update_parameters(model)
            running += float(loss.detach()) * len(idx)
        return running / len(X)

    train.Fit.__init__ = remember
    train._epoch = epoch


def val_skill(predicted: np.ndarray, val, last: np.ndarray, targets: list[str]) -> dict:
    """Each target's skill against persistence on the validation rows where it is observed, and their average."""
    skills = {}
    for j, target in enumerate(targets):
        seen = val.observed[:, j]
        skills[target] = round(skill(np.mean((predicted[seen, j] - val.Y[seen, j]) ** 2),
                                     np.mean((last[seen, j] - val.Y[seen, j]) ** 2)), 4)
    return {**skills, "average": round(float(np.mean(list(skills.values()))), 4)}


def apply_variants(args) -> None:
    """Patch the variants the command line names into this process."""
    patch(args.dropout, args.weight_decay, args.carry)
    if args.skill_weights:
        weigh_by_skill()
    if args.huber:
        huber(args.huber)
    if args.centred:
        window_centred()
    if args.squash:
        squash_inputs(args.squash)
    if args.spread:
        window_spread(args.spread)
    if args.heads_per_target:
        heads_per_target()
    if args.without_last_to_head:
        without_last_to_head()
    if args.input_noise:
        input_noise(args.input_noise)
    if args.gated_residual:
        gated_residual()
    if args.feature_dropout:
        feature_dropout(args.feature_dropout)


def ensemble(config, telemetry, n: int, *, first: np.ndarray, scored: tuple) -> dict:
    """Seeds seed+1 .. seed+n-1 trained as the first model was: each one's validation skill, and that of the mean of
    all n predictions (`first` is the first model's)."""
    val, last, prepared = scored
    members, out = [first], {}
    for k in range(1, n):
        member = train_run(config.replace(compare_window_only=False, seed=config.seed + k),
                           RunFolder(config.run_dir), progress=False, telemetry=telemetry)
        members.append(lstm.predict(member.result.model, member.choice.prepared.splits["val"].X))
        out[f"seed_{config.seed + k}_val_skill"] = val_skill(members[-1], val, last, prepared.targets)
    out["ensemble_val_skill"] = val_skill(np.mean(members, axis=0), val, last, prepared.targets)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", help="a parameters file (e.g. presets/irish5g.yml); default: the dwcp data")
    parser.add_argument("--legacy", type=int, metavar="SEED", help="the legacy profile drawn with this seed")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--log-inputs", default="")
    parser.add_argument("--carry", type=float)
    parser.add_argument("--squash", choices=["lstm", "both"], help="asinh of the standardised inputs")
    parser.add_argument("--huber", type=float, help="train on the Huber loss with this delta")
    parser.add_argument("--centred", action="store_true", help="the LSTM also reads the window-centred inputs")
    parser.add_argument("--spread", choices=["linear", "head"], help="the inputs' std over the window")
    parser.add_argument("--heads-per-target", action="store_true", help="a head of its own for each target")
    parser.add_argument("--without-last-to-head", action="store_true",
                        help="the head reads the LSTM's output alone, as before last_to_head")
    parser.add_argument("--skill-weights", action="store_true", help="loss weights 1 / persistence's MSE per target")
    parser.add_argument("--ensemble", type=int, metavar="N",
                        help="also train seeds seed+1 .. seed+N-1 the same way; the skill of the mean prediction")
    parser.add_argument("--every-step", type=float, metavar="W",
                        help="also train each earlier step of the window to predict its next row, with weight W")
    parser.add_argument("--feature-dropout", type=float, metavar="P",
                        help="each input channel of a window set to its mean with probability P while training")
    parser.add_argument("--gated-residual", action="store_true", help="the head also scales the last value")
    parser.add_argument("--input-noise", type=float, metavar="S",
                        help="Gaussian noise of S standard deviations on the inputs while training")
    parser.add_argument("--own-head", action="store_true", help="--every-step through a head of its own")
    parser.add_argument("--short-traces", action="store_true", help="the data of bench/short_traces.py")
    parser.add_argument("--baselines", action="store_true", help="also the trees' and ridge's validation skill")
    args = parser.parse_args()
    apply_variants(args)
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
    if args.every_step:
        every_step(args.every_step, args.own_head, telemetry)
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
    if (args.ensemble or 1) > 1:
        out.update(ensemble(config, telemetry, args.ensemble, first=predicted, scored=(val, last, choice.prepared)))
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
