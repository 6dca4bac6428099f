"""Every command against broken inputs: one line on stderr, the kit's exit code, never a traceback, and no file a
user owns overwritten. The probes are the classes a skeptical user met (bad paths, junk records, broken model
files, refused arguments); each runs `bwkit` in this process against copies of the shared tiny run."""
import json
import os
import shutil

import pytest

from bwkit import cli

JUNK_RECORDS = {"junk": "not json", "truncated": '{"run_id": "x", "status": "succ', "empty": "", "list": "[1, 2]",
                "string": '"run"', "null": "null", "no parameters": '{"run_id": "x", "status": "failed", "stages": {}}',
                "parameters a list": '{"run_id": "bad", "status": "failed", "parameters": [1, 2], "stages": {}}',
                "running without process": '{"run_id": "x", "status": "running", "parameters": {}, "stages": {}}'}


def one_line_failure(capsys, argv, codes=(1, 2)):
    """The command fails with the kit's code and says why in its last line (`check` lists its checks on stdout)."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err + out, err
    lines = [line for line in (out if argv[0] == "check" else err).splitlines() if line.strip()]
    assert code in codes and lines, (code, out, err)
    assert lines[-1].startswith("bwkit: ") or argv[0] == "check" and "FAIL " in out and not err, (code, err)
    return lines[-1]


@pytest.fixture
def copied_run(tiny_run, tmp_path):
    """A copy of the tiny run the test may break."""
    return shutil.copytree(tiny_run.root, tmp_path / "copy")


@pytest.fixture
def csv_in(tiny_run, tmp_path):
    path = tmp_path / "in.csv"
    shutil.copy(tiny_run.data, path)
    return path


@pytest.mark.parametrize("kind", sorted(JUNK_RECORDS))
@pytest.mark.parametrize("command", ["resume", "reproduce", "check", "table", "compare"])
def test_a_junk_record_is_one_line(tmp_path, capsys, monkeypatch, command, kind):
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(JUNK_RECORDS[kind])
    (folder / "bandwidth_predictor_report.json").write_text("{")
    one_line_failure(capsys, [command, str(folder)])
    assert not (tmp_path / "runs").exists(), "refused before anything was made (a comparison folder, a kernel)"


@pytest.mark.parametrize("breakage", ["missing", "truncated", "random"])
def test_a_broken_onnx_file_is_one_line(copied_run, csv_in, tmp_path, capsys, breakage):
    onnx = copied_run / "bandwidth_lstm_v1.onnx"
    if breakage == "missing":
        onnx.unlink()
    else:
        onnx.write_bytes(onnx.read_bytes()[:100] if breakage == "truncated" else os.urandom(2000))
    line = one_line_failure(capsys, ["predict", str(copied_run), str(csv_in), "-o", str(tmp_path / "out.csv")])
    assert "bandwidth_lstm_v1.onnx" in line
    assert "Traceback (most recent call last)" in (copied_run / ".bwkit-errors.log").read_text()   # kept, not shown


def test_a_truncated_metadata_file_is_one_line(copied_run, csv_in, tmp_path, capsys):
    meta = copied_run / "model_metadata_v1.json"
    meta.write_text(meta.read_text()[:50])
    assert "model_metadata_v1.json" in one_line_failure(capsys, ["predict", str(copied_run), str(csv_in), "-o",
                                                                str(tmp_path / "out.csv")])


def test_a_model_file_changed_since_the_run_is_refused_unless_allowed(copied_run, csv_in, tmp_path, capsys):
    meta = copied_run / "model_metadata_v1.json"
    data = json.loads(meta.read_text())
    data["note"] = "edited by hand"
    meta.write_text(json.dumps(data))
    line = one_line_failure(capsys, ["predict", str(copied_run), str(csv_in), "-o", str(tmp_path / "out.csv")])
    assert "manifest" in line and "--allow-modified" in line
    assert cli.main(["predict", str(copied_run), str(csv_in), "-o", str(tmp_path / "out.csv"), "--allow-modified"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "used anyway" in line]
    assert len(warned) == 1 and warned[0].startswith("bwkit: warning: ")   # one line, no line of code under it


@pytest.mark.parametrize("where", ["the input", "the input through a link", "an existing file", "a folder",
                                   "a missing folder"])
def test_predict_never_overwrites_what_it_should_not(tiny_run, csv_in, tmp_path, capsys, where):
    before = csv_in.read_bytes()
    target = {"the input": csv_in, "the input through a link": tmp_path / "link.csv",
              "an existing file": tmp_path / "mine.csv", "a folder": tmp_path,
              "a missing folder": tmp_path / "nowhere" / "out.csv"}[where]
    if where == "the input through a link":
        target.symlink_to(csv_in)
    if where == "an existing file":
        target.write_text("mine")
    one_line_failure(capsys, ["predict", str(tiny_run.root), str(csv_in), "-o", str(target)])
    assert csv_in.read_bytes() == before
    assert where != "an existing file" or target.read_text() == "mine"
    assert not list(tmp_path.rglob("*.partial"))


def test_predict_replaces_an_existing_output_only_with_force(tiny_run, csv_in, tmp_path, capsys):
    out = tmp_path / "out.csv"
    out.write_text("old")
    assert cli.main(["predict", str(tiny_run.root), str(csv_in), "-o", str(out), "--force"]) == 0
    assert "timestamp" in out.read_text().splitlines()[0]


@pytest.mark.parametrize("argv", [
    ["run", "--set", "data_path=LOOP"],
    ["predict", "RUN", "EMPTY", "-o", "OUT"],
    ["sweep", "--workers", "-2", "--grid", "epochs=1"],
    ["sweep", "--workers", "0", "--grid", "epochs=1"],
    ["sweep", "--grid", "epochs=1", "--grid", "epochs=3"],
    ["sweep", "--grid", "epochs=1,1"],
    ["sweep", "--repeats", "0", "--grid", "epochs=1"],
    ["run", "-f", "BADYAML"],
], ids=lambda a: " ".join(a))
def test_arguments_are_checked_before_anything_starts(tiny_run, tmp_path, monkeypatch, capsys, argv):
    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "bad.yml").write_text("epochs: [1\n")
    names = {"LOOP": str(tmp_path / "loop"), "RUN": str(tiny_run.root), "EMPTY": str(tmp_path / "empty.csv"),
             "OUT": str(tmp_path / "out.csv"), "BADYAML": str(tmp_path / "bad.yml")}
    argv = [names.get(a, a.replace("LOOP", names["LOOP"])) for a in argv]
    line = one_line_failure(capsys, argv)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), list((tmp_path / "runs").iterdir())
    if "BADYAML" in names.values() and argv[:2] == ["run", "-f"]:
        assert "line 1" in line and "bad.yml" in line


def test_a_malformed_neighbour_never_stops_another_run_from_being_listed(tiny_runs):
    from bwkit.reports import write_runs_index

    root, _ = tiny_runs
    bad = root / "bad"
    bad.mkdir(exist_ok=True)
    (bad / "run.json").write_text(JUNK_RECORDS["parameters a list"])
    try:
        page = write_runs_index(root).read_text()
        assert "unreadable record" in page and "tiny" in page
    finally:
        shutil.rmtree(bad)


def test_an_unreachable_scheduler_is_one_line_naming_it(tmp_path, monkeypatch, capsys):
    import dask

    monkeypatch.setenv("BWKIT_RUNS", str(tmp_path / "runs"))
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        line = one_line_failure(capsys, ["sweep", "--scheduler", "tcp://127.0.0.1:1", "--grid", "epochs=1",
                                         "--set", "samples=500", "--set", "tracking=off"])
    assert "127.0.0.1:1" in line
