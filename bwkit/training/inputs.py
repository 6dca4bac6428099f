"""The telemetry a training configuration names, read without torch (the pipeline checks data with it)."""
from __future__ import annotations

from bwkit.data import Telemetry, load_telemetry
from bwkit.runs import Config, configure

MASKING = ("fresh_column", "fresh_targets", "valid_column", "valid_targets", "group_column")


def load_data(config: Config, oracle: bool = False) -> Telemetry:
    """The telemetry a training configuration names (with the generator's oracle columns when `oracle`).

    Its masks (`fresh_column`, `valid_column`), groups and gap rule are the configuration's; a
    checkpoint saved before one of them existed reads as it was trained (none, and 02_train's gap default).
    """
    # .get: a checkpoint's configuration may predate the gap rule and the masking columns
    gap = config.get("max_gap_cadences", configure(stage="02_train").max_gap_cadences)
    return load_telemetry(config.data_path, config.features, config.targets, nan_policy=config.nan_policy,
                          oracle=oracle, max_gap_cadences=gap, **{k: config.get(k, "") for k in MASKING})
