"""HTML that opens offline: executed notebooks, the run's one-page summary, the runs index."""
from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from urllib.parse import quote

from .artifacts import RUNS_INDEX, RunFolder, write_atomic
from .paths import STAGES, TEMPLATES

TEMPLATE = "bwkit_offline"
STYLE = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child,td:nth-child(2){text-align:left}.ok{color:#137333;font-weight:600}
.bad{color:#b3261e;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}code{background:#f5f5f5;padding:0 .2rem}"""


def notebook_to_html(ipynb, html_path=None) -> Path:
    """Executed notebook -> two self-contained HTML pages (images inline, no script, no remote link):
    `<name>.html` for a reviewer (outputs only, the parameters that differ as one table) and
    `<name>.code.html` with every cell, from the same execution."""
    from nbconvert import HTMLExporter
    import nbformat

    ipynb = Path(ipynb)
    html_path = Path(html_path) if html_path else ipynb.with_suffix(".html")
    nb = nbformat.read(ipynb, as_version=4)
    for reviewer, path in ((True, html_path), (False, html_path.with_name(f"{html_path.stem}.code.html"))):
        exporter = HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], embed_images=True,
                                exclude_input=reviewer)
        body, _ = exporter.from_notebook_node(_for_reviewer(nb) if reviewer else nb,
                                              resources={"metadata": {"name": ipynb.stem}})
        write_atomic(path, body)
    return html_path


def _for_reviewer(nb):
    """The notebook without its parameter cells and empty code cells, with a table of what differs instead."""
    import copy

    import nbformat

    from .params import parse_parameters_cell

    nb = copy.deepcopy(nb)
    tagged = {tag: cell for cell in nb.cells for tag in cell.metadata.get("tags", [])}
    defaults = parse_parameters_cell(tagged["parameters"].source) if "parameters" in tagged else {}
    given = parse_parameters_cell(tagged["injected-parameters"].source) if "injected-parameters" in tagged else {}
    changed = [(n, p.default, defaults[n].default if n in defaults else "(not declared)")
               for n, p in given.items() if n not in defaults or p.default != defaults[n].default]
    cell = lambda v: html.escape(repr(v)).replace("|", "&#124;")  # noqa: E731
    table = ("Parameters that differ from this notebook's defaults:\n\n| parameter | value | default |\n|---|---|---|\n"
             + "\n".join(f"| {html.escape(n)} | {cell(v)} | {cell(d)} |" for n, v, d in changed)
             if changed else "Run with this notebook's default parameters.")
    nb.cells = [c for c in nb.cells if not ({"parameters", "injected-parameters"} & set(c.metadata.get("tags", [])))
                and not (c.cell_type == "code" and not c.get("outputs"))]
    first = next((i + 1 for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), 0)
    nb.cells.insert(first, nbformat.v4.new_markdown_cell(table))
    return nb


def paragraph(text: str):
    """Text a user's names may reach (columns, paths), shown in a notebook as one escaped HTML paragraph."""
    from IPython.display import HTML

    return HTML(f"<p>{html.escape(text)}</p>")


def styled_table(frame, caption: str):
    """A metrics table for a notebook: 4 significant digits, every label escaped (names come from the data)."""
    return (frame.style.format("{:.4g}", na_rep="nan").format_index(escape="html", axis=0)
            .format_index(escape="html", axis=1).set_caption(html.escape(caption)))


def ranking(frame):
    """The runs of a comparison, best first, the best row highlighted and every label escaped."""
    best = frame.index[0] if len(frame) and frame["val_loss"].notna().iloc[0] else None
    return (frame.style.format(precision=4, na_rep="", escape="html").hide(axis="index")
            .apply(lambda row: ["background:#e6f4ea;font-weight:600" if row.name == best else ""] * len(row), axis=1)
            .format_index(escape="html", axis=1))


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _fmt(value) -> str:
    if value is None:
        return "&mdash;"
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4g}"
    return html.escape(str(value))


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<h3>{html.escape(path.stem.replace('_', ' '))}</h3><img alt='{path.name}' src='data:image/png;base64,{data}'>"


TABLE_COLUMNS = ("mae", "rmse", "mape", "wape", "r2", "correlation", "skill")


def comparison_rows(report: dict, columns=TABLE_COLUMNS):
    """(method, target, rows scored, formatted cells) for every method and target, 'average' last."""
    for method, block in report["comparison"].items():
        for target, values in {**block["per_target"], "average": block["average"]}.items():
            yield method, target, values.get("n", ""), [_fmt(values.get(c, float("nan"))) for c in columns]


def metrics_table_html(report: dict) -> str:
    """The comparison table of a report JSON: one row per (method, target)."""
    head = "".join(f"<th>{c}</th>" for c in ("method", "target") + TABLE_COLUMNS)
    rows = [f"<tr{' style=font-weight:600' if target == 'average' else ''}><td>{html.escape(method)}</td>"
            f"<td>{html.escape(target)}</td>{''.join(f'<td>{c}</td>' for c in cells)}</tr>"
            for method, target, _, cells in comparison_rows(report)]
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def markdown_table(report: dict) -> str:
    """The comparison of a report JSON as a Markdown table (what README quotes)."""
    lines = ["| method | target | rows | " + " | ".join(TABLE_COLUMNS) + " |",
             "|---|---|---:|" + "---:|" * len(TABLE_COLUMNS)]
    lines += [f"| {method} | {target} | {n} | {' | '.join(cells)} |" for method, target, n, cells in comparison_rows(report)]
    return "\n".join(lines)


def _reproduction(result: dict) -> str:
    """The verdict of `bwkit reproduce`, with what drifted and which versions differ."""
    ok = result["verdict"] == "reproduced exactly"
    rows = "".join(f"<tr><td>{html.escape(r['what'])}</td><td>{_fmt(r['original'])}</td><td>{_fmt(r['reproduced'])}"
                   f"</td><td>{_fmt(r['difference'])}</td></tr>" for r in result["drift"][:50])
    table = ("<table><tr><th>what</th><th>original</th><th>reproduced</th><th>difference</th></tr>" + rows
             + "</table>") if rows else ""
    versions = "".join(f"<li>{html.escape(k)}: {html.escape(str(a))} &rarr; {html.escape(str(b))}</li>"
                       for k, (a, b) in result["versions_differ"].items())
    return (f"<h2>Reproduction of <code>{html.escape(result['of'])}</code>: <span class='{'ok' if ok else 'bad'}'>"
            f"{html.escape(result['verdict'])}</span></h2><p>{result['compared']} comparisons (data hash, every weight, "
            f"every metric, ONNX outputs on the test windows).</p>{table}"
            + (f"<p>Versions that differ:</p><ul>{versions}</ul>" if versions else ""))


def write_run_index(run_dir) -> Path:
    """runs/<id>/index.html: status, verdict, metrics table, plots, links to the four reports."""
    files = RunFolder(run_dir)
    run = json.loads(files.run_json.read_text())
    status = run["status"]
    parts = [f"<p><a href='../{RUNS_INDEX}'>&larr; all runs</a></p>",
             f"<h1>bwkit run <code>{html.escape(run['run_id'])}</code></h1>",
             f"<p>Status: <span class='{'ok' if status == 'succeeded' else 'bad'}'>{html.escape(status)}</span>"
             f" &middot; started {html.escape(run.get('started', ''))} &middot; {run.get('wall_seconds', 0):.1f} s</p>"]
    if run.get("error"):
        parts.append(f"<pre class='bad'>{html.escape(run['error'])}</pre>")
    if run.get("reproduction"):
        parts.append(_reproduction(run["reproduction"]))
    if files.report.exists():
        report = json.loads(files.report.read_text())
        achieved = report["achieved_metrics"]
        parts.append(f"<h2>Verdict: <span class='{'ok' if report['success'] else 'bad'}'>"
                     f"{'meets' if report['success'] else 'does not meet'}</span> the original guide's rule</h2>"
                     f"<p>average correlation {_fmt(achieved['correlation'])} (needs &ge; "
                     f"{report['target_metrics']['correlation']}), average MAPE {_fmt(achieved['mape'])} % (needs &le; "
                     f"{report['target_metrics']['mape']} %).</p><p>{html.escape(report.get('summary', ''))}</p>")
        parts.append("<h2>Test-split metrics, model beside baselines</h2>" + metrics_table_html(report))
    links = [f"<li><a href='{files.html(s).name}'>{s}</a> (<a href='{files.html_with_code(s).name}'>with code</a>)"
             "</li>" for s in STAGES if files.html(s).exists()]
    parts.append("<h2>Notebook reports</h2><ul>" + "".join(links) + "</ul>")
    stages = run.get("stages", {})
    if stages:
        parts.append("<h2>Stages</h2><table><tr><th>stage</th><th>status</th><th>seconds</th></tr>" + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v['status'])}</td><td>{v.get('seconds', 0):.1f}</td></tr>"
            for k, v in stages.items()) + "</table>")
    parts += [_img(path) for path in files.plots() if path.exists()]
    parts.append("<h2>Parameters</h2><table>" + "".join(
        f"<tr><td>{html.escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in run["parameters"].items()) + "</table>")
    write_atomic(files.index, _page(f"bwkit run {run['run_id']}", "".join(parts)))
    return files.index


SUMMARY_PARAMS = ("profile", "data_path", "epochs", "batch_size", "learning_rate", "window_size", "hidden_size")


def _runs_row(files: RunFolder) -> str:
    """One row of the list of runs; a run.json that cannot be read is shown as such, never fatal."""
    from .record import reconcile

    link = f"<a href='{html.escape(quote(files.root.name))}/{RunFolder.INDEX}'>{html.escape(files.root.name)}</a>"
    try:
        run = reconcile(files)
        achieved = json.loads(files.report.read_text())["achieved_metrics"] if files.report.exists() else {}
    except (OSError, ValueError, KeyError) as exc:
        return f"<tr><td>{link}</td><td colspan='5' class='bad'>unreadable record: {html.escape(str(exc))}</td></tr>"
    params = ", ".join(f"{k}={run['parameters'][k]}" for k in SUMMARY_PARAMS if k in run.get("parameters", {}))
    status = str(run.get("status"))
    return (f"<tr><td>{link}</td><td>{html.escape(str(run.get('started', '')))}</td><td>{html.escape(params)}</td>"
            f"<td>{_fmt(achieved.get('correlation'))}</td><td>{_fmt(achieved.get('mape'))}</td>"
            f"<td class='{'ok' if status == 'succeeded' else 'bad'}'>{html.escape(status)}</td></tr>")


def write_runs_index(runs_root) -> Path:
    """runs/index.html: one row per run, newest first (written atomically)."""
    runs_root = Path(runs_root)
    found = sorted(runs_root.glob(f"*/{RunFolder.RUN_JSON}"), key=lambda p: p.stat().st_mtime, reverse=True)
    table = ("<table><tr><th>run</th><th>started (UTC)</th><th>key parameters</th><th>avg correlation</th>"
             "<th>avg MAPE %</th><th>status</th></tr>" + "".join(_runs_row(RunFolder(p.parent)) for p in found)
             + "</table>")
    return write_atomic(runs_root / RUNS_INDEX, _page("bwkit runs", "<h1>bwkit runs</h1>" + table
                                                      + _sweeps_list(runs_root)))


def _sweeps_list(runs_root: Path) -> str:
    """The sweeps under runs/sweeps/, each linking to its comparison page."""
    items = []
    for record in sorted((runs_root / "sweeps").glob("*/sweep.json")):
        name = record.parent.name
        try:
            runs = len(json.loads(record.read_text()).get("runs", []))
        except ValueError:
            runs = "?"
        page = record.parent / "05_compare.html"
        link = (f"<a href='sweeps/{html.escape(quote(name))}/05_compare.html'>{html.escape(name)}</a>"
                if page.exists() else html.escape(name) + " (no comparison page yet)")
        items.append(f"<li>{link}: {runs} runs</li>")
    return "<h2>Sweeps</h2><ul>" + "".join(items) + "</ul>" if items else ""
