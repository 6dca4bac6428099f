"""`bwkit sweep`: many runs, each one ordinary run folder, executed as tasks on Dask distributed.

    bwkit sweep --grid learning_rate=1e-4,1e-3 --grid batch_size=32,64 [--repeats 3] [--workers N]
                [--scheduler tcp://host:8786] [--sweep-id ID] [-f params.yml] [--set k=v ...]

Every combination of the grid (x repeats, which add 0, 1, 2, ... to `seed`) is one run,
`runs/sweeps/<id>/<id>-<n>/`. Synthetic data is generated once per distinct set of data
parameters, by the client, and every run reads it (a run then trains with its own
seed on the shared CSV). The run folders are the record: re-running a sweep id skips
each run that succeeded with the same parameters and data sha256, and re-runs the rest.
Without `--scheduler` a LocalCluster of process workers with one thread each; with it,
an existing cluster, whose workers need the same environment and this repository
importable. Workers that cannot see the client's files get the data sent and send
their run folders back.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from bwkit import synth
from bwkit.data import holds
from bwkit.errors import ParameterError, RunError
from bwkit.experiments.compare import compare_report
from bwkit.experiments.parents import TrackedParent
from bwkit.training import epochs_trained
from bwkit.runs import (
    FILE_SAFE,
    Config,
    RunFolder,
    SweepFolder,
    coerce,
    configure,
    SET_BY_BWKIT,
    held,
    pipeline_parameters,
    read_record,
    runs_root as default_runs_root,
    strict,
    unknown_parameter,
    write_json,
)

DATA_PARAMETERS = ("samples", "profile", "start", "seed")   # what the generator reads
RETRIES = 2   # kernel start-up races between parallel papermill executions (ports, time-outs)
RUN_SETTINGS = {"device", "num_threads", "tracking"}   # where and how a run executes, not what it computes


def parse_grid(pairs) -> dict[str, list]:
    """`["learning_rate=1e-4,1e-3", ...]` -> {"learning_rate": [0.0001, 0.001]}, every value checked."""
    known, grid = pipeline_parameters(), {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name = name.strip()
        if not sep or not text.strip():
            raise ParameterError(f"--grid expects name=value1,value2,..., got {pair!r}")
        if name not in known:
            raise unknown_parameter(name, known)
        if name in SET_BY_BWKIT:
            raise ParameterError(f"parameter '{name}' is set by bwkit for each run; it cannot be swept")
        if name in grid:
            raise ParameterError(f"--grid names '{name}' twice; give all its values once: --grid {name}=a,b,c")
        values = [coerce(known[name], value) for value in text.split(",")]
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ParameterError(f"--grid {name} repeats {', '.join(repeated)}: each value once (use --repeats "
                                 "for several runs of one configuration)")
        grid[name] = values
    return grid


def plan(base: dict, grid: dict, repeats: int, *, sweep_id: str) -> list[dict]:
    """Every run of the sweep, in a stable order: {"run_id", "config", "repeat"}."""
    if repeats < 1:
        raise ParameterError(f"--repeats must be at least 1, got {repeats}")
    if repeats > 1 and "seed" in grid:   # repeat r adds r to the seed: seed=1,2 twice ran seed 2 in both groups
        raise ParameterError("--grid seed with --repeats: the repeats are the seeds (the base seed, +1, +2, ...); "
                             "sweep the seed or repeat, not both")
    runs, names = [], list(grid)
    for n, values in enumerate(itertools.product(*grid.values())):
        for r in range(repeats):
            config = configure({**base, **dict(zip(names, values))})
            config = config.replace(seed=config.seed + r).without(*SET_BY_BWKIT)
            runs.append({"run_id": f"{sweep_id}-{n:03d}" + (f"-r{r}" if repeats > 1 else ""), "config": config,
                         "repeat": r, "point": dict(zip(names, values))})
    return runs


def _shared_data(runs: list[dict], data_folder: Path, log) -> None:
    """Generate each distinct synthetic data set once (with the sweep's seed); point its runs at it."""
    for entry in runs:
        config = entry["config"]
        if config.data_path:
            entry["config"] = config.replace(data_path=str(Path(config.data_path).expanduser().resolve()))
            continue
        key = {k: config[k] for k in DATA_PARAMETERS}
        key["seed"] -= entry["repeat"]   # repeats vary the training, not the data
        path = data_folder / f"{key['profile']}_{key['samples']}_seed{key['seed']}.csv"
        if not path.exists():
            log(f"generating {path.name} once for the sweep")
            synth.write(path, key["samples"], key["seed"], profile=key["profile"], start=key["start"])
        entry["config"] = config.replace(data_path=str(path))


def _state(folder: Path, entry: dict) -> str:
    """"succeeded" (same parameters, same data sha256), "failed", "unfinished" or "new"."""
    files = RunFolder(folder / entry["run_id"])
    if not files.run_json.is_file():
        return "unfinished" if files.root.exists() else "new"   # a folder its run never recorded
    try:
        record = read_record(files)
    except RunError:
        return "unfinished"
    config, recorded = entry["config"], record.get("parameters", {})
    same = all(recorded[k] == v for k, v in config.items() if k in recorded and k != "data_path")
    data_ok = holds(config.data_path, record.get("data", {}).get("sha256"))
    status = record.get("status")
    if status == "succeeded":
        return "succeeded" if same and data_ok else "changed"
    return "failed" if status == "failed" else "unfinished"


def _startup_race(error: str) -> bool:
    words = ("kernel died", "kernel didn't respond", "timed out", "timeout", "address already in use", "zmq")
    return any(w in error.lower() for w in words)


def run_task(run_id: str, config: Config, folder: str, *, data: dict | None) -> dict:
    """One run on a worker. `data` (file name -> bytes) is sent when the worker cannot see the client's files;
    then the run lands in a temporary folder and its files come back in the result."""
    from bwkit.pipeline import run

    root = Path(folder) if data is None else Path(tempfile.mkdtemp(prefix="bwkit-sweep-"))
    if data is not None:
        (root / "data").mkdir()
        for name, payload in data.items():
            (root / "data" / name).write_bytes(payload)
        config = config.replace(data_path=str(root / "data" / Path(config.data_path).name))
    # The client cleared every folder it dispatched (and holds the sweep's lock): one here is an earlier try of this
    # task on a worker that died (Dask runs the task again), left "running"; run from scratch, not refused.
    shutil.rmtree(root / run_id, ignore_errors=True)
    status, error = "failed", None
    for attempt in range(RETRIES + 1):
        try:
            run(config, run_id=run_id, runs_root=root, log=lambda *_: None)
            status, error = "succeeded", None
            break
        except Exception as exc:  # noqa: BLE001 - a failed run is a result; the sweep goes on
            error = f"{type(exc).__name__}: {exc}"
            if not (attempt < RETRIES and _startup_race(error) and not isinstance(exc, ParameterError)):
                break
            shutil.rmtree(root / run_id, ignore_errors=True)
    files = None
    if data is not None:
        files = {str(p.relative_to(root / run_id)): p.read_bytes() for p in (root / run_id).rglob("*") if p.is_file()}
        shutil.rmtree(root, ignore_errors=True)
    return {"run_id": run_id, "status": status, "error": error, "files": files, "attempts": attempt + 1}


def _sees(token: str, client_runs: str) -> bool:
    return os.path.exists(token) and str(default_runs_root()) == client_runs


CLUSTER_LOG = "dask.log"   # in the sweep's (or study's) folder: what Dask says, kept off the terminal
POLL_SECONDS = 0.5         # how often the client reads the running runs' training logs (progress in epochs)


class _LogFile(logging.Handler):
    """Log records appended to a file. Not a logging.StreamHandler, as FileHandler is: Dask's silence_logs quiets
    every StreamHandler of its logger, so the terminal can be quieted while this file keeps Dask's lines."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = path

    def emit(self, record):
        try:
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(self.format(record) + "\n")
        except OSError:   # a full disk loses a log line, never the sweep
            pass


@contextmanager
def cluster_log(path: Path):
    """Dask's own log lines in this process (nannies starting and killing workers, connections closed) go to
    `path`, not the terminal; errors reach both. The workers' processes print errors only (silence_logs)."""
    handler = _LogFile(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("distributed")
    quiet = [(h, h.level) for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    for h, _ in quiet:
        h.setLevel(logging.ERROR)
    level, _ = logger.level, logger.addHandler(handler)
    logger.setLevel(logging.INFO)   # the file gets what Dask says at INFO (workers up, closed, killed)
    try:
        yield path
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        for h, old_level in quiet:
            h.setLevel(old_level)


@contextmanager
def _client(scheduler: str | None, workers: int | None, folder: Path | None = None):
    """A client of the given scheduler, or of a LocalCluster of process workers with one thread each; Dask's
    log lines into `folder`'s CLUSTER_LOG when given."""
    from contextlib import ExitStack

    from dask.distributed import Client, LocalCluster

    with ExitStack() as stack:
        if folder is not None:
            stack.enter_context(cluster_log(folder / CLUSTER_LOG))
        if scheduler:
            yield stack.enter_context(Client(scheduler))
            return
        cluster = stack.enter_context(LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                                                   processes=True, dashboard_address=":0", silence_logs=logging.ERROR))
        yield stack.enter_context(Client(cluster))


def shares_disk(client, folder: Path, runs_root: Path) -> bool:
    """Whether every worker sees the client's files (then runs write their folders in place)."""
    token = folder / f".token-{os.getpid()}"
    token.write_text("the client's disk")
    try:
        return all(client.run(_sees, str(token), str(runs_root)).values())
    finally:
        token.unlink()


def data_payload(shared: bool, entries: list[dict]) -> dict | None:
    """The data files to send with each run when the workers do not share the client's disk."""
    return None if shared else {Path(p).name: Path(p).read_bytes() for p in {e["config"].data_path for e in entries}}


def submit(client, entry: dict, folder: Path, *, data: dict | None):
    """One run as a Dask task (never cached: a run is not a pure function of its key)."""
    return client.submit(run_task, entry["run_id"], entry["config"], str(folder), data=data,
                         key=f"bwkit-run-{folder.name}-{entry['run_id']}", pure=False)


def land(result: dict, folder: Path) -> dict:
    """A finished task's result, its run folder written here when it came back as bytes."""
    for name, payload in (result.pop("files") or {}).items():
        (folder / result["run_id"] / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / result["run_id"] / name).write_bytes(payload)
    return result


def _dispatch(client, todo: list[dict], folder: Path, *, runs_root: Path, progress: bool, on_landed=None) -> list[dict]:
    """Submit every run; collect results as they finish; `on_landed(entry, result)` as each run folder lands.
    The bar counts epochs: each running run's training log where the workers share this disk, each finished
    run's whole budget (stopped early or failed, it needs no more)."""
    import time

    from tqdm.auto import tqdm

    shared = shares_disk(client, folder, runs_root)
    data = data_payload(shared, todo)
    pending = {submit(client, e, folder, data=data): e for e in todo}
    results, counts, done_epochs = [], {"done": 0, "failed": 0}, 0
    with tqdm(total=sum(e["config"]["epochs"] for e in todo), desc="sweep", unit="epoch", disable=not progress) as bar:
        while pending:
            time.sleep(POLL_SECONDS)
            for future in [f for f in pending if f.done()]:
                entry = pending.pop(future)
                result = land(future.result(), folder)
                if on_landed:
                    on_landed(entry, result)
                counts["done" if result["status"] == "succeeded" else "failed"] += 1
                done_epochs += entry["config"]["epochs"]
                results.append(result)
            running = sum(min(epochs_trained(folder / e["run_id"]), e["config"]["epochs"])
                          for e in pending.values()) if shared else 0
            bar.n = min(done_epochs + running, bar.total)
            bar.set_postfix(**counts, running=len(pending), refresh=False)
            bar.refresh()
    return results


def run_sweep(base: dict, grid: dict, repeats: int = 1, *, sweep_id: str | None = None, scheduler: str | None = None,
          workers: int | None = None, runs_root=None, log=print, progress: bool = True,
          tracking_uri: str | None = None) -> dict:
    """Run every combination; return the sweep's record (also in runs/sweeps/<id>/sweep.json).

    Unless the runs' `tracking` is off, the sweep is an MLflow run and each run a child of it, logged
    here on the client as it lands (with its seed, repeat and group: the combination it repeats)."""
    sweep_id = sweep_id or dt.datetime.now(dt.timezone.utc).strftime("sweep-%Y%m%d-%H%M%S")
    if not FILE_SAFE.fullmatch(sweep_id):
        raise ParameterError(f"sweep id {sweep_id!r} must be 1 to 64 letters, digits, '.', '_' or '-'")
    if workers is not None and workers < 1:
        raise ParameterError(f"--workers must be at least 1, got {workers}")
    runs_root = Path(runs_root or default_runs_root()).resolve()
    runs = plan(base, grid, repeats, sweep_id=sweep_id)   # every value checked before anything is written
    sweep = SweepFolder(runs_root, sweep_id)
    with held(sweep.lock, f"sweep {sweep_id!r} ({sweep.root})"):
        return _run_locked(sweep, runs, grid=grid, repeats=repeats, base=base, scheduler=scheduler, workers=workers,
                           log=log, progress=progress, tracking_uri=tracking_uri)


def changes(pairs) -> str:
    """"name: a then, b now; ..." of the (name, then, now) that differ, three at most; "" where none does: what a
    continued sweep or search is told when it is not the experiment it began as."""
    changed = [f"{name}: {then!r} then, {now!r} now" for name, then, now in pairs if then != now]
    return "; ".join(changed[:3]) + ("; ..." if len(changed) > 3 else "")


def _same_sweep(sweep: SweepFolder, wanted: dict) -> None:
    """A sweep id rerun finishes the sweep it began as: another grid, number of repeats or other parameters would
    replace its succeeded runs with runs of another experiment under the same names. A parameter the kit gained
    since the sweep began is not compared, nor where and how runs execute (device, threads, tracking)."""
    try:
        then = json.loads(sweep.record.read_text(encoding="utf-8"))
    except (OSError, ValueError):   # a new sweep, or a record cut short by a killed client: nothing to hold to
        return
    now = json.loads(json.dumps(strict(wanted)))   # as the record holds it: lists, not tuples
    base_then = then.get("base") or {}
    pairs = [(key, then.get(key), now[key]) for key in ("grid", "repeats")]
    pairs += [(f"--set {name}", base_then[name], now["base"].get(name)) for name in sorted(base_then)
              if name in now["base"] and name not in RUN_SETTINGS]
    said = changes(pairs)
    if said:
        raise ParameterError(f"sweep {sweep.root.name!r} began with another experiment ({said}): rerun it "
                             "with the same --grid, --repeats, --set and -f to finish it, or give a new --sweep-id")


def _run_locked(sweep: SweepFolder, runs: list[dict], *, grid: dict, repeats: int, base: dict, scheduler, workers,
                log, progress: bool, tracking_uri: str | None) -> dict:
    """The sweep, while this client holds its lock: no other client deletes or re-runs its folders."""
    folder, sweep_id, runs_root = sweep.root, sweep.root.name, sweep.root.parent.parent
    _same_sweep(sweep, {"grid": grid, "repeats": repeats, "base": base})
    _shared_data(runs, sweep.data, log)
    states = {e["run_id"]: _state(folder, e) for e in runs}
    todo = [e for e in runs if states[e["run_id"]] != "succeeded"]
    for e in todo:
        if states[e["run_id"]] != "new":
            shutil.rmtree(folder / e["run_id"])   # failed, unfinished or changed: run again from scratch
    tally = {k: sum(v == k for v in states.values()) for k in ("succeeded", "failed", "unfinished", "changed", "new")}
    log(f"sweep {sweep_id}: {len(runs)} runs; skipping {tally['succeeded']} that succeeded; running "
        f"{tally['new']} new, {tally['failed']} failed, {tally['unfinished']} unfinished, {tally['changed']} changed")
    record = {"sweep_id": sweep_id, "grid": grid, "repeats": repeats, "base": base,
              "runs": [e["run_id"] for e in runs], "started": dt.datetime.now(dt.timezone.utc).isoformat()}
    write_json(sweep.record, record)
    results, tracked = [], TrackedParent("sweep", sweep_id, params={**base, "grid": grid, "repeats": repeats},
                                         uri=tracking_uri, runs_root=runs_root, folder=folder)
    if todo:
        with tracked.closed_if_stopped(), _client(scheduler, workers, folder) as client:
            if client.dashboard_link:
                log(f"Dask dashboard: {client.dashboard_link}")
            results = _dispatch(client, todo, folder, runs_root=runs_root, progress=progress, on_landed=tracked.landed)
    tracked.close({"runs": len(runs), "failed": sum(r["status"] != "succeeded" for r in results)},
                  any(r["status"] != "succeeded" for r in results))
    record["results"] = {r["run_id"]: {k: r[k] for k in ("status", "error", "attempts")} for r in results}
    record["skipped"] = [rid for rid, state in states.items() if state == "succeeded"]
    write_json(sweep.record, record)
    if runs_root == default_runs_root():
        try:
            record["comparison"] = str(compare_report(sweep_id))
        except Exception as exc:  # noqa: BLE001 - the runs are the result; their comparison page is a view
            log(f"warning: the comparison page was not written: {type(exc).__name__}: {str(exc)[:300]}")
    return record
