"""A user's column names reach the figures as written: "$...$" in a name is text, never a formula to parse."""
import io
from types import SimpleNamespace

import numpy as np
import pandas as pd

from bwkit.reports import plots

NAMES = ["tput $\\frac{1$ Mbps", "rtt $_ms$"]   # the first fails matplotlib's formula parser; the second parses


def _texts(figure) -> set[str]:
    return {t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text") and a.get_text())}


def _drawn_again(figure) -> None:
    """As a notebook shows a returned figure: drawn again, outside the plot function."""
    figure.savefig(io.BytesIO(), format="png")


def test_names_with_dollar_signs_are_drawn_literally_by_every_figure_that_names_a_column(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"timestamp": np.arange(50) * 60.0, **{n: rng.random(50) for n in NAMES}})
    actual, predicted = rng.random((40, 2)), rng.random((40, 2))
    ev = SimpleNamespace(methods=["LSTM", "persistence"], targets=NAMES,
                         metrics={m: {t: {"skill": 0.5} for t in NAMES} for m in ("LSTM", "persistence")})
    served = pd.DataFrame({"timestamp": pd.date_range("2025-01-01", periods=40, freq="min", tz="UTC"),
                           **{f"{n}_pred": rng.random(40) for n in NAMES}, **{n: rng.random(40) for n in NAMES}})
    figures = [plots.series(frame, NAMES, path=tmp_path / "series.png"),
               plots.predictions_scatter(actual, predicted, NAMES, path=tmp_path / "scatter.png"),
               plots.skill_bars(ev, path=tmp_path / "skill.png"),
               plots.served(served, NAMES, path=tmp_path / "served.png")]
    for figure in figures:
        assert any(NAMES[0] in text for text in _texts(figure))   # the name itself, dollar signs and all
        _drawn_again(figure)
    assert all((tmp_path / f"{n}.png").stat().st_size > 0 for n in ("series", "scatter", "skill", "served"))
