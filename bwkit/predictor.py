"""`from bwkit.predictor import Predictor`, as the README and users' code have it: the serving stage's Predictor."""
from bwkit.serving import Predictor

__all__ = ["Predictor"]
