"""The command line, in process: exit codes, messages, and the commands that read a run."""
import json
import shutil
import subprocess
import sys

import pytest

from bwkit import cli
from bwkit.runs import RunFolder, params


@pytest.mark.parametrize("args, message", [
    (["--set", "epoch=3"], "unknown parameter 'epoch'"),
    (["--set", "epochs=lots"], "parameter 'epochs' expects int"),
    (["--set", "run_dir=/tmp/x"], "set by bwkit run"),
    (["--set", "output=/tmp"], "parameter 'output' is set by bwkit run"),   # said before its value's own rule
    (["--set", "noequals"], "expects key=value"),
    (["-f", "/nonexistent/params.yml"], "parameters file /nonexistent/params.yml"),
])
def test_run_refuses_bad_settings_with_exit_2_before_anything_runs(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    assert cli.main(["run", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_params_lists_every_parameter_with_its_default_and_help(capsys):
    assert cli.main(["params"]) == 0
    lines = capsys.readouterr().out.splitlines()
    declared = params.pipeline_parameters()
    assert lines[0].split()[:3] == ["parameter", "type", "default"]   # a header, then each stage's parameters
    stages = [line for line in lines if line.endswith(":") and line[:2].isdigit()]
    assert [s.rstrip(":") for s in stages] == list(params.STAGES)
    named = [line.split()[0] for line in lines[1:] if line.strip() and line not in stages]
    assert sorted(named) == sorted(declared) and len(named) == len(declared)
    epochs = next(line for line in lines if line.startswith("epochs "))
    assert "int" in epochs and repr(declared["epochs"].default) in epochs and declared["epochs"].help in epochs


def test_table_prints_every_method_and_the_summary(tiny_run, capsys):
    assert cli.main(["table", str(tiny_run.root)]) == 0
    out = capsys.readouterr().out
    report = json.loads(tiny_run.report.read_text())
    for method in report["comparison"]:
        assert f"| {method} | average |" in out
    assert out.rstrip().endswith(report["summary"]) and capsys.readouterr().err == ""   # succeeded: no note


def test_table_of_a_folder_without_a_report_says_which_file_is_missing(tmp_path, capsys):
    assert cli.main(["table", str(tmp_path)]) == 1
    assert "bandwidth_predictor_report.json not found" in capsys.readouterr().err
    assert cli.main(["table", str(tmp_path / "nope")]) == 2   # a bad argument: nothing to read
    assert f"{tmp_path / 'nope'}: no such run folder" in capsys.readouterr().err


def test_table_of_a_run_that_did_not_finish_says_so_beside_it_and_a_broken_report_is_one_line(tiny_run, tmp_path,
                                                                                                capsys):
    """A run killed after 03_evaluate, or whose record is cut short, printed its table as if nothing were amiss."""
    copy = RunFolder(shutil.copytree(tiny_run.root, tmp_path / "copy"))
    copy.run_json.write_text(json.dumps({**json.loads(copy.run_json.read_text()), "status": "running"}))
    assert cli.main(["table", str(copy.root)]) == 0
    assert "run copy is 'running' in its record" in capsys.readouterr().err
    copy.run_json.write_text(copy.run_json.read_text()[:200])
    assert cli.main(["table", str(copy.root)]) == 0 and "is 'unreadable' in its record" in capsys.readouterr().err
    copy.report.write_text('{"comparison": ')
    assert cli.main(["table", str(copy.root)]) == 1
    err = capsys.readouterr().err
    assert "not a readable report (JSONDecodeError" in err and "Traceback" not in err


def test_table_and_params_import_neither_torch_nor_papermill(tiny_run):
    code = ("import sys; from bwkit import cli; assert cli.main(['params']) == 0; "
            f"assert cli.main(['table', {str(tiny_run.root)!r}]) == 0; "
            "assert not {'torch', 'papermill', 'sklearn'} & set(sys.modules), sys.modules.keys()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_run_hands_the_raw_overrides_to_the_pipeline_which_configures_once(tmp_path, monkeypatch):
    import bwkit.pipeline
    from bwkit.experiments import Tracker

    calls = []
    monkeypatch.setattr(bwkit.pipeline, "run", lambda *args, **kw: calls.append((args, kw)) or tmp_path / "index.html")
    monkeypatch.setattr(cli, "configure", lambda *a, **kw: pytest.fail("the CLI configured the run itself"))
    assert cli.main(["run", "-f", "p.yml", "--set", "epochs=3", "--run-id", "r"]) == 0
    (args, kw), = calls
    assert not args and kw["parameters_file"] == "p.yml" and kw["sets"] == ["epochs=3"] and kw["run_id"] == "r"
    assert isinstance(kw["on_finish"], Tracker)


def test_a_notebooks_own_error_is_the_line_said_not_papermills_ruler():
    """A stage or comparison whose cell failed was said as "PapermillExecutionError: -----...": its first line."""
    from papermill.exceptions import PapermillExecutionError

    failed = PapermillExecutionError(cell_index=3, exec_count=2, source="load(runs)", ename="RunError",
                                     evalue="/x/base-000 has no run.json", traceback=["..."])
    assert cli.outside_error(failed) == "RunError: /x/base-000 has no run.json"


@pytest.mark.parametrize("command", ["resume", "reproduce"])
def test_resume_and_reproduce_of_a_folder_whose_record_does_not_read_are_bad_arguments(tmp_path, capsys, command):
    """Nothing ran: exit 2 and one line (it was "run failed: ...", exit 1)."""
    (tmp_path / "cut").mkdir()
    (tmp_path / "cut" / "run.json").write_text('{"run_id": "cut", "sta')
    for folder, says in ((tmp_path / "cut", "not a readable run record"), (tmp_path / "none", "no run.json")):
        assert cli.main([command, str(folder)]) == 2
        err = capsys.readouterr().err
        assert says in err and f"nothing to {command}" in err and "run failed" not in err and "Traceback" not in err


def test_output_piped_to_a_reader_that_went_away_ends_quietly_with_sigpipes_code():
    """`bwkit params | head -1`: the pipe closes before the command has written all; no error line, exit 141."""
    import os

    read, write = os.pipe()
    os.close(read)   # the reader is gone before a byte is written: every write fails, as after `head` exits
    try:
        done = subprocess.run([sys.executable, "-c", "import sys; from bwkit import cli; sys.exit(cli.main(['params']))"],
                              stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == "", done.stderr


def test_a_broken_pipe_that_is_not_stdouts_is_an_error_like_any_other(capsys):
    """A child's or a socket's broken pipe, stdout healthy: one line and exit 1, not a quiet 141."""
    args = cli.parser().parse_args(["params"])

    def broken(_):
        raise BrokenPipeError(32, "Broken pipe")
    args.func = broken
    assert cli._main(args) == 1
    assert "bwkit: BrokenPipeError: [Errno 32] Broken pipe" in capsys.readouterr().err
