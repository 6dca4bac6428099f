"""MODEL_CARD.md: what a run's model is for and how good it is, generated from the run's record.

Everything in the card is read from the run folder (run.json, the report JSON, the model
metadata, the data file's first and last rows): nothing is written by hand, so the card
says what the evaluation found, including what speaks against the model. A card is a list
of blocks, rendered both as Markdown (the file) and as HTML (a section of the run page).
"""
from __future__ import annotations

import html
import json
from pathlib import Path

from bwkit.runs import RunFolder, model_version, record_or_empty, write_atomic
from bwkit.schema import unit

# Each block: ("h2", text) | ("p", text) | ("ul", [items]) | ("table", [header], [[cells], ...])


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _names(text: str) -> list[str]:
    return [n.strip() for n in str(text).split(",") if n.strip()]


def _with_units(columns: list[str]) -> str:
    return ", ".join(f"{c} ({unit(c)})" if unit(c) else c for c in columns)


def _predicts(run: dict, report: dict, files: RunFolder) -> list:
    config = report.get("config") or run.get("parameters", {})   # .get: an unfinished or old run may lack any name
    targets, features = _names(config.get("targets", "")), _names(config.get("features", ""))
    window = config.get("window_size")
    lines = [f"The next row's {_with_units(targets)}, from the previous {window} rows of {_with_units(features)}."]
    if config.get("known_future") is True:
        lines.append("It also sees the predicted row's hour and weekday, which are known before the row is measured.")
    if config.get("residual") is True:
        lines.append("It predicts the change from the last observed value (residual), in the targets' own units.")
    version = model_version(run)
    written = [f"{RunFolder.CHECKPOINT} (PyTorch)"] if files.checkpoint.is_file() else []
    if files.onnx(version).is_file():
        written.append(f"{files.onnx(version).name} with {files.metadata(version).name} (any ONNX runtime; "
                       "`bwkit.Predictor` derives the input from raw rows)")
    return [("h2", "What the model predicts"),
            ("p", f"{report.get('model', 'An LSTM')}. " + " ".join(lines)),
            ("p", "Files: " + (", ".join(written) or "none (the run ended before its model was saved)") + ".")]


def _edge_rows(path: Path) -> tuple[str, str, str] | None:
    """The header, first and last data lines of a CSV (reading only its two ends); None if unreadable."""
    try:
        with open(path, "rb") as f:
            header, first = f.readline().decode(), f.readline().decode()
            f.seek(max(0, f.seek(0, 2) - 4096))
            last = f.read().decode(errors="replace").rstrip("\n").rsplit("\n", 1)[-1]
    except (OSError, UnicodeDecodeError):
        return None
    return header, first, last


def _span(path: Path, found: dict) -> str:
    """The data's first and last times in UTC and its cadence, as the loader found them; a run recorded before the
    loader kept them: the first and last rows' timestamps as the file writes them, or "unknown"."""
    if found.get("span"):
        first, last = found["span"]
        return f"{first} to {last}, a row every {found['cadence_seconds']:g} s"
    rows = _edge_rows(path) if path.suffix == ".csv" else None
    if not rows or "timestamp" not in rows[0].strip().split(","):
        return "unknown"
    column = rows[0].strip().split(",").index("timestamp")
    first, last = (line.strip().split(",")[column] if line.strip() else "?" for line in rows[1:])
    return f"{first} to {last}"


def _licence(path: Path) -> str:
    """A licence the data states beside itself (a LICENSE* file in its folder), else "unknown"."""
    found = sorted(path.parent.glob("LICENSE*")) + sorted(path.parent.glob("LICENCE*"))
    if not found:
        return "unknown (no LICENSE file beside the data)"
    name = found[0].stem.split("-", 1)[1] if "-" in found[0].stem else found[0].stem
    return f"{name} ({found[0].name} beside the data)"


def _data(run: dict, report: dict) -> list:
    data, found = run.get("data", {}), report.get("data", {})
    path = Path(data.get("path", ""))
    params = run.get("parameters", {})
    origin = (f"synthetic, from bwkit's generator (profile {params.get('profile')}, seed {params.get('seed')}, "
              f"{params.get('samples')} rows)" if data.get("generated") else "a CSV given by the user")
    return [("h2", "Training data"),
            ("ul", [f"Path: `{path}` ({origin})", f"sha256: `{data.get('sha256') or found.get('sha256') or 'unknown'}`",
                    f"Rows: {found.get('rows', 'unknown')}; traces: {found.get('traces', 'unknown')}",
                    f"Time span: {_span(path, found)}", f"Licence: {_licence(path)}",
                    "Split: chronological, 70 % train / 15 % validation / 15 % test of the windows; scalers fit on "
                    "train only"] + [f"Note: {n}" for n in found.get("notes", [])])]


def _fmt(value, digits: int = 4) -> str:
    return "–" if not isinstance(value, (int, float)) or value != value else f"{value:.{digits}f}"


def _change(row, between: str = "") -> str:
    """A tests_table row's MSE change and its interval ("+4.6 % [-0.9, +15.2]"), or, where it has none, why."""
    interval = row["95 % interval (MSE %)"]
    change = row["MSE change %"]
    return f"{change:+.1f} %{between} {interval}" if change == change else interval


def _tests(report: dict):
    from bwkit.evaluation import tests_table

    return tests_table(report["significance"]) if report.get("significance") else None


def _metrics(report: dict) -> list:
    """Every method's averages beside the model's MSE change against it, with its 95 % interval and verdict."""
    from bwkit.evaluation import MODEL

    tests = _tests(report)
    rows = []
    for method, scores in report.get("comparison", {}).items():
        avg = scores["average"]
        row = tests[(tests["against"] == method) & (tests["target"] == "average")] if tests is not None else []
        against = ((_change(row.iloc[0]), row.iloc[0]["verdict"]) if len(row)
                   else ("(this model)", "") if method == MODEL else ("–", ""))
        rows.append([method, _fmt(avg.get("correlation")), _fmt(avg.get("mape"), 2), _fmt(avg.get("skill")), *against])
    return [("h2", f"Metrics on the test split ({report.get('test_rows', '?')} rows, averages over targets)"),
            ("table", ["method", "r", "MAPE (%)", "skill vs persistence", "model's MSE change vs it [95 % interval]",
                       "verdict"], rows),
            ("p", "Intervals: paired block bootstrap over test rows. " + report.get("block_rule", ""))]


def _bands(report: dict) -> list:
    from bwkit.evaluation import MODEL

    model = (report.get("intervals") or {}).get("methods", {}).get(MODEL, {})
    rows = [[f"{e['level']:.0%}", e["target"], _fmt(e["coverage"], 3), _fmt(a.get("coverage"), 3), str(e["rows"])]
            for e, a in zip(model.get("test", []), model.get("adaptive_test", []) or [{}] * len(model.get("test", [])))]
    if not rows:
        return []
    return [("h2", "Prediction bands: coverage on the test split"),
            ("table", ["level", "target", "calibrated on validation", "adaptive", "rows"], rows)]


def _stopped(files: RunFolder) -> str:
    """How training ended, from the log's last words."""
    try:
        text = files.log.read_text()
    except OSError:
        return "unknown (no training log)"
    if "# stopped at epoch" in text:
        return text.split("# stopped at epoch", 1)[1].split("\n", 1)[0].strip().join(("stopped at epoch ", ""))
    return "early stopping on validation loss" if "# early stop" in text else "the maximum number of epochs"


def _settings(files: RunFolder, report: dict) -> list:
    from bwkit.training import selection_sentence

    items = []
    if report.get("selection"):
        items.append(selection_sentence(report["selection"]))
    if report.get("blend"):
        items.append("Weight of the training mean for the predicted hour and weekday, per target (chosen on "
                     "validation): " + ", ".join(f"{t} {w:.1f}" for t, w in report["blend"].items()))
    if "best_epoch" in report:
        items.append(f"Weights kept: epoch {report['best_epoch']}, the lowest validation loss "
                     f"({_fmt(report.get('best_val_loss'), 6)}, MSE on standardised targets); training ended by "
                     f"{_stopped(files)}.")
    if report.get("intervals"):
        items.append("Band widths: " + report["intervals"]["method"] + f" ({report['intervals']['validation_rows']} "
                     "validation rows).")
    return [("h2", "Settings chosen on validation"), ("ul", items or ["none recorded (the run did not finish 03_evaluate)"])]


def _cost(run: dict, metadata: dict, report: dict) -> list:
    machine, device = run.get("environment", {}).get("machine", {}), metadata.get("hardware", {})
    stages = ", ".join(f"{name} {s.get('seconds', 0):.1f} s" for name, s in run.get("stages", {}).items())
    return [("h2", "Hardware and time"),
            ("ul", [f"Machine: {machine.get('cpu', 'unknown')}, {machine.get('cpu_count', '?')} cores; trained on "
                    f"{device.get('device', 'unknown')} with {device.get('torch_threads', '?')} torch thread(s)",
                    f"Training: {_fmt(report.get('training_time_seconds'), 1)} s (selection included); the whole run: "
                    f"{_fmt(run.get('wall_seconds'), 1)} s ({stages})",
                    f"Versions: " + ", ".join(f"{k} {v}" for k, v in run.get("versions", {}).items())])]


def _caveats(run: dict, report: dict) -> list:
    items = []
    if run.get("status") != "succeeded":
        items.append(f"The run is {run.get('status')}: {run.get('error', 'no error recorded')}. What follows may be "
                     "missing or partial.")
    if report:
        rule = report["target_metrics"]
        items.append(f"The original guide's rule (average r >= {rule['correlation']}, average MAPE <= {rule['mape']:g} %) "
                     f"is {'met' if report['success'] else 'not met'}.")
    from bwkit.evaluation import method_names

    tests = _tests(report) if report else None
    if tests is not None:   # against the baselines (the ceiling is out of reach by design)
        weak = (tests["target"] != "average") & (tests["verdict"] != "beats") & tests["against"].isin(method_names("baseline"))
        for r in tests[weak].to_dict("records"):
            items.append(f"On {r['target']} the model is {r['verdict']} {r['against']} "
                         f"({_change(r, ' MSE, 95 % interval')}).")
    items += [f"Suspect values: {w}." for w in (report.get("data") or {}).get("suspect", [])]
    if report.get("per_target", {}).get("packet_loss"):
        items.append("MAPE is computed with a floor (mape_floor in the report): targets near zero, such as "
                     "packet_loss, would otherwise make it explode.")
    return [("h2", "Caveats the evaluation found"), ("ul", items or ["none"])]


def card(run_dir) -> list:
    """The card's blocks, from the run folder's record."""
    files = RunFolder(run_dir)
    run, report = record_or_empty(files), _read(files.report)
    version = model_version(run)
    metadata = _read(files.metadata(version))
    intro = [("h1", f"Model card: run {run.get('run_id', files.root.name)}"),
             ("p", f"Generated by bwkit from this run's {RunFolder.RUN_JSON} and {RunFolder.REPORT} when the run "
                   f"ended (status: {run.get('status', 'unknown')}); never edited by hand.")]
    use = [("h2", "Intended use"),
           ("p", "Next-step prediction of the targets for the link, cadence and kind of network the training data "
                 "comes from, with the calibrated bands beside each prediction."),
           ("h2", "Out of scope"),
           ("ul", ["Other links than the training data's: a new link needs its own run (or a check on its data).",
                   "Other cadences: the model learned steps of the training data's cadence, not longer or shorter ones.",
                   "Other networks or technologies (another operator, Wi-Fi instead of cellular, a data-centre fabric).",
                   "More than one step ahead, and decisions that ignore the bands."])]
    return (intro + _predicts(run, report, files) + use + _data(run, report) + (_metrics(report) if report else [])
            + (_bands(report) if report else []) + _settings(files, report) + _cost(run, metadata, report)
            + _caveats(run, report))


def _md(text) -> str:
    """Text as Markdown shows it literally: HTML's special characters escaped outside `code` spans (a renderer
    shows a code span's text as it is), so a column named '<script>' is a name, not markup."""
    parts = str(text).split("`")
    return "`".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts))


def _markdown_block(block) -> str:
    kind = block[0]
    if kind in ("h1", "h2"):
        return f"{'#' * int(kind[1])} {_md(block[1])}"
    if kind == "p":
        return _md(block[1])
    if kind == "ul":
        return "\n".join(f"- {_md(item)}" for item in block[1])
    header, rows = block[1], block[2]
    lines = ["| " + " | ".join(map(_md, header)) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(_md(c).replace("|", "\\|") for c in row) + " |" for row in rows])


def markdown(blocks: list) -> str:
    return "\n\n".join(_markdown_block(b) for b in blocks) + "\n"


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    parts = html.escape(str(text)).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def card_html(blocks: list) -> str:
    """The same blocks as HTML (the run page's section); h1 becomes h2 there."""
    out = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            out.append(f"<h{int(kind[1]) + 1}>{_inline(block[1])}</h{int(kind[1]) + 1}>")
        elif kind == "p":
            out.append(f"<p>{_inline(block[1])}</p>")
        elif kind == "ul":
            out.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block[1]) + "</ul>")
        else:
            out.append("<table><tr>" + "".join(f"<th>{_inline(h)}</th>" for h in block[1]) + "</tr>" + "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in block[2]) + "</table>")
    return "".join(out)


def write_model_card(run_dir) -> Path:
    """Write runs/<id>/MODEL_CARD.md from the record (atomically); return its path."""
    files = RunFolder(run_dir)
    return write_atomic(files.model_card, markdown(card(files.root)))
