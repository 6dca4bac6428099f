"""The first thing a reader is told: what the model is worth against the best baseline, then the guide's rule.

One sentence set, from a report JSON, used by the run page, 03_evaluate's conclusion and the CLI's last line:
the model's change in MSE against the strongest baseline (with its 95 % interval), its skill against
persistence, a plain warning when it is no better than persistence, the original guide's rule second (and
that it says nothing when a baseline meets it too), and a quick-test warning for runs too short to judge.
"""
from __future__ import annotations

from dataclasses import dataclass

from bwkit.evaluation.methods import MODEL, REFERENCE, method_names
from bwkit.evaluation.metrics import has_value, verdict
from bwkit.evaluation.significance import no_relative, relative, verdict as compared

QUICK_ROWS = 1000   # fewer test rows than this: too few for a stable verdict
FEW_SCORED = 30     # a target scored on fewer test rows than this (masked elsewhere): its figures are said to be thin


@dataclass(frozen=True)
class Headline:
    lead: str            # the first sentence: the model against the best baseline
    details: list[str]   # persistence, then the rule
    tone: str            # "ok" (beats the best baseline), "bad" (worse than it) or "neutral"
    warnings: tuple[str, ...] = ()   # what weakens the verdict: thinly scored targets, suspect values, a quick test

    @property
    def text(self) -> str:
        return " ".join([self.lead, *self.details, *self.warnings])


def _thin_targets(report: dict) -> str:
    """A warning naming the targets masked down to fewer than FEW_SCORED test rows, or "". (A test split that small
    in all is the quick-test warning's to say: nothing is masked there.)"""
    per_target, rows = report["comparison"][MODEL].get("per_target", {}), report.get("test_rows")
    thin = {t: m["n"] for t, m in per_target.items() if isinstance(m.get("n"), int) and m["n"] < FEW_SCORED
            and not (isinstance(rows, int) and m["n"] >= rows)}
    if not thin:
        return ""
    named = ", ".join(f"{t} on {n} row{'s' if n != 1 else ''}" for t, n in thin.items())
    return (f"Scored on few test rows (the others are masked): {named}. Their figures, and every average over "
            f"targets, rest on so few rows that they say little; drop {'it' if len(thin) == 1 else 'them'} from "
            "targets or bring data where they are measured more often.")


SHOWN_NAMES = {"skill": "skill", "r2": "R²", "correlation": "r", "mape": "MAPE", "wape": "WAPE"}


def _constant_targets(report: dict) -> str:
    """A warning naming the targets constant on their test rows (no R² there, and no skill where persistence is then
    exact), or ""."""
    per_target = report["comparison"][MODEL].get("per_target", {})
    flat = [t for t, m in per_target.items() if "r2" in (m.get("undefined") or {})]
    if not flat:
        return ""
    missing = [shown for name, shown in SHOWN_NAMES.items() if any(name in per_target[t]["undefined"] for t in flat)]
    one = len(flat) == 1
    return (f"{', '.join(flat)} {'is' if one else 'are'} constant on the test rows: {', '.join(missing)} "
            f"{'has' if len(missing) == 1 else 'have'} no value there, nor has any average over targets of "
            f"{'it' if len(missing) == 1 else 'them'}. Score a period where {'it varies' if one else 'they vary'}, or "
            f"leave {'it' if one else 'them'} out of targets.")


def baselines_in(report: dict) -> list[str]:
    """The report's baselines: every method but the models and the ceilings (a name the registry no longer
    knows, from an older or newer kit, counts as a baseline)."""
    others = set(method_names("model")) | set(method_names("ceiling"))
    return [m for m in report["comparison"] if m not in others]


def best_baseline(report: dict) -> str:
    """The baseline with the highest average skill on the test rows (persistence when there is no other)."""
    ranked = {m: _mean_skill(report["comparison"][m]) for m in baselines_in(report)}
    return max(ranked, key=lambda m: (ranked[m], m == REFERENCE), default=REFERENCE)


def _mean_skill(scores: dict) -> float:
    """A method's average skill; where that has no value (persistence exact on a target), the mean over the targets
    where skill has one; 0 where none has."""
    if has_value(average := scores["average"].get("skill")):
        return float(average)
    defined = [m["skill"] for m in (scores.get("per_target") or {}).values() if has_value(m.get("skill"))]
    return sum(defined) / len(defined) if defined else 0.0


def _against(report: dict, method: str) -> tuple[str, str]:
    """("beats" / "is indistinguishable from" / "is worse than", "-12.3 % MSE, 95 % interval -14.0 to -10.1 %")."""
    t = (report.get("significance") or {}).get(method, {}).get("average")
    if not t or relative(t) is None:
        return "is compared with", no_relative(t or {})
    word, (diff, low, high) = compared(t["rel_low"], t["rel_high"]), relative(t)
    return "beats" if word == "beats" else f"is {word}", f"{diff:+.1f} % MSE, 95 % interval {low:+.1f} to {high:+.1f} %"


def _meets(average: dict) -> bool:
    return average.get("correlation") is not None and average.get("mape") is not None and verdict(average)


def _rule(report: dict) -> str:
    rule, comparison = report["target_metrics"], report["comparison"]
    meets = [m for m in baselines_in(report) if _meets(comparison[m]["average"])]
    ceilings = [m for m in method_names("ceiling") if m in comparison]
    said = (f"The original guide's rule (average r >= {rule['correlation']} and MAPE <= {rule['mape']:g} %) is "
            f"{'met' if report['success'] else 'not met'} by the model")
    if report["success"] and meets:
        said += f", but {' and '.join(meets)} meet{'s' if len(meets) == 1 else ''} it too: meeting it says nothing here"
    if ceilings and not any(_meets(comparison[m]["average"]) for m in ceilings):
        said += f"; no model could meet it on this data ({ceilings[0]}, the best any model could do, does not)"
    return said + "."


def headline(report: dict, *, default_epochs: int | None = None) -> Headline:
    """The run's verdict in words, from its report JSON (`default_epochs`: 02_train's, for the quick-test warning)."""
    best = best_baseline(report)
    word, figures = _against(report, best)
    skill = report["comparison"][MODEL]["average"].get("skill")
    lead = f"The {MODEL} {word} {best}, the best baseline here ({figures})."
    details = []
    if best != REFERENCE:
        p_word, p_figures = _against(report, REFERENCE)
        if p_word != "beats":
            details.append(f"It {p_word} persistence ({p_figures}): no better than repeating the last value.")
        elif has_value(skill):
            details.append(f"Its average skill against persistence is {skill:.3f}.")
    details.append(_rule(report))
    warnings = [w for w in [_constant_targets(report), _thin_targets(report)] if w]
    warnings += [w.rstrip(".") + "." for w in (report.get("data") or {}).get("suspect", [])]
    epochs = (report.get("config") or {}).get("epochs")
    if (default_epochs and epochs and epochs < default_epochs) or report.get("test_rows", QUICK_ROWS) < QUICK_ROWS:
        warnings.append(f"Quick test ({epochs} epochs, default {default_epochs}; {report.get('test_rows')} test rows): "
                        "not a model to judge.")
    tone = "ok" if word == "beats" else "bad" if word.startswith("is worse") else "neutral"
    return Headline(lead, details, "neutral" if tone == "ok" and warnings else tone, tuple(warnings))
