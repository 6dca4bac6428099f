"""`bwkit table`'s Markdown: what a terminal shows, so no HTML entity, and a user's name cannot break a row."""
from bwkit.reports import markdown_table


def test_an_undefined_correlation_and_a_name_with_a_bar_read_plainly():
    cells = {"n": 3, "mae": 1.0, "rmse": 2.0, "mape": 3.0, "wape": 4.0, "r2": 0.5, "correlation": None, "skill": 0.25}
    report = {"comparison": {"LSTM": {"per_target": {"jitter|ms <b>": cells}, "average": cells}}}
    table = markdown_table(report)
    row = next(line for line in table.splitlines() if "jitter" in line)
    assert "&" not in table and "| — |" in row and "jitter\\|ms <b>" in row
    assert row.replace("\\|", "").count("|") == table.splitlines()[0].count("|")   # as many cells as the header


def test_the_model_cards_markdown_shows_a_users_names_as_names_not_markup():
    """MODEL_CARD.md held a target named <script>...</script> raw: a Markdown renderer (and MLflow's artifact view)
    would run it, and show a&amp;b as a&b. Code spans stay as they are: a renderer shows their text literally."""
    from bwkit.reports.model_card import markdown

    name = "<script>alert(1)</script> a&amp;b"
    text = markdown([("h2", f"Target {name}"), ("p", f"The next row's {name}, see `{name}`"), ("ul", [name]),
                     ("table", ["target", "mae"], [[name, 1.0]])])
    assert "<script>" not in text.replace(f"`{name}`", "")
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt; a&amp;amp;b") == 4 and f"`{name}`" in text
