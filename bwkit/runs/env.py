"""What a result was made with: library versions, hardware, device choice."""
from __future__ import annotations

import functools
import os
import platform

from bwkit.errors import ParameterError


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
    for package in ("bwkit", "torch", "numpy", "pandas", "scipy", "onnx", "onnxruntime", "papermill", "nbconvert"):
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


def _cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields in /proc/cpuinfo (empty where there is none)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():
                    break
                name, _, value = line.partition(":")
                fields[name.strip()] = value.strip()
    except OSError:
        pass
    return fields


def _git(*args, timeout: float = 10) -> tuple[int, str] | None:
    """git's exit code and output in the kit's repository; None when git is missing or took too long."""
    import subprocess

    from bwkit.runs.paths import ROOT

    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.returncode, done.stdout.strip()


REFRESH_SECONDS = 120   # the first refresh after a clone runs the notebook filter over every notebook


def tree_dirty() -> bool | str | None:
    """Whether the kit's files differ from its commit, as git decides after its filters, or untracked files exist.

    `git status` calls a notebook modified when only its size changed (JupyterLab saved it with outputs that the
    filter strips), without running the filter; `git diff HEAD` compares what the filter makes of each file with
    the commit, so a notebook saved with outputs is clean. None outside a git checkout; "unknown" when git did not
    answer in time (the first pass after a clone runs the filter over every notebook)."""
    inside = _git("rev-parse", "--git-dir")
    if inside is None or inside[0]:
        return None
    changed = _git("diff", "--quiet", "--no-ext-diff", "--no-textconv", "HEAD", "--", timeout=REFRESH_SECONDS)
    untracked = _git("ls-files", "--others", "--exclude-standard")
    if changed is None or untracked is None:
        return "unknown"
    return changed[0] != 0 or bool(untracked[1])


def environment() -> dict[str, object]:
    """What reproducing a run elsewhere needs: every installed package, the kit's commit, the machine.

    Read without importing torch (a GPU, if any, is recorded by training, in the checkpoint's hardware).
    """
    from importlib.metadata import distributions

    packages = {d.metadata["Name"]: d.version for d in distributions() if d.metadata["Name"]}
    commit = _git("rev-parse", "HEAD")
    return {"packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
            "commit": commit[1] if commit and commit[0] == 0 else None, "dirty": tree_dirty(),
            "machine": {"cpu": _cpu_model(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
                        "vector_units": vector_units()}}


def vector_units() -> str:
    """The CPU's AVX instruction sets ("avx avx2 avx512f ..."; "" where /proc/cpuinfo says none or is missing).

    torch and oneDNN pick their kernels by them: the same CPU model name can come with or without AVX-512, and the
    two train a model to different last digits (`make run`'s average skill at 2d2ad06: 0.9085 with AVX2 kernels,
    0.9062 with AVX-512 ones). `bwkit reproduce` lists them when they differ. The kernels' environment variables
    that cap them (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_ENABLE_INSTRUCTIONS) are added where set.
    """
    units = " ".join(sorted(f for f in _cpuinfo().get("flags", "").split() if f.startswith("avx")))
    caps = [f"{k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_ENABLE_INSTRUCTIONS")
            if os.environ.get(k)]
    return " ".join([units, *caps]).strip()
