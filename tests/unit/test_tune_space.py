"""`bwkit tune --space`: each form becomes the Optuna distribution it names, checked as the parameter's type."""
import pytest

from bwkit.errors import ParameterError
from bwkit.experiments import parse_space

optuna = pytest.importorskip("optuna")


def test_each_form_becomes_its_distribution():
    space = parse_space(["learning_rate=log:1e-4:1e-2", "hidden_size=int:16:128", "window_size=10,20,40",
                         "dropout=float:0:0.5"])
    assert space["learning_rate"] == optuna.distributions.FloatDistribution(1e-4, 1e-2, log=True)
    assert space["hidden_size"] == optuna.distributions.IntDistribution(16, 128)
    assert space["window_size"] == optuna.distributions.CategoricalDistribution([10, 20, 40])
    assert space["dropout"] == optuna.distributions.FloatDistribution(0.0, 0.5)
    # a log range over an integer parameter samples integers (a float distribution made every trial fail its check)
    assert parse_space(["hidden_size=log:16:128"])["hidden_size"] == optuna.distributions.IntDistribution(16, 128,
                                                                                                          log=True)


@pytest.mark.parametrize("pair, words", [
    ("learning_rte=log:1e-4:1e-2", "Did you mean 'learning_rate'"),
    ("hidden_size=int:0:8", "at least 1"),
    ("hidden_size=int:64:16", "must be below"),
    ("window_size=10,abc", "expects int"),
    ("seed=1,2", "cannot be searched"),
    ("learning_rate", "--space expects"),
    ("hidden_size=float:16:128", "a float range does not fit this int parameter"),   # every trial failed
    ("learning_rate=int:1:3", "an int range does not fit this float parameter"),
    ("residual=int:0:1", "list its values"),
])
def test_a_bad_space_is_refused_with_the_parameter_named(pair, words):
    with pytest.raises(ParameterError, match=words):
        parse_space([pair])
