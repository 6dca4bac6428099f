"""bwkit command line: a thin layer that converts strings and calls the Python API.

    bwkit run [--run-id ID] [-f params.yml] [--set key=value ...]   the whole pipeline into runs/<id>/
    bwkit params                                    every parameter, its default and meaning
    bwkit table RUN_DIR                             a run's comparison table in Markdown
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import params as P


def _run(args) -> int:
    from .pipeline import RunError, run

    try:
        known = P.pipeline_parameters()   # run() refuses the names it manages itself, with the reason
        overrides = {**read_parameters_file(args.parameters_file), **P.parse_overrides(args.set, known)}
        index = run(overrides, run_id=args.run_id, progress=True)
    except P.ParameterError as exc:
        print(f"bwkit: {exc}", file=sys.stderr)
        return 2
    except RunError as exc:
        print(f"bwkit: run failed: {exc}", file=sys.stderr)
        return 1
    print(index)
    return 0


def _from_yaml(param, value):
    """YAML's own types to the parameter's: lists joined by commas, dates as ISO text, `1e-3` as a number."""
    import datetime as dt

    if param is None:
        return value  # unknown: refused, with the name, when the run resolves its parameters
    if param.type is str and isinstance(value, list):
        return ",".join(str(v) for v in value)
    if param.type is str and isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat().replace("+00:00", "Z")
    if param.type is not str and isinstance(value, str):
        return P.coerce(param, value)
    return value


def read_parameters_file(path) -> dict:
    """YAML `name: value` pairs (like papermill -f); a relative data_path is relative to the file."""
    if not path:
        return {}
    import yaml

    known = P.pipeline_parameters()
    try:
        values = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise P.ParameterError(f"parameters file {path}: {exc}") from None
    if not isinstance(values, dict):
        raise P.ParameterError(f"parameters file {path}: expected 'name: value' lines")
    values = {name: _from_yaml(known.get(name), value) for name, value in values.items()}
    if values.get("data_path") and not Path(values["data_path"]).expanduser().is_absolute():
        values["data_path"] = str((Path(path).resolve().parent / values["data_path"]).resolve())
    return values


def _params(args) -> int:
    for name, p in P.pipeline_parameters().items():
        print(f"{name:16s} {p.type.__name__:6s} {p.default!r:32}  {p.help}")
    return 0


def _table(args) -> int:
    import json

    from .report import markdown_table
    from .stages import REPORT

    path = Path(args.run_dir) / REPORT
    if not path.exists():
        print(f"bwkit: {path} not found (did the run's 03_evaluate stage succeed?)", file=sys.stderr)
        return 1
    report = json.loads(path.read_text())
    print(markdown_table(report))
    print()
    print(report["summary"])
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="bwkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run the four notebooks into runs/<run_id>/ and print its index.html")
    run_p.add_argument("--run-id", help="folder name under runs/ (default: UTC time); never overwritten")
    run_p.add_argument("-f", "--parameters-file", metavar="YAML",
                       help="parameters as 'name: value' lines; --set overrides them")
    run_p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a notebook parameter (repeatable); see `bwkit params`")
    run_p.set_defaults(func=_run)
    sub.add_parser("params", help="list every parameter with its default").set_defaults(func=_params)
    table_p = sub.add_parser("table", help="print a run's comparison table (Markdown) and summary")
    table_p.add_argument("run_dir")
    table_p.set_defaults(func=_table)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
