"""CPU seconds that starting `mlflow server` costs, with MLflow's job runner (its default) and without it
(MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false, as `make ui` and the tests' tracking server run it).

    .venv/bin/python bench/mlflow_server_cost.py [--repeat 2]

After one warm-up start, the variants take turns: each starts the server on a free loopback port with a new SQLite
store, waits until its REST API answers, lets it settle for SETTLE seconds, then adds up the CPU of every process in
the server's session (each live one's own and that of the children it reaped) before stopping them all. Prints the seconds to the first answer, the CPU
seconds and the number of processes. Not a test: the record behind the setting (docs/experiments.md).
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SETTLE = 3.0
START_LIMIT = 120.0   # seconds to the first answer, at most
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_cpu(sid: int) -> tuple[float, int]:
    """CPU seconds of the processes in session `sid` (their own and their reaped children's), and how many."""
    total, count = 0.0, 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[3]) == sid:   # field 6 of stat: the session id
            total += sum(int(f) for f in fields[11:15]) / TICKS   # utime, stime, cutime, cstime
            count += 1
    return total, count


def measure(job_execution: bool) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as store:
        return _measure(job_execution, store, free_port())


def _measure(job_execution: bool, store: str, port: int) -> tuple[float, float, int]:
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": str(job_execution).lower()}
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                                "--workers", "1", "--backend-store-uri", f"sqlite:///{store}/mlflow.db",
                                "--artifacts-destination", f"{store}/artifacts"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=1"
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if process.poll() is not None or time.perf_counter() - started > START_LIMIT:
                    raise SystemExit("mlflow server exited or did not answer in time")
                time.sleep(0.2)
        ready = time.perf_counter() - started
        time.sleep(SETTLE)
        cpu, count = session_cpu(process.pid)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return ready, cpu, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    measure(False)   # a warm-up, not printed: the first start reads MLflow's files from disk
    for job_execution in [True, False] * args.repeat:   # alternated, so that neither gets the warmer machine
        ready, cpu, count = measure(job_execution)
        print(f"job execution {'on ' if job_execution else 'off'}: answered after {ready:5.1f} s, "
              f"{cpu:5.1f} s of CPU in {count} processes")


if __name__ == "__main__":
    main()
