"""The first line a reader gets: the model against the best baseline, the guide's rule second and qualified."""
from bwkit.evaluation import headline

RULE = {"correlation": 0.98, "mape": 5.0}


def report(model, baselines, tests, success, epochs=100, test_rows=2000):
    averages = {"LSTM": model, **baselines}
    return {"comparison": {m: {"average": a} for m, a in averages.items()}, "significance": tests,
            "target_metrics": RULE, "success": success, "config": {"epochs": epochs}, "test_rows": test_rows}


def interval(rel, low, high):
    return {"average": {"rel_mse_diff": rel, "rel_low": low, "rel_high": high}}


def test_a_smooth_trace_where_persistence_meets_the_rule_says_so_and_claims_nothing_for_the_model():
    smooth = report({"skill": 0.0075, "correlation": 0.999, "mape": 0.4},
                    {"persistence": {"skill": 0.0, "correlation": 0.999, "mape": 0.4},
                     "ridge": {"skill": -0.01, "correlation": 0.998, "mape": 0.5}},
                    {"persistence": interval(-0.007, -0.021, 0.007), "ridge": interval(-0.02, -0.03, -0.01)},
                    success=True)
    said = headline(smooth, default_epochs=100)
    assert said.lead.startswith("The LSTM is indistinguishable from persistence, the best baseline here")
    assert "-0.7 % MSE, 95 % interval -2.1 to +0.7 %" in said.lead and said.tone == "neutral"
    assert "but persistence and ridge meet it too: meeting it says nothing here" in said.text
    assert "Quick test" not in said.text


def test_a_model_that_beats_every_baseline_leads_with_the_strongest_and_its_skill():
    good = report({"skill": 0.89, "correlation": 0.993, "mape": 2.5},
                  {"persistence": {"skill": 0.0, "correlation": 0.91, "mape": 8.0},
                   "gbm": {"skill": 0.86, "correlation": 0.99, "mape": 2.9},
                   "seasonal": {"skill": 0.2, "correlation": 0.95, "mape": 6.0}},
                  {"persistence": interval(-0.89, -0.9, -0.88), "gbm": interval(-0.17, -0.22, -0.12),
                   "seasonal": interval(-0.5, -0.6, -0.4)}, success=True)
    said = headline(good, default_epochs=100)
    assert said.lead.startswith("The LSTM beats gbm, the best baseline here (-17.0 % MSE") and said.tone == "ok"
    assert "skill against persistence is 0.890" in said.text and "but gbm meets it too" in said.text


def test_a_model_worse_than_the_trees_and_a_quick_test_are_said_plainly():
    weak = report({"skill": 0.25, "correlation": 0.7, "mape": 30.0},
                  {"persistence": {"skill": 0.0, "correlation": 0.6, "mape": 35.0},
                   "gbm": {"skill": 0.5, "correlation": 0.8, "mape": 25.0}},
                  {"persistence": interval(-0.25, -0.3, -0.2), "gbm": interval(0.5, 0.4, 0.6)},
                  success=False, epochs=2, test_rows=300)
    said = headline(weak, default_epochs=100)
    assert said.lead.startswith("The LSTM is worse than gbm") and said.tone == "bad"
    assert "is not met by the model" in said.text
    assert said.warnings[-1].startswith("Quick test (2 epochs, default 100; 300 test rows)")


def test_a_target_scored_on_three_test_rows_is_named_and_the_headline_is_not_green():
    """A target masked on almost every row can decide the averages: the first screen names it and how thin it is."""
    model = {"skill": 0.6, "correlation": 0.9, "mape": 10.0}
    thin = report(model, {"persistence": {"skill": 0.0, "correlation": 0.8, "mape": 12.0}},
                  {"persistence": interval(-0.6, -0.7, -0.5)}, success=False)
    thin["comparison"]["LSTM"]["per_target"] = {"throughput_mbps": {"n": 2000}, "jitter_ms": {"n": 3}}
    said = headline(thin, default_epochs=100)
    assert said.lead.startswith("The LSTM beats persistence") and said.tone == "neutral"
    assert said.warnings[0].startswith("Scored on few test rows (the others are masked): jitter_ms on 3 rows.")
    assert "throughput_mbps" not in said.warnings[0] and said.warnings[0] in said.text
    thin["comparison"]["LSTM"]["per_target"]["jitter_ms"]["n"] = 300
    assert headline(thin, default_epochs=100).tone == "ok" and not headline(thin, default_epochs=100).warnings


def test_a_test_split_of_three_rows_is_a_quick_test_not_a_masked_target():
    """Nothing masked, a tiny file: the first screen says the test is too small, not that rows were masked."""
    model = {"skill": 0.6, "correlation": 0.9, "mape": 10.0}
    tiny = report(model, {"persistence": {"skill": 0.0, "correlation": 0.8, "mape": 12.0}},
                  {"persistence": interval(-0.6, -0.7, -0.5)}, success=False, test_rows=3)
    tiny["comparison"]["LSTM"]["per_target"] = {"throughput_mbps": {"n": 3}, "jitter_ms": {"n": 3}}
    said = headline(tiny, default_epochs=100)
    assert not any("masked" in w for w in said.warnings), said.warnings
    assert said.warnings == ("Quick test (100 epochs, default 100; 3 test rows): not a model to judge.",)


def test_suspect_values_the_loader_found_are_on_the_first_screen():
    model = {"skill": 0.6, "correlation": 0.9, "mape": 10.0}
    odd = report(model, {"persistence": {"skill": 0.0, "correlation": 0.8, "mape": 12.0}},
                 {"persistence": interval(-0.6, -0.7, -0.5)}, success=False)
    odd["data"] = {"suspect": ["rtt_ms is below zero on 40 rows (lowest -5), which a rtt_ms cannot be"]}
    said = headline(odd, default_epochs=100)
    assert said.warnings == ("rtt_ms is below zero on 40 rows (lowest -5), which a rtt_ms cannot be.",)
    assert said.tone == "neutral"


def test_a_target_constant_on_the_test_rows_is_named_with_what_has_no_value_and_no_nan_is_said():
    """Loss 0 on every test row: persistence is exact there, so no skill or relative difference has a value on it; the
    first screen names the target and what it lacks, ranks the baselines on the targets that vary and keeps the lead
    neutral."""
    nan = float("nan")
    model = {"skill": nan, "correlation": nan, "mape": nan}
    flat = report(model, {"persistence": {"skill": nan, "correlation": nan, "mape": nan},
                          "ridge": {"skill": nan, "correlation": nan, "mape": nan}},
                  {"persistence": interval(-0.5, -0.6, -0.4), "ridge": interval(-0.2, -0.3, -0.1)}, success=False)
    for method, thr in (("persistence", 0.0), ("ridge", 0.3)):
        flat["comparison"][method]["per_target"] = {"thr": {"skill": thr}, "loss": {"skill": nan}}
        flat["significance"][method]["average"]["constant"] = True
    undefined = {m: "..." for m in ("r2", "correlation", "mape", "wape", "skill")}
    flat["comparison"]["LSTM"]["per_target"] = {"thr": {"n": 2000}, "loss": {"n": 2000, "undefined": undefined}}
    said = headline(flat, default_epochs=100)
    assert said.lead == "The LSTM beats ridge, the best baseline here (-20.0 % MSE, 95 % interval -30.0 to -10.0 %)."
    assert said.warnings[0] == ("loss is constant on the test rows: skill, R², r, MAPE, WAPE have no value there, nor "
                                "has any average over targets of them. Score a period where it varies, or leave it out "
                                "of targets.")
    assert "nan" not in said.text and said.tone == "neutral"

    flat["significance"]["ridge"]["average"].update(rel_mse_diff=None, rel_low=None, rel_high=None)   # none varies
    assert headline(flat, default_epochs=100).lead == (
        "The LSTM is compared with ridge, the best baseline here (no relative difference: the target is constant on "
        "its test rows).")


def test_the_averages_table_marks_no_best_where_no_method_has_a_value():
    from bwkit.reports.pages import _averages_table

    nan = float("nan")
    flat = report({"skill": nan, "correlation": 0.9, "mape": nan},
                  {"persistence": {"skill": nan, "correlation": 0.8, "mape": nan}}, {}, success=False)
    flat["verdicts"] = {}
    table = _averages_table(flat, ["LSTM", "persistence"])
    assert table.count("class=best") == 1 and "class=best>0.9" in table   # r only: the undefined columns have none
