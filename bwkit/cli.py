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
"""
from __future__ import annotations

import argparse
import json
import logging
import sys

from bwkit.errors import BwkitError, ParameterError, RunError, RunInterrupted
from bwkit.runs import RunFolder, configure, pipeline_parameters


def _run(args) -> int:
    from bwkit.experiments import Tracker
    from bwkit.pipeline import run

    config = configure(parameters_file=args.parameters_file, sets=args.set)
    tracker = Tracker(args.tracking_uri) if config.get("tracking") is not False else None
    print(run(config, run_id=args.run_id, progress=True, on_finish=tracker))
    return 0


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

    base = configure(parameters_file=args.parameters_file, sets=args.set)
    base = {k: v for k, v in base.items() if k not in {"run_dir", "output"}}
    record = run_sweep(base, parse_grid(args.grid), args.repeats, args.sweep_id, args.scheduler, args.workers,
                       tracking_uri=args.tracking_uri)
    failed = {rid: r["error"] for rid, r in record["results"].items() if r["status"] != "succeeded"}
    for rid, error in failed.items():
        print(f"failed: {rid}: {error}", file=sys.stderr)
    print(record.get("comparison", ""))
    return 1 if failed else 0


def _tune(args) -> int:
    from bwkit.experiments import parse_space, run_tune

    base = configure(parameters_file=args.parameters_file, sets=args.set)
    base = {k: v for k, v in base.items() if k not in {"run_dir", "output"}}
    record = run_tune(base, parse_space(args.space), args.trials, study_id=args.study_id, seed=args.sampler_seed,
                      scheduler=args.scheduler, workers=args.workers, prune=not args.no_prune,
                      tracking_uri=args.tracking_uri)
    print(record["page"])
    if record.get("best_run_page"):
        print(record["best_run_page"])
    return 0 if record.get("best") else 1


def _compare(args) -> int:
    from bwkit.experiments import compare_report

    print(compare_report(args.sweep or "", ",".join(args.run_dirs)))
    return 0


def _check(args) -> int:
    from bwkit.pipeline import print_checks

    return 1 if print_checks(args.run_dir) else 0


def _params(args) -> int:
    for name, p in pipeline_parameters().items():
        print(f"{name:16s} {p.type.__name__:6s} {p.default!r:32}  {p.help}")
    return 0


def _table(args) -> int:
    from bwkit.reports import markdown_table

    path = RunFolder(args.run_dir).report
    if not path.exists():
        raise RunError(f"{path} not found (did the run's 03_evaluate stage succeed?)")
    report = json.loads(path.read_text())
    print(markdown_table(report))
    print()
    print(report["summary"])
    return 0


def _predict(args) -> int:
    from bwkit.serving import Predictor
    from bwkit.serving import score_csv

    predictor = Predictor.from_run(args.run_dir, args.version, threads=args.threads)
    result = score_csv(predictor, args.csv, args.output)
    print(f"{result['predictions']:,} predictions from {result['rows']:,} rows: {result['output']}")
    return 0


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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="bwkit", description=__doc__.splitlines()[0])
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
    predict_p = sub.add_parser("predict", help="score every window of a CSV with a run's exported model (no torch)")
    predict_p.add_argument("run_dir")
    predict_p.add_argument("csv", help="telemetry as the training CSV had it (any size: read in blocks)")
    predict_p.add_argument("-o", "--output", required=True, help="predictions CSV: timestamp, <target>_pred, actuals, "
                           "80 %% and 95 %% band edges")
    predict_p.add_argument("--version", help="which export, when the run has several (model_metadata_<version>.json)")
    predict_p.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    predict_p.set_defaults(func=_predict)
    return top


def main(argv=None) -> int:
    """Exit codes: 0 done, 1 the run (or the file asked for) failed, 2 a bad parameter (nothing ran),
    3 a reproduction drifted, 130 interrupted (SIGINT or SIGTERM; `bwkit resume` finishes the run)."""
    args = parser().parse_args(argv)
    try:
        return args.func(args)
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


if __name__ == "__main__":
    sys.exit(main())
