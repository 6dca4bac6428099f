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


def test_only_a_stages_own_notebook_is_written_whole_other_papermill_writes_are_papermills(tmp_path):
    """The handler that writes a stage's notebook whole takes only the outputs `execute` names: another papermill
    write in the same process (a user's notebook, a missing folder) behaves as papermill's own."""
    import pytest
    from papermill.iorw import papermill_io

    from bwkit.pipeline.runner import _whole_notebooks

    handler = _whole_notebooks(tmp_path.anchor)
    stage, other = tmp_path / "02_train.ipynb", tmp_path / "mine.ipynb"
    handler.outputs.add(str(stage))
    try:
        papermill_io.write('{"cells": []}', str(stage))
        papermill_io.write('{"cells": []}', str(other))
    finally:
        handler.outputs.discard(str(stage))
    assert stage.read_text() == other.read_text() == '{"cells": []}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_train.ipynb", "mine.ipynb"]   # no partial file left
    with pytest.raises(FileNotFoundError, match="output folder .* doesn't exist"):   # papermill's own message
        papermill_io.write("{}", str(tmp_path / "gone" / "x.ipynb"))
