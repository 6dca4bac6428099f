"""`bwkit check runs/<id>`: is this run folder complete and unaltered?

Every check is a (name, passed, detail) line: the expected files, the sha256 manifest
written when the run ended, the report's fields, the ONNX file loading from a folder
of its own and answering batches of 1, 7 and 256, and HTML that needs no network.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from bwkit.errors import RunError
from bwkit.runs import STAGES, RunFolder, model_version, process_alive, read_record

REPORT_FIELDS = ("model", "success", "achieved_metrics", "target_metrics", "training_time_seconds", "model_size_mb")
REMOTE = re.compile(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=[\"']?(?:https?:)?//", re.I)


def _expected(files: RunFolder, run: dict) -> list[Path]:
    stages = [s for s in STAGES if s in run.get("stages", {})]
    version = model_version(run)
    paths = [files.run_json, files.index, files.model_card, files.checkpoint, files.log, files.report, *files.plots(),
             files.onnx(version), files.torchscript(version), files.metadata(version)]
    paths += [p for s in stages for p in (files.notebook(s), files.html(s), files.html_with_code(s))]
    return paths + ([files.data] if run.get("data", {}).get("generated") else [])


def _onnx(path: Path):
    import numpy as np
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as lonely:   # the file alone: no external data beside it
        copy = Path(shutil.copy(path, Path(lonely) / "model.onnx"))
        try:
            session = ort.InferenceSession(str(copy), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - any load failure is the finding
            yield "ONNX loads from a folder of its own", False, str(exc)[:200]
            return
        yield "ONNX loads from a folder of its own", True, ""
        _, window, features = session.get_inputs()[0].shape
        for batch in (1, 7, 256):
            out = session.run(None, {"input": np.zeros((batch, int(window), int(features)), np.float32)})[0]
            yield f"ONNX answers a batch of {batch}", out.shape[0] == batch and np.isfinite(out).all(), \
                f"output shape {out.shape}"


def checks(run_dir):
    """Yield (check, passed, detail) for one run folder."""
    files = RunFolder(Path(run_dir))
    try:
        run = read_record(files)
    except RunError as exc:
        yield "run.json readable", False, str(exc)
        return
    status, process = run.get("status"), run.get("process") or {}
    killed = status == "running" and process and process_alive(process) is False
    yield "run succeeded", status == "succeeded", (f"status {status!r}, but its process (pid {process.get('pid')}) is "
                                                   f"gone: it was killed; bwkit resume {files.root} finishes it"
                                                   if killed else f"status {status!r}")
    for path in _expected(files, run):
        yield f"file {path.relative_to(files.root)}", path.is_file(), "missing"
    recorded = run.get("manifest", {})
    yield "sha256 manifest recorded", bool(recorded), "run.json has no manifest (the run never ended)"
    if recorded:   # without one there is nothing to compare the files with
        now = files.hashes()
        changed = sorted(n for n in recorded if now.get(n) != recorded[n])
        added = sorted(set(now) - set(recorded))
        yield "every file as the run left it", not changed, "changed or missing: " + ", ".join(changed)
        yield "no file added since", not added, "added: " + ", ".join(added)
    if files.report.is_file():
        try:
            report = json.loads(files.report.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            report = {}
            yield "report readable", False, str(exc)[:200]
        missing = [f for f in REPORT_FIELDS if not isinstance(report, dict) or f not in report]
        yield "report has the original guide's fields", not missing, f"missing {missing}"
    onnx = files.onnx(model_version(run))
    if onnx.is_file():
        yield from _onnx(onnx)
    for page in sorted(files.root.glob("*.html")):
        remote = REMOTE.search(page.read_text(errors="replace"))
        yield f"{page.name} needs no network", remote is None, remote.group(0)[:100] if remote else ""


def print_checks(run_dir, out=print) -> int:
    """Print one line per check; return the number that failed."""
    failed = 0
    for name, passed, detail in checks(run_dir):
        failed += not passed
        out(f"{'ok  ' if passed else 'FAIL'} {name}" + ("" if passed or not detail else f"  ({detail})"))
    out(f"{failed} check(s) failed" if failed else "all checks passed")
    return failed
