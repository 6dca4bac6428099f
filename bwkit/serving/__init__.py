"""Serving: the exported model on raw telemetry, without torch (`Predictor`, `Stream`, `score_csv`, the HTTP service `serve`),
and the export that writes it (`export`, which needs torch, imported only when asked for).
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    predictor=["Predictor", "Forecast"],
    stream=["Stream"],
    service=["Service", "build_app", "serve"],
    scoring=["score_csv"],
    export=["Exported", "export_run", "onnx_session", "run_onnx"],
)
