"""A search by Optuna on the same Dask cluster as `bwkit sweep`.

    bwkit tune --space learning_rate=log:1e-4:1e-2 --space hidden_size=int:16:128 --space window_size=10,20,40
               [--trials 12] [--seed 0] [--workers N] [--scheduler tcp://host:8786] [--study-id ID] [--set k=v ...]

The study lives in SQLite under the runs root (`runs/studies/<id>/study.db`); each trial is an
ordinary run folder `runs/studies/<id>/<id>-t<number>/`, executed on the Dask workers by the same
task as a sweep's run. The client alone talks to the study (ask, report, tell): a seeded TPE sampler
proposes, the objective is the trial's best validation loss, and a median pruner reads each running
trial's per-epoch validation loss from its training log; a trial it prunes gets a STOP file, which
ends its training at the next epoch (its run still finishes, as a shorter one). Pruning needs the
workers to share the client's disk (a LocalCluster does); elsewhere trials train to their end.

Re-running a study id continues it up to `--trials` finished trials: a trial whose client was killed
is told from its run folder (finished: its value; unfinished: failed, and run again).
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from pathlib import Path

from bwkit.errors import ParameterError, RunError
from bwkit.files import whole_file
from bwkit.experiments.sweeps import (
    RUN_SETTINGS,
    _client,
    changes,
    _shared_data,
    data_payload,
    land,
    shares_disk,
    submit,
)
from bwkit.experiments.parents import TrackedParent
from bwkit.reports import write_runs_index, write_study_page
from bwkit.runs import FILE_SAFE, RunFolder, coerce, configure, pipeline_parameters, runs_root as default_runs_root
from bwkit.runs import FOLDER_LOCK, STUDIES, held, read_record, unknown_parameter, write_json
from bwkit.training import epochs_trained, read_epochs

STUDY_JSON = "study.json"
STUDY_DB = "study.db"
POLL_SECONDS = 0.5           # how often the client reads the running trials' training logs
PRUNE_AFTER_EPOCHS = 5       # no trial is pruned before this many epochs (the first epochs of every fit are noisy)
PRUNE_AFTER_TRIALS = 2       # nor before this many trials have finished to compare with


def parse_space(pairs) -> dict:
    """`["learning_rate=log:1e-4:1e-2", "hidden_size=int:16:128", "window_size=10,20,40"]` -> Optuna distributions.

    `log:a:b`: log-uniform (integers for an integer parameter); `float:a:b`: uniform floats; `int:a:b`: integers;
    `a,b,c`: choices.
    Every bound and choice is checked as the parameter's own type and range."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    known, space = pipeline_parameters(), {}
    for pair in pairs:
        name, sep, text = (part.strip() for part in pair.partition("="))
        if not sep or not text:
            raise ParameterError(f"--space expects name=log:low:high, name=int:low:high or name=a,b,c; got {pair!r}")
        if name not in known:
            raise unknown_parameter(name, known)
        if name in {"run_dir", "output", "data_path", "seed"}:
            raise ParameterError(f"parameter '{name}' cannot be searched: it is set per run or fixes the data")
        if name in space:   # the second one silently replaced the first
            raise ParameterError(f"--space names '{name}' twice; give it once")
        kind, _, bounds = text.partition(":")
        if kind in {"log", "float", "int"} and bounds.count(":") == 1:
            low, high = (coerce(known[name], b) for b in bounds.split(":"))
            _check_range(name, kind, known[name].type, low=low, high=high)
            space[name] = (IntDistribution(low, high, log=kind == "log") if known[name].type is int
                           else FloatDistribution(low, high, log=kind == "log"))
        else:
            space[name] = CategoricalDistribution([coerce(known[name], v) for v in text.split(",")])
    if not space:
        raise ParameterError("give at least one --space name=...")
    return space


def _check_range(name: str, kind: str, type_, *, low, high) -> None:
    """A range fits its parameter: `int:` and `log:` for an integer one, `float:` and `log:` for a float one."""
    fits = {int: {"int", "log"}, float: {"float", "log"}}.get(type_, set())
    if kind not in fits:
        ask = f"use {' or '.join(f'{k}:low:high' for k in sorted(fits))}" if fits else "list its values: a,b"
        article = "an" if kind == "int" else "a"
        raise ParameterError(f"--space {name}: {article} {kind} range does not fit this {type_.__name__} parameter "
                             f"({ask})")
    if not low < high:
        raise ParameterError(f"--space {name}: the low bound {low!r} must be below the high bound {high!r}")
    if kind == "log" and not low > 0:
        raise ParameterError(f"--space {name}: a log range needs a low bound above 0, got {low!r}")


def _same_search(study, space: dict, base: dict) -> None:
    """A continued study searches what it began with: the same space over the same other parameters (kept in the
    study's storage by its first trial's client). Trials over another space or base would share one table and one
    sampler. A study with no trial yet takes what it is given; one from before this record is not checked."""
    from optuna.distributions import distribution_to_json

    wanted = {"space": {k: distribution_to_json(v) for k, v in space.items()},
              "base": {k: v for k, v in base.items() if k not in space and k not in RUN_SETTINGS}}
    if not study.trials:
        for key, value in wanted.items():
            study.set_user_attr(key, value)
        return
    space_then, base_then = study.user_attrs.get("space"), study.user_attrs.get("base") or {}
    if space_then is None:
        return
    names = [("space", name, space_then) for name in sorted(space_then.keys() | wanted["space"].keys())]
    names += [("base", name, base_then) for name in sorted(base_then)]   # one the kit gained since is not compared
    said = changes((name, then.get(name), wanted[key].get(name)) for key, name, then in names)
    if said:
        raise ParameterError(f"study {study.study_name!r} began with another search ({said}): continue it with the "
                             "same --space, --set and -f, or give a new --study-id")


def _study(study_id: str, folder: Path, seed: int, *, trials: int):
    """The study in SQLite (created or continued): minimise validation loss, seeded TPE, median pruning.

    The sampler's seed is offset by the trials already in the study, so a continued study is
    reproducible from the seed and the trials it continues."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = f"sqlite:///{folder / STUDY_DB}"
    existing = next((s.n_trials for s in optuna.get_all_study_summaries(storage) if s.study_name == study_id), 0) \
        if (folder / STUDY_DB).exists() else 0
    sampler = optuna.samplers.TPESampler(seed=seed + existing, n_startup_trials=max(2, min(10, trials // 3)))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=PRUNE_AFTER_TRIALS, n_warmup_steps=PRUNE_AFTER_EPOCHS)
    return optuna.create_study(study_name=study_id, storage=storage, sampler=sampler, pruner=pruner,
                               direction="minimize", load_if_exists=True)


def _run_id(study_id: str, number: int) -> str:
    return f"{study_id}-t{number:03d}"


def _objective(run_dir: Path) -> float | None:
    """The trial's best validation loss: the report's, else the lowest in its training log."""
    files = RunFolder(run_dir)
    try:
        return float(json.loads(files.report.read_text())["best_val_loss"])
    except (OSError, ValueError, KeyError, TypeError):
        losses = [e["val_loss"] for e in read_epochs(files.log)]
        return min(losses) if losses else None


def _status(run_dir: Path) -> str | None:
    try:
        return read_record(RunFolder(run_dir))["status"]
    except RunError:
        return None


def _tell(study, number: int, run_dir: Path) -> str:
    """Tell the study how a trial's run ended; returns the trial's state ("COMPLETE", "PRUNED" or "FAIL")."""
    from optuna.trial import TrialState

    value = _objective(run_dir) if _status(run_dir) == "succeeded" else None
    if value is None:
        study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
        return "FAIL"
    if RunFolder(run_dir).stop.exists():
        study.tell(number, state=TrialState.PRUNED, skip_if_finished=True)
        return "PRUNED"
    study.tell(number, value, skip_if_finished=True)
    return "COMPLETE"


def _recover(study, folder: Path, log) -> None:
    """Trials a killed client left running: told from their run folders; an unfinished folder is removed."""
    from optuna.trial import TrialState

    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        run_dir = folder / _run_id(study.study_name, trial.number)
        state = _tell(study, trial.number, run_dir)
        log(f"trial {trial.number}: left running by an earlier client; its run folder says {state}")
        if state == "FAIL" and run_dir.exists():
            shutil.rmtree(run_dir)


def _report(trial, run_dir: Path, reported: int) -> int:
    """Report the trial's new epochs to the pruner; write the STOP file if it says prune. Returns epochs reported."""
    epochs = read_epochs(RunFolder(run_dir).log)
    for e in epochs[reported:]:
        trial.report(e["val_loss"], e["epoch"])
    if len(epochs) > reported and trial.should_prune() and not RunFolder(run_dir).stop.exists():
        RunFolder(run_dir).stop.write_text(f"pruned by the search at epoch {epochs[-1]['epoch']} "
                                           f"(val_loss {epochs[-1]['val_loss']:.6f})\n")
    return max(reported, len(epochs))


def _ask(study, space: dict, base: dict, *, folder: Path, log) -> tuple:
    """A new trial and its run entry (the sweep's shape: run_id, config, repeat, point)."""
    trial = study.ask(space)
    config = configure({**base, **trial.params}).without("run_dir", "output")
    entry = {"run_id": _run_id(study.study_name, trial.number), "config": config, "repeat": 0, "point": trial.params}
    _shared_data([entry], folder / "data", log)
    return trial, entry


def _search(client, study, plan: dict, *, tracked: TrackedParent, log) -> None:
    """Keep one trial per worker in flight until `trials` have finished (complete or pruned)."""
    from optuna.trial import TrialState

    folder, trials = plan["folder"], plan["trials"]
    shared = shares_disk(client, folder, plan["runs_root"])
    slots = max(1, len(client.scheduler_info()["workers"]))
    running, failures = {}, 0

    def finished() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))

    while (finished() + len(running) < trials and failures <= trials) or running:
        while len(running) < slots and finished() + len(running) < trials and failures <= trials:
            trial, entry = _ask(study, plan["space"], plan["base"], folder=folder, log=log)
            future = submit(client, entry, folder, data=data_payload(shared, [entry]))
            running[future] = {"trial": trial, "entry": entry, "reported": 0}
        time.sleep(POLL_SECONDS)
        for future, state in list(running.items()):
            run_dir = folder / state["entry"]["run_id"]
            if shared and plan["prune"]:
                state["reported"] = _report(state["trial"], run_dir, state["reported"])
            if future.done():
                land(future.result(), folder)
                told = _tell(study, state["trial"].number, run_dir)
                failures += told == "FAIL"
                log(f"trial {state['trial'].number}: {told} {state['trial'].params}")
                tracked.landed(state["entry"], {"run_id": state["entry"]["run_id"]})
                del running[future]


def _trials_table(study, folder: Path) -> list[dict]:
    """Every trial of the study with its run folder, state, value, epochs trained and where it was pruned."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        run_dir = folder / _run_id(study.study_name, t.number)
        stop = RunFolder(run_dir).stop
        rows.append({"number": t.number, "run_id": run_dir.name, "state": t.state.name, "value": t.value,
                     "params": t.params, "epochs_trained": epochs_trained(run_dir),
                     "pruned": stop.read_text().strip() if stop.exists() else None})
    return rows


def _figures(study, folder: Path) -> dict[str, Path]:
    """Optuna's own plots of the study: the search history and each parameter against the objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna
    import optuna.visualization.matplotlib as views
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR)   # "set up pruning" when no trial reported an epoch
    made = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # optuna marks its matplotlib views experimental
        for name, view in (("history", views.plot_optimization_history), ("slice", views.plot_slice),
                           ("intermediate", views.plot_intermediate_values)):
            try:
                axes = view(study)
            except (ValueError, RuntimeError):   # nothing to plot yet (no finished trial)
                continue
            figure = (axes.flat[0] if hasattr(axes, "flat") else axes).get_figure()
            figure.set_size_inches(max(6.0, figure.get_size_inches()[0]), 4.0)
            made[name] = folder / f"study_{name}.png"
            with whole_file(made[name]) as partial:   # a study page never shows half of a plot
                figure.savefig(partial, format="png", dpi=100, bbox_inches="tight")
            plt.close(figure)
    return made


def run_tune(base: dict, space: dict, trials: int, *, study_id: str | None = None, seed: int = 0,
             scheduler: str | None = None, workers: int | None = None, runs_root=None, log=print,
             prune: bool = True, tracking_uri: str | None = None) -> dict:
    """Run (or continue) the study until `trials` trials have finished; return its record (study.json)."""
    study_id = study_id or dt.datetime.now(dt.timezone.utc).strftime("study-%Y%m%d-%H%M%S")
    if not FILE_SAFE.fullmatch(study_id):
        raise ParameterError(f"study id {study_id!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    if trials < 1:
        raise ParameterError(f"--trials must be at least 1, got {trials}")
    runs_root = Path(runs_root or default_runs_root()).resolve()
    folder = runs_root / STUDIES / study_id
    folder.mkdir(parents=True, exist_ok=True)
    with held(folder / FOLDER_LOCK, f"study {study_id!r} ({folder})"):   # a second client would fail its trials
        return _run_locked(base, space, trials, folder=folder, seed=seed, scheduler=scheduler, workers=workers, log=log,
                           prune=prune, tracking_uri=tracking_uri)


def _run_locked(base: dict, space: dict, trials: int, *, folder: Path, seed: int, scheduler, workers, log, prune: bool,
                tracking_uri: str | None) -> dict:
    """The study, while this client holds its lock: no other client marks its running trials failed."""
    study_id, runs_root = folder.name, folder.parent.parent
    study = _study(study_id, folder, seed, trials=trials)
    _same_search(study, space, base)
    _recover(study, folder, log)
    plan = {"folder": folder, "runs_root": runs_root, "trials": trials, "space": space, "base": base, "prune": prune}
    tracked = TrackedParent("tune", study_id, params={**base, "space": {k: repr(v) for k, v in space.items()},
                                                       "trials": trials, "sampler_seed": seed},
                            uri=tracking_uri, runs_root=runs_root, folder=folder)
    with tracked.closed_if_stopped(), _client(scheduler, workers, folder) as client:
        log(f"study {study_id}: {len(study.trials)} trials so far; searching to {trials} finished on "
            f"{len(client.scheduler_info()['workers'])} workers" + (f" (dashboard {client.dashboard_link})"
                                                                   if client.dashboard_link else ""))
        _search(client, study, plan, tracked=tracked, log=log)
    return _finish(study, folder, plan, tracked=tracked, seed=seed)


def _finish(study, folder: Path, plan: dict, *, tracked: TrackedParent, seed: int) -> dict:
    """study.json, the study's page (and the list of runs), the parent MLflow run closed."""
    rows = _trials_table(study, folder)
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    best = min(complete, key=lambda r: r["value"]) if complete else None
    record = {"study_id": study.study_name, "storage": str(folder / STUDY_DB), "seed": seed, "trials": plan["trials"],
              "space": {k: repr(v) for k, v in plan["space"].items()}, "base": plan["base"], "rows": rows,
              "best": best, "epochs_trained": sum(r["epochs_trained"] for r in rows),
              "finished": dt.datetime.now(dt.timezone.utc).isoformat()}
    write_json(folder / STUDY_JSON, record)
    record["page"] = str(write_study_page(folder, record, _figures(study, folder)))
    if best:
        record["best_run_page"] = str(RunFolder(folder / best["run_id"]).index)
    write_runs_index(plan["runs_root"])
    tracked.close({"best_val_loss": best["value"] if best else float("nan"), "epochs_trained": record["epochs_trained"],
                   "trials_complete": len(complete), "trials_pruned": sum(r["state"] == "PRUNED" for r in rows)},
                  best is None)
    return record
