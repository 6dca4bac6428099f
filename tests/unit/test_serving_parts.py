"""The service's parts that need no server: the rows' fast path refuses what the loader refuses, refusal reasons,
strict JSON, and the loopback rule (checked before anything starts)."""
from __future__ import annotations

import json
import math
import re

import pandas as pd
import pytest

from bwkit.data import parse_rows
from bwkit.errors import DataError, DiskFull, ParameterError, RunError
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
        with pytest.raises(DataError, match=r"column 'rtt_ms', row 2: .*outside float32's range"):
            parse_rows(given, RECIPE)


def test_plain_dicts_within_range_still_take_the_fast_path():
    parsed = parse_rows(rows(rtt_ms=3.0e38), RECIPE)
    assert parsed.values["rtt_ms"].tolist() == [20.0, 3.0e38]


def test_a_huge_integer_gets_the_loaders_refusal_not_an_overflow():
    with pytest.raises(DataError, match=r"column 'rtt_ms', row 2: .*outside float32's range"):
        parse_rows(rows(rtt_ms=10 ** 400), RECIPE)


def test_true_and_false_are_one_and_zero_in_rows_as_in_a_csv(tmp_path):
    """The loader reads a CSV column of True/False (a flag such as is_5g) as 1/0; JSON's true/false mean the same,
    on the fast path of plain dicts, on one row, and on the frame path a trace_id sends rows through."""
    from bwkit.data import load_telemetry

    frame = pd.DataFrame({"timestamp": [60.0 * i for i in range(6)], "throughput_mbps": [500.0 + i for i in range(6)],
                          "rtt_ms": [True, False, True, True, False, True]})
    frame.to_csv(tmp_path / "flags.csv", index=False)
    assert "True" in (tmp_path / "flags.csv").read_text()   # written as words, not as 1/0
    loaded = load_telemetry(tmp_path / "flags.csv", "throughput_mbps,rtt_ms", "rtt_ms", nan_policy="error")
    assert loaded.X[:, 1].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0]
    for given in (rows(rtt_ms=True), rows(rtt_ms=True)[1:], [dict(r, trace_id="a") for r in rows(rtt_ms=False)]):
        assert parse_rows(given, RECIPE).values["rtt_ms"][-1] == float(given[-1]["rtt_ms"])


@pytest.mark.parametrize("message, expected", [
    ("rows, column 'rtt_ms': not found; columns are [...]", "missing_column"),
    ("rows given, column 'rtt_ms', row 3: 'fast' is not a number", "not_a_number"),
    ("rows given, column 'rtt_ms', row 3: 1e+39 is outside float32's range", "outside_float32"),
    ("row 9: timestamp 2025-11-03T00:01:00+00:00 is not after the previous row's", "time_order"),
    ("rows given, column 'jitter_ms', row 1: missing (NaN or inf); the model", "missing_value"),
    ("rows given, column 'timestamp', row 1: 'x' is not an ISO 8601 time or unix seconds", "bad_timestamp"),
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


SERVED = Recipe(2, ["throughput_mbps", "rtt_ms", "queue_depth", "queue_depth_missing"], ["rtt_ms", "jitter_ms"],
                ["queue_depth"], 60.0, {"bandwidth_mbps": "throughput_mbps"})
ONE = {"timestamp": 1_762_128_000.0, "throughput_mbps": 500.0, "rtt_ms": 20.0, "queue_depth": 3.0}


@pytest.mark.parametrize("change", [{}, {"throughput_mbps": 500, "queue_depth": 0}, {"timestamp": 1_762_128_000},
                                    {"timestamp": 1_762_128_000_000}, {"timestamp": "2025-11-03T00:00:00Z"},
                                    {"timestamp": "2025-11-03T00:00:00"}, {"queue_depth": math.nan},
                                    {"queue_depth": -math.inf}, {"queue_depth": None}, {"jitter_ms": 1.5},
                                    {"jitter_ms": None}, {"other": "x"}, {"rtt_ms": 3.0e38}, {"bandwidth_mbps": 7.0}])
def test_one_plain_dict_is_read_as_the_same_row_among_others(change):
    """The one-row path (a service's usual request) against the many-row path: the same Rows."""
    import numpy as np
    from bwkit.data import rows as R

    row = {**ONE, **change}
    if "bandwidth_mbps" in change:
        del row["throughput_mbps"]
    stamp = row["timestamp"]
    later = {**row, "timestamp": stamp.replace("00:00:00", "00:01:00") if isinstance(stamp, str) else stamp + 60_000}
    alone, among = parse_rows(row, SERVED), parse_rows([row, later], SERVED).take(slice(0, 1))
    assert (R._fast_one(row, SERVED) is None) == (change == {"queue_depth": None})   # None: numpy's NaN, on a path
    np.testing.assert_array_equal(alone.timestamps, among.timestamps)
    assert alone.trace.tolist() == among.trace.tolist() and alone.values.keys() == among.values.keys()
    for name in alone.values:
        np.testing.assert_array_equal(alone.values[name], among.values[name])
    assert alone.actual.keys() == among.actual.keys()
    for name in alone.actual:
        np.testing.assert_array_equal(alone.actual[name], among.actual[name])


@pytest.mark.parametrize("change, message", [({"rtt_ms": 1e39}, "outside float32's range"),
                                             ({"rtt_ms": "fast"}, "'fast' is not a number"),
                                             ({"rtt_ms": math.nan}, "missing (NaN or inf)"), ({"rtt_ms": True}, None),
                                             ({"rtt_ms": 10 ** 400}, "outside float32's range"),
                                             ({"timestamp": 1e20}, "times pandas can hold"),
                                             ({"timestamp": "yesterday"}, "ISO 8601"), ({"trace_id": 7}, None)])
def test_one_plain_dict_is_taken_or_refused_as_a_frame_of_it_is(change, message):
    import pandas as pd

    def said(given):
        try:
            return parse_rows(given, SERVED).values
        except DataError as exc:
            return str(exc)

    row = {**ONE, **change}
    alone, frame = said(row), said(pd.DataFrame([row]))
    assert str(alone) == str(frame) and (message is None or message in alone), (alone, frame)


def test_a_window_moved_on_by_one_row_is_the_matrix_of_the_rows_moved_on():
    """Recipe.roll (the stream's lean path) against Recipe.matrix: filled and flagged columns, inf and NaN gaps,
    uneven steps, calendar inputs; the same channels to the last bit."""
    import numpy as np
    from bwkit.features import CALENDAR_FEATURES

    recipe = Recipe(5, ["rtt_ms", "queue_depth", "queue_depth_missing", *CALENDAR_FEATURES], ["rtt_ms"],
                    ["queue_depth"], 60.0)
    rng = np.random.default_rng(4)
    n = 200
    stamps = 1_762_128_000.0 + np.cumsum(rng.choice([60.0, 61.5, 120.0, 3599.0], n))
    values = {"rtt_ms": rng.normal(20, 5, n), "queue_depth": rng.normal(3, 1, n)}
    values["queue_depth"][rng.random(n) < 0.4] = np.nan
    values["queue_depth"][[17, 18, 90]] = [np.inf, -np.inf, np.inf]
    carry, valid = 7.25, np.isfinite(values["queue_depth"])

    def channels(start):   # the window of rows start .. start + 4: next rows' times, the last's one cadence on
        part = slice(start, start + recipe.window_size)
        before = np.flatnonzero(valid[:start])
        fill = {"queue_depth": values["queue_depth"][before[-1]] if before.size else carry}
        following = np.r_[stamps[start + 1:start + recipe.window_size], stamps[start + recipe.window_size - 1] + 60]
        return recipe.matrix({k: v[part] for k, v in values.items()}, following, np.zeros(recipe.window_size),
                             carry=fill)

    for start in range(n - recipe.window_size):
        new = start + recipe.window_size
        raw = np.array([values[c][new] for c in recipe.columns])
        moved = recipe.roll(channels(start), raw, (stamps[new], stamps[new] + 60))
        np.testing.assert_array_equal(moved, channels(start + 1))


@pytest.mark.parametrize("step, refused", [(10.0, True), (30.0, True), (120.0, True), (60.0, False), (66.0, False)])
def test_rows_of_another_cadence_than_the_trainings_are_refused_with_both_named(step, refused):
    """A one-minute model fed ten-second rows would predict each as if it were a minute later, and say nothing."""
    from bwkit.data import require_cadence

    given = parse_rows([{"timestamp": 1_762_128_000.0 + step * i, "throughput_mbps": 500.0, "rtt_ms": 20.0}
                        for i in range(5)], RECIPE)
    if not refused:
        require_cadence(given, RECIPE)
        return
    with pytest.raises(DataError, match=rf"rows are {step:g} s apart \(the median step\); the model learned from "
                                        r"rows 60 s apart"):
        require_cadence(given, RECIPE)


@pytest.mark.parametrize("stamp", ["1600-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2262-04-12T00:00:00Z"])
def test_an_iso_time_outside_what_pandas_holds_is_refused_not_wrapped(stamp):
    """numpy's nanoseconds wrapped these round without a word: 9999-12-31 became 1816-03-30, and the link's next
    row was refused as not after it."""
    row = {"timestamp": stamp, "throughput_mbps": 500.0, "rtt_ms": 20.0}
    for given in ([row], row):
        with pytest.raises(DataError, match="outside the times pandas can hold"):
            parse_rows(given, RECIPE)
    assert parse_rows([{**row, "timestamp": "2025-11-03T00:00:00.5Z"}], RECIPE).timestamps[0] == 1_762_128_000.5
    nanos = [{**row, "timestamp": "2025-11-03T00:00:00.123456789Z"}]   # Go's and .NET's digits: kept, as pandas keeps
    assert parse_rows(nanos, RECIPE).timestamps[0] == parse_rows(pd.DataFrame(nanos), RECIPE).timestamps[0]


@pytest.mark.parametrize("settings, said", [
    ({"port": 70000}, "--port 70000: a port is 0 to 65535"),
    ({"max_links": 0}, "--max-links 0: must be a whole number, at least 1"),
    ({"max_body_bytes": -1}, "--max-body-bytes -1: must be a whole number, at least 1"),
    ({"threads": None}, "--threads None: must be a whole number, at least 1"),
    ({"snapshot_seconds": None}, "--snapshot-seconds None: must be a finite number of seconds, more than 0"),
    ({"snapshot_seconds": 0}, "--snapshot-seconds 0: must be a finite number of seconds, more than 0"),
    ({"reload_seconds": -5.0}, "--reload-seconds -5.0: must be a finite number of seconds, more than 0"),
    ({"reload_seconds": math.inf}, "--reload-seconds inf: must be a finite number of seconds, more than 0"),
    ({"snapshot_seconds": math.nan}, "--snapshot-seconds nan: must be a finite number of seconds, more than 0"),
])
def test_a_serve_setting_that_cannot_work_is_refused_before_anything_starts(tmp_path, settings, said):
    """--max-links 0 held no link and dropped the 40 saved ones at the next start; --snapshot-seconds 0 spun."""
    with pytest.raises(ParameterError, match=re.escape(said)):
        serve(tmp_path, **settings)   # refused before the run folder is even read


def test_a_snapshot_that_cannot_be_written_leaves_no_half_of_itself(tmp_path, monkeypatch):
    import os

    import numpy as np

    from bwkit.serving.links import write_snapshot

    def full(fd):
        raise OSError(28, "No space left on device")
    write_snapshot(tmp_path / "links.npz", {"x": np.arange(3)})
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(DiskFull, match="no space left on .*links.npz"):
        write_snapshot(tmp_path / "links.npz", {"x": np.zeros(5)})
    assert [p.name for p in tmp_path.iterdir()] == ["links.npz"]   # the previous snapshot, whole
    assert np.load(tmp_path / "links.npz")["x"].tolist() == [0, 1, 2]


def test_two_snapshots_written_at_once_never_remove_each_others_file(tmp_path):
    """The timer's snapshot can still be writing when the shutdown's starts: each write has a file of its own."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from bwkit.serving.links import write_snapshot

    with ThreadPoolExecutor(2) as pool:
        for result in [pool.submit(write_snapshot, tmp_path / "links.npz", {"x": np.full(50_000, k)}) for k in range(40)]:
            result.result()   # raises FileNotFoundError when one write's clean-up removes the other's file
    assert [p.name for p in tmp_path.iterdir()] == ["links.npz"] and np.load(tmp_path / "links.npz")["x"].size == 50_000


def test_a_periodic_job_that_fails_the_same_way_tick_after_tick_is_said_once():
    """`--reload` beside a run still being copied logged the same failure every period, for as long as the copy took."""
    import asyncio

    from bwkit.serving.service import Service

    import errno

    full = [OSError(errno.ENOSPC, "No space left on device", f".links.npz.{n}.partial") for n in range(3)]   # new names
    outcomes = iter([RunError("half copied")] * 4 + [None] + [RunError("half copied")] * 2 + full)
    said = []

    async def reload():
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome

    async def ticks():   # the job's loop alone, with a log to read (a Service's other parts play no part here)
        task = asyncio.create_task(Service._every(type("Logs", (), {"log": said.append})(), 0.001, reload))
        for _ in range(2000):
            if len(said) == 3:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)   # ticks after the last failure: succeeding ones, said nothing
        task.cancel()
    asyncio.run(ticks())
    assert said == ["bwkit serve: reload failed: RunError: half copied"] * 2 + [
        "bwkit serve: reload failed: OSError: [Errno 28] No space left on device: '.links.npz.0.partial'"]


def test_recipes_that_differ_only_in_the_wording_of_a_rule_read_rows_the_same():
    """A newer run whose recipe says the calendar rule in other words is still one `--reload` swaps to."""
    from bwkit.features import Recipe

    recipe = {"window_size": 20, "features": ["x"], "calendar": "old words", "fill": "f", "trace": "t"}
    assert Recipe.same_inputs(recipe, {**recipe, "calendar": "new words", "trace": "other"})
    assert not Recipe.same_inputs(recipe, {**recipe, "window_size": 30})
    assert not Recipe.same_inputs(None, recipe) and not Recipe.same_inputs(recipe, None)
