"""Experiments: many runs at once (`sweep`, `tune` on Dask), every run in MLflow (`tracking`), what differs (`compare`).
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    sweeps=["parse_grid", "run_sweep"],
    compare=["compare_report", "comparison_inputs"],
    tracking=["Tracker", "track_run", "tracking_uri"],
    tune=["parse_space", "run_tune"],
)
