"""Read a CSV of any size in blocks, each checked as `bwkit.data.csvfile.read_table` checks a whole file.

`bwkit predict` scores files larger than memory with it: plain files are read about
`block_bytes` at a time, cut at line ends, and each block is parsed after a copy of the
header, with the file's own row and line numbers in every message.
"""
from __future__ import annotations

import io
from pathlib import Path

from bwkit.data.csvfile import (
    ARCHIVES,
    BLANK,
    BOM,
    DECOMPRESS,
    Source,
    _check_text,
    _empty,
    _parse,
    _read_bytes,
    _shape_by_bytes,
    read_table,
)
from bwkit.errors import DataError


def _blocks(handle, size: int):
    """The file's bytes in pieces of about `size` that end at a line end."""
    rest = b""
    while True:
        block = handle.read(size)
        if not block:
            if rest:
                yield rest
            return
        block, cut = rest + block, (rest + block).rfind(b"\n") + 1
        if cut == 0:
            rest = block
            continue
        yield block[:cut]
        rest = block[cut:]


def _header_line(data: bytes) -> bytes:
    """The first non-blank line, with its line end."""
    start = 3 if data.startswith(BOM) else 0
    while True:
        end = data.find(b"\n", start) + 1 or len(data)
        if data[start:end].strip(BLANK + b"\n"):
            return data[start:end].rstrip(b"\n") + b"\n"
        start = end


def iter_tables(path, block_bytes: int = 32 << 20, on_bytes=None):
    """(frame, Source) of a CSV in pieces of about `block_bytes`, each checked as `read_table` checks a file.

    Memory stays bounded by the block size for plain (uncompressed) files without quotes; any
    other file is read whole by `read_table` and yielded as one piece. Sources carry the file's
    own row and line numbers. on_bytes(n): called with each piece's size in the file (a progress bar).
    """
    on_bytes = on_bytes or (lambda n: None)
    path = Path(path)
    if path.suffix.lower() in DECOMPRESS or path.suffix.lower() == ".zip" or path.name.lower().endswith(ARCHIVES):
        yield read_table(path)[:2]
        on_bytes(path.stat().st_size)
        return
    if not path.is_file():
        _read_bytes(path)   # its message for a missing path, a folder or a pipe
    header, lines_before, rows_before, decided = b"", 0, 0, None   # decided: the separator, once a row was read
    with open(path, "rb") as handle:
        for block in _blocks(handle, block_bytes):
            if b'"' in block or (b"\r" in block and block.count(b"\r") != block.count(b"\r\n")):
                if rows_before:
                    raise DataError(f"{path}: quotes or lone carriage returns after line {lines_before}; "
                                    "bwkit reads such a file whole: use a file under a block, or remove them")
                yield read_table(path)[:2]
                on_bytes(path.stat().st_size)
                return
            data = header + block
            offset = lines_before - 1 if header else 0   # line k of header + block is the file's line offset + k
            _check_text(path, data, offset)
            sep, names, lines = _shape_by_bytes(path, data, rows_before, line_offset=offset, sep=decided)
            decided = sep if len(lines) else decided
            if not header:   # the first block holds the header: later blocks are read after a copy of it
                header = _header_line(data)
            if len(lines):
                frame = _parse(Source(path, lines), io.BytesIO(data), sep)
                yield frame, Source(path, lines + offset, rows_before)
            rows_before += len(lines)
            lines_before += block.count(b"\n")
            on_bytes(len(block))
    if not header:   # not even a header: what read_table says of it
        raise _empty(path)
    if not rows_before:
        raise DataError(f"{path}: no data rows (only the header); add one row per time step")
