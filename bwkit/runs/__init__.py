"""The run folder's contract: where runs live, every file name, run.json, parameters, the environment.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    paths=["ROOT", "NOTEBOOKS", "STAGES", "TEMPLATES", "default_data_path", "runs_root", "scratch_run"],
    artifacts=["COMPARE_PAGE", "COMPARISONS", "FOLDER_LOCK", "ROOT_NAMES", "RUNS_INDEX", "STUDIES", "SWEEPS", "TRACKING_ARTIFACTS", "TRACKING_DB", "RunFolder", "SweepFolder", "comparison_folder", "strict", "write_atomic", "write_json"],
    record=["RunRecord", "model_version", "now", "process_alive", "read_record", "reconcile", "record_or_empty", "this_process"],
    params=["AUTO", "Config", "SET_BY_BWKIT", "FILE_SAFE", "check_value", "coerce", "unknown_parameter", "configure", "notebook_path", "notebook_parameters", "parse_parameters_cell", "pipeline_parameters"],
    env=["environment", "hardware", "pick_device", "versions"],
    lock=["held"],
)
