"""The model's inputs: the recipe from raw columns, windows and their split, the calendar.

numpy only: serving imports this without torch.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    recipe=["Recipe", "training_recipe", "cadence_seconds"],
    windows=["Prepared", "Scaler", "Windows", "dropped_for_gaps", "prepare", "split_rows", "split_summary", "window_all"],
    splits=["SPLITS", "SPLIT_FRACTIONS", "assign", "split_of", "split_shares", "split_table", "split_warnings"],
    window_array=["WindowArray", "TorchWindows"],
    calendar=["CALENDAR_FEATURES", "CALENDAR_RULE", "SeasonalMean", "calendar_channels", "calendar_covered", "hour_and_weekday", "cell", "HOURS"],
)
