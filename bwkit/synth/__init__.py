"""Deterministic synthetic network telemetry: one row per minute, with an oracle.

``generate(samples, seed, profile, start)`` returns a DataFrame,
``write_csv(df, path)`` writes it byte-for-byte reproducibly and
``write(path, samples, seed, profile, start)`` does both.  Every argument is
required: the defaults live only in ``01_generate_data``'s parameters cell.
Randomness comes only from ``numpy.random.default_rng`` seeded by ``seed``; the
wall clock is never read.

``PROFILES`` maps each profile name to its generator
``(n, seed, start) -> DataFrame``:

* ``dwcp`` (``bwkit.synth.dwcp``): one shared WAN link's physics (demand,
  congestion regimes, bulk transfers, a router queue); columns ``DWCP_COLUMNS``;
* ``legacy`` (``bwkit.synth.legacy``): the original guide's i.i.d. generator;
  columns ``LEGACY_COLUMNS`` then ``ORACLE_COLUMNS``.

The oracle column of a metric (``bwkit.schema.oracle_column``) on row i is the
generator's best prediction of row i+1's value of that metric, given what it
knows on row i; see each profile's module.  The last row's oracle values are
NaN (empty in the CSV).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bwkit.data import give_back
from bwkit.errors import ParameterError
from bwkit.files import whole_file
from bwkit.schema import METRICS, oracle_column
from bwkit.synth import dwcp, legacy
from bwkit.synth.csvwrite import write_csv
from bwkit.synth.dwcp import DWCP_COLUMNS
from bwkit.synth.legacy import LEGACY_COLUMNS

__all__ = ["PROFILES", "DWCP_COLUMNS", "LEGACY_COLUMNS", "ORACLE_COLUMNS",
           "generate", "parse_start", "write", "write_csv"]

PROFILES = {"dwcp": dwcp.generate, "legacy": legacy.generate}
ORACLE_COLUMNS = tuple(oracle_column(m) for m in METRICS)


def parse_start(start) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ParameterError(f"start={start!r} is not a parseable timestamp "
                             "(expected ISO 8601, e.g. '2025-11-03T00:00:00Z')") from exc
    if ts is pd.NaT:
        raise ParameterError(f"start={start!r} is not a timestamp")
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if ts.microsecond or ts.nanosecond:
        raise ParameterError(f"start={start!r} must be a whole second")
    if not pd.Timestamp.min.tz_localize("UTC") < ts < pd.Timestamp.max.tz_localize("UTC"):   # the loader's range
        raise ParameterError(f"start={start!r} is outside the times pandas can hold (1677-09-21 to 2262-04-11)")
    return ts


def generate(samples: int, seed: int, profile: str, *, start: str) -> pd.DataFrame:
    """Synthetic telemetry, ``samples`` rows one minute apart from ``start`` (UTC; naive = UTC).

    Columns: ``DWCP_COLUMNS`` for ``profile="dwcp"``; ``LEGACY_COLUMNS`` then
    ``ORACLE_COLUMNS`` for ``profile="legacy"``.  See the module docstring.
    """
    if profile not in PROFILES:
        raise ParameterError(f"profile={profile!r} is unknown; choose one of "
                             + ", ".join(map(repr, PROFILES)))
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ParameterError(f"samples={samples!r} must be an integer >= 1")
    ts = parse_start(start)
    return PROFILES[profile](int(samples), int(seed), ts)


def write(path, samples: int, seed: int, *, profile: str, start: str) -> Path:
    """Generate and write the CSV to ``path`` (creating its folder); return the path."""
    path = Path(path).expanduser()   # `-p output ~/data.csv` means the home folder, as for the other paths
    frame = generate(samples, seed, profile, start=start)
    path.parent.mkdir(parents=True, exist_ok=True)
    with whole_file(path) as partial:   # a full disk leaves the file that was there, not half of a new one
        write_csv(frame, partial)
    del frame
    give_back()   # the generator's freed temporaries, before the notebook reads the file back
    return path
