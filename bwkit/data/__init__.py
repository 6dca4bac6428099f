"""The data stage: a telemetry CSV read, checked and turned into arrays; raw rows for serving.

`load_telemetry` is the loader every stage uses; `rows` checks what a consumer sends with the
loader's own rules; `iter_tables` reads a CSV of any size in blocks.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    loader=["NAN_POLICIES", "DataError", "Telemetry", "holds", "load_telemetry", "sha256_file", "split_names"],
    gaps=["FILL_RULE", "GAP_RULE", "MAX_GAP_CADENCES", "breaks", "cadence_seconds", "fill_gaps", "pieces"],
    masks=["MASK_KINDS", "MIN_OBSERVED", "check_masks", "require_observed"],
    blocks=["iter_tables"],
    isotime=["iso"],
    memory=["give_back", "memory_available"],
    csvfile=["ARCHIVES", "Source", "name_list", "read_table"],
    rows=["Rows", "parse_rows", "require_cadence", "require_step", "require_window", "rows_from_frame"],
)
