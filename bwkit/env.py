"""What a result was made with: library versions, hardware, device choice."""
from __future__ import annotations

import os
import platform

from .errors import ParameterError


def pick_device(device: str) -> str:
    """"auto" -> "cuda" when available, else "cpu"; anything else is checked and returned."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"device={device!r} but CUDA is not available here; use 'auto' or 'cpu'")
    if device != "cpu" and not device.startswith("cuda"):
        raise ParameterError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return device


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("bwkit", "torch", "numpy", "pandas", "scikit-learn", "onnx", "onnxruntime", "papermill", "nbconvert"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def hardware(device: str) -> dict[str, object]:
    import torch

    info = {"machine": platform.machine(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "device": device}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info
