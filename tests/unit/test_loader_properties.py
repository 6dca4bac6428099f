"""load_telemetry on CSVs of random layout: it returns exactly what an independent reference
parse (below, with the csv module) says, or raises DataError when the reference refuses the
file; never another exception, never a hang (each example has a deadline).

Layouts: 1-6 numeric columns with plain or tricky names, ',' or ';', '\\n' or '\\r\\n', UTF-8
with or without a BOM, quoting of every field or only where needed, ISO 8601 / unix-second /
unix-millisecond timestamps, NaN gaps; corruptions: a non-numeric cell, ragged rows, a repeated
header name, a timestamp going backwards, an empty or header-only file, a blank line.

The default profile is quick (part of `make test`); HYPOTHESIS_PROFILE=slow runs 1000 examples.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bwkit.data.loader import DataError, load_telemetry

COMMON = {"deadline": 2000, "database": None,
         "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large]}
settings.register_profile("slow", max_examples=1000, **COMMON)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE")
CHOSEN = settings.get_profile(PROFILE) if PROFILE else settings(max_examples=60, **COMMON)

FLOAT32_MAX = float(np.finfo(np.float32).max)
NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
TRICKY = ["rtt ms", "<b>", "a,b", 'say "hi"', "débit", "x;y", "NA", "1", "#c"]
RESERVED = {"timestamp", "trace_id", "bandwidth_mbps", "latency_ms"}
CORRUPTIONS = ["none", "none", "none", "none", "none", "cell", "extra", "short", "trailing", "duplicate", "backwards",
               "equal", "empty", "header_only", "blank_line"]


class Refused(Exception):
    """The reference refuses the file; `where` is "row R (line L)" when it is a ragged row."""

    def __init__(self, why: str, where: str | None = None):
        super().__init__(why)
        self.where = where


# --------------------------------------------------------------------------- the reference

def separator(text: str) -> str:
    """',' or ';': ';' where the header read with ',' is one name holding a ';', or where ';' reads the header and
    the first five data rows as as many fields and ',' does not, or does into fewer (a name may hold a comma)."""
    def first(sep: str) -> list[list[str]]:
        rows = (r for r in csv.reader(io.StringIO(text, newline=""), delimiter=sep)
                if r and not (len(r) == 1 and not r[0].strip(" \t\r")))   # blank lines are skipped
        return [row for row, _ in zip(rows, range(6))]

    comma, semi = first(","), first(";")
    if not comma or not any(";" in name for name in comma[0]):
        return ","
    if len(comma[0]) == 1:
        return ";"
    agree = {sep: len(rows) > 1 and all(len(r) == len(rows[0]) for r in rows[1:])
             for sep, rows in ((",", comma), (";", semi))}
    return ";" if agree[";"] and (not agree[","] or len(semi[0]) > len(comma[0])) else ","


def records(data: bytes) -> tuple[list[str], list[list[str]]]:
    """Header and data rows; blank lines are skipped, a row of another length is refused."""
    text = data.decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator(text))
    header, rows = None, []
    for fields in reader:
        if not fields:
            continue
        if header is None:
            header = fields
            if len(set(header)) != len(header):
                raise Refused("duplicate name")
        elif len(fields) != len(header):
            raise Refused("ragged", f"row {len(rows) + 1} (line {reader.line_num})")
        else:
            rows.append(fields)
    if header is None or not rows:
        raise Refused("empty")
    return header, rows


def seconds(cells: list[str]) -> np.ndarray:
    if NUMBER.fullmatch(cells[0]):
        if not all(NUMBER.fullmatch(c) for c in cells):
            raise Refused("timestamp")
        values = np.array([float(c) for c in cells])
        return values / 1000.0 if np.median(np.abs(values)) > 1e11 else values
    try:
        return np.array([datetime.fromisoformat(c.replace("Z", "+00:00")).timestamp() for c in cells])
    except ValueError:
        raise Refused("timestamp") from None


def number(cell: str) -> float:
    if cell == "":
        return np.nan
    if not NUMBER.fullmatch(cell) or abs(float(cell)) > FLOAT32_MAX:
        raise Refused("number")
    return float(cell)


def fill(values: np.ndarray) -> np.ndarray:
    """Each gap takes the last value before it, else the first after it, else 0."""
    out = values.copy()
    for i in range(len(out)):
        if np.isnan(out[i]):
            before = values[:i][~np.isnan(values[:i])]
            after = values[i:][~np.isnan(values[i:])]
            out[i] = before[-1] if before.size else after[0] if after.size else 0.0
    return out


def reference(data: bytes, features: list[str], targets: list[str], policy: str):
    """(timestamps, feature names, X, Y) as the loader must return them, or Refused."""
    header, rows = records(data)
    column = {name: [row[i] for row in rows] for i, name in enumerate(header)}
    times = seconds(column["timestamp"])
    if (np.diff(times) <= 0).any():
        raise Refused("order")
    used = {name: np.array([number(c) for c in column[name]]) for name in dict.fromkeys(features + targets)}
    names, X = [], []
    for name in features:
        gaps = np.isnan(used[name])
        # a target's gaps are masked, never refused: as an input it is carried and flagged unless dropped
        policy_here = policy if name not in targets or policy == "drop" else "fill_flag"
        if not gaps.any():
            names, X = names + [name], X + [used[name]]
        elif policy_here == "error" or f"{name}_missing" in header:
            raise Refused("feature gap")
        elif policy_here == "fill_flag":
            names, X = names + [name, f"{name}_missing"], X + [fill(used[name]), gaps.astype(float)]
    if not names:
        raise Refused("every feature dropped")
    Y = np.column_stack([used[t] for t in targets])
    observed = ~np.isnan(Y)
    if any(not observed[:, j].any() or Y[observed[:, j], j].std() <= 1e-12 * max(1.0, abs(Y[observed[:, j], j].mean()))
           for j in range(Y.shape[1])):
        raise Refused("constant target")
    return times, names, np.column_stack(X), Y


# --------------------------------------------------------------------------- random files

NAMES = st.one_of(st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True), st.sampled_from(TRICKY)).filter(
    lambda n: n not in RESERVED and not n.endswith("_missing") and not n.startswith("oracle_next_"))
VALUES = st.one_of(st.floats(-1e6, 1e6).map(repr), st.integers(-10**6, 10**6).map(str),
                   st.floats(allow_nan=False, allow_infinity=False).map(repr), st.just(""))


@st.composite
def telemetry_files(draw):
    """(bytes of a CSV, features, targets, nan_policy)."""
    columns = draw(st.lists(NAMES, min_size=1, max_size=6, unique=True))
    rows = draw(st.integers(1, 25))
    sep, eol, kind = draw(st.sampled_from(",;")), draw(st.sampled_from(["\n", "\r\n"])), draw(st.sampled_from(
        ["iso", "unix", "unix_ms"]))
    steps = np.cumsum(draw(st.lists(st.integers(1, 3600), min_size=rows, max_size=rows)))
    start = draw(st.integers(946_684_800, 4_000_000_000))
    half = draw(st.booleans()) and kind != "unix_ms"    # sub-second cadence: halves are exact in binary
    times = [start + int(s) + 0.5 * i if half else start + int(s) for i, s in enumerate(steps)]
    stamps = [datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + (".5" if t % 1 else "") + "Z"
              if kind == "iso" else repr(t * 1000) if kind == "unix_ms" else repr(t) for t in times]
    # mostly well-behaved numbers, sometimes a gap or any float (1e300 is outside float32's range)
    cells = [[draw(VALUES) if draw(st.integers(0, 9)) == 0 else repr(draw(st.floats(-1e3, 1e3)))
              for _ in columns] for _ in range(rows)]
    table = [["timestamp", *columns]] + [[stamp, *row] for stamp, row in zip(stamps, cells)]
    corruption = draw(st.sampled_from(CORRUPTIONS))
    corrupt(draw, table, corruption)
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    csv.writer(out, delimiter=sep, lineterminator=eol, quoting=quoting).writerows(table)
    text = "" if corruption == "empty" else out.getvalue()
    if corruption == "trailing":
        text = text.replace(eol, sep + eol).replace(sep + eol, eol, 1)   # every data row ends in a separator
    data = ("\ufeff" if draw(st.booleans()) else "").encode() + text.encode()
    features = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=len(columns), unique=True))
    targets = draw(st.lists(st.sampled_from(columns), min_size=1, max_size=len(columns), unique=True))
    policy = draw(st.sampled_from(["error", "error", "fill_flag", "drop"]))
    return data, features, targets, policy


def corrupt(draw, table: list[list[str]], corruption: str) -> None:
    """Change `table` (header and rows, in place) as `corruption` says."""
    rows = len(table) - 1
    row = draw(st.integers(1, rows))
    if corruption == "cell":
        table[row][draw(st.integers(1, len(table[0]) - 1))] = draw(st.sampled_from(["abc", "1.2.3", "--", "x1"]))
    elif corruption == "extra":
        table[row].append(draw(st.sampled_from(["", "7"])))
    elif corruption == "short":
        table[row].pop()
    elif corruption == "duplicate":
        table[0][draw(st.integers(1, len(table[0]) - 1))] = draw(st.sampled_from(table[0]))
    elif corruption in ("backwards", "equal") and rows > 1:
        row = max(row, 2)
        table[row][0], table[row - 1][0] = (table[row - 1][0], table[row][0]) if corruption == "backwards" \
            else (table[row - 1][0],) * 2
    elif corruption == "header_only":
        del table[1:]
    elif corruption == "blank_line":
        table.insert(row, [])


@CHOSEN
@given(telemetry_files())
def test_loader_agrees_with_the_reference_or_refuses(case):
    data, features, targets, policy = case
    try:
        expected = reference(data, features, targets, policy)
    except Refused as refused:
        expected = refused
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "telemetry.csv"
        path.write_bytes(data)
        try:
            telemetry = load_telemetry(path, features, targets, nan_policy=policy)
        except DataError as error:
            assert isinstance(expected, Refused), f"refused a file the reference reads: {error}"
            assert str(path) in str(error)
            if expected.where:
                assert expected.where in str(error), (expected.where, str(error))
            return
    assert not isinstance(expected, Refused), f"loaded a file the reference refuses ({expected})"
    times, names, X, Y = expected
    np.testing.assert_array_equal(telemetry.timestamps, times)
    assert telemetry.features == names and telemetry.targets == targets
    np.testing.assert_array_equal(telemetry.X, np.asarray(X, np.float32))   # float32: what the model reads
    observed = ~np.isnan(Y)   # a target is masked where it has no value, and read as it is elsewhere
    np.testing.assert_array_equal(telemetry.observed, observed)
    np.testing.assert_array_equal(telemetry.Y[observed], Y[observed])


# --------------------------------------------------------------------------- anything at all

CELLS = st.one_of(st.sampled_from(["", "1", "2.5", "-3", "1e308", "nan", "inf", "x", '"q"', '"a,b"', '"', " ", "True",
                                   "2025-11-03T00:00:00Z", "9999-12-31", "1700000000", "1700000000000", "\r"]),
                  st.text(max_size=4))
SHAPES = st.tuples(st.sampled_from(["timestamp,x,y", "timestamp;x;y", '"timestamp","x","y"', "x,timestamp,y,trace_id",
                                    "\ufefftimestamp,x,y", "timestamp,x,y,x_missing"]),
                   st.lists(st.lists(CELLS, max_size=5), max_size=8), st.sampled_from(",;"),
                   st.sampled_from(["\n", "\r\n", "\r"]))


@CHOSEN
@given(st.one_of(st.binary(max_size=300), SHAPES.map(
    lambda s: (s[0] + s[3] + s[3].join(s[2].join(row) for row in s[1])).encode("utf-8", "surrogatepass"))),
    st.sampled_from(["error", "fill_flag", "drop"]))
def test_any_bytes_load_or_give_a_data_error(data, policy):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "any.csv"
        path.write_bytes(data)
        try:
            telemetry = load_telemetry(path, "x,y", "y", nan_policy=policy)
        except DataError as error:
            assert str(path) in str(error)
            return
    assert np.isfinite(telemetry.X).all() and np.isfinite(telemetry.Y).all()
    same_trace = telemetry.segment[1:] == telemetry.segment[:-1]
    assert (np.diff(telemetry.timestamps)[same_trace] > 0).all()
