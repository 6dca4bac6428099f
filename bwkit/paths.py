"""Every path the kit uses derives from the repository root, so notebooks run
from JupyterLab (cwd = notebooks/) and papermill (cwd = wherever) agree."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RUNS = Path(os.environ.get("BWKIT_RUNS", ROOT / "runs")).resolve()  # BWKIT_RUNS moves every run elsewhere
SCRATCH_RUN = RUNS / "scratch"            # where notebooks run by hand write, when run_dir is ""
GENERATED_DATA = ROOT / "data" / "generated"
TEMPLATES = Path(__file__).resolve().parent / "templates"

STAGES = ("01_generate_data", "02_train", "03_evaluate", "04_export")


def default_data_path(profile: str, samples: int, seed: int) -> Path:
    """Where generated data goes when no path is given (git-ignored)."""
    return GENERATED_DATA / f"{profile}_{samples}_seed{seed}.csv"


def resolve_run_dir(run_dir: str) -> Path:
    """"" means the scratch run folder; anything else is taken relative to the caller's cwd."""
    path = Path(run_dir).expanduser().resolve() if run_dir else SCRATCH_RUN
    path.mkdir(parents=True, exist_ok=True)
    return path
