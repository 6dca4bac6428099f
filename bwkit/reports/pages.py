"""The two pages a reviewer opens first: a run's `index.html` and the list of runs.

The run page answers "is the model good, and how sure are we?" on its first screen:
the verdict, the model beside the best baseline and the ceiling, and the sentence that
matters; details are folded below. Every name shown is escaped; images are compressed.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from urllib.parse import quote

from bwkit.reports.html import fmt, p_value, page, signed
from bwkit.errors import RunError
from bwkit.runs import RUNS_INDEX, STAGES, RunFolder, SweepFolder, model_version, read_record, write_atomic
from bwkit.schema import unit

SCALE_FREE = (("correlation", "avg r", 4), ("mape", "avg MAPE (%)", 2), ("wape", "avg WAPE (%)", 2),
              ("r2", "avg R²", 4), ("skill", "avg skill vs persistence", 4))
HIGHER_IS_BETTER = {"correlation", "r2", "skill"}


def _num(value, digits: int) -> str:
    return "&mdash;" if not isinstance(value, (int, float)) or value != value else f"{value:.{digits}f}"


def _img(path: Path) -> str:
    """A plot inline, as a 64-colour PNG (a third of matplotlib's size, lines still sharp at 1400 px)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.open(path).convert("RGB").quantize(colors=64).save(buffer, "PNG", optimize=True)
    data = base64.b64encode(buffer.getvalue()).decode()
    title = html.escape(path.stem.replace("_", " "))
    return f"<figure><img alt='{title}' src='data:image/png;base64,{data}'><figcaption>{title}</figcaption></figure>"


def _key_methods(report: dict) -> list[str]:
    """The model, the best baseline (highest average skill), the trees (what a modeller would try instead),
    persistence and the ceiling, each when there is one."""
    from bwkit.evaluation import MODEL, REFERENCE, TREES, best_baseline, method_names

    comparison = report["comparison"]
    shown = [MODEL, best_baseline(report), TREES, REFERENCE] + [m for m in method_names("ceiling") if m in comparison]
    return [m for m in dict.fromkeys(shown) if m in comparison]


def _averages_table(report: dict, methods: list[str]) -> str:
    """Averages of scale-free metrics, one row per method; the best value per column in bold (ceiling aside)."""
    from bwkit.evaluation import method_names

    comparison, ceilings = report["comparison"], set(method_names("ceiling"))
    best = {}
    for metric, _, _ in SCALE_FREE:
        values = [comparison[m]["average"].get(metric) for m in methods if m not in ceilings]
        values = [v for v in values if isinstance(v, (int, float)) and v == v]   # a value (NaN, None: none)
        best[metric] = (max if metric in HIGHER_IS_BETTER else min)(values) if values else None
    head = "<tr><th>method</th>" + "".join(f"<th>{label}</th>" for _, label, _ in SCALE_FREE) + "<th>rule</th></tr>"
    rows = []
    for m in methods:
        avg = comparison[m]["average"]
        marked = {k for k, _, _ in SCALE_FREE if best[k] is not None and avg.get(k) == best[k] and m not in ceilings}
        cells = "".join(f"<td{' class=best' if k in marked else ''}>{_num(avg.get(k), d)}</td>"
                        for k, _, d in SCALE_FREE)
        rule = "meets" if report["verdicts"].get(m) else "fails"
        rows.append(f"<tr><td>{html.escape(m)}{' (ceiling)' if m in ceilings else ''}</td>{cells}<td>{rule}</td></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def _per_target_table(report: dict) -> str:
    """Every method and target; MAE and RMSE in the target's units; the best per target in bold."""
    comparison = report["comparison"]
    targets = list(next(iter(comparison.values()))["per_target"])
    columns = (("mae", "MAE", 4), ("rmse", "RMSE", 4), ("mape", "MAPE (%)", 2), ("wape", "WAPE (%)", 2),
               ("r2", "R²", 4), ("correlation", "r", 4), ("skill", "skill", 4))
    rows = []
    for t in targets:
        values = {k: [comparison[m]["per_target"][t].get(k) for m in comparison] for k, _, _ in columns}
        best = {k: (max if k in HIGHER_IS_BETTER else min)([v for v in vs if isinstance(v, (int, float))] or [None])
                for k, vs in values.items()}
        for m in comparison:
            v = comparison[m]["per_target"][t]
            rows.append(f"<tr><td>{html.escape(t)}{f' ({html.escape(unit(t))})' if unit(t) else ''}</td>"
                        f"<td>{html.escape(m)}</td>" + "".join(
                            f"<td{' class=best' if v.get(k) == best[k] else ''}>"
                            f"{_num(v.get(k), d) if k not in ('mae', 'rmse') else fmt(v.get(k))}</td>"
                            for k, _, d in columns) + "</tr>")
    head = "<tr><th>target (unit)</th><th>method</th>" + "".join(f"<th>{label}</th>" for _, label, _ in columns)
    return f"<table>{head}</tr>{''.join(rows)}</table>"


def _tests_table(report: dict) -> str:
    """The model against each other method, averaged over targets: changes with 95 % intervals and the verdict."""
    from bwkit.evaluation import tests_table

    if not report.get("significance"):
        return ""
    frame = tests_table(report["significance"])
    rows = "".join(f"<tr><td>{html.escape(r['against'])}</td><td>{signed(r['MSE change %'], 1, ' %')} "
                   f"{r['95 % interval (MSE %)']}</td><td>{signed(r['r change'], 4)} {r['95 % interval (r)']}</td>"
                   f"<td>{html.escape(p_value(r['DM p']))}</td><td>{html.escape(r['verdict'])}</td></tr>"
                   for r in frame[frame["target"] == "average"].to_dict("records"))
    return ("<table><tr><th>model against</th><th>MSE change % [95 % interval]</th><th>r change [95 % interval]</th>"
            "<th>Diebold–Mariano p</th><th>verdict</th></tr>" + rows + "</table><p>Averages over targets; "
            "a positive MSE change means the model's errors are larger. Intervals from a paired block bootstrap "
            "over test rows (per target: 03_evaluate).</p>")


def _verdict(report: dict) -> str:
    """The first screen: the model against the best baseline (and persistence), the guide's rule second, a
    quick test said as such; then the key methods' averages and the tests."""
    from bwkit.evaluation import headline
    from bwkit.runs import notebook_parameters

    said = headline(report, default_epochs=notebook_parameters("02_train")["epochs"].default)
    achieved = report["achieved_metrics"]
    trees = [s.rstrip(".") + "." for s in report.get("summary", "").split(". ") if s.startswith("Gradient-boosted")]
    details = "".join(f"<p class='lead'>{html.escape(d)}</p>" for d in [*trees, *said.details]) + "".join(
        f"<p class='warn'>{html.escape(w)}</p>" for w in said.warnings)
    return (f"<h2 class='verdict {said.tone}'>{html.escape(said.lead)}</h2>{details}"
            f"<p>Achieved: average r {_num(achieved['correlation'], 4)}, average MAPE {_num(achieved['mape'], 2)} %; "
            f"test split: {report.get('test_rows', '?')} rows.</p>"
            + _averages_table(report, _key_methods(report)) + _tests_table(report))


def _reproduction(result: dict) -> str:
    """The verdict of `bwkit reproduce`, with what drifted and which versions differ."""
    ok = result["verdict"] == "reproduced exactly"
    rows = "".join(f"<tr><td>{html.escape(r['what'])}</td><td>{fmt(r['original'])}</td><td>{fmt(r['reproduced'])}"
                   f"</td><td>{fmt(r['difference'])}</td></tr>" for r in result["drift"][:50])
    table = ("<table><tr><th>what</th><th>original</th><th>reproduced</th><th>difference</th></tr>" + rows
             + "</table>") if rows else ""
    versions = "".join(f"<li>{html.escape(k)}: {html.escape(str(a))} &rarr; {html.escape(str(b))}</li>"
                       for k, (a, b) in result["versions_differ"].items())
    return (f"<h2>Reproduction of <code>{html.escape(result['of'])}</code>: <span class='{'ok' if ok else 'bad'}'>"
            f"{html.escape(result['verdict'])}</span></h2><p>{result['compared']} comparisons (data hash, every weight, "
            f"every metric, ONNX outputs on the test windows).</p>{table}"
            + (f"<p>Versions that differ:</p><ul>{versions}</ul>" if versions else ""))


def _links(files: RunFolder, run: dict) -> str:
    """Every artifact of the folder that exists, and the way back to the list of runs."""
    version = model_version(run)
    named = [(files.model_card, "the model card: use, data, metrics beside the baselines, caveats"),
             (files.run_json, "the record: parameters, status, timings, versions, sha256 manifest"),
             (files.report, "every metric of every method (JSON)"), (files.log, "one line per epoch"),
             (files.checkpoint, "best-validation checkpoint (torch.load(..., weights_only=True))"),
             (files.onnx(version), "the model for any ONNX runtime"), (files.metadata(version), "what feeding it needs"),
             (files.torchscript(version), "TorchScript"), (files.data, "the generated data"),
             (files.window_only_checkpoint, "the window-only twin")]
    items = [f"<li><a href='{files.html(s).name}'>{s}</a> (<a href='{files.html_with_code(s).name}'>with code</a>)"
             "</li>" for s in STAGES if files.html(s).exists()]
    items += [f"<li><a href='{html.escape(quote(str(p.relative_to(files.root))))}'>{html.escape(p.name)}</a>: {what}"
              "</li>" for p, what in named if p.exists()]
    return "<h2>Files</h2><ul>" + "".join(items) + "</ul>" + nav(files.root)


def _split(record: dict | None) -> str:
    """The split as 02_train shows it: warnings in the open, the span and share tables folded."""
    if not record:
        return ""
    def rows(records: list[dict]) -> str:
        head = "".join(f"<th>{html.escape(str(k))}</th>" for k in records[0])
        return f"<table><tr>{head}</tr>" + "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values())
                                                  + "</tr>" for r in records) + "</table>"
    warned = "".join(f"<p class='bad'>{html.escape(w)}</p>" for w in record["warnings"])
    gaps = (f"<p>{record['dropped_for_gaps']:,} windows dropped: they would span a step longer than "
            f"{record['max_gap_cadences']:g} x {record['cadence_seconds']:g} s.</p>")
    return warned + _folded(f"The split (split={html.escape(record['split'])}): spans, windows, shares",
                            rows(record["table"]) + gaps + rows(record["shares"]))


def place(folder) -> tuple[Path, str | None, Path | None]:
    """Where a page's folder sits: (the runs root, "sweep"/"study"/"comparison" or None, that group's folder).
    A run of a sweep lives in runs/sweeps/<id>/, of a search in runs/studies/<id>/; a `bwkit compare` page in
    runs/comparisons/<id>/."""
    from bwkit.runs import COMPARISONS, STUDIES, SWEEPS

    folder = Path(folder).resolve()
    for up, group in ((folder.parent, folder.parent.parent), (folder, folder.parent)):
        kind = {SWEEPS: "sweep", STUDIES: "study", COMPARISONS: "comparison"}.get(group.name)
        if kind:
            return group.parent, kind, up
    return folder.parent, None, None


def nav(folder, *, is_run: bool = True) -> str:
    """The way back to the list of runs and across: a sweep's or a study's run to its group's page, a group's
    page to the list. `folder`: the page's own folder (a run folder, or the group's)."""
    from bwkit.runs import COMPARE_PAGE

    folder = Path(folder).resolve()
    root, kind, group = place(folder if is_run else folder / "_")
    links = [(root / RUNS_INDEX, "&larr; all runs, sweeps, studies and comparisons")]
    if kind and is_run:
        page_name = "index.html" if kind == "study" else COMPARE_PAGE
        links.append((group / page_name, f"&larr; this run's {kind} <code>{html.escape(group.name)}</code>"))
    return "<nav class='links'>" + "".join(
        f"<a href='{html.escape(quote(relative_link(target, folder)))}'>{text}</a>" for target, text in links) + "</nav>"


def relative_link(target: Path, start: Path) -> str:
    """`target` as a link from a page in folder `start` (forward slashes, unquoted)."""
    import os

    return os.path.relpath(target, start).replace(os.sep, "/")


def _folded(title: str, body: str) -> str:
    return f"<details><summary>{title}</summary>{body}</details>"


def write_run_index(run_dir, plots: bool = True) -> Path:
    """runs/<id>/index.html: verdict and key comparison first, then plots, files and folded details.

    plots=False while a run is under way: the page says where it is without compressing images each stage."""
    files = RunFolder(run_dir)
    run = read_record(files)
    status = run["status"]
    parts = [nav(files.root), f"<h1>bwkit run <code>{html.escape(run['run_id'])}</code></h1>",
             f"<p>Status: <span class='{'ok' if status == 'succeeded' else 'bad'}'>{html.escape(status)}</span>"
             f" &middot; started {html.escape(run.get('started', ''))} &middot; {run.get('wall_seconds', 0):.1f} s</p>"]
    if run.get("error"):
        parts.append(f"<pre class='bad'>{html.escape(run['error'])}</pre>")
    if run.get("reproduction"):
        parts.append(_reproduction(run["reproduction"]))
    if files.report.exists():
        report = json.loads(files.report.read_text())
        parts.append(_verdict(report))
        parts.append(_folded("Every method, averages", _averages_table(report, list(report["comparison"]))))
        parts.append(_folded("Every method and target (best per target in bold)", _per_target_table(report)))
        parts.append(_folded("The summary in full", f"<p>{html.escape(report.get('summary', ''))}</p>"))
        parts.append(_split(report.get("data", {}).get("split")))
    parts += [_img(path) for path in files.plots() if path.exists() and plots]
    if files.model_card.exists():
        from bwkit.reports.model_card import card, card_html

        parts.append(_folded(f"Model card ({RunFolder.MODEL_CARD})", card_html(card(files.root))))
    parts.append(_links(files, run))
    stages = run.get("stages", {})
    parts.append(_folded("Stages", "<table><tr><th>stage</th><th>status</th><th>seconds</th></tr>" + "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(v['status'])}</td><td>{v.get('seconds', 0):.1f}</td></tr>"
        for k, v in stages.items()) + "</table>"))
    parts.append(_folded("Parameters", "<table>" + "".join(
        f"<tr><td>{html.escape(k)}</td><td>{fmt(v)}</td></tr>" for k, v in run["parameters"].items()) + "</table>"))
    write_atomic(files.index, page(f"bwkit run {run['run_id']}", "".join(parts)))
    return files.index


SORTING = """<script id='bwkit-sort'>
document.querySelectorAll('table.sortable th').forEach((th, col) => th.addEventListener('click', () => {
  const body = th.closest('table').tBodies[0], rows = [...body.rows], up = th.dataset.up !== '1';
  const key = r => { const t = r.cells[col].dataset.sort ?? r.cells[col].innerText; const n = parseFloat(t);
                     return isNaN(n) ? t : n; };
  rows.sort((a, b) => { const x = key(a), y = key(b); return (x > y ? 1 : x < y ? -1 : 0) * (up ? 1 : -1); });
  th.dataset.up = up ? '1' : '0'; rows.forEach(r => body.appendChild(r));
}));
</script>"""


def _differences(parameters: dict, defaults: dict) -> str:
    """What a run changed from the defaults; its data by file name, the full path on hover."""
    parts = []
    for name, value in parameters.items():
        if name == "data_path":
            if value and not str(value).endswith(RunFolder.DATA):
                parts.append(f"<span title='{html.escape(str(value))}'>data={html.escape(Path(value).name)}</span>")
        elif name in defaults and value != defaults[name]:
            parts.append(html.escape(f"{name}={value}"))
    return ", ".join(parts) or "defaults"


def _runs_row(files: RunFolder, defaults: dict) -> str:
    """One row of the list of runs; a run.json that cannot be read is shown as such, never fatal."""
    from bwkit.runs import reconcile

    link = f"<a href='{html.escape(quote(files.root.name))}/{RunFolder.INDEX}'>{html.escape(files.root.name)}</a>"
    try:
        run = reconcile(files)
        report = json.loads(files.report.read_text()) if files.report.exists() else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RunError) as exc:
        return f"<tr><td>{link}</td><td colspan='6' class='bad'>unreadable record: {html.escape(str(exc))}</td></tr>"
    status = str(run.get("status"))
    reason = f"<br><small>{html.escape(str(run['error'])[:200])}</small>" if run.get("error") else ""
    achieved = report.get("achieved_metrics", {})
    verdict = ("meets" if report["success"] else "fails") if report else "&mdash;"
    return (f"<tr><td>{link}</td><td>{html.escape(str(run.get('started', '')))}</td>"
            f"<td data-sort='{html.escape(status)}' class='{'ok' if status == 'succeeded' else 'bad'}'>"
            f"{html.escape(status)}{reason}</td><td>{verdict}</td><td>{_num(achieved.get('correlation'), 4)}</td>"
            f"<td>{_num(achieved.get('mape'), 2)}</td><td>{_differences(run.get('parameters', {}), defaults)}</td></tr>")


def write_runs_index(runs_root) -> Path:
    """runs/index.html: one row per run, newest first, sortable by any column (written atomically)."""
    from bwkit.reports.study import studies_list
    from bwkit.runs import configure

    runs_root, defaults = Path(runs_root), configure()
    found = sorted(runs_root.glob(f"*/{RunFolder.RUN_JSON}"), key=lambda p: p.stat().st_mtime, reverse=True)
    table = ("<table class='sortable'><thead><tr><th>run</th><th>started (UTC)</th><th>status</th><th>verdict</th>"
             "<th>avg r</th><th>avg MAPE (%)</th><th>what differs from the defaults</th></tr></thead><tbody>"
             + "".join(_runs_row(RunFolder(p.parent), defaults) for p in found) + "</tbody></table>")
    body = ("<h1>bwkit runs</h1><p>Click a column's header to sort by it. The verdict is the original guide's "
            "rule (average r &ge; 0.98 and average MAPE &le; 5 %).</p>" + table + _sweeps_list(runs_root)
            + studies_list(runs_root) + _comparisons_list(runs_root) + SORTING)
    return write_atomic(runs_root / RUNS_INDEX, page("bwkit runs", body))


def _comparisons_list(runs_root: Path) -> str:
    """The pages of `bwkit compare` under runs/comparisons/, newest first."""
    from bwkit.runs import COMPARE_PAGE, COMPARISONS

    found = sorted((runs_root / COMPARISONS).glob(f"*/{COMPARE_PAGE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    items = [f"<li><a href='{html.escape(quote(str(p.relative_to(runs_root))))}'>{html.escape(p.parent.name)}</a></li>"
             for p in found]
    return "<h2>Comparisons (bwkit compare)</h2><ul>" + "".join(items) + "</ul>" if items else ""


def _sweeps_list(runs_root: Path) -> str:
    """The sweeps under runs/sweeps/, each linking to its comparison page."""
    items = []
    for sweep in SweepFolder.all(runs_root):
        name = sweep.root.name
        try:
            runs = len(json.loads(sweep.record.read_text()).get("runs", []))
        except (OSError, ValueError, AttributeError):
            runs = "?"
        href = html.escape(quote(str(sweep.page.relative_to(runs_root))))
        link = (f"<a href='{href}'>{html.escape(name)}</a>" if sweep.page.exists()
                else html.escape(name) + " (no comparison page yet)")
        items.append(f"<li>{link}: {runs} runs</li>")
    return "<h2>Sweeps</h2><ul>" + "".join(items) + "</ul>" if items else ""
