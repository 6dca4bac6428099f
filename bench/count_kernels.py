"""How many Jupyter kernels a pytest run starts, and how long it takes.

    .venv/bin/python bench/count_kernels.py [pytest arguments]      e.g. tests/ -x, or -m "not slow"

Every kernel papermill, the pipeline, a sweep's workers or JupyterLab start is the venv's `python3`
kernelspec; this script puts a counting twin of it first on JUPYTER_PATH (for this run only), so each
start appends a line to a file, then prints the count by test file, pytest's wall time and the count
(BWKIT_KERNELS_BY_TEST=1 prints it by test as well). Each kernel that exits normally also writes the CPU seconds it
used, so the script prints the kernels' CPU beside that of the whole run (pytest and every process it waited for),
by what the kernel ran: export, evaluation and training by the kit's modules they imported, "other" for the rest
(data generation, the tests' stand-in stages and fixture notebooks).
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# Each start writes the test that started it: pytest sets PYTEST_CURRENT_TEST in its environment, which every
# kernel, pipeline subprocess and cluster worker inherits ("?" where a process started outside a test's call).
WRAPPER = """import atexit, os, resource, runpy, sys
with open(os.environ["BWKIT_KERNEL_COUNT"], "a") as f:
    f.write(os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0] + "\\n")

def cpu():
    used = resource.getrusage(resource.RUSAGE_SELF)
    kind = next((k for m, k in KINDS if m in sys.modules), "other")
    with open(os.environ["BWKIT_KERNEL_COUNT"] + ".cpu", "a") as f:
        f.write(f"{used.ru_utime + used.ru_stime:.2f} {kind}\\n")

KINDS = [("bwkit.serving.export", "export"), ("bwkit.evaluation.evaluate", "evaluate"), ("bwkit.training.trained", "train")]
atexit.register(cpu)
sys.argv[0] = "ipykernel_launcher"
runpy.run_module("ipykernel_launcher", run_name="__main__")
"""


def main(args: list[str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        spec = folder / "kernels" / "python3"
        spec.mkdir(parents=True)
        (folder / "count_kernel.py").write_text(WRAPPER)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-Xfrozen_modules=off", str(folder / "count_kernel.py"), "-f", "{connection_file}"],
            "display_name": "Python 3 (bwkit)", "language": "python"}))
        count = folder / "count.txt"
        count.touch()
        Path(f"{count}.cpu").touch()
        env = {**os.environ, "JUPYTER_PATH": f"{folder}{os.pathsep}{os.environ.get('JUPYTER_PATH', '')}",
               "BWKIT_KERNEL_COUNT": str(count)}
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], env=env)
        seconds = time.perf_counter() - start
        starts = count.read_text().splitlines()
        kernels = len(starts)
        exits = [line.split() for line in Path(f"{count}.cpu").read_text().splitlines()]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    by_kind = Counter()
    for seconds_used, kind in exits:
        by_kind[kind] += float(seconds_used)
    by_file = Counter(start.split("::")[0] for start in starts)
    print("kernel starts by file:", ", ".join(f"{name} {n}" for name, n in by_file.most_common()))
    if os.environ.get("BWKIT_KERNELS_BY_TEST"):
        for test, n in Counter(starts).most_common():
            print(f"  {n:3d}  {test}")
    print(f"kernels' CPU: {sum(by_kind.values()):.0f} s in the {len(exits)} that exited normally ("
          + ", ".join(f"{kind} {cpu_s:.0f} s" for kind, cpu_s in by_kind.most_common())
          + f"); the whole run's: {children.ru_utime + children.ru_stime:.0f} s")
    print(f"pytest {' '.join(args) or '(all)'}: exit {done.returncode}, {seconds:.0f} s wall, {kernels} kernel starts")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
