"""bwkit command line: a thin layer that converts strings and calls the Python API.

    bwkit run [--run-id ID] [-f params.yml] [--set key=value ...]   the whole pipeline into runs/<id>/
    bwkit params                                    every parameter, its default and meaning
    bwkit resume RUN_DIR                            finish an interrupted or failed run
    bwkit check RUN_DIR                             is this run folder complete and unaltered?
    bwkit sweep --grid name=v1,v2 ... [--repeats N] many runs on Dask, then their comparison page
    bwkit tune --space name=log:1e-4:1e-2 ... [--trials N]   an Optuna search on the same Dask cluster
    bwkit compare RUN_DIR ... | --sweep ID          what differs between runs, and whether it matters
    bwkit reproduce RUN_DIR [--run-id ID]           re-run from run.json and report any drift
    bwkit table RUN_DIR                             a run's comparison table in Markdown
    bwkit predict RUN_DIR data.csv -o predictions.csv   every window of a CSV scored by the run's model
    bwkit serve RUN_DIR [--host H] [--port P] [--token T] [--reload]   the prediction service (HTTP)
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings

from bwkit.errors import BwkitError, ParameterError, RunError, RunInterrupted
from bwkit.runs import SET_BY_BWKIT, RunFolder, configure, pipeline_parameters, record_or_empty


def _run(args) -> int:
    from bwkit.experiments import Tracker
    from bwkit.pipeline import run

    index = run(run_id=args.run_id, parameters_file=args.parameters_file, sets=args.set, progress=True,
                on_finish=Tracker(args.tracking_uri))   # a run with tracking off: the tracker does nothing
    print(index)
    _print_headline(index.parent)
    return 0


def _print_headline(run_dir) -> None:
    """The run's verdict in words as the last line: against the best baseline first, the guide's rule second."""
    from bwkit.evaluation import headline

    report = RunFolder(run_dir).report
    if report.is_file():
        print(headline(json.loads(report.read_text()), default_epochs=pipeline_parameters()["epochs"].default).text)


def _resume(args) -> int:
    from bwkit.experiments import Tracker
    from bwkit.pipeline import resume

    print(resume(args.run_dir, progress=True, on_finish=Tracker(args.tracking_uri)))
    return 0


def _reproduce(args) -> int:
    from bwkit.pipeline import reproduce

    index, result = reproduce(args.run_dir, args.run_id)
    print(f"{result['verdict']}: {index}")
    for row in result["drift"][:20]:
        print(f"  {row['what']}: {row['original']} -> {row['reproduced']} (difference {row['difference']:.3g})")
    return 0 if result["verdict"] == "reproduced exactly" else 3


def _sweep(args) -> int:
    from bwkit.experiments import parse_grid, run_sweep

    base = configure(parameters_file=args.parameters_file, sets=args.set).without(*SET_BY_BWKIT).to_dict()
    record = run_sweep(base, parse_grid(args.grid), args.repeats, sweep_id=args.sweep_id, scheduler=args.scheduler,
                       workers=args.workers, tracking_uri=args.tracking_uri)
    failed = {rid: r["error"] for rid, r in record["results"].items() if r["status"] != "succeeded"}
    for rid, error in failed.items():
        print(f"failed: {rid}: {error}", file=sys.stderr)
    print(record.get("comparison", ""))
    return 1 if failed else 0


def _tune(args) -> int:
    from bwkit.experiments import parse_space, run_tune

    base = configure(parameters_file=args.parameters_file, sets=args.set).without(*SET_BY_BWKIT).to_dict()
    record = run_tune(base, parse_space(args.space), args.trials, study_id=args.study_id, seed=args.sampler_seed,
                      scheduler=args.scheduler, workers=args.workers, prune=not args.no_prune,
                      tracking_uri=args.tracking_uri)
    print(record["page"])
    if record.get("best_run_page"):
        print(record["best_run_page"])
    return 0 if record.get("best") else 1


def _compare(args) -> int:
    from bwkit.experiments import compare_report

    if bool(args.sweep) == bool(args.run_dirs):
        raise ParameterError("give either --sweep ID or run folders, not both")
    named = [d for d in args.run_dirs if "," in d]
    if named:   # the folders reach 05_compare as one comma-separated parameter
        raise ParameterError(f"{named[0]}: a run folder whose name holds a comma cannot be compared; rename it")
    print(compare_report(args.sweep or "", ",".join(args.run_dirs)))
    return 0


def _check(args) -> int:
    from bwkit.pipeline import print_checks

    return 1 if print_checks(args.run_dir) else 0


def _params(args) -> int:
    """Every parameter by the stage that declares it (a shared one under its first stage), in aligned columns."""
    from bwkit.runs import STAGES, notebook_parameters

    shown, rows = set(), []
    for stage in STAGES:
        declared = [p for name, p in notebook_parameters(stage).items() if name not in shown]
        shown |= {p.name for p in declared}
        rows += [(stage, p.name, p.type.__name__, repr(p.default), p.help) for p in declared]
    widths = [max(len(r[i]) for r in rows + [("", "parameter", "type", "default", "")]) for i in range(1, 4)]
    widths[2] = min(widths[2], 28)
    print(f"{'parameter':{widths[0]}}  {'type':{widths[1]}}  {'default':{widths[2]}}  meaning (set with --set name=value)")
    for stage in STAGES:
        print(f"\n{stage}:")
        for _, name, kind, default, meaning in (r for r in rows if r[0] == stage):
            default = default if len(default) <= widths[2] else default[:widths[2] - 1] + "…"
            print(f"{name:{widths[0]}}  {kind:{widths[1]}}  {default:{widths[2]}}  {meaning}")
    return 0


def _table(args) -> int:
    from bwkit.reports import markdown_table

    files = RunFolder(args.run_dir)
    if not files.root.is_dir():
        raise ParameterError(f"{files.root}: no such run folder")
    if not files.report.exists():
        raise RunError(f"{files.report} not found (did the run's 03_evaluate stage succeed?)")
    try:
        report = json.loads(files.report.read_text(encoding="utf-8"))
        table, summary = markdown_table(report), report["summary"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise RunError(f"{files.report}: not a readable report ({type(exc).__name__}: {exc})") from None
    print(table)
    print()
    print(summary)
    status = record_or_empty(files).get("status", "unreadable")
    if status != "succeeded":   # the report of a run that did not finish, or whose record is gone: said beside it
        print(f"bwkit: note: run {files.root.name} is {status!r} in its record (`bwkit check` says what is missing); "
              "this table is the report its 03_evaluate wrote", file=sys.stderr)
    return 0


def _predict(args) -> int:
    from bwkit.serving import Predictor
    from bwkit.serving import score_csv

    if args.threads < 1:
        raise ParameterError(f"--threads must be at least 1, got {args.threads}")
    predictor = Predictor.from_run(args.run_dir, args.version, threads=args.threads, allow_modified=args.allow_modified)
    result = score_csv(predictor, args.csv, args.output, force=args.force)
    print(f"{result['predictions']:,} prediction{'s' if result['predictions'] != 1 else ''} from {result['rows']:,} "
          f"rows: {result['output']}")
    return 0


def _serve(args) -> int:
    from bwkit.serving import serve

    serve(args.run_dir, host=args.host, port=args.port, token=args.token or os.environ.get("BWKIT_TOKEN"),
          max_links=args.max_links, snapshot_seconds=args.snapshot_seconds, max_body_bytes=args.max_body_bytes,
          reload_seconds=args.reload_seconds if args.reload else None, threads=args.threads, version=args.version)
    return 0


def _serve_parser(sub) -> None:
    serve_p = sub.add_parser("serve", help="the run's model as an HTTP service: post telemetry per link, get the "
                             "next row's prediction (no torch)")
    serve_p.add_argument("run_dir")
    serve_p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs --token)")
    serve_p.add_argument("--port", type=int, default=8000)
    serve_p.add_argument("--token", help="bearer token every request must send (default: $BWKIT_TOKEN)")
    serve_p.add_argument("--max-links", type=int, default=10_000, help="links held; the least recently used go first")
    serve_p.add_argument("--snapshot-seconds", type=float, default=30.0,
                         help="seconds between snapshots of the links to <run>/serving/ (also at shutdown)")
    serve_p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="larger bodies get 413 (default 1 MiB)")
    serve_p.add_argument("--reload", action="store_true",
                         help="swap to a newer succeeded run of the same input recipe beside RUN_DIR when one appears")
    serve_p.add_argument("--reload-seconds", type=float, default=10.0, help="how often --reload looks (default 10)")
    serve_p.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    serve_p.add_argument("--version", help="which export, when the run has several (model_metadata_<version>.json)")
    serve_p.set_defaults(func=_serve)


TRACKING_HELP = ("MLflow tracking server or store (default: $MLFLOW_TRACKING_URI, else sqlite:///<runs root>/mlflow.db); "
                 "--set tracking=off for none")


def _tune_parser(sub) -> None:
    tune_p = sub.add_parser("tune", help="an Optuna search (seeded TPE, pruning) run as tasks on Dask, then its page")
    tune_p.add_argument("--space", action="append", default=[], metavar="NAME=SPEC",
                        help="a searched parameter: name=log:low:high, name=float:low:high, name=int:low:high, name=a,b,c")
    tune_p.add_argument("--trials", type=int, default=20, help="finished trials (complete or pruned) the study reaches")
    tune_p.add_argument("--sampler-seed", type=int, default=0, help="the TPE sampler's seed (the runs' own: --set seed=)")
    tune_p.add_argument("--study-id", help="runs/studies/<id>/; re-running an id continues the study")
    tune_p.add_argument("--no-prune", action="store_true", help="let every trial train to its end")
    tune_p.add_argument("--scheduler", help="an existing Dask scheduler (default: a LocalCluster)")
    tune_p.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    tune_p.add_argument("-f", "--parameters-file", metavar="YAML", help="the trials' other parameters")
    tune_p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="the trials' other parameters")
    tune_p.add_argument("--tracking-uri", help=TRACKING_HELP)
    tune_p.set_defaults(func=_tune)


def _predict_parser(sub) -> None:
    predict_p = sub.add_parser("predict", help="score every window of a CSV with a run's exported model (no torch)")
    predict_p.add_argument("run_dir")
    predict_p.add_argument("csv", help="telemetry as the training CSV had it (any size: read in blocks)")
    predict_p.add_argument("-o", "--output", required=True, help="predictions CSV: timestamp, <target>_pred, actuals, "
                           "80 %% and 95 %% band edges")
    predict_p.add_argument("--version", help="which export, when the run has several (model_metadata_<version>.json)")
    predict_p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    predict_p.add_argument("--force", action="store_true", help="replace the output file if it exists")
    predict_p.add_argument("--allow-modified", action="store_true",
                           help="use a model file that differs from the run's sha256 manifest (with a warning)")
    predict_p.set_defaults(func=_predict)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bwkit", description=__doc__.splitlines()[0])
    top.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = top.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the four notebooks into runs/<run_id>/ and print its index.html")
    run_p.add_argument("--run-id", help="folder name under runs/ (default: UTC time); never overwritten")
    run_p.add_argument("-f", "--parameters-file", metavar="YAML",
                       help="parameters as 'name: value' lines; --set overrides them")
    run_p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a notebook parameter (repeatable); see `bwkit params`")
    run_p.add_argument("--tracking-uri", help=TRACKING_HELP)
    run_p.set_defaults(func=_run)
    resume_p = sub.add_parser("resume", help="finish an interrupted or failed run from its first unfinished stage")
    resume_p.add_argument("run_dir")
    resume_p.add_argument("--tracking-uri", help=TRACKING_HELP)
    resume_p.set_defaults(func=_resume)
    repro_p = sub.add_parser("reproduce", help="re-execute a run from its run.json and compare (exit 3 on drift)")
    repro_p.add_argument("run_dir")
    repro_p.add_argument("--run-id", help="folder name of the new run (default: <id>-reproduced)")
    repro_p.set_defaults(func=_reproduce)
    sweep_p = sub.add_parser("sweep", help="run every combination of a grid as tasks on Dask, then compare them")
    sweep_p.add_argument("--grid", action="append", default=[], metavar="NAME=V1,V2", help="a swept parameter")
    sweep_p.add_argument("--repeats", type=int, default=1, help="runs per combination, seed + 0, 1, ...")
    sweep_p.add_argument("--scheduler", help="an existing Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster)")
    sweep_p.add_argument("--workers", type=int, help="LocalCluster workers (default: one per core)")
    sweep_p.add_argument("--sweep-id", help="runs/sweeps/<id>/; re-running an id finishes what is missing")
    sweep_p.add_argument("-f", "--parameters-file", metavar="YAML", help="the runs' other parameters")
    sweep_p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="the runs' other parameters")
    sweep_p.add_argument("--tracking-uri", help=TRACKING_HELP)
    sweep_p.set_defaults(func=_sweep)
    _tune_parser(sub)
    compare_p = sub.add_parser("compare", help="compare run folders (or a sweep) in notebooks/05_compare.ipynb")
    compare_p.add_argument("run_dirs", nargs="*")
    compare_p.add_argument("--sweep", help="a sweep id under runs/sweeps/")
    compare_p.set_defaults(func=_compare)
    check_p = sub.add_parser("check", help="verify a run folder: files, sha256 manifest, report, ONNX, offline HTML")
    check_p.add_argument("run_dir")
    check_p.set_defaults(func=_check)
    sub.add_parser("params", help="list every parameter with its default").set_defaults(func=_params)
    table_p = sub.add_parser("table", help="print a run's comparison table (Markdown) and summary")
    table_p.add_argument("run_dir")
    table_p.set_defaults(func=_table)
    _predict_parser(sub)
    _serve_parser(sub)
    return top


def main(argv=None) -> int:
    """Exit codes: 0 done, 1 the run (or the file asked for) failed, 2 a bad parameter (nothing ran),
    3 a reproduction drifted, 130 interrupted (SIGINT or SIGTERM; `bwkit resume` finishes the run), 141 the reader of
    its output went away (`bwkit check | head -1`: quietly, as a Unix tool the pipe's SIGPIPE ends)."""
    args = parser().parse_args(argv)
    with warnings.catch_warnings():
        if not args.debug:   # a warning is one line, as an error is (Python's adds the line of code under it)
            warnings.showwarning = lambda message, *rest, **kw: print(f"bwkit: warning: {message}", file=sys.stderr)
        return _main(args)


def _main(args) -> int:
    try:
        return args.func(args)
    except BrokenPipeError as exc:
        if not _stdout_gone():   # another pipe (a child's, a socket's): an error like any other
            return _failed(args, exc)
        _quiet_stdout()
        return 141
    except KeyboardInterrupt:
        if args.debug:
            raise
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"bwkit: {args.command} interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        return _failed(args, exc)


def _failed(args, exc: Exception) -> int:
    if args.debug:
        raise exc
    _log_traceback(args, exc)
    return _report(args, exc)


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader went away (poll says its write end is in error); a stdout without a file
    descriptor (captured in process) is not. Without poll (Windows), a broken pipe is taken to be stdout's."""
    import select

    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError, AttributeError):
        return False
    if not hasattr(select, "poll"):
        return True
    watch = select.poll()
    watch.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in watch.poll(0))


def _quiet_stdout() -> None:
    """What is left in stdout's buffer goes nowhere: Python's flush at exit would otherwise fail on the closed pipe
    too, and say so (the recipe of Python's `signal` documentation)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # a stdout with no file descriptor (captured in process)
        pass


def _log_traceback(args, exc: Exception) -> None:
    """The traceback the terminal does not show, appended to the run folder's error log when the command names
    one (a dotfile: never part of the folder's manifest). Nothing is written when there is no such folder."""
    import datetime as dt
    import traceback

    folder = RunFolder(getattr(args, "run_dir", None) or ".")
    if getattr(args, "run_dir", None) is None or not folder.run_json.is_file():
        return
    try:
        with open(folder.error_log, "a", encoding="utf-8") as log:
            log.write(f"--- {dt.datetime.now(dt.timezone.utc).isoformat()} bwkit {args.command}\n"
                      + "".join(traceback.format_exception(exc)))
    except OSError:
        pass   # a full or read-only disk: the one line on the terminal still says what happened


def _report(args, exc: Exception) -> int:
    """One line on stderr and the kit's exit code, for every error: its own, or one from outside the kit."""
    try:
        raise exc
    except RunInterrupted as exc:
        # the notebook client's cancelled cell task is garbage-collected at exit, and asyncio would log its
        # "Kernel died" traceback under our one line: the run's record already says what happened
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        print(f"bwkit: {exc}", file=sys.stderr)
        return 130
    except ParameterError as exc:
        print(f"bwkit: {exc}", file=sys.stderr)
        return 2
    except BwkitError as exc:
        print(f"bwkit: {'run failed: ' if args.command in {'run', 'resume', 'reproduce', 'sweep', 'tune'} else ''}{exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - the boundary: whatever it is, one line and an exit code
        print(f"bwkit: {outside_error(exc)} (bwkit --debug {args.command} ... shows the traceback)", file=sys.stderr)
        return 1


def outside_error(exc: Exception) -> str:
    """An error from outside the kit in words: the file and what the system said, a JSON file's line."""
    import errno

    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"no space left on the device of {exc.filename or 'the output'}"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
    if isinstance(exc, (TimeoutError, OSError)) and "connect" in str(exc).lower():
        return f"cannot connect: {exc}"
    if getattr(exc, "ename", None):   # a notebook's cell failed (papermill): its error, not papermill's ruler line
        return f"{exc.ename}: {str(exc.evalue).strip()[:300]}"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}"


if __name__ == "__main__":
    sys.exit(main())
