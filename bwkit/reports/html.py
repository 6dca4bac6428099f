"""HTML that opens offline: executed notebooks as reviewer pages, notebook displays, shared page bits."""
from __future__ import annotations

import functools
import html
import numbers
from pathlib import Path

from bwkit.lazy import without_iri_grammars
from bwkit.runs import TEMPLATES, write_atomic

TEMPLATE = "bwkit_offline"
STYLE = """body{font-family:system-ui,sans-serif;margin:1.2rem auto;max-width:1300px;color:#222}
.best{font-weight:700}.lead{font-size:1.05rem}details{margin:.4rem 0}summary{cursor:pointer;font-weight:600}
figure{display:block;margin:1.2rem 0}figure img{max-width:100%;height:auto}figcaption{font-size:.85rem;color:#555}
nav.links{font-size:.9rem;margin:.2rem 0 .8rem}nav.links a{margin-right:1rem}
table.sortable th{cursor:pointer}
table{border-collapse:collapse;font-size:.85rem;margin:1rem 0}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child,td:nth-child(2){text-align:left}.ok{color:#137333;font-weight:600}
.bad{color:#b3261e;font-weight:600}h2.verdict{border-left:6px solid #888;padding-left:.6rem}h2.verdict.ok{border-color:#137333}h2.verdict.bad{border-color:#b3261e}.warn{background:#fff4ce;padding:.4rem .6rem;font-weight:600}img{max-width:100%;border:1px solid #eee;margin:.5rem 0}code{background:#f5f5f5;padding:0 .2rem}"""


def notebook_to_html(ipynb, html_path=None) -> Path:
    """Executed notebook -> two self-contained HTML pages (images inline, no script, no remote link):
    `<name>.html` for a reviewer (outputs only, the parameters that differ as one table) and
    `<name>.code.html` with every cell, from the same execution."""
    without_iri_grammars()
    import nbformat

    ipynb = Path(ipynb)
    html_path = Path(html_path) if html_path else ipynb.with_suffix(".html")
    nb = nbformat.read(ipynb, as_version=4)
    for reviewer, path in ((True, html_path), (False, html_path.with_name(f"{html_path.stem}.code.html"))):
        body, _ = _exporter(reviewer).from_notebook_node(_for_reviewer(nb) if reviewer else nb,
                                                         resources={"metadata": {"name": ipynb.stem}})
        write_atomic(path, body)
    return html_path


@functools.lru_cache(maxsize=2)
def _exporter(reviewer: bool):
    """One exporter per variant and process: building one compiles the templates (a good part of a second)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name=TEMPLATE, extra_template_basedirs=[str(TEMPLATES)], embed_images=True,
                        exclude_input=reviewer)


def _for_reviewer(nb):
    """The notebook without its parameter cells and empty code cells, with a table of what differs instead."""
    import copy

    import nbformat

    from bwkit.runs import parse_parameters_cell

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


def p_value(p) -> str:
    """A p-value for people: "< 0.001" below it, three decimals above, "n/a" when there is none."""
    if not isinstance(p, numbers.Real) or p != p:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def signed(value, digits: int = 1, suffix: str = "") -> str:
    """A change with its sign always shown ("+48.8 %", "-0.7 %"); "n/a" when there is none."""
    if not isinstance(value, numbers.Real) or value != value:
        return "n/a"
    return f"{value:+.{digits}f}{suffix}"


def number(value) -> str:
    """Whole numbers with thousands grouped, others to 4 significant digits; "n/a" for NaN."""
    if not isinstance(value, numbers.Real) or value != value:
        return "n/a"
    if isinstance(value, numbers.Integral):
        return f"{value:,}"
    return f"{value:.4g}"


def formatter(column, escaped: bool = True) -> object:
    """How a column of numbers reads, from its name: p-values, signed changes, levels as "80 %", else `number`;
    as HTML text unless `escaped` is False."""
    if escaped:
        plain = formatter(column, escaped=False)
        return lambda v: html.escape(plain(v))
    name = str(column).lower()
    if name in {"p", "dm p", "p-value"} or name.endswith((" p", " p-value")):
        return p_value
    if "change" in name:
        return lambda v: signed(v, 4 if name.startswith("r ") else 1)
    if name.startswith("level"):
        return lambda v: f"{v:g} %" if isinstance(v, numbers.Real) and v == v else "n/a"
    return number


def styled_table(frame, caption: str):
    """A table for a notebook: numbers formatted by what they are (`formatter`), no meaningless 0, 1, 2 ... index,
    every label and text cell escaped."""
    import pandas as pd

    numbers = frame.select_dtypes("number").columns
    style = (frame.style.format({c: formatter(c) for c in numbers})
             .format(escape="html", subset=frame.columns.difference(numbers)).format_index(escape="html", axis=1))
    names = frame.index.names
    for level, name in enumerate(names):
        values = frame.index.get_level_values(level)
        if pd.api.types.is_numeric_dtype(values):
            style = style.format_index(formatter(name or ""), axis=0, level=level)
        else:
            style = style.format_index(escape="html", axis=0, level=level)
    if isinstance(frame.index, pd.RangeIndex):
        style = style.hide(axis="index")
    return style.set_caption(html.escape(caption))


UNIT_METRICS = ("mae", "rmse", "mse")   # in the target's units: an average over targets of different units means nothing


def mixed_units(targets) -> bool:
    """Do these targets have different units (or any unknown one)?"""
    from bwkit.schema import unit

    units = {unit(t) for t in targets}
    return len(units) > 1 or "" in units and len(list(targets)) > 1


def metrics_table(frame, caption: str):
    """`styled_table` of a (method, target) metrics table, its "average" rows' MAE, RMSE and MSE shown as n/a
    when the targets' units differ."""
    targets = [t for t in frame.index.get_level_values("target").unique() if t != "average"]
    if mixed_units(targets):
        frame = frame.copy()
        frame.loc[frame.index.get_level_values("target") == "average", [c for c in UNIT_METRICS if c in frame]] = None
        caption += "; MAE, RMSE and MSE are not averaged over targets in different units (n/a)"
    return styled_table(frame, caption)


def ranking(frame, pages: dict | None = None):
    """The runs of a comparison, best first, the best row highlighted and every label escaped; `pages`: run id ->
    the link to its run page (relative), shown on the run's name."""
    from urllib.parse import quote

    best = frame.index[0] if len(frame) and frame["val_loss"].notna().iloc[0] else None
    numbers = frame.select_dtypes("number").columns
    linked = lambda run: (f"<a href='{html.escape(quote(pages[run]))}'>{html.escape(str(run))}</a>"  # noqa: E731
                          if pages and run in pages else html.escape(str(run)))
    text = frame.columns.difference([*numbers, "run"])
    return (frame.style.format({c: formatter(c) for c in numbers}).format(linked, subset=["run"])
            .format(escape="html", na_rep="", subset=text).hide(axis="index")
            .apply(lambda row: ["background:#e6f4ea;font-weight:600" if row.name == best else ""] * len(row), axis=1)
            .format_index(escape="html", axis=1))


def page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>{body}</body></html>")


def _text(value) -> str:
    """A cell's text: a float to 4 significant digits ("nan" when missing), anything else as it reads."""
    if isinstance(value, float):
        return "nan" if value != value else f"{value:.4g}"
    return str(value)


def fmt(value) -> str:
    return "&mdash;" if value is None else html.escape(_text(value))


TABLE_COLUMNS = ("mae", "rmse", "mape", "wape", "r2", "correlation", "skill")


def _plain(value) -> str:
    """A Markdown table's cell as a terminal shows it: no HTML entity, a "|" that cannot end the cell."""
    return "—" if value is None else _text(value).replace("|", "\\|")


def comparison_rows(report: dict, columns=TABLE_COLUMNS):
    """(method, target, rows scored, cells as text) for every method and target, 'average' last (its MAE and
    RMSE "n/a" when the targets' units differ)."""
    for method, block in report["comparison"].items():
        mixed = mixed_units(block["per_target"])
        for target, values in {**block["per_target"], "average": block["average"]}.items():
            hidden = UNIT_METRICS if target == "average" and mixed else ()
            yield (_plain(method), _plain(target), values.get("n", ""),
                   ["n/a" if c in hidden else _plain(values.get(c, float("nan"))) for c in columns])


def markdown_table(report: dict) -> str:
    """The comparison of a report JSON as a Markdown table (what README quotes)."""
    lines = ["| method | target | rows | " + " | ".join(TABLE_COLUMNS) + " |",
             "|---|---|---:|" + "---:|" * len(TABLE_COLUMNS)]
    lines += [f"| {method} | {target} | {n} | {' | '.join(cells)} |" for method, target, n, cells in comparison_rows(report)]
    return "\n".join(lines)
