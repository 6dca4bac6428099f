"""Settings left to "auto", chosen on the validation split only.

Three settings decide much of what an LSTM reaches on a new data set, and the right
answer differs between data sets: `residual` (predict the change from the last
value: right when the next minute is close to the last), `known_future` (feed
the predicted row's hour and weekday: right when a daily or weekly profile carries
the signal) and `linear_path` (add a linear map of the whole window: right when a
linear model of the window already finds much, wrong when the window is noise that
its many weights fit). Every combination left to "auto" starts training from the same seed;
after `select_epochs` epochs the one with the lowest validation loss trains on and
the others stop. A linear path starts slowly and shows its worth only late (on the
default data it is behind after 9 epochs and ahead from about 20), so a short race
cannot judge it: with `linear_path="auto"` the race's winner and its twin across the
linear path both train until early stopping, and the lower validation loss is kept.
The winner is the model a fixed setting would have trained, so an "auto" that picks
today's default gives today's weights. An explicit True or False is kept. The test
split is never read.
"""
from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bwkit.features import Prepared, calendar_covered, prepare, split_of
from bwkit.runs import AUTO, Config

if TYPE_CHECKING:   # torch: imported when a model is trained, not when a report is read
    from bwkit.data import Telemetry
    from bwkit.training.train import Fit


@dataclass
class Choice:
    config: Config            # the configuration, with every "auto" resolved
    prepared: Prepared        # windows for the chosen inputs
    fit: Fit                  # the chosen model's training, started
    record: dict | None       # what was tried and why this won (None: nothing was left to "auto")

    def describe(self) -> str:
        if not self.record:
            return "residual, known_future and linear_path were set explicitly: no selection."
        lines = [f"Chosen on validation after {self.record['epochs']} epoch(s) each ({self.record['rule']}):"]
        for c in self.record["candidates"]:
            mark = "  <- chosen" if c["chosen"] else ""
            lines.append(f"  {label(c):56s} val_loss {c['val_loss']:.5f}{mark}")
        finals = self.record.get("linear_path")
        if finals:
            lines.append(f"  then trained to early stopping: val_loss {finals['true']['val_loss']:.5f} with the linear "
                         f"path, {finals['false']['val_loss']:.5f} without")
        return "\n".join(lines + [f"  note: {n}" for n in self.record["notes"]])


def selection_sentence(record: dict) -> str:
    """The selection in one sentence, for the report."""
    chosen = next(c for c in record["candidates"] if c["chosen"])
    others = [c for c in record["candidates"] if not c["chosen"]]
    finals = record.get("linear_path")
    text = (f"Chosen on the validation split (test unseen): {label(chosen)}"
            + (f" (with and without the linear path trained to early stopping: validation loss "
               f"{finals['true']['val_loss']:.4f} with it, {finals['false']['val_loss']:.4f} without)" if finals else "")
            + f"; validation loss after {record['epochs']} epoch(s) {chosen['val_loss']:.4f}")
    text += (" against " + ", ".join(f"{c['val_loss']:.4f} for {label(c)}"
                                     for c in others) + ".") if others else " (the only candidate)."
    return text + "".join(f" Note: {n}." for n in record["notes"])


def label(candidate: dict) -> str:
    """A candidate's settings in words (a record from before linear_path had none)."""
    return (("residual (change from the last value)" if candidate["residual"] else "level") +
            (" + calendar" if candidate["known_future"] else "") +
            (" + linear path" if candidate.get("linear_path") else ""))


def options(telemetry: Telemetry, config: Config,
            prepared: Prepared) -> tuple[list[tuple[bool, bool, bool]], list[str]]:
    """The (residual, known_future, linear_path) settings to try, today's defaults first, and why any was left out."""
    notes, residuals, calendars = [], [config.residual], [config.known_future]
    linears = [True, False] if config.linear_path == AUTO else [config.linear_path]
    if config.residual == AUTO:
        residuals = [True, False]
        if prepared.target_columns is None:
            residuals, notes = [False], notes + ["residual not tried: not every target is among the features"]
    if config.known_future == AUTO:
        calendars = [False, True]
        if not calendar_covered(telemetry.timestamps[prepared.splits["train"].row]):
            calendars = [False]
            notes.append("calendar inputs not tried: the training rows do not cover every hour of day and weekday")
    return [(r, k, s) for r in residuals for k in calendars for s in linears], notes


def choose(telemetry: Telemetry, config: Config, *, progress: bool = False, stop_file=None, log_path=None) -> Choice:
    """Resolve "auto" in `residual`, `known_future` and `linear_path` by a short race on validation; start the
    winner."""
    from bwkit.runs import pick_device
    from bwkit.training.train import Fit

    device = pick_device(config.device)
    asked = {"residual": config.residual, "known_future": config.known_future, "linear_path": config.linear_path}
    racing = AUTO in asked.values()
    windows = {False: prepare(telemetry, config.window_size, False, split=split_of(config))}
    pairs, notes = options(telemetry, config, windows[False])
    fits = []
    for residual, known_future, linear_path in pairs:
        if known_future not in windows:
            windows[known_future] = prepare(telemetry, config.window_size, known_future, split=split_of(config))
        fit = Fit(windows[known_future], config.replace(residual=residual, known_future=known_future,
                                                        linear_path=linear_path), device)
        while racing and fit.epoch < min(config.select_epochs, config.epochs):
            fit.step()
        fits.append(fit)
    if not racing:
        return Choice(fits[0].config, fits[0].prepared, fits[0], None)
    best = min(fits, key=lambda f: f.best_val)   # ties: the earlier, today's defaults first
    race, epochs, finals = {id(f): f.best_val for f in fits}, best.epoch, None
    if config.linear_path == AUTO:
        best, finals = _to_the_end(best, fits, progress=progress, stop_file=stop_file, log_path=log_path)
    record = {"asked": asked, "epochs": epochs, "notes": notes,
              "rule": "lowest validation loss (MSE on standardised targets)",
              "candidates": [{"residual": f.config.residual, "known_future": f.config.known_future,
                              "linear_path": f.config.linear_path,
                              "val_loss": race[id(f)], "chosen": f is best} for f in fits],
              "linear_path": finals,
              "other_seconds": sum(f.seconds for f in fits if f is not best)}
    return Choice(best.config, best.prepared, best, record)


def _to_the_end(leader: Fit, fits: list[Fit], *, progress: bool, stop_file=None, log_path=None) -> tuple[Fit, dict]:
    """The race's leader and its twin across the linear path, each trained until early stopping (or `epochs`, or
    `stop_file` appearing): the one with the lower validation loss, and what each reached. The leader's epochs
    go to `log_path` as they end (a search's pruner reads them there; training rewrites the log whole).

    Where `side_by_side` allows, the twin trains at the same time in a forked process and sends its state back."""
    twin = next(f for f in fits if f is not leader and f.config.residual == leader.config.residual
                and f.config.known_future == leader.config.known_future)
    pair = (leader, twin)
    elsewhere = TrainedElsewhere(twin, stop_file) if side_by_side(twin) else None
    try:
        for i, fit in enumerate(pair if elsewhere is None else pair[:1]):
            _train_on(fit, i, progress=progress, stop_file=stop_file, log_path=log_path if i == 0 else None)
        if elsewhere is not None:
            elsewhere.finish()
    finally:
        if elsewhere is not None:
            elsewhere.stop()
    best = min(pair, key=lambda f: f.best_val)
    return best, {str(f.config.linear_path).lower(): {"val_loss": f.best_val, "best_epoch": f.best_epoch,
                                                      "epochs": f.epoch} for f in pair}


def side_by_side(fit: Fit) -> bool:
    """Whether a fit like this can train in a forked process beside another and stay what it is alone: on Linux's
    CPU (macOS's fork is unsafe under a threaded runtime), with a fixed torch thread count that leaves as many cores
    for the other, and no dropout (it draws from torch's global generator; the shuffling has a generator per fit,
    copied by the fork)."""
    import os
    import sys

    config = fit.config
    return (fit.device == "cpu" and sys.platform.startswith("linux")
            and 0 < config.num_threads and 2 * config.num_threads <= (os.cpu_count() or 1)
            and not (config.num_layers > 1 and config.dropout > 0))


TRAINED_STATE = ("history", "epoch", "best_val", "best_epoch", "best_state")   # what train_model reads of a fit


class TrainedElsewhere:
    """`fit` trained to its end in a forked process (a small LSTM's step is mostly Python: a thread would wait on
    the interpreter's lock); `finish` waits for it and takes its trained state back into `fit`."""

    def __init__(self, fit: Fit, stop_file):
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self.fit, (self.receive, send) = fit, context.Pipe(duplex=False)
        self.process = context.Process(target=_train_and_send, args=(fit, stop_file, send), daemon=True)
        self.process.start()
        send.close()

    def finish(self) -> None:
        try:
            state = pickle.loads(self.receive.recv_bytes())
        except EOFError:
            self.process.join()
            raise RuntimeError(f"training linear_path={self.fit.config.linear_path} in a second process ended "
                               f"without a result (exit code {self.process.exitcode})") from None
        self.process.join()
        for name in TRAINED_STATE:
            setattr(self.fit, name, state[name])
        self.fit.model.load_state_dict(state["model"])

    def stop(self) -> None:
        """The process ended, or ended now (the run was interrupted or failed first)."""
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()
        self.receive.close()


def _train_and_send(fit: Fit, stop_file, send) -> None:
    """In the forked process: train `fit` to its end, send back what `finish` takes. Ctrl-C reaches the whole
    process group: here it is ignored, and the parent, interrupted, ends this process (`stop`); a parent that is
    gone leaves nobody to send to, and this process ends quietly when its training does."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _train_on(fit, 1, progress=False, stop_file=stop_file, log_path=None)
    state = {**{name: getattr(fit, name) for name in TRAINED_STATE}, "model": fit.model.state_dict()}
    try:
        send.send_bytes(pickle.dumps(state))   # by value: torch's shared-memory pickling needs the sender alive
        send.close()
    except OSError:
        pass


def _train_on(fit: Fit, position: int, *, progress: bool, stop_file, log_path) -> None:
    """Train `fit` to early stopping (or its epochs, or the stop file); its epochs to `log_path` when given."""
    from tqdm.auto import tqdm

    from bwkit.training.train import log_selection, stop_asked

    bar = tqdm(total=fit.config.epochs, initial=fit.epoch, unit="epoch", disable=not progress, position=position,
               desc=f"linear_path={fit.config.linear_path}, to early stopping")
    log = open(log_path, "w") if log_path else None
    try:
        if log:
            log_selection(log, fit)
        while fit.epoch < fit.config.epochs and not fit.stalled and not stop_asked(stop_file, fit):
            line = fit.step()
            if log:
                log.write(line + "\n")
                log.flush()
            bar.update()
    finally:
        if log:
            log.close()
        bar.close()
