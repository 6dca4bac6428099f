"""One run: the four notebooks executed by papermill into runs/<run_id>/, each turned
into offline HTML, with run.json recording parameters, status and timings."""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

from . import params as P
from .artifacts import RunFolder
from .data import sha256_file
from .env import versions
from .errors import ParameterError, RunError
from .paths import ROOT, STAGES, runs_root as default_runs_root
from .report import notebook_to_html, write_run_index, write_runs_index

MANAGED = {"run_dir": "is the run folder (use --run-id)", "output": "is the run's data/telemetry.csv"}
KERNEL = "python3"
# ipykernel warns on every start that its local TCP sockets are unencrypted; it is noise here.
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_dir(runs_root: Path, run_id: str | None) -> Path:
    """Create the run folder; an existing id is refused, never overwritten."""
    runs_root.mkdir(parents=True, exist_ok=True)
    if run_id:
        if "/" in run_id or run_id in {"", ".", ".."} or run_id.startswith("."):
            raise RunError(f"run id {run_id!r} must be a plain folder name")
        try:
            (runs_root / run_id).mkdir()
        except FileExistsError:
            raise RunError(f"run {run_id!r} already exists in {runs_root}; pick another --run-id") from None
        return runs_root / run_id
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        path = runs_root / (stamp if n == 1 else f"{stamp}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"could not find a free run id under {runs_root}")


class RunRecord:
    """run.json: rewritten atomically (a new file renamed over the old) at every change."""

    def __init__(self, files: RunFolder, **fields):
        self.files, self.data = files, {"run_id": files.root.name, "status": "running", "started": _now(), **fields,
                                        "stages": {}}
        self.save()

    def save(self) -> None:
        partial = self.files.run_json.with_name(f".{self.files.RUN_JSON}.partial")
        partial.write_text(json.dumps(self.data, indent=2))
        os.replace(partial, self.files.run_json)

    def stage(self, stage: str, status: str, seconds: float | None = None) -> None:
        self.data["stages"][stage] = {"status": status, **({} if seconds is None else {"seconds": round(seconds, 2)})}
        self.save()


def execute(notebook, out: Path, parameters: dict, progress: bool = False) -> None:
    """Run a notebook with papermill into `out` (raises PapermillExecutionError)."""
    import papermill as pm

    pm.execute_notebook(str(notebook), str(out), parameters=parameters, kernel_name=KERNEL, cwd=str(ROOT),
                        progress_bar=progress, extra_arguments=KERNEL_ARGS)


def describe_failure(stage: str, exc) -> dict:
    """Where a notebook failed: the stage, the cell's number (In [n]) and first line, the exception."""
    first = next((line.strip() for line in exc.source.splitlines() if line.strip()), "")
    return {"stage": stage, "cell": exc.exec_count, "cell_index": exc.cell_index, "line": first,
            "exception": exc.ename, "message": exc.evalue}


def run_stage(notebook, stage: str, record: RunRecord, values: dict, progress: bool = False) -> float:
    """Execute one notebook into the run folder and render its HTML (failing or not); return seconds."""
    from papermill.exceptions import PapermillExecutionError

    out, t0 = record.files.notebook(stage), time.perf_counter()
    record.stage(stage, "running")
    try:
        execute(notebook, out, values, progress)
    except PapermillExecutionError as exc:
        failure = record.data["failure"] = describe_failure(stage, exc)
        record.data["error"] = (f"{stage}, cell In [{failure['cell']}] `{failure['line']}`: "
                                f"{exc.ename}: {exc.evalue}")
        record.stage(stage, "failed", time.perf_counter() - t0)
        raise RunError(record.data["error"]) from None
    finally:
        if out.exists():
            notebook_to_html(out, record.files.html(stage))
    seconds = time.perf_counter() - t0
    record.stage(stage, "succeeded", seconds)
    return seconds


def _checked(overrides: dict) -> tuple[dict, bool]:
    """The run's configuration and whether it reads an external CSV (then generation does not run)."""
    config = P.configure(overrides)
    defaults = {name: p.default for name, p in P.pipeline_parameters().items()}
    for name, why in MANAGED.items():
        if name in config and config.pop(name) != defaults[name]:
            raise ParameterError(f"parameter '{name}' is set by bwkit run: it {why}")
    external = bool(config.get("data_path"))
    if external:  # a missing or bad file fails in 02_train, with the loader's message, and marks the run failed
        config["data_path"] = str(Path(config["data_path"]).expanduser().resolve())
        later = {n for stage in STAGES[1:] for n in P.notebook_parameters(stage)}
        for name in set(P.notebook_parameters(STAGES[0])) - later:
            config.pop(name, None)  # generation does not run: its parameters would only mislead
    return config, external


def _stage_values(stage: str, config: dict, files: RunFolder) -> dict:
    declared = P.notebook_parameters(stage)
    values = {k: config[k] for k in declared if k in config}
    values.update({k: v for k, v in (("run_dir", str(files.root)), ("output", config["data_path"])) if k in declared})
    return values


def run(overrides: dict | None = None, run_id: str | None = None, runs_root=None, log=print,
        progress: bool = False) -> Path:
    """Execute the pipeline; return the run's index.html. Raises RunError if a stage fails.

    overrides: parameter values (checked by `params.configure`; a full configuration is fine too).
    runs_root: default runs/ (or $BWKIT_RUNS). progress: papermill's per-cell bar for each stage.
    """
    config, external = _checked(overrides or {})
    runs_root = Path(runs_root or default_runs_root()).resolve()  # the notebooks run with cwd=ROOT: absolute paths
    files = RunFolder(new_run_dir(runs_root, run_id))
    if not external:
        files.data.parent.mkdir()
        config["data_path"] = str(files.data)
    data = {"path": config["data_path"], "generated": not external}
    if external and Path(data["path"]).is_file():  # hash what this run reads, before it runs
        data["sha256"] = sha256_file(data["path"])
    record = RunRecord(files, parameters=config, data=data, versions=versions(), command=sys.argv)
    stages = STAGES[1:] if external else STAGES
    start = time.perf_counter()
    try:
        for i, stage in enumerate(stages, 1):
            log(f"[{i}/{len(stages)}] {stage} ...")
            seconds = run_stage(P.notebook_path(stage), stage, record, _stage_values(stage, config, files), progress)
            log(f"[{i}/{len(stages)}] {stage} done in {seconds:.1f} s")
        if not external:
            data["sha256"] = sha256_file(files.data)
        record.data["status"] = "succeeded"
    except BaseException as exc:
        record.data["status"] = "failed"
        record.data.setdefault("error", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        record.data.update(finished=_now(), wall_seconds=round(time.perf_counter() - start, 2))
        record.save()
        write_run_index(files.root)
        write_runs_index(runs_root)
    return files.index
