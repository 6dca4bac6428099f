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


def test_a_continued_study_is_checked_against_what_it_began_with_but_not_against_how_trials_run():
    """The space and the parameters that shape a trial's result must be those the study began with; the device, the
    threads and the tracking may change, as may a searched parameter's own base value or one the kit gained since.
    A study with no trial yet takes what it is given (a first attempt that failed before any trial)."""
    from bwkit.experiments import tune
    from bwkit.runs import configure

    base = configure().without("run_dir", "output").to_dict()
    space = parse_space(["learning_rate=log:1e-4:1e-2"])
    study = optuna.create_study()
    tune._same_search(study, parse_space(["hidden_size=int:8:16"]), {**base, "epochs": 3})   # no trial: replaced
    tune._same_search(study, space, base)
    study.add_trial(optuna.trial.create_trial(params={"learning_rate": 1e-3}, distributions=space, value=0.5))
    tune._same_search(study, space, {**base, "device": "cpu", "num_threads": 2, "tracking": False,
                                     "learning_rate": 0.1, "a_parameter_added_later": 1})
    for other_space, other_base, named in ((parse_space(["learning_rate=log:1e-5:1e-2"]), base, "learning_rate"),
                                           (space, {**base, "epochs": 3}, "epochs")):
        with pytest.raises(ParameterError, match=f"began with another search \\({named}: "):
            tune._same_search(study, other_space, other_base)


def test_a_log_range_needs_a_positive_low_bound():
    with pytest.raises(ParameterError, match="a log range needs a low bound above 0"):
        parse_space(["num_threads=log:0:8"])


def test_a_parameter_named_twice_in_the_space_is_refused():
    """The second --space silently replaced the first; a sweep's --grid already refused it."""
    with pytest.raises(ParameterError, match="--space names 'learning_rate' twice"):
        parse_space(["learning_rate=log:1e-4:1e-2", "learning_rate=1e-3,1e-2"])
