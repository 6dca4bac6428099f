"""A failing stage, told precisely: run.json, the output notebook's error cell and the HTML.

Runs tiny purpose-named fixture notebooks (tests/notebooks/) through the same
`pipeline.run_stage` that every real stage goes through.
"""
import json
import socket
import tempfile
from pathlib import Path

import pytest

from bwkit.pipeline import runner as pipeline
from bwkit.runs.artifacts import RunFolder
from bwkit.errors import RunError

FIXTURES = Path(__file__).parent / "notebooks"


def run_fixture(tmp_path, name: str, values: dict):
    """Execute tests/notebooks/<name>.ipynb as a stage; return (files, run.json, error cell, RunError)."""
    files = RunFolder(tmp_path)
    record = pipeline.RunRecord.start(files, parameters=values)
    with pytest.raises(RunError) as raised:
        pipeline.run_stage(FIXTURES / f"{name}.ipynb", name, record, values=values)
    output = json.loads(files.notebook(name).read_text())
    failed = [c for c in output["cells"] if c["cell_type"] == "code"
              and any(o["output_type"] == "error" for o in c["outputs"])]
    assert len(failed) == 1
    return files, json.loads(files.run_json.read_text()), failed[0], raised.value


def test_a_failing_cell_is_named_by_number_and_first_line(tmp_path):
    files, record, cell, error = run_fixture(tmp_path, "fails_in_cell", {"divisor": 0})
    assert "".join(cell["source"]).startswith("ratio = 1 / divisor")
    assert record["stages"]["fails_in_cell"]["status"] == "failed"
    assert record["failure"] == {"stage": "fails_in_cell", "cell": cell["execution_count"],
                                 "cell_index": record["failure"]["cell_index"],
                                 "line": "ratio = 1 / divisor   # fails here when divisor is 0",
                                 "exception": "ZeroDivisionError", "message": "division by zero"}
    assert record["error"] == str(error) == (f"fails_in_cell, cell In [{cell['execution_count']}] "
                                             "`ratio = 1 / divisor   # fails here when divisor is 0`: "
                                             "ZeroDivisionError: division by zero")
    html = files.html("fails_in_cell").read_text()
    assert "ZeroDivisionError" in html and "the cells before the failing one ran" in html
    last = json.loads(files.notebook("fails_in_cell").read_text())["cells"][-1]
    assert "never reached" in "".join(last["source"]) and last["execution_count"] is None and not last["outputs"]


def test_an_unknown_parameter_stops_the_first_code_cell(tmp_path):
    files, record, cell, _ = run_fixture(tmp_path, "checks_parameters", {"rows": 5, "row": 3})
    assert "check_notebook" in "".join(cell["source"])
    assert record["failure"]["exception"] == "ParameterError"
    assert "unknown parameter 'row'" in record["failure"]["message"]
    assert "Did you mean 'rows'?" in record["error"]
    assert "ParameterError" in files.html("checks_parameters").read_text()


def test_a_good_parameter_runs_the_stage_even_when_the_ports_jupyter_would_pick_are_taken(tmp_path, monkeypatch):
    """Another process's kernel or server can take a TCP port between jupyter_client choosing it and the kernel
    binding it (seen in the suite: the kernel died, "Address already in use"); the kit's kernels use none."""
    from jupyter_client.provisioning.local_provisioner import LocalPortCache

    files = RunFolder(tmp_path)
    record = pipeline.RunRecord.start(files, parameters={})
    with socket.create_server(("127.0.0.1", 0)) as taken:
        monkeypatch.setattr(LocalPortCache, "find_available_port", lambda self, ip: taken.getsockname()[1])
        assert pipeline.run_stage(FIXTURES / "checks_parameters.ipynb", "checks", record, values={"rows": 5}) > 0
    assert json.loads(files.run_json.read_text())["stages"]["checks"]["status"] == "succeeded"
    assert "parameters accepted" in files.html("checks").read_text()


def test_a_stage_runs_from_a_temp_folder_too_long_for_a_socket_path(tmp_path, monkeypatch):
    """A kernel's Unix socket needs a short path (107 bytes at most): under a longer temp folder the stage's kernel
    takes jupyter's TCP ports instead of failing to start."""
    long = tmp_path / ("t" * 100)
    long.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(long))
    (tmp_path / "run").mkdir()
    files = RunFolder(tmp_path / "run")
    record = pipeline.RunRecord.start(files, parameters={})
    assert pipeline.run_stage(FIXTURES / "checks_parameters.ipynb", "checks", record, values={"rows": 5}) > 0
    assert json.loads(files.run_json.read_text())["stages"]["checks"]["status"] == "succeeded"
