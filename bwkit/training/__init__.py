"""Training: the LSTM, its fit, the "auto" settings chosen on validation, a run's model read back.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    model=["LSTMForecaster", "PREDICT_BATCH", "predict", "load_checkpoint"],
    train=["TrainResult", "train_model"],
    selection=["choose", "selection_sentence"],
    trained=["Training", "TrainedRun", "load", "train_run", "ensure_data"],
    inputs=["load_data"],
    epochs=["EPOCH_LINE", "epochs_trained", "read_epochs"],
)
