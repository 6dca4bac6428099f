"""Evaluation: every method scored on the same test rows, with intervals and significance.

The method registry (`methods`) names the model and the baselines (`trees`: gradient-boosted
trees on lag features); `evaluate` scores them;
`uncertainty` says how sure the numbers are (its calibrated bands are a `bands.Calibration`); `rolling` repeats it
over expanding folds.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    methods=["MODEL", "REFERENCE", "TREES", "method_color", "method_names"],
    verdicts=["Headline", "best_baseline", "headline"],
    adaptive=["Tracker"],
    bands=["AdaptiveTable", "BandScale", "Calibration", "MethodBands"],
    intervals=["band_constants", "window_scale"],
    rolling=["fold_splits", "prepared_folds"],
    uncertainty=["calibration", "shipped_bands", "tests_table"],
)
