"""Read a CSV file and check its shape before pandas parses it.

pandas is lenient where the kit must not be: when every row has one field more than
the header (a trailing comma) it takes the first column as the index and shifts every
column by one; it fills short rows with NaN; it skips blank lines (so a message's line
number would drift); and it renames repeated column names in quadratic time. `read_table`
refuses ragged rows and repeated names first, in time linear in the file's size, and
keeps the file line of every data row for the messages. Every refusal is a `DataError`.
"""
from __future__ import annotations

import bz2
import csv
import gzip
import hashlib
import io
import lzma
import os
import stat
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data.memory import check_fits, give_back
from bwkit.errors import DataError

BLOCK = 1 << 20   # bytes scanned at a time for separators and line ends
SHOWN = 20        # names a message lists before "and N more"
BLANK = b" \t\r"  # a line of only these is blank: pandas skips it
BOM = b"\xef\xbb\xbf"
DECOMPRESS = {".gz": gzip.decompress, ".bz2": bz2.decompress, ".xz": lzma.decompress}
ARCHIVES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zst")


def cut(text, limit: int = 80) -> str:
    """`text` as a message shows it: at most `limit` characters."""
    text = str(text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def name_list(names, limit: int = SHOWN) -> str:
    """"['a', 'b']", or the first `limit` names then "and 99,988 more"."""
    names = list(names)
    shown = "[" + ", ".join(repr(cut(name)) for name in names[:limit]) + "]"
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit:,} more"


def _number_list(numbers, limit: int = SHOWN) -> str:
    """"3 and 7", "1, 2 and 5", or the first `limit` then "and 1,234 more"."""
    words = [f"{n:,}" for n in numbers[:limit]]
    if len(numbers) > limit:
        return f"{', '.join(words)} and {len(numbers) - limit:,} more"
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@dataclass(frozen=True)
class Source:
    """The file messages name (its str is the path as given) and the file line of each data row."""
    path: Path
    lines: np.ndarray | None = None   # None: data row r (0-based) is on line r + 2
    first_row: int = 0                # rows of the file before these (a chunk of a long file)
    in_a_file: bool = True            # False: rows a program passed (JSON, a DataFrame): no file line to name

    def __str__(self) -> str:
        return str(self.path)

    def at(self, row: int) -> str:
        """"row 3 (line 4)" for the 0-based data row 2 ("row 3" for rows not read from a file)."""
        if not self.in_a_file:
            return f"row {self.first_row + row + 1}"
        line = row + 2 if self.lines is None else int(self.lines[row])
        return f"row {self.first_row + row + 1} (line {line})"


def _read_bytes(path: Path) -> bytes:
    """The file's bytes; a directory, a pipe or a device (which could block or never end) is refused first."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError
        if not stat.S_ISREG(mode):
            raise DataError(f"{path}: not a regular file (a pipe or a device); pass a CSV file")
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a directory, not a file; pass the CSV file's path") from None
    except DataError:
        raise
    except (OSError, ValueError) as exc:   # ValueError: a NUL character in the path
        shown = repr(str(path)) if "\0" in str(path) else path
        raise DataError(f"{shown}: cannot be read ({getattr(exc, 'strerror', None) or exc}); "
                        "check the path and the file's permissions") from None


def _decompress(path: Path, raw: bytes) -> bytes:
    """The file's bytes, decompressed when its name ends in .gz, .bz2, .xz or .zip (as pandas infers)."""
    name, suffix = path.name.lower(), path.suffix.lower()
    if name.endswith(ARCHIVES):
        raise DataError(f"{path}: a {suffix} archive; extract the CSV (plain, .gz, .bz2, .xz or .zip) and pass that")
    try:
        if suffix == ".zip":
            with zipfile.ZipFile(io.BytesIO(raw)) as archive:
                files = [info for info in archive.infolist() if not info.is_dir()]
                if len(files) != 1:
                    raise DataError(f"{path}: a .zip holding {len(files)} files; put exactly one CSV in it")
                return archive.read(files[0])
        return DECOMPRESS[suffix](raw) if suffix in DECOMPRESS else raw
    except (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error, lzma.LZMAError,
            zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable {suffix} file ({exc}); check it is complete, "
                        f"or rename it if it is not {suffix}-compressed") from None


def _check_text(path: Path, data: bytes, line_offset: int = 0) -> None:
    """Some non-blank UTF-8 text without NUL bytes."""
    if not data or data.isspace() or (data.startswith(BOM) and (len(data) == 3 or data[3:].isspace())):
        raise _empty(path)
    nul = data.find(b"\0")
    if nul >= 0:
        raise DataError(f"{path}, line {line_offset + _line_of(data, nul)}: a NUL byte; this is a binary file "
                        "(or UTF-16 text), not a CSV; save it as UTF-8 CSV")
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}, line {line_offset + _line_of(data, exc.start)}: not UTF-8 text (byte "
                            f"0x{data[exc.start]:02x}); save the file as UTF-8") from None


def _empty(path) -> DataError:
    return DataError(f"{path}: empty file; expected a header line of column names, then one row per time step")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _separator(header: str, rows: list[str]) -> str:
    """',' or ';' (a European-style CSV), from the header line and the first data rows (up to SNIFFED_ROWS).

    ';' where the header read with ',' is one name holding a ';', or where ';' splits the header and those rows into
    as many fields and ',' does not, or does into fewer: a name may hold a comma ("throughput, Mbit/s"), quoted or
    not, and so may a text field ("Cork, north")."""
    if ";" not in header:
        return ","

    def fields(line: str, sep: str) -> int:
        return len(next(csv.reader([line], delimiter=sep), []))

    if fields(header, ",") == 1:
        return ";"
    agree = {sep: bool(rows) and all(fields(row, sep) == fields(header, sep) for row in rows) for sep in ",;"}
    return ";" if agree[";"] and (not agree[","] or fields(header, ";") > fields(header, ",")) else ","


SNIFFED_ROWS = 5   # data rows that decide the separator, beside the header


def _first_lines(text: str, *, most: int) -> list[str]:
    """The first `most` lines holding more than blanks (the header, then data rows), without line ends."""
    lines = []
    for line in io.StringIO(text, newline=""):
        if line.strip(" \t\r\n"):
            lines.append(line.rstrip("\r\n"))
            if len(lines) == most:
                break
    return lines


def _sniffed_rows(data: bytes, start: int) -> list[str]:
    """The first SNIFFED_ROWS data rows of bytes whose header ends before `start`, decoded from only as many lines as
    hold them (blank lines skipped)."""
    cut = start
    for _ in range(4 * SNIFFED_ROWS):
        cut = data.find(b"\n", cut) + 1 or len(data)
        if cut >= len(data):
            break
    return _first_lines(data[start:cut].decode("utf-8", errors="replace"), most=SNIFFED_ROWS)


def _check_names(path, names: list[str]) -> None:
    """No column name twice (linear in the header's length; empty names are pandas' 'Unnamed: i'), and not one name
    holding tabs (a tab-separated file)."""
    if len(names) == 1 and "\t" in names[0]:
        raise DataError(f"{path}: the header is one name holding tabs: a tab-separated file? bwkit reads columns "
                        "separated by commas or semicolons; save it as CSV")
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, 1):
        if name:
            positions.setdefault(name, []).append(position)
    for name, where in positions.items():
        if len(where) > 1:
            raise DataError(f"{path}: column {cut(name)!r} appears {len(where):,} times in the header "
                            f"(columns {_number_list(where)}); rename one")


def _ragged(path, row: int, line: int, *, fields: int, names: list[str]) -> DataError:
    fix = ("remove the extra fields (a trailing separator?) or name their column in the header"
           if fields > len(names) else "fill in the missing fields (an empty field still needs its separator)")
    return DataError(f"{path}, row {row + 1} (line {line}): {fields:,} fields where the header has "
                     f"{len(names):,}; every row needs one field per column: {fix}")


def _odd_lines(data: bytes, start: int, sep: str, *, expected: int):
    """(count, odd): how many lines follow `start`, and [index, start, end, fields] of each whose number of
    separators is not `expected` (vectorised, BLOCK bytes at a time)."""
    count, odd, code = 0, [], ord(sep)
    while start < len(data):
        end = data.rfind(b"\n", start, start + BLOCK) + 1 or data.find(b"\n", start + BLOCK) + 1 or len(data)
        block = np.frombuffer(data, np.uint8, count=end - start, offset=start)
        ends = np.flatnonzero(block == 10)
        if not ends.size or ends[-1] != len(block) - 1:
            ends = np.append(ends, len(block))     # the file's last line, without a '\n'
        begins = np.r_[0, ends[:-1] + 1]   # each line with its '\n': no segment is empty
        seps = np.add.reduceat(block == code, begins, dtype=np.int64)
        bad = np.flatnonzero((seps != expected) | (ends - begins <= 1))   # short lines may be blank
        odd.append(np.column_stack([count + bad, start + begins[bad], start + ends[bad], seps[bad] + 1]))
        count, start = count + len(ends), end
    return count, (np.concatenate(odd) if odd else np.zeros((0, 4), np.int64))


def _shape_by_bytes(path, data: bytes, first_row: int = 0, *, line_offset: int = 0,
                    sep: str | None = None) -> tuple[str, list[str], np.ndarray]:
    """Separator, names, file line of each data row: for files without quotes or lone '\\r'.

    first_row, line_offset: rows and lines of the file before these bytes' data (a later block); sep: the separator
    the file's first block was read with (a later block's first row must not decide it again).
    """
    start, line = (3 if data.startswith(BOM) else 0), 1
    while True:   # pandas skips blank lines, before the header too
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end].strip(BLANK):
            break
        if end >= len(data):
            raise _empty(path)
        start, line = end + 1, line + 1
    header = data[start:end].decode("utf-8").removesuffix("\r")
    if sep is None:
        sep = _separator(header, _sniffed_rows(data, end + 1))
    names = header.split(sep)
    _check_names(path, names)
    count, odd = _odd_lines(data, end + 1, sep, expected=len(names) - 1)
    blank = []
    for index, begin, finish, fields in odd.tolist():
        if not data[begin:finish].strip(BLANK):
            blank.append(index)
        elif fields != len(names):
            raise _ragged(path, first_row + index - len(blank), line_offset + line + 1 + index, fields=fields,
                          names=names)
    return sep, names, line + 1 + np.delete(np.arange(count), blank)


def _records(text: str, sep: str):
    """(first line, fields, blank) of each record; a blank one is a line pandas skips."""
    raw, last = io.StringIO(text, newline=""), [""]

    def lines():
        for physical in raw:
            last[0] = physical
            yield physical
    reader, line = csv.reader(lines(), delimiter=sep, strict=False), 0
    for fields in reader:
        first, line = line + 1, reader.line_num
        yield first, fields, line == first and not last[0].strip(" \t\r\n")


def _shape_by_csv(path, data: bytes) -> tuple[str, list[str], np.ndarray]:
    """Separator, names, file line of each data row, by the csv module: for files with quotes or lone '\\r'."""
    text = data.decode("utf-8-sig")
    names, rows, line = None, [], 0
    try:
        lines = _first_lines(text, most=1 + SNIFFED_ROWS)
        if not lines:
            raise _empty(path)
        sep = _separator(lines[0], lines[1:])
        for line, fields, blank in _records(text, sep):
            if blank:
                continue
            if names is None:
                names = fields
                _check_names(path, names)
            elif len(fields) != len(names):
                raise _ragged(path, len(rows), line, fields=len(fields), names=names)
            else:
                rows.append(line)
    except csv.Error as exc:
        raise DataError(f"{path}, after line {line}: not a readable CSV ({exc})") from None
    return sep, names, np.asarray(rows, dtype=np.int64)


def _parse(source: Source, text, sep: str, *, usecols=None) -> pd.DataFrame:
    """pandas' parse of the checked file (a path or decompressed bytes); a warning of a loss of data is a refusal."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            # Parsed in chunks (low_memory): a big file needs far less memory, and less time, than in one pass.
            # A column whose chunks differ in type comes back mixed, and the loader checks every value.
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(text, sep=sep, engine="c", low_memory=True, index_col=False, compression=None,
                                usecols=usecols)
    except (ValueError, OverflowError, pd.errors.ParserWarning) as exc:
        raise DataError(f"{source}: not a readable CSV ({cut(str(exc).strip(), 300)}); check its quotes: "
                        "a field that opens with '\"' must close with one") from None
    rows = len(source.lines)
    if len(frame) != rows:   # a guard: the checks above and pandas must agree on what a row is
        raise DataError(f"{source}: pandas reads {len(frame):,} data rows where the file has {rows:,}; "
                        "check its quoting (and its separator: a comma or a semicolon, not a tab)")
    return frame


def read_table(path, wanted=None) -> tuple[pd.DataFrame, Source, str]:
    """(the file's rows, the Source for messages, the sha256 of the file's bytes as stored).

    wanted: the column names to parse (others are checked for shape but not parsed); None: all.
    The frame's `attrs["header"]` holds every name of the header.
    """
    path = Path(path)
    raw = _read_bytes(path)
    sha256 = hashlib.sha256(raw).hexdigest()
    data = _decompress(path, raw)
    _check_text(path, data)
    plain = b'"' not in data and (b"\r" not in data or data.count(b"\r") == data.count(b"\r\n"))   # no lone '\r'
    sep, names, lines = (_shape_by_bytes if plain else _shape_by_csv)(path, data)
    if not len(lines):
        raise DataError(f"{path}: no data rows (only the header); add one row per time step")
    trivial = lines[0] == 2 and lines[-1] == len(lines) + 1   # increasing, so every row r is on line r + 2
    source = Source(path, None if trivial else lines)
    usecols = None if wanted is None else [n for n in names if n in set(wanted)]
    check_fits(path, len(lines), len(names) if usecols is None else len(usecols))
    text = path if data is raw else io.BytesIO(data)   # pandas reads a plain file itself: these bytes can go
    del raw, data
    frame = _parse(Source(path, lines), text, sep, usecols=usecols)
    give_back()
    frame.attrs["header"] = list(names)
    return frame, source, sha256

