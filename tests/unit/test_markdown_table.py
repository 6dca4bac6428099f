"""`bwkit table`'s Markdown: what a terminal shows, so no HTML entity, and a user's name cannot break a row."""
from bwkit.reports import markdown_table


def test_an_undefined_correlation_and_a_name_with_a_bar_read_plainly():
    cells = {"n": 3, "mae": 1.0, "rmse": 2.0, "mape": 3.0, "wape": 4.0, "r2": 0.5, "correlation": None, "skill": 0.25}
    report = {"comparison": {"LSTM": {"per_target": {"jitter|ms <b>": cells}, "average": cells}}}
    table = markdown_table(report)
    row = next(line for line in table.splitlines() if "jitter" in line)
    assert "&" not in table and "| — |" in row and "jitter\\|ms <b>" in row
    assert row.replace("\\|", "").count("|") == table.splitlines()[0].count("|")   # as many cells as the header
