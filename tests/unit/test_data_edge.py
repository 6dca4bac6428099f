"""CSV layouts users bring that the default schema does not: sub-second cadences,
milliseconds, separators, gaps in trace ids, and the messages they get."""
import os
import re
import time

import numpy as np
import pandas as pd
import pytest

from bwkit.data.csvfile import name_list
from bwkit.data.loader import DataError, load_telemetry
from bwkit.errors import ParameterError
from bwkit.runs.params import configure

NAN_POLICY = configure(stage="02_train")["nan_policy"]   # the default lives in 02_train's parameters cell


def load(path, features="x,y", targets="y", nan_policy=NAN_POLICY, **fresh):
    return load_telemetry(path, features, targets, nan_policy=nan_policy, **fresh)


def frame(rows=50, start=1_700_000_000.0, step=1.0):
    rng = np.random.default_rng(0)
    return pd.DataFrame({"timestamp": start + step * np.arange(rows), "y": rng.normal(size=rows),
                         "x": rng.normal(size=rows)})


def test_sub_second_timestamps_load_and_keep_their_fractions(tmp_path):
    path = tmp_path / "fast.csv"
    frame(step=0.5).to_csv(path, index=False)
    telemetry = load(path)
    assert np.allclose(np.diff(telemetry.timestamps), 0.5)


def test_unix_milliseconds_are_converted_and_said(tmp_path):
    path = tmp_path / "ms.csv"
    frame(start=1_700_000_000_000.0, step=1000.0).to_csv(path, index=False)
    telemetry = load(path)
    assert telemetry.timestamps[0] == 1_700_000_000.0 and "milliseconds" in telemetry.notes[0]


def test_a_repeated_timestamp_is_named_as_a_repeat(tmp_path):
    data = frame()
    data.loc[7, "timestamp"] = data.loc[6, "timestamp"]
    path = tmp_path / "dup.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'timestamp', row 8 \(line 9\): 1700000006.0 repeats"):
        load(path)


def test_a_semicolon_separated_file_loads(tmp_path):
    path = tmp_path / "semi.csv"
    frame().to_csv(path, index=False, sep=";")
    assert load(path).rows == 50


@pytest.mark.parametrize("quoted", [False, True])
def test_a_semicolon_file_whose_header_names_a_column_with_a_comma_loads(tmp_path, quoted):
    """'throughput, Mbit/s' (as Excel writes it, quoted, or not): the rows say the separator is ';'."""
    path = tmp_path / "semi.csv"
    data = frame().rename(columns={"x": "throughput, Mbit/s"})
    data.to_csv(path, index=False, sep=";", quoting=1 if quoted else 0)   # csv.QUOTE_ALL, csv.QUOTE_MINIMAL
    if not quoted:   # pandas quotes nothing on ';' but the name; the header as a user's tool writes it, unquoted
        path.write_text(path.read_text().replace('"throughput, Mbit/s"', "throughput, Mbit/s"))
    telemetry = load_telemetry(path, ["throughput, Mbit/s", "y"], ["y"], nan_policy=NAN_POLICY)
    assert telemetry.rows == 50 and list(telemetry.features) == ["throughput, Mbit/s", "y"]


def test_a_semicolon_file_with_commas_in_names_and_fields_reads_the_same_whole_and_in_blocks(tmp_path):
    """A text field with a comma ("Cork, north") in the first row, or first in a later block, agrees with both
    separators: the header's split into more fields decides, and the first block's separator holds for every block."""
    from bwkit.data import iter_tables, read_table

    sites = ["Cork, north" if i % 2 == 0 else "Cork" for i in range(40)]
    lines = ["timestamp;site;throughput, Mbit/s"] + [f"2025-11-03T00:{i:02d}:00Z;{site};{500 + i}"
                                                      for i, site in enumerate(sites)]
    path = tmp_path / "semi.csv"
    path.write_text("\n".join(lines) + "\n")
    whole = read_table(path)[0]
    assert list(whole.columns) == ["timestamp", "site", "throughput, Mbit/s"] and len(whole) == 40
    for block_bytes in (120, 200, 300):
        parts = [frame for frame, _ in iter_tables(path, block_bytes)]
        assert len(parts) > 2 and all(list(p.columns) == list(whole.columns) for p in parts)
        assert sum(len(p) for p in parts) == 40


def test_an_empty_trace_id_is_named_not_mistaken_for_a_reappearing_trace(tmp_path):
    data = frame()
    data["trace_id"] = ["a"] * 25 + ["b"] * 25
    data.loc[30, "trace_id"] = None
    path = tmp_path / "trace.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'trace_id', row 31 \(line 32\): empty"):
        load(path)


def test_fill_flag_refuses_to_overwrite_an_existing_flag_column(tmp_path):
    data = frame()
    data.loc[3, "x"] = np.nan
    data["x_missing"] = 7.0
    path = tmp_path / "flag.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match="'x_missing': already in the file"):
        load(path, nan_policy="fill_flag")


def test_fresh_targets_without_a_fresh_column_is_refused(tmp_path):
    path = tmp_path / "f.csv"
    frame().to_csv(path, index=False)
    with pytest.raises(ParameterError, match="needs 'fresh_column'"):
        load(path, fresh_targets="y")


# --------------------------------------------------------------------------- the raw file: shape and names

HEADER = "timestamp,y,x\n"


def rows(count=6, start=1_700_000_000, end="\n"):
    """`count` rows of timestamp,y,x (unix seconds, one a minute; y varies)."""
    return "".join(f"{start + 60 * i},{i % 4}.5,{i}{end}" for i in range(count))


def write(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def refused(path, **arguments) -> str:
    with pytest.raises(DataError) as exc:
        load(path, **arguments)
    message = str(exc.value)
    assert str(path) in message, message
    return message


def test_a_trailing_comma_on_every_row_is_refused_not_shifted(tmp_path):
    """pandas would take the first column as the index and train 'y' on what is 'x'."""
    path = write(tmp_path, HEADER + rows().replace("\n", ",\n"))
    assert "row 1 (line 2): 4 fields where the header has 3" in refused(path)


def test_a_row_with_a_field_too_many_is_refused(tmp_path):
    path = write(tmp_path, HEADER + rows().replace("1700000120,2.5,2\n", "1700000120,2.5,2,9\n"))
    assert "row 3 (line 4): 4 fields where the header has 3" in refused(path)


def test_a_short_row_is_refused_not_filled(tmp_path):
    path = write(tmp_path, HEADER + rows().replace("1700000180,3.5,3\n", "1700000180,3.5\n"))
    for policy in ("error", "fill_flag", "drop"):
        assert "row 4 (line 5): 2 fields where the header has 3" in refused(path, nan_policy=policy)


def test_a_long_first_row_and_a_short_second_row_are_refused(tmp_path):
    """The shape pandas passes silently: the extra field of row 1 is dropped, row 2 is padded."""
    text = HEADER + rows().replace("1700000000,0.5,0\n", "1700000000,0.5,0,9\n").replace("1700000060,1.5,1\n",
                                                                                          "1700000060,1.5\n")
    assert "row 1 (line 2): 4 fields" in refused(write(tmp_path, text))


def test_ragged_rows_in_quoted_and_cr_files_name_their_row_and_line(tmp_path):
    quoted = '"timestamp","y","x","note"\n' + rows(end=',"two\nlines"\n')
    quoted = quoted.replace('1700000180,3.5,3,"', '1700000180,3.5,"')   # row 4, on line 2 + 3 * 2
    assert "row 4 (line 8): 3 fields where the header has 4" in refused(write(tmp_path, quoted, "q.csv"))
    old_mac = (HEADER + rows().replace("1700000060,1.5,1\n", "1700000060,1.5\n")).replace("\n", "\r")
    assert "row 2 (line 3): 2 fields" in refused(write(tmp_path, old_mac, "cr.csv"))


def test_blank_lines_are_skipped_and_later_messages_name_the_right_line(tmp_path):
    text = "\n" + HEADER + rows().replace("1700000120,2.5,2\n", "1700000120,2.5,2\n\n  \n").replace(",3.5,", ",abc,")
    message = refused(write(tmp_path, text))
    assert "column 'y', row 4 (line 8): 'abc' is not a number" in message
    assert load(write(tmp_path, "\n" + HEADER + rows() + "\n\n", "ok.csv")).rows == 6


@pytest.mark.parametrize("end", ["\r\n", "\r"])
def test_windows_and_old_mac_line_ends_load(tmp_path, end):
    telemetry = load(write(tmp_path, (HEADER + rows()).replace("\n", end)))
    assert telemetry.rows == 6 and telemetry.X[5, 0] == 5


def test_a_utf8_bom_still_finds_the_timestamp_column(tmp_path):
    for name, header in (("plain.csv", HEADER), ("quoted.csv", '"timestamp","y","x"\n')):
        telemetry = load(write(tmp_path, "\ufeff" + header + rows(), name))
        assert telemetry.timestamps[0] == 1_700_000_000


def test_a_repeated_column_name_is_refused_naming_its_positions(tmp_path):
    path = write(tmp_path, "timestamp,y,x,y\n" + rows().replace("\n", ",1\n"))
    assert "column 'y' appears 2 times in the header (columns 2 and 4); rename one" in refused(path)


def test_a_megabyte_header_of_one_repeated_name_is_refused_within_a_second(tmp_path):
    """pandas renames repeated names in quadratic time; the loader counts them first, in linear time."""
    path = write(tmp_path, "a," * 500_000 + "\n" + "1," * 500_000 + "\n")
    start = time.perf_counter()
    message = refused(path)
    assert time.perf_counter() - start < 1.0
    assert "column 'a' appears 500,000 times in the header (columns 1, 2, 3" in message
    assert "20 and 499,980 more); rename one" in message and len(message) < 500


def test_a_list_of_columns_in_a_message_shows_at_most_20(tmp_path):
    names = [f"c{i}" for i in range(100_006)] + ["timestamp", "y"]
    path = write(tmp_path, ",".join(names) + "\n" + ",".join("1" for _ in names) + "\n")
    message = refused(path, features="nope")
    assert "column 'nope': not found; columns are ['c0', 'c1'," in message
    assert "'c19'] and 99,988 more" in message and "'c20'" not in message


def test_name_list_caps_and_shortens():
    assert name_list(["a", "b"]) == "['a', 'b']"
    assert name_list([f"c{i}" for i in range(25)]) == repr([f"c{i}" for i in range(20)]) + " and 5 more"
    assert name_list(["x" * 200]) == repr(["x" * 77 + "..."])


# --------------------------------------------------------------------------- values

def test_a_value_outside_float32s_range_is_refused(tmp_path):
    path = write(tmp_path, HEADER + rows().replace("1700000120,2.5,2\n", "1700000120,2.5,1e308\n"))
    assert "column 'x', row 3 (line 4): 1e+308 is outside float32's range" in refused(path)
    path = write(tmp_path, HEADER + rows().replace("1700000120,2.5,2\n", "1700000120,-3.5e38,2\n"), "y.csv")
    assert "column 'y', row 3 (line 4): -3.5e+38 is outside float32's range" in refused(path)


def test_a_constant_target_is_refused_but_a_constant_feature_is_fine(tmp_path):
    text = HEADER + "".join(f"{1_700_000_000 + 60 * i},5.0,{i}\n" for i in range(10))
    message = refused(write(tmp_path, text))
    assert "target 'y' is constant (every row is 5.0): there is nothing to predict" in message
    almost = HEADER + "".join(f"{1_700_000_000 + 60 * i},{5 + i * 1e-15!r},{i}\n" for i in range(10))
    assert "target 'y' is constant" in refused(write(tmp_path, almost, "almost.csv"))
    telemetry = load(write(tmp_path, text, "feature.csv"), features="y,x", targets="x")
    assert (telemetry.X[:, 0] == 5).all()


def test_a_bad_unix_timestamp_is_named_at_its_row(tmp_path):
    path = write(tmp_path, HEADER + rows().replace("1700000120,", "x,"))
    assert "column 'timestamp', row 3 (line 4): 'x' is not an ISO 8601 time or unix seconds (the first row's is a " \
           "number, so all must be)" in refused(path)
    empty_first = write(tmp_path, HEADER + rows().replace("1700000000,", ",", 1), "first.csv")
    assert "row 1 (line 2): an empty cell is not an ISO 8601 time or unix seconds (the other rows' are numbers, so " \
           "all must be)" in refused(empty_first)


@pytest.mark.parametrize("late", ["9999-12-31T00:00:00Z", "0001-01-01"])
def test_an_iso_time_outside_pandas_range_is_named_at_its_row(tmp_path, late):
    times = ["2025-11-03T00:00:00Z", "2025-11-03T00:01:00Z", late]
    text = HEADER + "".join(f"{t},{i}.5,{i}\n" for i, t in enumerate(times))
    assert f"column 'timestamp', row 3 (line 4): '{late}' is outside the times pandas can hold" in \
        refused(write(tmp_path, text))


# --------------------------------------------------------------------------- files that cannot be read

def test_a_directory_is_refused(tmp_path):
    assert "a directory" in refused(tmp_path)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission_is_refused(tmp_path):
    path = write(tmp_path, HEADER + rows())
    path.chmod(0)
    try:
        assert "Permission denied" in refused(path)
    finally:
        path.chmod(0o644)


def test_a_symlink_loop_is_refused(tmp_path):
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    os.symlink(a, b)
    os.symlink(b, a)
    assert "cannot be read (Too many levels of symbolic links)" in refused(a)


def test_a_file_name_too_long_is_refused(tmp_path):
    assert "cannot be read (File name too long)" in refused(tmp_path / ("x" * 300 + ".csv"))


@pytest.mark.parametrize("content, says", [
    (bytes(range(256)) * 4, "line 1: a NUL byte; this is a binary file"),
    ((HEADER + rows()).encode("utf-16"), "a NUL byte"),
    ((HEADER + rows()).encode() + "1700009999,é,1\n".encode("latin-1"), "line 8: not UTF-8 text (byte 0xe9)"),
    (b"", "empty file"),
    (b"\xef\xbb\xbf\n\n", "empty file"),
    (HEADER.encode(), "no data rows"),
])
def test_unreadable_content_is_refused(tmp_path, content, says):
    assert says in refused(write(tmp_path, content))
    from bwkit.data import iter_tables   # `bwkit predict` reads in blocks: the same words (an empty file was
    with pytest.raises(DataError, match=re.escape(says)):   # "only the header" there)
        list(iter_tables(write(tmp_path, content), 64))


def test_compressed_files_load_and_a_broken_one_is_refused(tmp_path):
    data = frame()
    for name in ("t.csv.gz", "t.csv.bz2", "t.csv.xz", "t.csv.zip"):
        data.to_csv(tmp_path / name, index=False)
        assert load(tmp_path / name).rows == 50
    assert "not a readable .gz file" in refused(write(tmp_path, HEADER + rows(), "plain.csv.gz"))


def test_the_model_card_gives_the_time_span_of_a_semicolon_file_with_a_bom_and_unix_seconds(tmp_path):
    """The span comes from the loaded times (UTC, earliest to latest), not from splitting the file's text on commas."""
    import json

    from bwkit.reports.model_card import card, markdown
    from bwkit.runs import RunFolder

    path = tmp_path / "semi.csv"
    path.write_text("\ufeff" + frame(rows=50, start=1_700_000_000.0, step=60.0).to_csv(index=False, sep=";"))
    info = load(path).info()
    assert info["span"] == ["2023-11-14T22:13:20Z", "2023-11-14T23:02:20Z"] and info["cadence_seconds"] == 60
    run = RunFolder(tmp_path / "run")
    run.root.mkdir()
    run.run_json.write_text(json.dumps({"run_id": "run", "status": "succeeded", "data": {"path": str(path)}}))
    run.report.write_text(json.dumps({"data": info, "target_metrics": {"correlation": 0.98, "mape": 5}, "success": False}))
    text = markdown(card(run.root))
    assert "Time span: 2023-11-14T22:13:20Z to 2023-11-14T23:02:20Z, a row every 60 s" in text
    assert "Files: none (the run ended before its model was saved)." in text   # no file it never wrote


def test_a_tab_separated_file_is_told_which_separators_are_read(tmp_path):
    path = tmp_path / "tabs.csv"
    frame().to_csv(path, index=False, sep="\t")
    with pytest.raises(DataError, match=r"one name holding tabs: a tab-separated file\? bwkit reads columns "
                                         r"separated by commas or semicolons"):
        load(path)


def test_timestamps_that_switch_from_iso_to_unix_seconds_are_told_to_keep_one_format(tmp_path):
    data = frame(step=60.0)
    data["timestamp"] = pd.to_datetime(data["timestamp"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    data.loc[30:, "timestamp"] = (1_700_000_000 + 60 * np.arange(30, 50)).astype(str)
    path = tmp_path / "mixed.csv"
    data.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"row 31 .*'1700001800' is not an ISO 8601 time or unix seconds \(a number, "
                                        r"where the first row's is an ISO 8601 time: write every row one way\)"):
        load(path)
