"""Accuracy over data sets (not a test): `make bench-accuracy` (about 6 minutes on 2 cores).

Runs the kit with its defaults (no preset) on the default dwcp data and on the legacy
profile drawn with seeds 1-5, the irish5g preset on the real 5G traces, and many short real
traces with two features (bench/short_traces.py, throughput only); prints one
table (average r, skill per target, gap to the oracle, interval coverage, training time,
the model against the best baseline with its 95 % interval), a second one with the
gradient-boosted trees (`gbm`) beside the LSTM (skill per target and average, the LSTM
against the trees with the 95 % interval, the trees' training seconds), and checks each
against the numbers the kit promises. Runs are kept in runs/bench-accuracy/ for their pages.

    python bench/bench_accuracy.py --set learning_rate=0.001   # the same, every run with these settings
                                                               # (runs in runs/bench-accuracy-learning_rate=0.001/)
The first table's "val loss" is the kept model's best validation loss: the figure a default is chosen on.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import short_traces
from bwkit.evaluation.significance import verdict

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "runs" / "bench-accuracy"
DATASETS = [("dwcp", [])] + [(f"legacy seed {s}", ["--set", "profile=legacy", "--set", f"seed={s}"])
                             for s in range(1, 6)] + [("irish5g", ["-f", str(ROOT / "presets" / "irish5g.yml")]),
                                                      ("short traces", short_traces.SETTINGS)]


def run(name: str, args: list[str], *, runs: Path) -> dict:
    run_id = name.replace(" ", "-")
    shutil.rmtree(runs / run_id, ignore_errors=True)
    if name == "short traces":   # derived from the shipped traces (bench/short_traces.py), beside the runs
        args = [*args, "--set", f"data_path={short_traces.write(runs / 'short_traces.csv')}"]
    subprocess.run([sys.executable, "-m", "bwkit.cli", "run", "--run-id", run_id, *args], check=True,
                   capture_output=True, env={**os.environ, "BWKIT_RUNS": str(runs)})
    return json.loads((runs / run_id / "bandwidth_predictor_report.json").read_text())


def coverage(report: dict, level: float, target: str | None = None, bands: str = "test") -> float:
    """Test coverage in %, of the bands calibrated on validation ("test") or learning online ("adaptive_test")."""
    scored = [s for s in report["intervals"]["methods"]["LSTM"][bands] if s["level"] == level
              and (target is None or s["target"] == target)]
    return 100 * sum(s["coverage"] for s in scored) / len(scored)


def row(name: str, report: dict) -> tuple[str, list[str]]:
    comparison, tests = report["comparison"], report["significance"]
    lstm = comparison["LSTM"]
    oracle = comparison.get("oracle", {}).get("average", {}).get("correlation")
    gap = oracle - lstm["average"]["correlation"] if oracle is not None else None
    baselines = [m for m in ("gbm", "ridge", "seasonal", "persistence") if m in comparison]
    best = max(baselines, key=lambda m: comparison[m]["average"]["skill"] or float("-inf"))
    t = tests[best]["average"]
    word = verdict(t["rel_low"], t["rel_high"])
    skills = "/".join(f"{lstm['per_target'][k]['skill']:.3f}" for k in lstm["per_target"])
    chosen = next(c for c in report["selection"]["candidates"] if c["chosen"]) if report.get("selection") else None
    setting = (("residual" if chosen["residual"] else "level") + (" + calendar" if chosen["known_future"] else "")
               + (" + linear" if chosen.get("linear_path") else "")
               if chosen else "preset")
    cells = [name, f"{report['best_val_loss']:.5f}", f"{lstm['average']['correlation']:.4f}", skills, f"{gap:.4f}" if gap is not None else "—",
             f"{coverage(report, 0.8):.1f} / {coverage(report, 0.95):.1f}",
             f"{coverage(report, 0.8, 'throughput_mbps'):.1f} / {coverage(report, 0.95, 'throughput_mbps'):.1f}",
             f"{coverage(report, 0.8, 'throughput_mbps', 'adaptive_test'):.1f} / "
             f"{coverage(report, 0.95, 'throughput_mbps', 'adaptive_test'):.1f}",
             f"{report['training_time_seconds']:.1f} s", setting,
             f"{word} {best} ({100 * t['rel_mse_diff']:+.1f} % [{100 * t['rel_low']:+.1f}, {100 * t['rel_high']:+.1f}])"]
    return word, cells


def trees_row(name: str, report: dict) -> list[str]:
    """The LSTM and the trees side by side: skill per target (average), the LSTM against the trees, training time."""
    comparison, t = report["comparison"], report["significance"]["gbm"]["average"]
    skills = lambda m: " / ".join(f"{v['skill']:.3f}" for v in comparison[m]["per_target"].values()) \
        + f" ({comparison[m]['average']['skill']:.3f})"   # noqa: E731
    return [name, skills("LSTM"), skills("gbm"),
            f"{verdict(t['rel_low'], t['rel_high'])} gbm ({100 * t['rel_mse_diff']:+.1f} % [{100 * t['rel_low']:+.1f}, "
            f"{100 * t['rel_high']:+.1f}])", f"{report['method_details']['gbm']['training_seconds']:.1f} s"]


def checks(name: str, report: dict, word: str) -> list[str]:
    """The kit's promises for this data set, each 'ok' or 'MISSED'."""
    lstm, comparison, tests = report["comparison"]["LSTM"], report["comparison"], report["significance"]
    trees = comparison["gbm"]
    behind = [m for m, t in tests.items() if m != "oracle" and verdict(t["average"]["rel_low"],
                                                                        t["average"]["rel_high"]) == "worse than"]
    out = []
    if name.startswith("legacy"):
        gap = comparison["oracle"]["average"]["correlation"] - lstm["average"]["correlation"]
        out += [("average r within 0.004 of the oracle", gap <= 0.004),
                (f"not behind the trees or any baseline beyond the 95 % interval (behind: {', '.join(behind) or 'none'})",
                 not behind)]
    if name == "dwcp":
        out += [("meets the guide's rule", report["success"]),
                ("skill > 0 on every target", all(v["skill"] > 0 for v in lstm["per_target"].values())),
                ("average r >= 0.9930", lstm["average"]["correlation"] >= 0.9930),
                ("LSTM skill >= the trees' on every target",
                 all(lstm["per_target"][k]["skill"] >= v["skill"] for k, v in trees["per_target"].items()))]
    if name == "irish5g":
        thr = lambda m: comparison[m]["per_target"]["throughput_mbps"]["rmse"]   # noqa: E731
        out += [(f"throughput RMSE {100 * (1 - thr('LSTM') / thr('persistence')):.1f} % below persistence (>= 30 %)",
                 thr("LSTM") <= 0.70 * thr("persistence")),
                (f"LSTM average skill {lstm['average']['skill']:.3f} >= 0.50", lstm["average"]["skill"] >= 0.50),
                (f"LSTM average skill >= the trees' ({trees['average']['skill']:.3f})",
                 lstm["average"]["skill"] >= trees["average"]["skill"]),
                (f"the trees train in {report['method_details']['gbm']['training_seconds']:.1f} s (< 30 s)",
                 report["method_details"]["gbm"]["training_seconds"] < 30)]
    if name == "short traces":
        ahead = [m for m in ("ridge", "gbm") if comparison[m]["average"]["skill"] > lstm["average"]["skill"]]
        out += [(f"LSTM skill {lstm['average']['skill']:.3f} >= ridge's ({comparison['ridge']['average']['skill']:.3f}) "
                 f"and the trees' ({trees['average']['skill']:.3f})", not ahead)]
    if name in ("dwcp", "irish5g"):
        for level in (0.8, 0.95):
            for bands, what in (("test", "calibrated on validation"), ("adaptive_test", "adaptive")):
                c = coverage(report, level, "throughput_mbps", bands)
                out.append((f"throughput {100 * level:g} % interval ({what}) covers {c:.1f} % (within 3 points)",
                            abs(c - 100 * level) <= 3))
    return [f"{name}: {what}: {'ok' if ok else 'MISSED'}" for what, ok in out]


def main() -> None:
    extra = sys.argv[1:]   # --set name=value pairs, passed to every run, whose folders then say them
    if len(extra) % 2 or any(flag != "--set" for flag in extra[::2]):
        raise SystemExit("usage: bench_accuracy.py [--set name=value ...]")
    runs = RUNS.with_name(RUNS.name + "-" + ",".join(extra[1::2])) if extra else RUNS
    head = ["data", "val loss", "avg r", "skill thr/rtt/loss/jit", "gap to oracle", "coverage 80 / 95 % (avg)",
            "coverage 80 / 95 % (throughput)", "adaptive 80 / 95 % (throughput)", "training", "chosen", "model vs best baseline (MSE %, 95 % interval)"]
    trees_head = ["data", "LSTM skill thr/rtt/loss/jit (avg)", "gbm skill thr/rtt/loss/jit (avg)",
                  "LSTM vs gbm (MSE %, 95 % interval)", "gbm training"]
    lines, tree_lines, verdicts = [], [], []
    for name, args in DATASETS:
        report = run(name, [*args, *extra], runs=runs)
        word, cells = row(name, report)
        lines.append("| " + " | ".join(cells) + " |")
        tree_lines.append("| " + " | ".join(trees_row(name, report)) + " |")
        verdicts += checks(name, report, word)
        print(lines[-1], flush=True)
    for header, body in ((head, lines), (trees_head, tree_lines)):
        print("\n| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n" + "\n".join(body) + "\n")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
