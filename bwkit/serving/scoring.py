"""`bwkit predict`: score every window of a CSV of any size with a run's model, in bounded memory.

The file is read in blocks (`bwkit.data.blocks.iter_tables`, the loader's checks and messages);
the last window of rows and each filled column's last valid value carry from one block to
the next, so the output equals `Predictor.predict` on the whole file. The window ending at a
block's last row waits for the next block, which holds the actual value it predicts.
"""
from __future__ import annotations

import bz2
import contextlib
import gzip
import lzma
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from bwkit.data import ARCHIVES, Rows, iter_tables, require_cadence, rows_from_frame
from bwkit.errors import DataError
from bwkit.files import whole_file
from bwkit.serving.predictor import Predictor, carry_before, check_continues

BLOCK_BYTES = 16 << 20   # CSV bytes per block: about 130,000 rows of ten columns


def _write(predictor: Predictor, forecast: dict, rows: Rows, *, out, header: bool) -> int:
    """Append the forecast's rows to `out` (binary). pyarrow writes CSV in C++: pandas' writer formats
    each float in Python and would take most of the time. Model outputs are float32, written so."""
    import pyarrow as pa
    from pyarrow import csv

    table = predictor.frame(forecast, rows)
    stamps = table["timestamp"]   # ISO 8601 in UTC, as the generator writes them: 2025-11-03T00:20:00Z
    fraction = (stamps.dt.microsecond != 0).any()
    table["timestamp"] = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S" + (".%f" if fraction else "") + "Z")
    made = {c for c in table.columns if c.endswith(("_pred", *(f"_{100 * lvl:g}" for lvl in predictor.levels)))}
    table = table.astype({c: np.float32 for c in made})
    csv.write_csv(pa.Table.from_pandas(table, preserve_index=False), out,
                  csv.WriteOptions(include_header=header, quoting_style="needed"))
    return len(table)


def check_output(csv_path: Path, out_path: Path, force: bool = False) -> None:
    """The predictions may go to `out_path`: a file in an existing folder, never the input itself (also through
    a link), never an existing file unless `force`."""
    if out_path.is_dir():
        raise DataError(f"{out_path}: is a folder; name the predictions file (for example {out_path / 'predictions.csv'})")
    if not out_path.parent.is_dir():
        raise DataError(f"{out_path}: its folder {out_path.parent} does not exist; create it first")
    if out_path.exists() and csv_path.exists() and os.path.samefile(out_path, csv_path):
        raise DataError(f"{out_path}: is the input CSV itself; write the predictions to another file")
    if out_path.exists() and not force:
        raise DataError(f"{out_path}: already exists; pass --force to replace it")
    if out_path.suffix.lower() == ".zip" or out_path.name.lower().endswith(ARCHIVES):
        raise DataError(f"{out_path}: predictions are one CSV, plain or compressed alone; name it .csv, .csv.gz, "
                        ".csv.bz2 or .csv.xz")


COMPRESSORS = {".gz": lambda raw: gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0),   # no name, no time
               ".bz2": lambda raw: bz2.BZ2File(raw, "wb"), ".xz": lambda raw: lzma.LZMAFile(raw, "wb")}


@contextlib.contextmanager
def _writer(partial: Path, out_path: Path):
    """The output's file, compressed as its name says (as the loader reads such a name; the same rows give the
    same bytes), else plain."""
    with open(partial, "wb") as raw:
        compress = COMPRESSORS.get(out_path.suffix.lower())
        if compress is None:
            yield raw
            return
        with compress(raw) as out:
            yield out


def score_csv(predictor: Predictor, csv_path, out_path, *, block_bytes: int = BLOCK_BYTES, progress: bool = True,
              force: bool = False) -> dict:
    """Write one row per window of `csv_path` to `out_path` (CSV); returns counts. Rows: see Predictor.frame."""
    csv_path, out_path = Path(csv_path), Path(out_path)
    check_output(csv_path, out_path, force)
    window = predictor.recipe.window_size
    tail, carry, written, read = None, {}, 0, 0
    bar = tqdm(total=os.path.getsize(csv_path) if csv_path.is_file() else None, unit="B", unit_scale=True,
               desc=f"predict {csv_path.name}", disable=not progress or not csv_path.is_file())   # else: its error
    partial = None
    try:
        with whole_file(out_path) as partial, _writer(partial, out_path) as out:   # renamed into place when complete
            for frame, source in iter_tables(csv_path, block_bytes, on_bytes=bar.update):
                block = rows_from_frame(frame, predictor.recipe, source)
                if tail is not None:
                    check_continues(tail, block, f"{csv_path}, {source.at(0)}")
                else:
                    require_cadence(block, predictor.recipe, str(csv_path))
                rows = tail.then(block) if tail is not None else block
                first = len(tail) - 1 if tail is not None else 0
                forecast = predictor.forecast(rows, carry, first=first, last=len(rows) - 2)
                written += _write(predictor, forecast, rows, out=out, header=tail is None)
                cut = max(len(rows) - window, 0)
                carry, tail = carry_before(rows, cut, carry), rows.take(slice(cut, None))
                read += len(block)
            if tail is None or read < window:
                raise DataError(f"{csv_path}: {read} rows; the model reads windows of {window} rows")
            forecast = predictor.forecast(tail, carry, first=len(tail) - 1)
            written += _write(predictor, forecast, tail, out=out, header=False)
    except OSError as exc:   # a full disk is whole_file's DiskFull, the old output kept
        shown = out_path if exc.filename in (None, str(partial)) else exc.filename   # the partial file is ours
        raise DataError(f"{shown}: cannot be written ({exc.strerror or exc})"
                        if shown == out_path else f"{shown}: {exc.strerror or exc}") from None
    finally:
        bar.close()
    return {"rows": read, "predictions": written, "output": str(out_path)}
