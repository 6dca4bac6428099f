"""One run: the four notebooks executed by papermill into runs/<run_id>/, each turned
into offline HTML, with run.json recording parameters, status and timings."""
from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

from . import params as P
from .data import sha256_file
from .env import versions
from .paths import NOTEBOOKS, ROOT, RUNS, STAGES
from .report import notebook_to_html, write_run_index, write_runs_index

MANAGED = {"run_dir": "is the run folder (use --run-id)", "output": "is the run's data/telemetry.csv"}
KERNEL = "python3"
# ipykernel warns on every start that its local TCP sockets are unencrypted; it is noise here.
KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


class RunError(RuntimeError):
    """A run that could not start (bad id, bad parameter) or a stage that failed."""


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


def resolve_parameters(overrides: dict) -> dict:
    """Defaults of every notebook, updated with checked overrides."""
    known = P.pipeline_parameters()
    resolved = {name: p.default for name, p in known.items()}
    for name, value in overrides.items():
        if name in MANAGED:
            raise P.ParameterError(f"parameter '{name}' is set by bwkit run: it {MANAGED[name]}")
        if name not in known:
            raise P._unknown(name, known)
        resolved[name] = P.check_value(known[name], value)
    for name in MANAGED:
        resolved.pop(name, None)
    return resolved


def execute(stage: str, out: Path, parameters: dict, progress: bool = False) -> None:
    """Run notebooks/<stage>.ipynb with papermill into `out` (raises PapermillExecutionError)."""
    import papermill as pm

    pm.execute_notebook(str(NOTEBOOKS / f"{stage}.ipynb"), str(out), parameters=parameters, kernel_name=KERNEL,
                        cwd=str(ROOT), progress_bar=progress, extra_arguments=KERNEL_ARGS)


def _write(run_dir: Path, record: dict) -> None:
    (run_dir / "run.json").write_text(json.dumps(record, indent=2))


def run(overrides: dict | None = None, run_id: str | None = None, runs_root=RUNS, log=print,
        progress: bool = False) -> Path:
    """Execute the pipeline; return the run's index.html. Raises RunError if a stage fails.

    progress: papermill's per-cell progress bar for each stage (the CLI shows it).
    """
    from papermill.exceptions import PapermillExecutionError

    resolved = resolve_parameters(overrides or {})
    runs_root = Path(runs_root).resolve()  # the notebooks run with cwd=ROOT: hand them absolute paths
    external = bool(resolved.get("data_path"))
    if external:  # a missing or bad file fails in 02_train, with the loader's message, and marks the run failed
        resolved["data_path"] = str(Path(resolved["data_path"]).expanduser().resolve())
        for name in set(P.notebook_parameters("01_generate_data")) - {
                n for stage in STAGES[1:] for n in P.notebook_parameters(stage)}:
            resolved.pop(name, None)  # generation does not run: its parameters would only mislead
    run_dir = new_run_dir(runs_root, run_id)
    if not external:
        (run_dir / "data").mkdir()
        resolved["data_path"] = str(run_dir / "data" / "telemetry.csv")
    data_file = Path(resolved["data_path"])
    record = {"run_id": run_dir.name, "status": "running", "started": _now(), "parameters": resolved,
              "data": {"path": str(data_file), "generated": not external}, "stages": {}, "versions": versions(),
              "command": sys.argv}
    if data_file.is_file():  # an external file: hash what this run reads, before it runs
        record["data"]["sha256"] = sha256_file(data_file)
    _write(run_dir, record)
    start = time.perf_counter()
    stages = [s for s in STAGES if not (external and s == "01_generate_data")]
    try:
        for i, stage in enumerate(stages, 1):
            declared = P.notebook_parameters(stage)
            values = {k: resolved[k] for k in declared if k in resolved}
            if "run_dir" in declared:
                values["run_dir"] = str(run_dir)
            if "output" in declared:
                values["output"] = resolved["data_path"]
            log(f"[{i}/{len(stages)}] {stage} ...")
            t0 = time.perf_counter()
            record["stages"][stage] = {"status": "running"}
            _write(run_dir, record)
            out = run_dir / f"{stage}.ipynb"
            try:
                execute(stage, out, values, progress)
            except PapermillExecutionError as exc:
                record["stages"][stage] = {"status": "failed", "seconds": round(time.perf_counter() - t0, 2)}
                record["error"] = f"{stage}: {exc.ename}: {exc.evalue}"
                raise RunError(record["error"]) from None
            finally:
                if out.exists():
                    notebook_to_html(out)
            record["stages"][stage] = {"status": "succeeded", "seconds": round(time.perf_counter() - t0, 2)}
            log(f"[{i}/{len(stages)}] {stage} done in {record['stages'][stage]['seconds']:.1f} s")
        if not external:
            record["data"]["sha256"] = sha256_file(data_file)
        record["status"] = "succeeded"
    except BaseException as exc:
        record["status"] = "failed"
        record.setdefault("error", f"{type(exc).__name__}: {exc}")
        raise
    finally:
        record["finished"] = _now()
        record["wall_seconds"] = round(time.perf_counter() - start, 2)
        _write(run_dir, record)
        write_run_index(run_dir)
        write_runs_index(runs_root)
    return run_dir / "index.html"
