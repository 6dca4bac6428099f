"""The pipeline: the notebooks run into a run folder (`run`, `resume`), checked and reproduced.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    runner=["execute", "resume", "run", "stage_notebook", "STAND_INS"],
    check=["print_checks", "checks"],
    reproduction=["reproduce"],
)
