"""A run's record stays true when its process is interrupted or killed, and `bwkit resume` finishes it."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bwkit import cli
from bwkit.pipeline import runner as pipeline
from bwkit.pipeline.kernels import SOCKETS
from bwkit.runs.artifacts import RunFolder
from bwkit.runs import this_process
from bwkit.reports.pages import write_runs_index

from conftest import TINY_RUN, write_synthetic

SETTINGS = [f"--set={k}={v}" for k, v in {**TINY_RUN, "known_future": False}.items()]
OFF = ["--set=tracking=off"]   # where what is tested is the record, not MLflow


def start_run(tmp_path, run_id: str, *extra: str) -> tuple[subprocess.Popen, RunFolder]:
    env = {**{k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}, "BWKIT_RUNS": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "bwkit.cli", "run", "--run-id", run_id, *SETTINGS, *extra],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, RunFolder(tmp_path / run_id)


def wait_for_stage(files: RunFolder, stage: str, process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        if files.run_json.exists():
            stages = json.loads(files.run_json.read_text())["stages"]
            if stages.get(stage, {}).get("status") == "running":
                time.sleep(1.0)   # well inside the stage
                return
        time.sleep(0.1)
    raise AssertionError(f"{stage} never started")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_marks_the_run_and_its_stage_interrupted_without_a_traceback(tmp_path, signum, stand_in_stages):
    """The runner's part (the stages are stand-ins, 03_evaluate lasting 3 s). Ctrl-C's run is tracked too, and lands
    in MLflow as KILLED; SIGTERM's is not (its store would only cost)."""
    csv = write_synthetic(tmp_path / "data.csv", samples=TINY_RUN["samples"])   # the run starts at 02_train
    tracked = signum == signal.SIGINT
    process, files = start_run(tmp_path, "stopped", f"--set=data_path={csv}", *([] if tracked else OFF))
    wait_for_stage(files, "03_evaluate", process)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in err and f"interrupted by {signum.name} during 03_evaluate" in err
    assert "mlflow" not in err.lower()   # the store's first-use lines (creating its tables) are not the run's news
    assert "bwkit resume" in err
    record = json.loads(files.run_json.read_text())
    assert record["status"] == "interrupted" and record["stages"]["03_evaluate"]["status"] == "interrupted"
    assert record["stages"]["02_train"]["status"] == "succeeded" and "04_export" not in record["stages"]
    assert "interrupted" in files.index.read_text()
    assert (tmp_path / "mlflow.db").exists() == tracked
    if tracked:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
        logged = client.search_runs([client.get_experiment_by_name("bwkit").experiment_id])
        assert [(r.info.run_name, r.info.status) for r in logged] == [("stopped", "KILLED")]


def test_a_killed_run_is_found_out_and_resume_finishes_it_from_the_unfinished_stage(tmp_path, stand_in_stages):
    """The runner's part: the stages are stand-ins (the real stages, resumed: the next test)."""
    csv = write_synthetic(tmp_path / "data.csv", samples=TINY_RUN["samples"])   # the run starts at 02_train
    process, files = start_run(tmp_path, "killed", f"--set=data_path={csv}", *OFF)
    wait_for_stage(files, "03_evaluate", process)
    assert "killed/index.html" in (tmp_path / "index.html").read_text()   # the link never points nowhere
    process.kill()
    process.wait(timeout=30)
    assert json.loads(files.run_json.read_text())["status"] == "running"   # what SIGKILL leaves behind ...
    write_runs_index(tmp_path)                                              # ... until the record is read
    record = json.loads(files.run_json.read_text())
    assert record["status"] == "interrupted" and "ended without a word" in record["error"]
    assert record["stages"]["03_evaluate"]["status"] == "interrupted"
    said = []
    pipeline.resume(files.root, log=said.append)
    outputs = len(record["stages"]["02_train"]["outputs"])
    assert said[0] == f"02_train: finished before, its {outputs} files unchanged (sha256)"
    record = json.loads(files.run_json.read_text())
    assert record["status"] == "succeeded" and len(record["resumed"]) == 1
    assert all(s["status"] == "succeeded" for s in record["stages"].values()) and list(record["stages"]) == [
        "02_train", "03_evaluate", "04_export"]
    assert (files.root / "stand_in_04_export.txt").is_file()              # the stages after the kill ran
    # the killed runner's kernel sockets (jupyter_client removes a kernel's own when it stops it) went with the resume
    assert not list(Path(tempfile.gettempdir()).glob(f"{SOCKETS}-{process.pid}-*"))


def test_resume_reruns_a_finished_stage_whose_files_changed_and_refuses_a_finished_run(tmp_path, tiny_runs, capsys):
    import shutil

    root, tiny = tiny_runs
    copy = RunFolder(shutil.copytree(tiny.root, tmp_path / "copy"))
    assert cli.main(["resume", str(copy.root)]) == 2    # succeeded: nothing to resume, refused as a bad argument
    said = capsys.readouterr().err
    assert said.startswith("bwkit: run copy succeeded: nothing to resume") and "failed" not in said
    record = json.loads(copy.run_json.read_text())
    for status, process, data, words in (   # refused before anything runs, each in its own words
            ("running", this_process(), record["data"], "is still running (process"),
            ("failed", record["process"], {**record["data"], "generated": False, "path": str(tmp_path / "gone.csv")},
             "gone.csv is gone or changed since run copy started")):
        copy.run_json.write_text(json.dumps({**record, "status": status, "process": process, "data": data}))
        assert cli.main(["resume", str(copy.root)]) == 2 and words in capsys.readouterr().err
    copy.run_json.write_text(json.dumps(record))
    record = json.loads(copy.run_json.read_text())
    record["status"], record["error"] = "interrupted", "interrupted by SIGINT"   # as its last stage ended
    copy.run_json.write_text(json.dumps(record))
    copy.onnx("v1").write_bytes(b"changed")             # 04's output no longer what 04 wrote
    said = []
    pipeline.resume(copy.root, log=said.append)
    assert [line.split(":")[0] for line in said[:3]] == ["01_generate_data", "02_train", "03_evaluate"]
    assert all("finished before" in line for line in said[:3])
    assert not any(line.startswith("04_export: finished before") for line in said)
    assert copy.onnx("v1").read_bytes() != b"changed"                   # 04 ran again
    assert json.loads(copy.run_json.read_text())["status"] == "succeeded"
