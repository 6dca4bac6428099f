"""A stage's record never stays "running" once the run has ended, and a run's last writes are never cut in two.

No kernel: `execute` and the HTML rendering are replaced, as a dead kernel, a full disk or a signal would leave them.
"""
import errno
import json
import os
import signal

import pytest

from bwkit.errors import RunError
from bwkit.pipeline import runner
from bwkit.runs import RunFolder


@pytest.fixture
def record(tmp_path):
    return runner.RunRecord.start(RunFolder(tmp_path), parameters={}, data={"generated": False})


def _fails_with(exc):
    def execute(notebook, out, parameters, *, progress=False):
        out.write_text("{")   # what a kernel that died, or a disk that filled, leaves: a notebook cut short
        raise exc
    return execute


@pytest.mark.parametrize("exc, said", [
    (RuntimeError("Kernel died"), "02_train: RuntimeError: Kernel died"),
    (OSError(errno.ENOSPC, "No space left on device"), "02_train: no space left on"),
])
def test_a_stage_that_fails_outside_its_cells_is_recorded_failed_with_its_error(record, monkeypatch, exc, said):
    monkeypatch.setattr(runner, "execute", _fails_with(exc))
    with pytest.raises(RunError, match=said):
        runner.run_stage("nb.ipynb", "02_train", record, values={})
    saved = json.loads(record.files.run_json.read_text())
    assert saved["stages"]["02_train"]["status"] == "failed" and saved["error"].startswith(said)
    assert saved["failure"]["stage"] == "02_train" and saved["failure"]["exception"] == type(exc).__name__


def test_a_stage_whose_pages_cannot_be_written_did_not_succeed(record, monkeypatch):
    """Its pages are among its outputs: recorded "succeeded" without them, `resume` skipped it and `check` failed."""
    monkeypatch.setattr(runner, "execute", lambda notebook, out, parameters, progress=False: out.write_text("{}"))

    def full(notebook, html):
        raise OSError(errno.ENOSPC, "No space left on device", str(html))
    monkeypatch.setattr(runner, "notebook_to_html", full)
    with pytest.raises(RunError, match="02_train: its pages could not be written: no space left on"):
        runner.run_stage("nb.ipynb", "02_train", record, values={})
    assert json.loads(record.files.run_json.read_text())["stages"]["02_train"]["status"] == "failed"


@pytest.fixture
def ctrl_c_interrupts():
    """Ctrl-C raising KeyboardInterrupt, as in a terminal: a shell starts a background job (`make test &`) with
    SIGINT ignored, and the close rightly leaves an ignored signal ignored."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


def test_a_signal_while_a_run_is_closed_waits_for_its_record_card_manifest_and_pages(record, monkeypatch,
                                                                                     ctrl_c_interrupts):
    """Ctrl-C just after the last stage cut the close between run.json and its manifest: `check` failed and `resume`
    refused a run it called succeeded. Now the close finishes, then the signal acts; tracking is left out."""
    def card_then_ctrl_c(root):
        os.kill(os.getpid(), signal.SIGINT)   # arrives in the middle of the close
    monkeypatch.setattr(runner, "write_model_card", card_then_ctrl_c)
    tracked, said = [], []
    record.data["status"] = "succeeded"
    with pytest.raises(KeyboardInterrupt):   # delivered once the close is done
        runner._finished(record, tracked.append, log=said.append)
    saved = json.loads(record.files.run_json.read_text())
    assert saved["status"] == "succeeded" and "manifest" in saved and "finished" in saved
    assert record.files.index.is_file() and tracked == []
    assert said[-1].startswith("SIGINT received while run") and "its record is complete (succeeded)" in said[-1]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # the handlers are given back
