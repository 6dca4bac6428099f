"""Reports: executed notebooks as offline HTML, the run and runs pages, the plots.
"""
from bwkit.lazy import face

__getattr__, __dir__, __all__ = face(
    __name__,
    html=["markdown_table", "notebook_to_html"],
    pages=["relative_link", "write_run_index", "write_runs_index"],
    model_card=["write_model_card"],
    study=["write_study_page"],
)
