"""`bwkit reproduce runs/<id>`: re-execute a run from its record and say what, if anything, drifted.

The new run gets the recorded parameters (the data regenerated, or the same external
CSV after its sha256 is checked) and is then compared with the original: the data's
hash, every weight of the final model, every metric, and both ONNX files' outputs on
the test windows. The verdict and the drift table land in the new run's `run.json`
(`reproduction`) and on its page, beside any versions that differ.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bwkit.data import holds
from bwkit.errors import ParameterError, RunError
from bwkit.runs import ROOT, Config, RunFolder, RunRecord, model_version, read_record


def _data_path(record: dict) -> Path:
    data = record["data"]
    inside = data.get("path_in_repository")
    return ROOT / inside if inside and (ROOT / inside).exists() else Path(data["path"])


def _weights(a: RunFolder, b: RunFolder) -> list[dict]:
    import torch

    old, new = (torch.load(f.checkpoint, map_location="cpu", weights_only=True)["state_dict"] for f in (a, b))
    shape = {name: [None if w is None else list(w.shape) for w in (old.get(name), new.get(name))]
             for name in sorted(old.keys() | new.keys())}
    return [{"what": f"weights {name} shape", "original": shape[name][0], "reproduced": shape[name][1],
             "difference": 1.0} for name in shape if shape[name][0] != shape[name][1]] + [
            {"what": f"weights {name}", "original": None, "reproduced": None,
             "difference": float((old[name].double() - new[name].double()).abs().max())}
            for name in shape if shape[name][0] == shape[name][1] and old[name].numel()]


def _metrics(a: RunFolder, b: RunFolder) -> list[dict]:
    old, new = (json.loads(f.report.read_text())["comparison"] for f in (a, b))
    rows = []
    for method, block in old.items():
        twin = new.get(method, {"per_target": {}, "average": {}})
        twin = {**twin["per_target"], "average": twin["average"]}
        for target, values in {**block["per_target"], "average": block["average"]}.items():
            other = twin.get(target)
            for metric, value in values.items():
                if isinstance(value, (int, float)) and other and isinstance(other.get(metric), (int, float)):
                    rows.append({"what": f"{method} {target} {metric}", "original": value,
                                 "reproduced": other[metric], "difference": abs(other[metric] - value)})
    return rows


def _onnx(a: RunFolder, b: RunFolder, version: str) -> list[dict]:
    from bwkit.serving import onnx_session, run_onnx
    from bwkit.training import load

    X = load(b, log=lambda *_: None).prepared.splits["test"].X
    outputs = [run_onnx(onnx_session(f.onnx(version)), X) for f in (a, b)]
    return [{"what": "ONNX outputs on the test windows", "original": None, "reproduced": None,
             "difference": float(np.abs(outputs[0] - outputs[1]).max())}]


def compare(original: RunFolder, reproduced: RunFolder) -> dict:
    """Everything that differs between two runs of the same record: drift rows and differing versions."""
    old, new = (read_record(f) for f in (original, reproduced))
    version = model_version(old)
    rows = [{"what": "data sha256", "original": old["data"].get("sha256"), "reproduced": new["data"].get("sha256"),
             "difference": float(old["data"].get("sha256") != new["data"].get("sha256"))}]
    rows += _weights(original, reproduced) + _metrics(original, reproduced) + _onnx(original, reproduced, version)
    drift = [r for r in rows if r["difference"] != 0]
    envs = [r.get("environment", {}) for r in (old, new)]
    versions = {k: [old["versions"].get(k), new["versions"].get(k)] for k in {*old["versions"], *new["versions"]}
                if old["versions"].get(k) != new["versions"].get(k)}
    if envs[0].get("commit") != envs[1].get("commit"):
        versions["bwkit commit"] = [envs[0].get("commit"), envs[1].get("commit")]
    machines = [e.get("machine") or {} for e in envs]
    for key in sorted({*machines[0], *machines[1]} - {"platform"}):   # the kernel's build is not the arithmetic
        if machines[0].get(key) != machines[1].get(key):
            versions[f"machine {key}"] = [machines[0].get(key), machines[1].get(key)]
    return {"of": old["run_id"], "verdict": "reproduced exactly" if not drift else f"drifted ({len(drift)} of "
            f"{len(rows)} comparisons differ)", "compared": len(rows), "drift": drift, "versions_differ": versions}


def reproduce(run_dir, run_id: str | None = None, log=print) -> tuple[Path, dict]:
    """Re-run `run_dir` from its run.json beside it; return the new run's page and the comparison."""
    from bwkit.pipeline.runner import run
    from bwkit.reports import write_run_index

    original = RunFolder(Path(run_dir).expanduser().resolve())
    try:
        record = read_record(original)
    except RunError as exc:   # no run folder, or a record that does not read: a bad argument, nothing ran
        raise ParameterError(f"{exc}; nothing to reproduce") from None
    if record.get("status") != "succeeded":
        raise ParameterError(f"run {record['run_id']} is {record.get('status')!r} in its record: only a succeeded "
                             "run can be reproduced")   # refused like a bad argument (exit 2), as resume refuses
    missing = [f.name for f in (original.checkpoint, original.report, original.onnx(model_version(record)))
               if not f.is_file()]
    if missing:   # said before anything trains: the comparison reads each of them
        raise ParameterError(f"{original.root} has no {', '.join(missing)}, which the reproduction compares with; "
                             "restore it (`bwkit check` lists what changed since the run)")
    config = Config(record["parameters"])
    if record["data"]["generated"]:
        config = config.replace(data_path="")   # generate it again: its sha256 is compared with the record's
    else:
        path = _data_path(record)
        if not holds(path, record["data"].get("sha256")):
            raise ParameterError(f"{path} is not the data run {record['run_id']} read "
                                 f"(sha256 {record['data'].get('sha256')}); restore that file to reproduce it")
        config = config.replace(data_path=str(path))
    index = run(config, run_id=run_id or f"{record['run_id']}-reproduced", runs_root=original.root.parent, log=log)
    reproduced = RunFolder(index.parent)
    from bwkit.pipeline.check import checks

    result = compare(original, reproduced)
    result["check"] = [f"{name}: {detail}" for name, passed, detail in checks(reproduced.root) if not passed]
    target = RunRecord.load(reproduced)
    target.data["reproduction"] = result
    target.save()
    write_run_index(reproduced.root)
    return index, result
