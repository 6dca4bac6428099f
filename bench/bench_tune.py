"""Tracking and search benchmarks (not tests): `.venv/bin/python bench/bench_tune.py [--only tracking|search|tune]`.

1. Tracking's cost: a default `bwkit run` with `tracking=off`, then with tracking on into a new
   embedded store (its tables created while the run executes), then again into that store. Printed:
   each run's wall time and the seconds the tracker took after the run had ended.
2. Search against grid, on the default data (15,000 rows), both on a 2-worker LocalCluster:
   the 3x3 grid learning_rate 1e-4, 1e-3, 1e-2 x hidden_size 16, 32, 64 (window_size at its default, 20),
   then a 12-trial `bwkit tune` over learning_rate log:1e-4:1e-2, hidden_size int:16:64 and
   window_size 10,20,40 (TPE sampler seed 0, median pruning). Printed: the best validation loss of
   each, and the epochs each trained in all (every epoch counted: selection candidates, the kept
   model and the window-only twin), and each trial's state, value and epochs. `--only tune` runs the
   search alone against the grid's figures an earlier `--only search` wrote.
3. `--track RUN_DIR ...`: what tracking adds after finished run folders end, without running them
   again: the tracker's warm-up (MLflow's imports, the store's tables), which a real run overlaps
   with its notebooks, then the seconds its call takes once the run has ended, into a new store and
   into that store again.
Everything lands in a temporary folder; the results also go to results/tune.json beside this script.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

GRID = ["learning_rate=1e-4,1e-3,1e-2", "hidden_size=16,32,64"]
SPACE = ["learning_rate=log:1e-4:1e-2", "hidden_size=int:16:64", "window_size=10,20,40"]
TRIALS = 12


def tracking(root: Path) -> dict:
    from bwkit.experiments import Tracker
    from bwkit.pipeline import run

    found = {}
    for name, tracking_on in (("off", False), ("on, new store", True), ("on, existing store", True)):
        tracker = Tracker(runs_root=root) if tracking_on else None
        start = time.perf_counter()
        run({"tracking": tracking_on}, run_id=f"track-{len(found)}", runs_root=root, log=lambda *_: None,
            on_finish=tracker)
        found[name] = {"wall_seconds": round(time.perf_counter() - start, 2),
                       "tracker_seconds_after_run": round(tracker.seconds, 2) if tracker else 0.0,
                       "mlflow_run": tracker.mlflow_run if tracker else None}
        print(f"tracking {name}: run {found[name]['wall_seconds']:.1f} s, of which after the run ended "
              f"{found[name]['tracker_seconds_after_run']:.2f} s", flush=True)
    return found


def track_existing(run_dirs: list[str], root: Path) -> dict:
    from bwkit.experiments import Tracker
    from bwkit.runs import RunRecord, RunFolder

    found = {}
    for n, run_dir in enumerate(run_dirs):
        for store in ("new store", "existing store"):
            start = time.perf_counter()
            tracker = Tracker(runs_root=root)
            tracker._warming.join()   # a run of more than these seconds pays none of them after it ends
            warm = time.perf_counter() - start
            record = RunRecord.load(RunFolder(run_dir))
            record.data["parameters"]["tracking"] = True   # in memory only: these runs may have had it off
            tracker(record)
            found[f"{Path(run_dir).name}, {store}"] = {"warm_up_seconds": round(warm, 2),
                                                        "seconds_after_run": round(tracker.seconds, 2)}
            print(f"{Path(run_dir).name} ({store}): warm-up {warm:.2f} s (during the run), "
                  f"{tracker.seconds:.2f} s after it ended", flush=True)
        root = root.with_name(f"{root.name}-{n + 1}")
    return found


def search(root: Path, *, grid: dict | None = None) -> dict:
    """The grid (unless its measured figures are given), then the search."""
    from bwkit.experiments import parse_space, run_tune
    from bwkit.runs import configure

    base = {k: v for k, v in configure({"tracking": False}).items() if k not in {"run_dir", "output"}}
    grid = grid or grid_search(base, root)
    start = time.perf_counter()
    study = run_tune(base, parse_space(SPACE), TRIALS, study_id="tune", seed=0, workers=2, runs_root=root,
                     log=lambda *_: None)
    for row in study["rows"]:
        print(f"  {row['run_id']}: {row['state']:8s} value {row['value']} after {row['epochs_trained']} epochs, "
              f"{row['params']}", flush=True)
    tune = {"trials": len(study["rows"]), "best_val_loss": study["best"]["value"], "best": study["best"]["params"],
            "epochs_trained": study["epochs_trained"], "seconds": round(time.perf_counter() - start, 1),
            "pruned": sum(r["state"] == "PRUNED" for r in study["rows"])}
    tune["epochs_share_of_grid"] = round(tune["epochs_trained"] / grid["epochs_trained"], 3)
    print(f"tune: best val_loss {tune['best_val_loss']:.5f} ({tune['best']}), {tune['epochs_trained']} epochs "
          f"({tune['epochs_share_of_grid']:.0%} of the grid's), {tune['pruned']} of {tune['trials']} pruned, "
          f"{tune['seconds']:.0f} s; {'at least as low as' if tune['best_val_loss'] <= grid['best_val_loss'] else 'above'}"
          f" the grid's best {grid['best_val_loss']:.5f}", flush=True)
    return {"grid": grid, "tune": tune}


def grid_search(base: dict, root: Path) -> dict:
    from bwkit.experiments import parse_grid, run_sweep
    from bwkit.runs import RunFolder, read_record
    from bwkit.training import epochs_trained

    start = time.perf_counter()
    sweep = run_sweep(base, parse_grid(GRID), sweep_id="grid", workers=2, runs_root=root, log=lambda *_: None,
                      progress=False)
    grid_seconds = time.perf_counter() - start
    folder = root / "sweeps" / "grid"
    losses = {rid: json.loads((folder / rid / "bandwidth_predictor_report.json").read_text())["best_val_loss"]
              for rid, r in sweep["results"].items() if r["status"] == "succeeded"}
    names = [pair.split("=")[0] for pair in GRID]
    points = {rid: {"params": {n: read_record(RunFolder(folder / rid))["parameters"][n] for n in names},
                    "val_loss": losses.get(rid), "epochs_trained": epochs_trained(folder / rid)} for rid in sweep["runs"]}
    for rid, point in points.items():
        print(f"  {rid}: value {point['val_loss']} after {point['epochs_trained']} epochs, {point['params']}", flush=True)
    grid = {"runs": len(sweep["runs"]), "best_val_loss": min(losses.values()), "seconds": round(grid_seconds, 1),
            "epochs_trained": sum(p["epochs_trained"] for p in points.values()), "points": points}
    print(f"grid: best val_loss {grid['best_val_loss']:.5f}, {grid['epochs_trained']} epochs, "
          f"{grid['seconds']:.0f} s", flush=True)
    return {**grid, "grid": GRID}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("tracking", "search", "tune"),
                        help="tune: the search only, against the grid's figures from an earlier run in results/tune.json")
    parser.add_argument("--track", nargs="+", metavar="RUN_DIR", help="only measure tracking these finished runs")
    args = parser.parse_args()
    results = {}
    out = Path(__file__).with_name("results") / "tune.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    with tempfile.TemporaryDirectory(prefix="bwkit-bench-tune-") as tmp:
        if args.track:
            results["track_existing"] = track_existing(args.track, Path(tmp) / "store")
            args.only = "none"
        os.environ["BWKIT_RUNS"] = str(Path(tmp) / "search")   # the workers' runs root: they share our disk
        if args.only in (None, "tracking"):
            results["tracking"] = tracking(Path(tmp) / "tracking")
        if args.only in (None, "search"):
            results["search"] = search(Path(tmp) / "search")
        if args.only == "tune":
            grid = previous.get("search", {}).get("grid", {})
            if grid.get("grid") != GRID:
                raise SystemExit("--only tune needs the grid's figures for this grid: run --only search first")
            results["search"] = search(Path(tmp) / "search", grid=grid)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({**previous, **results}, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
