"""The data contract's names: the four metrics, their legacy aliases, the oracle columns.

Which columns a run *uses* is a parameter (02_train's `features` and `targets`);
these are the names the generator writes and the loader understands.
"""

METRICS = ("throughput_mbps", "rtt_ms", "packet_loss", "jitter_ms")
# The original guide's 22-column CSVs name two metrics differently.
ALIASES = {"bandwidth_mbps": "throughput_mbps", "latency_ms": "rtt_ms"}
# Row i's oracle_next_<metric> is the generator's best prediction of row i+1; never an input.
ORACLE_PREFIX = "oracle_next_"


def oracle_column(metric: str) -> str:
    return ORACLE_PREFIX + metric


UNITS = {"_mbps": "Mbit/s", "_ms": "ms", "_dbm": "dBm", "_db": "dB", "_kmh": "km/h", "_s": "s", "_pct": "%"}


def unit(column: str) -> str:
    """A column's unit, read from its name's suffix (names carry units); "" when it names none."""
    if column == "packet_loss":
        return "ratio"
    return next((u for suffix, u in UNITS.items() if column.endswith(suffix)), "")
