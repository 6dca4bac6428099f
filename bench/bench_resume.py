"""Resume benchmark (not a test): `.venv/bin/python bench/bench_resume.py`.

Times a full default `bwkit run`, then a second one killed (SIGKILL) while 03_evaluate
runs, then `bwkit resume` of that run, which must skip 01 and 02 (their files' sha256
checked) and take well under half of the full run. Runs land in a temporary folder.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "BWKIT_RUNS": tmp}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bwkit.cli", "run", "--run-id", "full"], env=env, check=True,
                       capture_output=True)
        full = time.perf_counter() - start
        process = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "run", "--run-id", "killed"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        record = Path(tmp) / "killed" / "run.json"
        while not (record.exists() and json.loads(record.read_text())["stages"].get("03_evaluate")):
            time.sleep(0.1)
        time.sleep(1.0)
        process.kill()
        process.wait()
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bwkit.cli", "resume", str(Path(tmp) / "killed")], env=env,
                              check=True, capture_output=True, text=True)
        resumed = time.perf_counter() - start
        stages = json.loads(record.read_text())["stages"]
    skipped = [line for line in done.stdout.splitlines() + done.stderr.splitlines() if "finished before" in line]
    print(f"| full default run, wall | {full:.1f} s |")
    print(f"| resume of a run killed during 03_evaluate | {resumed:.1f} s ({100 * resumed / full:.0f} % of the full run) |")
    print(f"| stages skipped (files checked) | {len(skipped)}: {'; '.join(skipped)} |")
    after = ", ".join(f"{name} {stage['status']}" for name, stage in stages.items())
    print(f"| stages after resume | {after} |")


if __name__ == "__main__":
    main()
