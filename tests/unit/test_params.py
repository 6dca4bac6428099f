"""bwkit.runs.params: the parameters cell is the one place a default lives, and it is checked."""
from __future__ import annotations

import ast
import re
import json
from pathlib import Path

import papermill
import pytest

from bwkit.runs import params
from bwkit.runs.params import Parameter, ParameterError

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))

CELL = '''\
data_path: str = ""            # CSV to train on; empty: the default
window_size: int = 20          # rows of history per prediction
learning_rate: float = 0.001   # Adam's initial learning rate
residual: bool = True          # predict the change from the last value
tags = ["a", "b"]              # an unannotated list
ratio = 0.5
# a comment line on its own is not a parameter
'''


def test_parse_parameters_cell_types_defaults_help():
    found = params.parse_parameters_cell(CELL)
    assert list(found) == ["data_path", "window_size", "learning_rate", "residual", "tags", "ratio"]
    assert found["data_path"] == Parameter("data_path", "", str, "CSV to train on; empty: the default")
    assert found["window_size"] == Parameter("window_size", 20, int, "rows of history per prediction")
    assert found["learning_rate"] == Parameter("learning_rate", 0.001, float, "Adam's initial learning rate")
    assert found["residual"] == Parameter("residual", True, bool, "predict the change from the last value")
    assert found["tags"] == Parameter("tags", ["a", "b"], list, "an unannotated list")
    assert found["ratio"] == Parameter("ratio", 0.5, float, "")


def test_annotation_wins_over_literal_type():
    found = params.parse_parameters_cell("rate: float = 1  # an int literal for a float\n")
    assert found["rate"].type is float and found["rate"].default == 1


def test_help_after_a_string_default_containing_hash():
    found = params.parse_parameters_cell('color: str = "#ff0000"   # line colour of the plots\n')
    assert found["color"].default == "#ff0000"
    assert found["color"].help == "line colour of the plots"


# --------------------------------------------------------------------------- check_value and coerce

INT = Parameter("epochs", 100, int, "")
FLOAT = Parameter("learning_rate", 0.001, float, "")
BOOL = Parameter("residual", True, bool, "")
STR = Parameter("device", "auto", str, "")


def test_check_value_accepts_and_converts():
    assert params.check_value(INT, 5) == 5
    value = params.check_value(FLOAT, 1)
    assert value == 1.0 and type(value) is float
    assert params.check_value(FLOAT, 0.5) == 0.5
    assert params.check_value(BOOL, False) is False
    assert params.check_value(STR, "cpu") == "cpu"


@pytest.mark.parametrize("param, value", [
    (INT, True), (INT, "5"), (INT, 5.0), (FLOAT, True), (FLOAT, "0.1"), (BOOL, 1), (BOOL, "true"), (STR, 3),
])
def test_check_value_refuses_wrong_types_naming_the_parameter(param, value):
    with pytest.raises(ParameterError) as exc:
        params.check_value(param, value)
    message = str(exc.value)
    assert f"'{param.name}'" in message and param.type.__name__ in message and repr(value) in message


@pytest.mark.parametrize("name, value, says", [("hidden_size", 10**23, "a 64-bit integer"),
                                               ("window_size", 2**63, "a 64-bit integer"),
                                               ("epochs", -2**70, "at least 1"), ("seed", 2**70, r"in \[0, 2\*\*32\)")])
def test_an_integer_past_64_bits_is_refused_by_name_before_torch_or_numpy_overflows(name, value, says):
    with pytest.raises(ParameterError, match=f"parameter '{name}' must be {says}"):   # its own rule first
        params.configure(sets=[f"{name}={value}"])
    assert params.configure(sets=[f"window_size={2**63 - 1}"])["window_size"] == 2**63 - 1   # refused later, by the data


@pytest.mark.parametrize("text, expected", [
    ("true", True), ("True", True), (" TRUE ", True), ("1", True), ("yes", True), ("Yes", True),
    ("false", False), ("False", False), ("0", False), ("no", False), ("NO", False),
])
def test_coerce_bool_spellings(text, expected):
    assert params.coerce(BOOL, text) is expected


@pytest.mark.parametrize("param, text", [(BOOL, "maybe"), (BOOL, ""), (INT, "1.5"), (INT, "ten"),
                                         (FLOAT, "fast")])
def test_coerce_refuses(param, text):
    with pytest.raises(ParameterError, match=f"'{param.name}'"):
        params.coerce(param, text)


def test_coerce_numbers_and_strings():
    assert params.coerce(INT, "150") == 150 and type(params.coerce(INT, "150")) is int
    assert params.coerce(FLOAT, "1e-3") == 0.001
    assert params.coerce(FLOAT, "2") == 2.0 and type(params.coerce(FLOAT, "2")) is float
    assert params.coerce(STR, "cpu") == "cpu"


# --------------------------------------------------------------------------- configure: the one path

def test_configure_layers_defaults_file_values_and_sets(tmp_path):
    path = tmp_path / "p.yml"
    path.write_text("epochs: 7\nbatch_size: 16\nlearning_rate: 0.01\n")
    config = params.configure({"batch_size": 32, "learning_rate": 1}, parameters_file=path,
                              sets=["learning_rate=5e-4", "residual=no", "data_path=dir/a=b.csv"])
    assert config["epochs"] == 7 and config["batch_size"] == 32            # file, then values
    assert config["learning_rate"] == 5e-4 and config["residual"] is False  # then --set strings
    assert config["data_path"] == "dir/a=b.csv" and config["window_size"] == 20   # untouched: the default
    assert list(config) == list(params.pipeline_parameters())


def test_configure_one_stage_knows_only_its_parameters():
    assert set(params.configure(stage="04_export")) == set(params.notebook_parameters("04_export"))
    with pytest.raises(ParameterError, match="unknown parameter 'epochs'"):
        params.configure({"epochs": 3}, stage="04_export")


def test_configure_unknown_name_with_and_without_a_hint():
    with pytest.raises(ParameterError) as exc:
        params.configure(sets=["epoch=150"])
    assert "'epoch'" in str(exc.value) and "Did you mean 'epochs'?" in str(exc.value)
    with pytest.raises(ParameterError) as exc:
        params.configure({"zzzzzz": 1})
    assert "zzzzzz" in str(exc.value) and "Did you mean" not in str(exc.value)


@pytest.mark.parametrize("pair", ["epochs", "epochs=many"])
def test_configure_bad_pairs(pair):
    with pytest.raises(ParameterError, match="epochs"):
        params.configure(sets=[pair])


@pytest.mark.parametrize("text", ["epochs: [1, 2\n", "- just\n- a list\n"])
def test_configure_refuses_an_unreadable_parameters_file(tmp_path, text):
    path = tmp_path / "bad.yml"
    path.write_text(text)
    with pytest.raises(ParameterError, match="parameters file"):
        params.configure(parameters_file=path)


@pytest.mark.parametrize("data", ["epochs: 1\n".encode("utf-16"), b"\x89PNG\r\n\x1a\n"])
def test_a_parameters_file_that_is_not_utf8_text_is_refused_by_name(tmp_path, data):
    path = tmp_path / "odd.yml"
    path.write_bytes(data)
    with pytest.raises(ParameterError, match=r"parameters file .*odd.yml: not UTF-8 text \(byte 0: .*save it as UTF-8"):
        params.configure(parameters_file=path)


# --------------------------------------------------------------------------- check_notebook

def _namespace(stage):
    declared = params.notebook_parameters(stage)
    namespace = {name: p.default for name, p in declared.items()}
    namespace.update({"__name__": "__main__", "_": None, "In": [], "Out": {}, "json": json, "ast": ast,
                      "helper": lambda: None, "Thing": type("Thing", (), {})})
    return declared, namespace


def test_check_notebook_accepts_defaults_and_ignores_modules():
    declared, namespace = _namespace("04_export")
    config = params.check_notebook(namespace, "04_export")
    assert config == {name: p.default for name, p in declared.items()} and isinstance(config, params.Config)
    assert namespace["json"] is json


def test_check_notebook_writes_int_as_float_back():
    declared, namespace = _namespace("04_export")
    name = next(n for n, p in declared.items() if p.type is float)
    namespace[name] = 1
    config = params.check_notebook(namespace, "04_export")
    assert type(config[name]) is float and type(namespace[name]) is float and namespace[name] == 1.0


def test_check_notebook_refuses_unknown_injected_literal():
    declared, namespace = _namespace("04_export")
    name = next(iter(declared))
    namespace[name + "x"] = "oops"      # a typo of a declared name, injected by papermill ...
    namespace["In"] = ["", f'# Parameters\n{name}x = "oops"\n']  # ... in a cell the kernel's history keeps
    with pytest.raises(ParameterError) as exc:
        params.check_notebook(namespace, "04_export")
    assert f"'{name}x'" in str(exc.value) and f"Did you mean '{name}'?" in str(exc.value)


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_a_float_papermill_spells_as_a_call_is_refused_by_name_not_with_a_parsers_traceback(value):
    """`papermill ... -p learning_rate inf` injects `learning_rate = float('inf')`, which `ast.literal_eval` cannot
    read: the stage ended in "malformed node or string", naming no parameter."""
    from papermill.translators import PythonTranslator

    declared, namespace = _namespace("02_train")
    namespace["learning_rate"] = value
    namespace["In"] = ["", "# Parameters\n" + PythonTranslator.codify({"learning_rate": value})]
    with pytest.raises(ParameterError, match="parameter 'learning_rate' must be a finite number"):
        params.check_notebook(namespace, "02_train")


def test_check_notebook_refuses_wrong_type():
    declared, namespace = _namespace("02_train")
    namespace["window_size"] = "20"
    with pytest.raises(ParameterError, match="'window_size'"):
        params.check_notebook(namespace, "02_train")


# --------------------------------------------------------------------------- the notebooks themselves

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_agree_with_papermill(path):
    ours = params.notebook_parameters(path.stem)
    theirs = papermill.inspect_notebook(str(path))
    assert list(ours) == list(theirs)
    for name, param in ours.items():
        assert param.type.__name__ == theirs[name]["inferred_type_name"], name
        assert param.default == ast.literal_eval(theirs[name]["default"]), name
        assert param.help == theirs[name]["help"], name
        assert param.help, f"{path.name}: parameter '{name}' has no help comment"


def test_shared_parameters_have_one_default_and_type():
    assert NOTEBOOKS, "no notebooks found"
    seen: dict[str, tuple[str, Parameter]] = {}
    for path in NOTEBOOKS:
        for name, param in params.notebook_parameters(path.stem).items():
            if name in seen:
                first_stage, first = seen[name]
                assert (param.default, param.type) == (first.default, first.type), \
                    f"'{name}': {first_stage} and {path.stem} disagree"
            else:
                seen[name] = (path.stem, param)


def test_every_stage_has_a_notebook_and_the_others_are_the_comparison_and_the_consumer():
    from bwkit.runs.paths import STAGES
    assert sorted([*STAGES, "05_compare", "06_predict"]) == [p.stem for p in NOTEBOOKS]


def test_the_default_targets_are_the_metrics_the_generator_writes():
    from bwkit import schema
    assert params.configure(stage="02_train")["targets"] == ",".join(schema.METRICS)


def test_pipeline_parameters_is_the_union_of_the_stages():
    from bwkit.runs.paths import STAGES
    merged = params.pipeline_parameters()
    assert set(merged) == {n for stage in STAGES for n in params.notebook_parameters(stage)}


def test_check_notebook_rerun_by_hand_ignores_the_notebooks_own_variables():
    """In JupyterLab, re-running the first cell after later ones must not see their globals as parameters."""
    declared, namespace = _namespace("04_export")
    namespace.update({"window": 20, "config": {"a": 1}, "metrics": {}})       # made by later cells
    namespace["In"] = ["", "from bwkit import export", "window = 20"]        # no papermill cell
    assert params.check_notebook(namespace, "04_export") == {n: p.default for n, p in declared.items()}


def test_injected_names_reads_the_last_papermill_cell():
    namespace = {"In": ["", "# Parameters\nepochs = 3\n", "x = 1", "# Parameters\nepochs = 4\nseed = 1\n"]}
    assert params.injected_names(namespace) == {"epochs", "seed"}
    assert params.injected_names({}) == set()


@pytest.mark.parametrize("pair, message", [
    ("epochs=0", "must be at least 1"), ("batch_size=0", "must be at least 1"), ("device=gpu", "'cuda:N'"),
    ("nan_policy=zero", "'fill_flag'"), ("profile=nope", "one of 'dwcp', 'legacy'"), ("learning_rate=0", "above 0"),
])
def test_values_out_of_range_are_refused_before_anything_runs(pair, message):
    with pytest.raises(ParameterError, match=message):
        params.configure(sets=[pair])


@pytest.mark.parametrize("pair, message", [
    ("learning_rate=inf", "finite number"), ("parity_tolerance=inf", "finite number"), ("dropout=nan", "finite"),
    ("seed=-1", "in [0, 2**32)"), ("model_version=a/b", "file names"), ("targets=", "one or more"),
    ("features=a,b,a", "each once"), ("start=not-a-time", "ISO 8601"),
    ("fresh_targets=rtt_ms", "needs 'fresh_column'"),
])
def test_values_that_would_fail_late_are_refused_before_anything_runs(pair, message):
    with pytest.raises(ParameterError, match=re.escape(message)):
        params.configure(sets=[pair])


@pytest.mark.parametrize("stage, name, kind", [
    ("01_generate_data", "output", "folder"), ("02_train", "run_dir", "file"), ("05_compare", "out_dir", "file"),
])
def test_a_path_of_the_wrong_kind_is_refused_by_name_before_anything_runs(tmp_path, stage, name, kind):
    """A folder given as the CSV to write, or a file as the folder to write into, ended the stage in a raw
    IsADirectoryError or FileExistsError after the kernel's imports."""
    in_the_way = tmp_path / "in-the-way"
    in_the_way.mkdir() if kind == "folder" else in_the_way.write_text("")
    with pytest.raises(ParameterError, match=f"parameter '{name}' must be a {'file' if kind == 'folder' else 'folder'}"):
        params.configure({name: str(in_the_way)}, stage=stage)
    fine = tmp_path / ("new.csv" if kind == "folder" else "new-folder")
    assert params.configure({name: str(fine)}, stage=stage)[name] == str(fine)
    if kind == "file":
        assert params.configure({name: str(tmp_path)}, stage=stage)[name] == str(tmp_path)   # an existing folder is fine


def test_check_notebook_reads_the_yaml_lists_papermill_injects_for_text_parameters(tmp_path):
    """`papermill 02_train.ipynb out.ipynb -y "targets: [rtt_ms, jitter_ms]"` (or a -f file with lists) injects a
    list; `bwkit run -f` reads the same file's list as comma-separated names, and so does a stage now. (A YAML date
    papermill injects as text, which the stage reads already.)"""
    _, namespace = _namespace("02_train")
    namespace["targets"] = ["rtt_ms", "jitter_ms"]
    config = params.check_notebook(namespace, "02_train")
    assert config.targets == "rtt_ms,jitter_ms" and namespace["targets"] == "rtt_ms,jitter_ms"
    _, namespace = _namespace("02_train")
    namespace["window_size"] = [20]
    with pytest.raises(ParameterError, match="'window_size' expects int"):   # only text parameters read lists
        params.check_notebook(namespace, "02_train")
    _, namespace = _namespace("02_train")
    namespace["features"] = ["throughput_mbps", "cw,nd"]   # a quoted CSV header's name: it read as 'cw' and 'nd'
    with pytest.raises(ParameterError, match="'features': 'cw,nd' holds a comma, which separates the names"):
        params.check_notebook(namespace, "02_train")
    path = tmp_path / "p.yml"
    path.write_text("features:\n  - throughput_mbps\n  - cw,nd\n")
    with pytest.raises(ParameterError, match="'cw,nd' holds a comma"):   # bwkit run -f: before the run folder
        params.configure(parameters_file=path)


def test_fresh_targets_must_be_targets():
    with pytest.raises(ParameterError, match="not among the targets"):
        params.configure(sets=["fresh_column=age", "fresh_targets=signal"])


def test_a_gpu_this_machine_lacks_is_refused_before_anything_runs(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ParameterError, match="no CUDA GPU is visible here"):
        params.configure(sets=["device=cuda"])
    assert params.configure(sets=["device=cpu"])["device"] == "cpu"


# --------------------------------------------------------------------------- Config: the checked configuration

def test_config_reads_as_attributes_and_as_a_read_only_mapping():
    config = params.configure({"epochs": 7}, stage="02_train")
    assert isinstance(config, params.Config)
    assert config.epochs == 7 and config["epochs"] == 7 and config.window_size == 20
    assert list(config) == list(params.notebook_parameters("02_train")) and len(config) == len(list(config))
    namespace = {}
    namespace.update(config)   # what check_notebook does with a notebook's globals
    assert namespace == dict(config) == {**config} == config.to_dict()
    assert type(config.to_dict()) is dict and "epochs" in dir(config)


def test_config_is_frozen():
    config = params.configure(stage="04_export")
    with pytest.raises(AttributeError, match=r"frozen.*config\.replace\(model_version=\.\.\.\)"):
        config.model_version = "v2"
    with pytest.raises(TypeError, match=r"read-only.*config\.replace"):
        config["model_version"] = "v2"
    with pytest.raises(AttributeError, match="frozen"):
        del config.model_version
    with pytest.raises(AttributeError, match="frozen"):
        config.brand_new = 1
    assert config.model_version == "v1"


def test_an_unknown_attribute_names_the_close_matches():
    config = params.configure(stage="02_train")
    with pytest.raises(AttributeError, match=r"no parameter 'epoch'\. Did you mean 'epochs'"):
        config.epoch
    with pytest.raises(AttributeError) as exc:
        config.zzzzzz
    assert "'zzzzzz'" in str(exc.value) and "Did you mean" not in str(exc.value)
    assert getattr(config, "zzzzzz", "absent") == "absent" and not hasattr(config, "__deepcopy__")


def test_replace_is_a_checked_copy_of_names_it_has():
    config = params.configure(stage="02_train")
    changed = config.replace(epochs=3, learning_rate=1)
    assert changed.epochs == 3 and type(changed.learning_rate) is float and config.epochs == 100
    assert changed == {**config, "epochs": 3, "learning_rate": 1.0} and list(changed) == list(config)
    with pytest.raises(ParameterError, match="'epochs' must be at least 1"):
        config.replace(epochs=0)
    with pytest.raises(ParameterError, match="'epochs' expects int"):
        config.replace(epochs="3")
    with pytest.raises(ParameterError, match="needs 'fresh_column'"):   # the names that go together, too
        config.replace(fresh_targets="rtt_ms")
    with pytest.raises(ParameterError, match="unknown parameter 'epoch'.*Did you mean 'epochs'"):
        config.replace(epoch=3)
    with pytest.raises(ParameterError, match="unknown parameter 'epochs'"):   # a stage's config: its names only
        params.configure(stage="04_export").replace(epochs=3)


def test_a_wrapped_saved_config_replaces_its_unknown_to_the_notebooks_names_unchecked():
    saved = params.Config({"window_size": 5, "retired": "x"})   # a checkpoint's plain dict, as it was saved
    assert saved.replace(retired="y").retired == "y" and saved.window_size == 5
    with pytest.raises(ParameterError, match="'window_size' must be at least 1"):
        saved.replace(window_size=0)


def test_without_drops_names():
    config = params.configure()
    assert list(config.without("run_dir", "output", "no_such")) == [n for n in config if n not in {"run_dir", "output"}]


def test_config_equals_by_value_and_pickles():
    import copy
    import pickle

    config = params.configure(stage="02_train")
    assert config == params.configure(stage="02_train") == dict(config) and dict(config) == config
    assert config != config.replace(seed=1) and config != {**config, "seed": 1} and config != list(config)
    again = pickle.loads(pickle.dumps(config))
    assert type(again) is params.Config and again == config and again.seed == config.seed
    assert copy.deepcopy(config) == config and copy.copy(config) == config
    assert json.loads(json.dumps(config.to_dict())) == config


def test_no_parameter_is_shadowed_by_a_config_method():
    names = {name for path in NOTEBOOKS for name in params.notebook_parameters(path.stem)}
    config = params.Config({name: 0 for name in names})
    assert all(getattr(config, name) == 0 for name in names), sorted(n for n in names if n in dir(params.Config))


@pytest.mark.parametrize("name", ["rows", "break_after"])
def test_06_predicts_row_counts_are_not_negative(name):
    """`-p rows -5` scored all rows but five, saying "the last 295 rows"."""
    with pytest.raises(ParameterError, match=f"parameter '{name}' must be at least 0, got -5"):
        params.configure({name: -5}, stage="06_predict")
