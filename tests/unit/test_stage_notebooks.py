"""Which notebook a run executes for a stage: the real one, unless the test suite names a stand-in for it."""
from bwkit.pipeline import STAND_INS, stage_notebook
from bwkit.runs import NOTEBOOKS, pipeline_parameters


def test_a_run_executes_the_real_stage_unless_a_stand_in_folder_holds_one_for_it(tmp_path, monkeypatch):
    monkeypatch.delenv(STAND_INS, raising=False)
    declared = pipeline_parameters()
    assert stage_notebook("03_evaluate") == NOTEBOOKS / "03_evaluate.ipynb"
    (tmp_path / "03_evaluate.ipynb").write_text("{}")
    monkeypatch.setenv(STAND_INS, str(tmp_path))
    assert stage_notebook("03_evaluate") == tmp_path / "03_evaluate.ipynb"
    assert stage_notebook("02_train") == NOTEBOOKS / "02_train.ipynb"      # no stand-in for it: the real stage
    assert pipeline_parameters() == declared                                # parameters stay the real notebooks'
