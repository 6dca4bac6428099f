"""Compare runs (a sweep's, or any run folders): what differs, how each scored, whether the best is best.

Every number comes from the runs' own report JSONs; nothing is retrained or rescored.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.evaluation import MODEL
from bwkit.errors import ParameterError, RunError
from bwkit.runs import SET_BY_BWKIT, RunFolder, SweepFolder, comparison_folder, notebook_path, read_record, runs_root

AVERAGES = ("correlation", "mape", "rmse", "r2")
# where, not what; and how the data was made, which its sha256 (the "data" column) says for every run alike (a
# sweep generates its data once and hands each run the file, so its runs record no samples, profile or start)
IGNORED = {"data_path", "samples", "profile", "start", *SET_BY_BWKIT}


def load(folders) -> list[dict]:
    """Each run folder's record and report (a run without a report is listed with its status and error)."""
    runs = []
    for folder in folders:
        files = RunFolder(Path(folder))
        record = read_record(files)
        try:
            report = json.loads(files.report.read_text()) if files.report.is_file() else None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunError(f"{files.report}: not a readable report ({exc})") from None
        data = (record.get("data") or {}).get("sha256")
        runs.append({"run": record["run_id"], "folder": files.root, "status": record["status"],
                     "error": record.get("error"), "report": report,
                     "parameters": {**record.get("parameters", {}), "data": data[:12] if data else None}})
    return runs


def differing(runs: list[dict]) -> list[str]:
    """Parameters whose values are not the same in every run."""
    names = sorted({k for r in runs for k in r["parameters"]} - IGNORED)
    return [n for n in names if len({json.dumps(r["parameters"].get(n)) for r in runs}) > 1]


def table(runs: list[dict]) -> pd.DataFrame:
    """One row per run: the differing parameters, best validation loss, test averages; best first."""
    swept = differing(runs)
    rows = []
    for r in runs:
        avg = r["report"]["comparison"][MODEL]["average"] if r["report"] else {}
        rows.append({"run": r["run"], "status": r["status"], "error": (r["error"] or "")[:200],
                     "val_loss": r["report"]["best_val_loss"] if r["report"] else np.nan,
                     **{f"test {m}": avg.get(m, np.nan) for m in AVERAGES}})
    frame = pd.DataFrame(rows)
    for i, name in enumerate(swept):   # as recorded: an integer missing from one run stays an integer in the others
        frame.insert(3 + i, name, pd.Series([r["parameters"].get(name) for r in runs], dtype=object))
    return frame.sort_values("val_loss", na_position="last").reset_index(drop=True)


def run_pages(runs: list[dict], page_folder) -> dict[str, str]:
    """Each run's page, as a link from a page in `page_folder`."""
    from bwkit.reports import relative_link

    return {r["run"]: relative_link(RunFolder(r["folder"]).index, Path(page_folder)) for r in runs}


def per_target(runs: list[dict]) -> pd.DataFrame:
    rows = [{"run": r["run"], "target": t, **{m: v.get(m) for m in AVERAGES}}
            for r in runs if r["report"] for t, v in r["report"]["comparison"][MODEL]["per_target"].items()]
    return pd.DataFrame(rows)


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, standard deviation and the half-width of a 95 % t interval (NaN, "n/a" on the page, with one value:
    a single run has no spread)."""
    from scipy import stats

    n = len(values)
    if n < 2:
        return float(values.mean()), float("nan"), float("nan")
    sd = float(values.std(ddof=1))
    return float(values.mean()), sd, float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n))


def _configuration_keys(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if c not in {"run", "status", "error", "val_loss", "seed"}
            and not c.startswith("test ")]


def configurations(frame: pd.DataFrame) -> pd.DataFrame:
    """With repeats: one row per configuration (every differing parameter but seed), mean ± sd and 95 % CI."""
    keys = _configuration_keys(frame)
    done = frame.dropna(subset=["val_loss"])
    if done.empty:
        return pd.DataFrame(columns=[*keys, "runs", "val_loss mean", "val_loss sd"])   # no run finished
    rows = []
    for values, group in (done.groupby(keys, dropna=False) if keys else [((), done)]):
        values = values if isinstance(values, tuple) else (values,)
        mean, sd, half = _interval(group["val_loss"].to_numpy())
        corr = _interval(group["test correlation"].to_numpy())
        rows.append({**dict(zip(keys, values)), "runs": len(group), "val_loss mean": mean, "val_loss sd": sd,
                     "val_loss 95% CI": f"[{mean - half:.4g}, {mean + half:.4g}]" if half == half else "n/a",
                     "test correlation mean": corr[0], "test correlation sd": corr[1]})
    return pd.DataFrame(rows).sort_values("val_loss mean").reset_index(drop=True)


def verdict(frame: pd.DataFrame) -> str:
    """A plain sentence: is the best configuration distinguishable from the runner-up (Welch's t-test)?"""
    from scipy import stats

    keys = _configuration_keys(frame)
    done = frame.dropna(subset=["val_loss"])
    if done.empty:
        return "No run finished: nothing to compare (each run's error is in the table)."
    if not keys:
        return "Only one configuration: nothing to compare."
    if "targets" in keys or "data" in keys:   # a loss over other targets or other rows measures something else
        return ("These runs predict other targets or read other data (the targets or data column): their validation "
                "losses are not comparable, so no configuration is called the best.")
    groups = sorted(((g["val_loss"].mean(), v, g["val_loss"].to_numpy())
                     for v, g in done.groupby(keys, dropna=False)), key=lambda item: item[0])
    best = ", ".join(f"{k}={v}" for k, v in zip(keys, groups[0][1] if isinstance(groups[0][1], tuple)
                                                   else (groups[0][1],)))
    if len(groups) < 2:
        return f"The best configuration is {best}; no runner-up finished."
    a, b = groups[0][2], groups[1][2]
    if min(len(a), len(b)) < 2:
        return (f"The best configuration by validation loss is {best} (one run each: repeat the sweep with "
                "--repeats 3 or more to tell whether it is better than the runner-up or only luckier).")
    p = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    word = "distinguishable from" if p < 0.05 else "not distinguishable from"
    return (f"The best configuration by validation loss is {best}; over {len(a)} and {len(b)} repeats it is {word} "
            f"the runner-up (Welch's t-test on validation loss, p = {p:.3g}).")


def run_folders(runs: str) -> list[Path]:
    """Comma-separated run folders, each as the user named it from where they stand, made absolute; one named twice
    is refused (it would count as two repeats of its configuration)."""
    folders = [Path(r.strip()).expanduser().resolve() for r in runs.split(",") if r.strip()]
    twice = sorted({str(f) for f in folders if folders.count(f) > 1})
    if twice:
        raise ParameterError(f"{twice[0]} is named twice: each run folder once")
    return folders


def comparison_inputs(sweep_id: str, runs: str, out_dir: str) -> tuple[list[dict], Path]:
    """05_compare's inputs: the runs to compare, read (`load`), and where its plots go (created)."""
    if bool(sweep_id) == bool(runs.strip()):
        raise ParameterError("give either sweep_id (a sweep under runs/sweeps/) or runs (comma-separated run folders)")
    if sweep_id:
        sweep = SweepFolder(runs_root(), sweep_id)
        if not sweep.record.is_file():
            raise ParameterError(f"no sweep {sweep_id!r}: {sweep.record} does not exist")
        found = [sweep.run(rid).root for rid in json.loads(sweep.record.read_text())["runs"]]
        found, folder = [f for f in found if RunFolder(f).run_json.is_file()], sweep.root
    else:
        found, folder = run_folders(runs), None
    out = Path(out_dir).expanduser().resolve() if out_dir else folder or comparison_folder(runs_root(), "scratch")
    try:
        read = load(found)   # a folder that is no run, or a record or report that does not read: refused before anything
    except RunError as exc:
        raise ParameterError(f"{exc}: it cannot be compared") from None
    out.mkdir(parents=True, exist_ok=True)
    return read, out


def compare_report(sweep_id: str = "", runs: str = "", out_dir: str = "", *, progress: bool = False) -> Path:
    """Execute notebooks/05_compare.ipynb into the sweep's folder (or `out_dir`) and render its HTML."""
    from bwkit.runs import notebook_path
    from bwkit.pipeline import execute
    from bwkit.reports import write_runs_index
    from bwkit.reports import notebook_to_html

    if not out_dir and not sweep_id:
        out_dir = str(comparison_folder(runs_root(), dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")))
    # the kernel runs from the repository root: relative folders are the user's, from where the command was given
    runs = ",".join(map(str, run_folders(runs)))
    _, out = comparison_inputs(sweep_id, runs, out_dir)   # refuses what does not read before a kernel starts
    notebook = out / "05_compare.ipynb"
    try:
        execute(notebook_path("05_compare"), notebook, {"sweep_id": sweep_id, "runs": runs, "out_dir": str(out)},
                progress=progress)
    finally:
        if notebook.exists():
            notebook_to_html(notebook)
    write_runs_index(runs_root())
    return notebook.with_suffix(".html")
