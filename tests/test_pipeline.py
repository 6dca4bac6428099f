"""`bwkit run` end to end on tiny parameters, and every way it refuses to start."""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bwkit import pipeline, synth
from bwkit.paths import ROOT

from conftest import TINY_RUN as TINY

CHECK_RUN = ROOT.parent / "shared" / "tools" / "check_run.py"


def bwkit(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "bwkit.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_run_writes_the_contract_folder(tiny_runs):
    root, index = tiny_runs
    run = root / "tiny"
    assert index == run / "index.html"
    for stage in ("01_generate_data", "02_train", "03_evaluate", "04_export"):
        assert (run / f"{stage}.ipynb").exists() and (run / f"{stage}.html").exists()
    for name in ("best_model.pth", "bandwidth_predictor_report.json", "training_output.log", "training_history.png",
                 "predictions_scatter.png", "bandwidth_lstm_v1.onnx", "model_metadata_v1.json", "data/telemetry.csv"):
        assert (run / name).exists(), name
    record = json.loads((run / "run.json").read_text())
    assert record["status"] == "succeeded" and record["parameters"]["epochs"] == 2
    assert set(record["stages"]) == {"01_generate_data", "02_train", "03_evaluate", "04_export"}
    assert all(s["status"] == "succeeded" and s["seconds"] > 0 for s in record["stages"].values())
    assert len(record["data"]["sha256"]) == 64 and record["versions"]["torch"].startswith("2.13.0")


def test_html_reports_need_no_network_and_show_tables_and_plots(tiny_runs):
    root, _ = tiny_runs
    for html in (root / "tiny").glob("*.html"):
        text = html.read_text()
        assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']https?://", text), html.name
    evaluate = (root / "tiny" / "03_evaluate.html").read_text()
    assert "<table" in evaluate and "data:image/png;base64" in evaluate and "persistence" in evaluate
    summary = (root / "tiny" / "index.html").read_text()
    assert "Verdict" in summary and "data:image/png;base64" in summary and "02_train.html" in summary
    assert "tiny/index.html" in (root / "index.html").read_text()


@pytest.mark.skipif(not CHECK_RUN.exists(), reason="shared/tools/check_run.py is not beside this checkout")
def test_shared_contract_checker_passes(tiny_runs):
    root, _ = tiny_runs
    done = subprocess.run([sys.executable, str(CHECK_RUN), str(root / "tiny")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_an_existing_run_id_is_never_overwritten(tiny_runs):
    root, _ = tiny_runs
    before = (root / "tiny" / "run.json").read_text()
    with pytest.raises(pipeline.RunError, match="already exists"):
        pipeline.run(TINY, run_id="tiny", runs_root=root)
    assert (root / "tiny" / "run.json").read_text() == before


@pytest.mark.parametrize("setting, message", [
    ("epoch=3", "unknown parameter 'epoch'"),
    ("epochs=lots", "parameter 'epochs' expects int"),
    ("run_dir=/tmp/x", "set by bwkit run"),
    ("noequals", "expects key=value"),
])
def test_cli_refuses_bad_settings_before_anything_runs(setting, message):
    before = set((ROOT / "runs").glob("*"))
    done = bwkit("run", "--set", setting)
    assert done.returncode == 2 and message in done.stderr
    assert set((ROOT / "runs").glob("*")) == before


def test_run_on_an_existing_csv_skips_generation_and_records_its_hash(tmp_path):
    csv = tmp_path / "mine.csv"
    synth.write_csv(synth.generate(samples=400, seed=5), csv)
    settings = {k: v for k, v in TINY.items() if k != "samples"}
    pipeline.run({**settings, "data_path": str(csv)}, run_id="mine", runs_root=tmp_path / "runs", log=lambda *_: None)
    run = tmp_path / "runs" / "mine"
    record = json.loads((run / "run.json").read_text())
    assert "01_generate_data" not in record["stages"] and not (run / "01_generate_data.ipynb").exists()
    from bwkit.data import sha256_file
    assert record["data"] == {"path": str(csv), "generated": False, "sha256": sha256_file(csv)}
    assert record["status"] == "succeeded"


def test_bad_data_fails_the_run_with_one_message_and_a_nonzero_exit(tmp_path):
    csv = tmp_path / "broken.csv"
    text = Path(csv)
    synth.write_csv(synth.generate(samples=300, seed=1), text)
    lines = text.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[41].split(",")
    row[header.index("rtt_ms")] = "fast"
    lines[41] = ",".join(row)
    text.write_text("\n".join(lines) + "\n")
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-c", "import sys; from bwkit.cli import main; sys.exit(main())", "run",
                           "--run-id", "bad", "--set", f"data_path={csv}", "--set", "epochs=1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**__import__("os").environ, "BWKIT_RUNS": str(runs)})
    assert done.returncode == 1
    assert "broken.csv, column 'rtt_ms', row 41" in done.stderr and "'fast' is not a number" in done.stderr
    record = json.loads((runs / "bad" / "run.json").read_text())
    assert record["status"] == "failed" and "rtt_ms" in record["error"]
    assert record["stages"]["02_train"]["status"] == "failed"
    assert (runs / "bad" / "02_train.html").exists() and not (runs / "bad" / "best_model.pth").exists()


def test_a_missing_data_file_marks_the_run_failed_with_the_path(tmp_path):
    with pytest.raises(pipeline.RunError, match="nowhere.csv: file not found"):
        pipeline.run({"data_path": str(tmp_path / "nowhere.csv")}, run_id="gone", runs_root=tmp_path,
                     log=lambda *_: None)
    record = json.loads((tmp_path / "gone" / "run.json").read_text())
    assert record["status"] == "failed" and "file not found" in record["error"]
    assert "failed" in (tmp_path / "gone" / "index.html").read_text()


def test_a_relative_runs_folder_keeps_the_whole_run_in_one_place(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    pipeline.run(TINY, run_id="rel", runs_root="relruns", log=lambda *_: None)
    run = tmp_path / "relruns" / "rel"
    assert (run / "best_model.pth").exists() and (run / "data" / "telemetry.csv").exists()
    assert json.loads((run / "run.json").read_text())["status"] == "succeeded"
    assert not (ROOT / "relruns").exists()
