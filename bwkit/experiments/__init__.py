"""Experiments: many runs at once (`sweep` on Dask) and what differs between runs (`compare`).
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    sweeps=["parse_grid", "run_sweep"], compare=["compare_report", "comparison_inputs"],
)
