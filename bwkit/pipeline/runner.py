"""One run: the four notebooks executed by papermill into runs/<run_id>/, each turned
into offline HTML, with run.json recording parameters, status, timings and the hashes
of what each stage wrote (so `resume` can trust a finished stage)."""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import os
import re
import shutil
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from bwkit.data import holds, sha256_file
from bwkit.errors import BwkitError, DataError, ParameterError, RunError, RunInterrupted
from bwkit.evaluation import fold_splits
from bwkit.files import whole_file
from bwkit.lazy import without_iri_grammars
from bwkit.pipeline.kernels import kernel_options
from bwkit.features import split_rows
from bwkit.reports import notebook_to_html, write_model_card, write_run_index, write_runs_index
from bwkit.training import load_data
from bwkit.runs import (
    ROOT,
    Config,
    SET_BY_BWKIT,
    ROOT_NAMES,
    TRACKING_DB,
    RunFolder,
    RunRecord,
    STAGES,
    configure,
    environment,
    notebook_parameters,
    notebook_path,
    now,
    reconcile,
    runs_root as default_runs_root,
    this_process,
    versions,
)

# A folder of stand-in stage notebooks, for the test suite: where it holds <stage>.ipynb, a run executes that in place
# of notebooks/<stage>.ipynb, with the real stage's parameters. Unset (as everywhere but in tests of how runs are
# orchestrated: sweeps, a killed client, resume), every run executes the real stages.
STAND_INS = "BWKIT_STAGE_NOTEBOOKS"
# a plain folder name, one line; HTML-ish characters are escaped where shown
RUN_ID = re.compile(r"[^/\\,\x00-\x1f\x7f]{1,128}")   # no comma: `bwkit compare` lists folders with commas


def new_run_dir(runs_root: Path, run_id: str | None) -> Path:
    """Create the run folder; an existing id is refused, never overwritten, and so are the names the kit keeps
    beside the runs (its index, sweeps, studies, comparisons, the MLflow store)."""
    if run_id is not None and (not RUN_ID.fullmatch(run_id) or run_id.startswith(".") or run_id in ROOT_NAMES
                               or run_id.startswith(TRACKING_DB)):
        raise ParameterError(f"run id {run_id!r} must be a plain folder name of 1 to 128 characters, not "
                             f"starting with '.', without '/', ',' or control characters, and none of the names the "
                             f"kit keeps beside the runs ({', '.join(ROOT_NAMES)})")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    names = [run_id] if run_id else [stamp] + [f"{stamp}-{n}" for n in range(2, 1000)]
    try:
        runs_root.mkdir(parents=True, exist_ok=True)
        for name in names:
            try:
                (runs_root / name).mkdir()
                return runs_root / name
            except FileExistsError:
                if run_id:
                    raise ParameterError(f"run {run_id!r} already exists in {runs_root}; pick another --run-id "
                                         "(or, if it was interrupted or failed, `bwkit resume` it)") from None
    except OSError as exc:
        raise RunError(f"cannot create a run folder in {runs_root}: {exc.strerror or exc}") from None
    raise RunError(f"could not find a free run id under {runs_root}")


def execute(notebook, out: Path, parameters: dict, *, progress: bool = False) -> None:
    """Run a notebook with papermill into `out` (raises PapermillExecutionError; a full disk, DiskFull).

    papermill rewrites `out` after every cell: each write goes through `whole_file` (`_WholeNotebooks`), so a full
    disk or a kill mid-write leaves the notebook as far as it got, never half a file."""
    without_iri_grammars()
    import papermill as pm

    out = str(Path(out).absolute())
    handler = _whole_notebooks(Path(out).anchor)
    handler.outputs.add(out)
    try:
        pm.execute_notebook(str(notebook), out, parameters=parameters, cwd=str(ROOT), progress_bar=progress,
                            **kernel_options())
    finally:
        handler.outputs.discard(out)


@functools.cache
def _whole_notebooks(anchor: str):
    """papermill's handler for the paths under `anchor` ("/", "C:\\"), registered once per process: the outputs
    `execute` names are written whole; any other path as papermill's own handler writes it. (papermill picks a path's
    handler by its prefix, the last registered first; "local" is only the fallback.)"""
    from papermill.iorw import LocalHandler, papermill_io

    class WholeNotebooks(LocalHandler):
        outputs: set[str] = set()

        def write(self, buf, path):
            if path not in self.outputs:
                return super().write(buf, path)
            with whole_file(path) as partial:
                partial.write_text(buf, encoding="utf-8")

    handler = WholeNotebooks()
    papermill_io.register(anchor, handler)
    return handler


def describe_failure(stage: str, exc) -> dict:
    """Where a notebook failed: the stage, the cell's number (In [n]) and first line, the exception."""
    first = next((line.strip() for line in exc.source.splitlines() if line.strip()), "")
    return {"stage": stage, "cell": exc.exec_count, "cell_index": exc.cell_index, "line": first,
            "exception": exc.ename, "message": exc.evalue}


def _snapshot(root: Path) -> dict[str, tuple]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")}


def _outputs(root: Path, before: dict) -> dict[str, str]:
    """sha256 of every file the stage wrote or changed (run.json and the run page excepted)."""
    after = _snapshot(root)
    return RunFolder(root).hashes(name for name, stat in after.items() if before.get(name) != stat
                                  and name not in {RunFolder.RUN_JSON, RunFolder.INDEX})


def run_stage(notebook, stage: str, record: RunRecord, *, values: dict, progress: bool = False) -> float:
    """Execute one notebook into the run folder and render its HTML (failing or not); return seconds."""
    without_iri_grammars()
    from papermill.exceptions import PapermillExecutionError

    files, t0 = record.files, time.perf_counter()
    before = _snapshot(files.root)
    record.stage(stage, "running")
    try:
        execute(notebook, files.notebook(stage), values, progress=progress)
    except PapermillExecutionError as exc:
        if exc.ename == "KeyboardInterrupt":   # the kernel got the SIGINT (Ctrl-C reaches the whole group)
            raise KeyboardInterrupt from None
        failure = record.data["failure"] = describe_failure(stage, exc)
        what = (f"no space left on {files.root}" if "No space left on device" in str(exc.evalue)
                else f"{exc.ename}: {exc.evalue}")
        _render_quietly(files, stage)
        _stage_failed(record, stage, f"{stage}, cell In [{failure['cell']}] `{failure['line']}`: {what}", since=t0)
    except Exception as exc:   # outside the cells: the kernel died, the notebook could not be written (a full disk)
        record.data["failure"] = {"stage": stage, "exception": type(exc).__name__, "message": str(exc)}
        record.data["traceback"] = traceback.format_exc(limit=-20)
        _render_quietly(files, stage)
        _stage_failed(record, stage, f"{stage}: {_one_line(exc, files.root)}", since=t0)
    try:   # the stage's pages are among its outputs: a stage whose pages could not be written did not finish
        notebook_to_html(files.notebook(stage), files.html(stage))
    except Exception as exc:  # noqa: BLE001 - a full disk, above all
        record.data["failure"] = {"stage": stage, "exception": type(exc).__name__, "message": str(exc)}
        _stage_failed(record, stage, f"{stage}: its pages could not be written: {_one_line(exc, files.root)}",
                      since=t0)
    seconds = time.perf_counter() - t0
    record.stage(stage, "succeeded", seconds, outputs=_outputs(files.root, before))
    return seconds


def _render_quietly(files: RunFolder, stage: str) -> None:
    """A failed stage's pages, as far as its notebook got; a notebook cut short or a full disk leaves them out."""
    if files.notebook(stage).exists():
        with contextlib.suppress(Exception):
            notebook_to_html(files.notebook(stage), files.html(stage))


def _stage_failed(record: RunRecord, stage: str, error: str, *, since: float):
    """Record the stage and the run's error as failed, then end the run with a RunError saying it."""
    record.data["error"] = error
    record.stage(stage, "failed", time.perf_counter() - since)
    raise RunError(error) from None


def stage_notebook(stage: str) -> Path:
    """The notebook a run executes for `stage`: its stand-in in $BWKIT_STAGE_NOTEBOOKS where there is one, else
    notebooks/<stage>.ipynb. The stage's parameters are always the real notebook's."""
    folder = os.environ.get(STAND_INS)
    stand_in = Path(folder) / f"{stage}.ipynb" if folder else None
    return stand_in if stand_in is not None and stand_in.is_file() else notebook_path(stage)


def _checked(overrides: Mapping, parameters_file=None, sets=()) -> tuple[Config, bool]:
    """The run's configuration and whether it reads an external CSV (then generation does not run)."""
    config = configure(overrides, parameters_file=parameters_file, sets=sets,
                       not_given={name: f"is set by bwkit run: it {why}" for name, why in SET_BY_BWKIT.items()})
    config = config.without(*SET_BY_BWKIT)
    external = bool(config.data_path)
    if external:  # a missing or bad file fails the run's data check, with the loader's message
        try:
            config = config.replace(data_path=str(Path(config.data_path).expanduser().resolve()))
        except (OSError, RuntimeError) as exc:   # a symlink loop, a name too long
            raise ParameterError(f"parameter 'data_path' ({config.data_path!r}) cannot be resolved: {exc}") from None
        later = {n for stage in STAGES[1:] for n in notebook_parameters(stage)}
        generation_only = set(notebook_parameters(STAGES[0])) - later
        config = config.without(*generation_only)   # generation does not run: its parameters would only mislead
    return config, external


def check_data(config: Config) -> None:
    """What needs the data, before any training: the columns exist and parse, the window and split fit."""
    telemetry = load_data(config)
    splits = split_rows(telemetry, config.window_size, config.split)   # calendar inputs add channels, never rows
    if config.get("folds"):   # .get: the record of a run from before rolling-origin folds lacks them
        fold_splits(sum(len(rows) for rows in splits.values()), config.folds)


def _stage_values(stage: str, config: Config, files: RunFolder) -> dict:
    declared = notebook_parameters(stage)
    values = {k: config[k] for k in declared if k in config}
    values.update({k: v for k, v in (("run_dir", str(files.root)), ("output", config.data_path)) if k in declared})
    return values


@contextmanager
def _sigterm_as_sigint(received: list):
    """SIGINT and SIGTERM end a run with KeyboardInterrupt where the main thread is, and are named in `received`.

    Our own SIGINT handler also keeps asyncio's away: that one cancels papermill's task instead, and
    a cancellation that lands while the kernel starts can be swallowed, so the run went on."""
    if threading.current_thread() is not threading.main_thread():
        yield   # signal handlers belong to the main thread (a Dask worker runs tasks in others)
        return

    def handler(signum, frame):
        received.append(signal.Signals(signum).name)
        raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)


@contextmanager
def _signals_held(held: list):
    """SIGINT and SIGTERM wait until the block ends (named in `held`): the run's last writes (its record, model card,
    manifest and pages) are never cut in two, which left a run that neither `check` passed nor `resume` finished."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signal.Signals(signum).name))
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, before in previous.items():
            signal.signal(s, before)


def _quietly(what: str, step, *args) -> None:
    """Run a step that must not change the run's outcome: its error is one warning line."""
    try:
        step(*args)
    except Exception as exc:  # noqa: BLE001 - the record is already true; this only adds to it
        warnings.warn(f"{what} failed: {type(exc).__name__}: {exc}", RuntimeWarning, stacklevel=2)


def _finished(record: RunRecord, on_finish, log=print) -> None:
    """What follows a run's last words: its record, model card and manifest saved and its pages written, whatever
    signal comes meanwhile; then `on_finish(record)`, or, when a signal came, that signal (the user wants it over)."""
    files, held = record.files, []
    with _signals_held(held):
        record.data.update(finished=now())
        record.save()
        _quietly(f"run {files.root.name}: the model card", write_model_card, files.root)   # from the saved record
        record.data["manifest"] = files.hashes()   # what `bwkit check` verifies later (the card included)
        record.save()
        record.release()
        write_pages(files.root, log)
    if held:   # tracking is not done; after a run that succeeded the signal acts now, as it would have
        log(f"{held[-1]} received while run {files.root.name} was being closed: its record is complete "
            f"({record.data['status']})")
        if record.data["status"] == "succeeded":   # otherwise the run's own end is already on its way out
            signal.raise_signal(signal.Signals[held[-1]])
    elif on_finish is not None:
        _quietly(f"run {files.root.name}: on_finish", on_finish, record)


def _execute(record: RunRecord, config: Config, stages, *, log, progress: bool, on_finish=None) -> None:
    """Run `stages` in order, keeping run.json and the pages true whatever happens; then `_finished`."""
    files, start, received = record.files, time.perf_counter(), []
    write_pages(files.root, log)   # the run is listed, running, from its first second
    getattr(on_finish, "begin", lambda record: None)(record)   # e.g. the tracker's warm-up, now the run is under way
    try:
        with _sigterm_as_sigint(received):
            for i, stage in enumerate(stages, 1):
                if stage == "02_train":
                    try:
                        check_data(config)
                    except (DataError, ParameterError) as exc:   # the data, or what is asked of it (folds)
                        record.data["failure"] = {"stage": "data check", "exception": type(exc).__name__,
                                                  "message": str(exc)}
                        record.data["error"] = f"data check before 02_train: {exc}"
                        raise RunError(record.data["error"]) from None
                log(f"[{i}/{len(stages)}] {stage} ...")
                seconds = run_stage(stage_notebook(stage), stage, record, values=_stage_values(stage, config, files),
                                    progress=progress)
                if received:   # a signal whose KeyboardInterrupt something swallowed still ends the run
                    raise KeyboardInterrupt
                log(f"[{i}/{len(stages)}] {stage} done in {seconds:.1f} s")
                write_run_index(files.root, plots=False)
            if record.data["data"]["generated"]:
                record.data["data"]["sha256"] = sha256_file(files.data)
        record.data["status"] = "succeeded"
    except KeyboardInterrupt:
        record.interrupt(f"interrupted by {(received or ['SIGINT'])[-1]}")
        raise RunInterrupted(f"{record.data['error']}; finish it with: bwkit resume {files.root}") from None
    except BaseException as exc:
        record.data["status"] = "failed"
        record.data.setdefault("error", _one_line(exc, files.root))
        if not isinstance(exc, BwkitError):   # not the kit's own: the traceback stays in the record
            record.data["traceback"] = traceback.format_exc(limit=-20)
        raise
    finally:
        record.data.update(wall_seconds=round(record.data.get("wall_seconds", 0) + time.perf_counter() - start, 2))
        _finished(record, on_finish, log)


def _one_line(exc: BaseException, root: Path) -> str:
    """An error from outside the kit as the record says it: a full disk by the folder it filled."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"no space left on {root} ({exc.filename or 'while writing'})"
    return f"{type(exc).__name__}: {exc}"


def write_pages(root: Path, log=print) -> None:
    """The run's page and the list of runs; a page that cannot be written is one warning, never the run's end
    (the record is the truth, the pages its view)."""
    for write, where in ((write_run_index, root), (write_runs_index, root.parent)):
        try:
            write(where)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, BwkitError) as exc:
            log(f"warning: {where} page not written: {type(exc).__name__}: {exc}")


def run(overrides: Mapping | None = None, run_id: str | None = None, runs_root=None, *, parameters_file=None,
        sets=(), log=print, progress: bool = False, on_finish=None) -> Path:
    """Execute the pipeline; return the run's index.html. Raises RunError if a stage fails.

    overrides: parameter values (a dict, or a Config: a full configuration is fine too), then `parameters_file`
    (YAML) and `sets` (`--set name=value` strings) as the command line gives them: `params.configure` layers and
    checks them, once, into the run's configuration.
    runs_root: default runs/ (or $BWKIT_RUNS). progress: papermill's per-cell bar for each stage.
    on_finish: called with the RunRecord once the run has ended (succeeded, failed or interrupted) and run.json
    says so; a layer above hands it in (`bwkit.experiments.Tracker` logs to MLflow). Its errors are warnings.
    """
    config, external = _checked(overrides or {}, parameters_file, sets)
    runs_root = Path(runs_root or default_runs_root()).resolve()  # the notebooks run with cwd=ROOT: absolute paths
    data = {"path": config.data_path, "generated": not external}
    if external and Path(data["path"]).is_file():  # hash what this run reads, before it runs (and before its folder)
        try:
            data["sha256"] = sha256_file(data["path"])
        except OSError as exc:
            raise DataError(f"{data['path']}: cannot be read ({exc.strerror or exc})") from None
    files = RunFolder(new_run_dir(runs_root, run_id))
    if not external:
        files.data.parent.mkdir()
        config = config.replace(data_path=str(files.data))
        data["path"] = config.data_path
    if Path(data["path"]).is_relative_to(ROOT):   # so a copied repository and run folder still find it
        data["path_in_repository"] = str(Path(data["path"]).relative_to(ROOT))
    try:
        record = RunRecord.start(files, parameters=config.to_dict(), data=data, versions=versions(),
                                 environment=environment(), command=sys.argv)
    except BaseException:
        if not files.run_json.exists():   # nothing recorded: leave no empty folder that looks like a run
            shutil.rmtree(files.root, ignore_errors=True)
        raise
    _execute(record, config, STAGES[1:] if external else STAGES, log=log, progress=progress, on_finish=on_finish)
    return files.index


def _unchanged(files: RunFolder, entry: dict) -> bool:
    return all(holds(files.root / name, digest)
               for name, digest in entry.get("outputs", {}).items())


def resume(run_dir, log=print, progress: bool = False, *, on_finish=None) -> Path:
    """Finish an interrupted or failed run from the first stage that did not finish (or whose files changed)."""
    files = RunFolder(Path(run_dir).expanduser().resolve())
    try:
        record = RunRecord(files, reconcile(files))
    except RunError as exc:   # no run folder, or a record that does not read: nothing ran, a bad argument
        raise ParameterError(f"{exc}; nothing to resume") from None
    status = record.data["status"]
    if status == "running":   # refused like a bad argument (exit 2): nothing ran, nothing failed
        raise ParameterError(f"run {files.root.name} is still running (process {record.data['process']['pid']}): "
                             "nothing to resume")
    if status == "succeeded":
        raise ParameterError(f"run {files.root.name} succeeded: nothing to resume (`bwkit reproduce` it to train it "
                             "again from its record, or `bwkit check` it to see whether its files changed)")
    config, data = Config(record.data["parameters"]), record.data["data"]
    if not data["generated"] and data.get("sha256") and not holds(data["path"], data["sha256"]):
        raise ParameterError(f"{data['path']} is gone or changed since run {files.root.name} started: start a new run")
    stages = STAGES if data["generated"] else STAGES[1:]
    first = next((i for i, s in enumerate(stages) if record.data["stages"].get(s, {}).get("status") != "succeeded"
                  or not _unchanged(files, record.data["stages"][s])), len(stages))
    for stage in stages[:first]:
        log(f"{stage}: finished before, its {len(record.data['stages'][stage]['outputs'])} files unchanged (sha256)")
    for key in ("error", "failure", "finished"):
        record.data.pop(key, None)
    record.data.update(status="running", process=this_process(), resumed=record.data.get("resumed", []) + [now()])
    record.save()
    _execute(record, config, stages[first:], log=log, progress=progress, on_finish=on_finish)
    return files.index
