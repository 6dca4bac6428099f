"""A search's page (`runs/studies/<id>/index.html`): the best trial, the search history, each parameter
against the objective, and every trial with its run page. Written from the study's record (study.json)."""
from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from bwkit.reports.html import fmt, page
from bwkit.reports.pages import _img, nav
from bwkit.runs import STUDIES, RunFolder, write_atomic

FIGURES = {"history": "The search history: each trial's objective and the best so far",
           "slice": "Each parameter against the objective",
           "intermediate": "Validation loss per epoch of every trial (what the pruner compared)"}


def _link(run_id: str, text: str | None = None) -> str:
    return f"<a href='{html.escape(quote(run_id))}/{RunFolder.INDEX}'>{html.escape(text or run_id)}</a>"


def _best(record: dict) -> str:
    best = record.get("best")
    if not best:
        return "<p class='bad'>No trial has finished yet.</p>"
    params = ", ".join(f"{html.escape(k)}={fmt(v)}" for k, v in best["params"].items())
    return (f"<h2>Best trial: {best['number']} (validation loss {fmt(best['value'])})</h2><p>{params}. Its run page: "
            f"{_link(best['run_id'])} (test metrics, verdict, model card).</p>")


def _table(record: dict) -> str:
    names = sorted({k for r in record["rows"] for k in r["params"]})
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = "".join(
        f"<tr><td>{r['number']}</td><td>{_link(r['run_id'])}</td><td class='{'ok' if r['state'] == 'COMPLETE' else 'bad'}'>"
        f"{html.escape(r['state'])}</td><td>{fmt(r['value'])}</td>"
        + "".join(f"<td>{fmt(r['params'].get(n))}</td>" for n in names)
        + f"<td>{r['epochs_trained']}</td><td>{html.escape(r['pruned'] or '')}</td></tr>" for r in record["rows"])
    return (f"<table><tr><th>trial</th><th>run</th><th>state</th><th>validation loss</th>{head}<th>epochs trained</th>"
            f"<th>pruned</th></tr>{rows}</table>")


def write_study_page(folder, record: dict, figures: dict[str, Path]) -> Path:
    """The study's index.html; `figures`: name -> PNG (see FIGURES), shown inline."""
    folder = Path(folder)
    pruned = sum(r["state"] == "PRUNED" for r in record["rows"])
    body = (nav(folder, is_run=False) + "<h1>bwkit study <code>"
            + f"{html.escape(record['study_id'])}</code></h1><p>Optuna TPE sampler (seed {record['seed']}), median "
            f"pruner on the per-epoch validation loss; objective: a trial's best validation loss (MSE on "
            f"standardised targets; the test split is never seen). {len(record['rows'])} trials, {pruned} pruned, "
            f"{record['epochs_trained']} epochs trained in all. Storage: <code>{html.escape(record['storage'])}</code>."
            f"</p><p>Space: " + ", ".join(f"{html.escape(k)} {html.escape(v)}" for k, v in record["space"].items())
            + "</p>" + _best(record))
    body += "".join(f"<h2>{FIGURES[name]}</h2>{_img(path)}" for name, path in figures.items() if name in FIGURES)
    body += "<h2>Every trial</h2>" + _table(record)
    return write_atomic(folder / "index.html", page(f"bwkit study {record['study_id']}", body))


def studies_list(runs_root: Path) -> str:
    """The studies under runs/studies/, each linking to its page (for the list of runs)."""
    items = [f"<li><a href='studies/{html.escape(quote(p.parent.name))}/index.html'>{html.escape(p.parent.name)}</a></li>"
             for p in sorted((Path(runs_root) / STUDIES).glob("*/index.html"))]
    return "<h2>Studies (Optuna)</h2><ul>" + "".join(items) + "</ul>" if items else ""
