"""The service's parts that need no server: the rows' fast path refuses what the loader refuses, refusal reasons,
strict JSON, and the loopback rule (checked before anything starts)."""
from __future__ import annotations

import json
import math

import pytest

from bwkit.data import parse_rows
from bwkit.errors import DataError, ParameterError
from bwkit.features import Recipe
from bwkit.serving.guard import dumps
from bwkit.serving.meters import reason
from bwkit.serving.service import serve

RECIPE = Recipe(2, ["throughput_mbps", "rtt_ms"], ["rtt_ms"], [], 60.0)


def rows(**changes) -> list[dict]:
    first = {"timestamp": 1_762_128_000.0, "throughput_mbps": 500.0, "rtt_ms": 20.0}
    return [first, {**first, "timestamp": 1_762_128_060.0, **changes}]


@pytest.mark.parametrize("value", [1e39, -3.5e38])
def test_a_value_outside_float32_is_refused_by_plain_dicts_as_by_a_frame(value):
    import pandas as pd

    for given in (rows(rtt_ms=value), pd.DataFrame(rows(rtt_ms=value))):
        with pytest.raises(DataError, match=r"column 'rtt_ms', row 2 .*outside float32's range"):
            parse_rows(given, RECIPE)


def test_plain_dicts_within_range_still_take_the_fast_path():
    parsed = parse_rows(rows(rtt_ms=3.0e38), RECIPE)
    assert parsed.values["rtt_ms"].tolist() == [20.0, 3.0e38]


def test_a_huge_integer_gets_the_loaders_refusal_not_an_overflow():
    with pytest.raises(DataError, match=r"column 'rtt_ms', row 2 .*outside float32's range"):
        parse_rows(rows(rtt_ms=10 ** 400), RECIPE)


@pytest.mark.parametrize("message, expected", [
    ("rows, column 'rtt_ms': not found; columns are [...]", "missing_column"),
    ("row 3, column 'rtt_ms', row 1 (line 2): 'fast' is not a number", "not_a_number"),
    ("row 3, column 'rtt_ms', row 1 (line 2): 1e+39 is outside float32's range", "outside_float32"),
    ("row 9: timestamp 2025-11-03T00:01:00+00:00 is not after the previous row's", "time_order"),
    ("rows, column 'jitter_ms', row 1 (line 2): missing (NaN or inf); the model", "missing_value"),
    ("rows, column 'timestamp', row 1 (line 2): 'x' is not an ISO 8601 time or unix seconds", "bad_timestamp"),
    ("something else", "invalid_rows"),
])
def test_each_refusal_is_counted_under_its_reason(message, expected):
    assert reason(message) == expected


def test_answers_are_strict_json_even_with_a_nan():
    assert json.loads(dumps({"a": math.nan, "b": [1.5, math.inf]})) == {"a": None, "b": [1.5, None]}


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.2", "192.168.1.4"])
def test_binding_off_loopback_without_a_token_is_refused_before_anything_starts(host, tmp_path):
    with pytest.raises(ParameterError, match="needs --token"):
        serve(tmp_path / "no-run-needed", host=host)
