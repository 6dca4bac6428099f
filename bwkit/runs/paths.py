"""Every path the kit uses derives from the repository root, so notebooks run
from JupyterLab (cwd = notebooks/) and papermill (cwd = wherever) agree."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
GENERATED_DATA = ROOT / "data" / "generated"
TEMPLATES = ROOT / "bwkit" / "templates"

STAGES = ("01_generate_data", "02_train", "03_evaluate", "04_export")


def runs_root() -> Path:
    """runs/ in the repository, or wherever BWKIT_RUNS points (read at each call)."""
    return Path(os.environ.get("BWKIT_RUNS") or ROOT / "runs").expanduser().resolve()


SCRATCH = "scratch"   # runs/scratch/: where notebooks run by hand write when run_dir is ""


def scratch_run() -> Path:
    """Where notebooks run by hand write when run_dir is ""."""
    return runs_root() / SCRATCH


def default_data_path(profile: str, samples: int, seed: int) -> Path:
    """Where generated data goes when no path is given (git-ignored)."""
    return GENERATED_DATA / f"{profile}_{samples}_seed{seed}.csv"

