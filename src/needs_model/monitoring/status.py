"""A service's monitoring status, `ok`, `warn` or `retrain`, with its reasons in words.

`retrain` needs matured labels: the champion would now fail a check of the promotion gate
(calibration month by month, a group's calibration gap beyond the rest's) or its AUC fell
beyond doubt by more than `Thresholds.auc_drop` from its test window. Drift of the inputs
or of the scores, and data-quality findings, raise `warn`: they say where to look before
the labels can say whether it matters.

A feature the model leans on that drifted by less than a medium effect, while the scores
stayed put, is a note, not an alarm (`drift_notes`): who is reached and how many are
unchanged, and only matured labels can say whether the model still ranks them well. On
the stable twin, the months since a household's last full survey drift every month by the
calendar alone (the survey is every five years: 0.10-0.24 standard deviations a year), and
the poverty model's matured AUC held. When the scores or the expected demand do move, the
drifted features the model leans on are named beside it as the likely cause.

A feature the model hardly leans on warns only when it moved by a large effect against the
same calendar month of the reference year: the model may not need it, but the population
it describes changed. A storm season shows there first, on the communes' damage lists,
months before the December review's labels say what it did to incomes. Against a whole
year (a small service's month holds too few rows for its own, `drift.seasonal_reference`),
a feature counting what falls due within the horizon moves with the calendar alone.
"""

from __future__ import annotations

from typing import Any

from needs_model.modelling.promotion import calibration_fails, months_over_floor
from needs_model.monitoring.performance import MATURED_MONTHS
from needs_model.monitoring.thresholds import Thresholds

OK, WARN, RETRAIN = "ok", "warn", "retrain"


def _effect_at_least(feature: dict[str, Any], numeric: float, categorical: float) -> bool:
    bar = numeric if feature["method"] == "wasserstein" else categorical
    return feature.get("effect_size", 0.0) >= bar


def medium_or_more(feature: dict[str, Any], thresholds: Thresholds) -> bool:
    """Whether a feature's drift is at least a medium effect (`drift.effect_size`)."""
    return _effect_at_least(
        feature, thresholds.medium_effect_numeric, thresholds.medium_effect_categorical
    )


def large_or_more(feature: dict[str, Any], thresholds: Thresholds) -> bool:
    """Whether a feature's drift is at least a large effect (`drift.effect_size`)."""
    return _effect_at_least(
        feature, thresholds.large_effect_numeric, thresholds.large_effect_categorical
    )


def leaned_on(drift: dict[str, Any], thresholds: Thresholds) -> list[dict[str, Any]]:
    """The drifted features carrying at least `important_feature_gain_share` of the
    model's split gain, the heaviest first."""
    heavy = [
        f
        for f in drift["features"]
        if f["drifted"] and f.get("gain_share", 0.0) >= thresholds.important_feature_gain_share
    ]
    return sorted(heavy, key=lambda f: -f.get("gain_share", 0.0))


def _drifted_words(f: dict[str, Any]) -> str:
    """The head every reason about one drifted feature starts with (the bracket left open)."""
    return (
        f"{f['column']} drifted ({f['method']} {f['score']:.3f}, sampling alone: up to "
        f"{f['noise_floor']:.3f}"
    )


def _leaned_words(f: dict[str, Any], thresholds: Thresholds) -> str:
    return (
        f"{_drifted_words(f)}; effect {f.get('effect_size', 0.0):.2f}) and carries "
        f"{f.get('gain_share', 0.0):.0%} of the model's gain "
        f"(>= {thresholds.important_feature_gain_share:.0%})"
    )


def _population_words(f: dict[str, Any]) -> str:
    return (
        f"{_drifted_words(f)}) by a large effect ({f.get('effect_size', 0.0):.2f}): the model "
        f"carries only {f.get('gain_share', 0.0):.1%} of its gain on it, but the population it "
        "describes changed"
    )


NOT_COMPARED = "holds no value on one side: not compared"


def feature_findings(
    features: dict[str, dict[str, Any]], not_compared: list[str], thresholds: Thresholds
) -> list[str]:
    """Data-quality findings in words, from a month's measurements per feature
    (`drift.summarise`'s `quality`): a feature with no value at all on either side, a rise
    of its missing share, values outside the reference's range or categories."""
    findings = [f"{c} {NOT_COMPARED}" for c in not_compared]
    for column, q in features.items():
        rise = q.get("missing_share", 0.0) - q.get("reference_missing_share", 0.0)
        if rise >= thresholds.missing_share_rise:
            findings.append(
                f"{column}: missing share {q['missing_share']:.1%} against "
                f"{q['reference_missing_share']:.1%} in the reference (+{rise:.1%} >= "
                f"{thresholds.missing_share_rise:.0%})"
            )
        outside = q.get("outside_reference_share", 0.0)
        chance = q.get("outside_reference_by_chance", 0)
        if (
            outside >= thresholds.out_of_range_share
            and q.get("outside_reference_count", 0) > chance
        ):
            findings.append(
                f"{column}: {outside:.1%} of values ({q['outside_reference_count']:,}) outside "
                f"the reference's range or categories (>= {thresholds.out_of_range_share:.0%}; "
                f"sampling alone: up to {chance:,})"
            )
    return findings


def _not_compared(quality: dict[str, Any]) -> list[str]:
    """The features with no value on one side. Summaries kept before 2026-12-06 name them
    only in their findings, in the words `feature_findings` gives them."""
    if "not_compared" in quality:
        return list(quality["not_compared"])
    suffix = f" {NOT_COMPARED}"
    return [f.removesuffix(suffix) for f in quality["findings"] if f.endswith(suffix)]


def drift_notes(drift: dict[str, Any], thresholds: Thresholds) -> list[str]:
    """What a data scientist should look at without being alarmed: the drifted features the
    model leans on that moved by less than a medium effect, in words."""
    return [
        _leaned_words(f, thresholds) + ", a small effect"
        for f in leaned_on(drift, thresholds)
        if not medium_or_more(f, thresholds)
    ]


def service_status(
    drift: dict[str, Any],
    findings: list[str],
    performance: dict[str, Any] | None,
    thresholds: Thresholds,
    *,
    seasonal: bool,
) -> tuple[str, list[str]]:
    """(status, reasons). `drift` as `drift.summarise` returns it, `findings` the month's
    data-quality findings in words (`feature_findings` and the agencies' tables'; each
    warns), `performance` as `performance.matured_performance` or None
    when no month end has matured since the champion's test window; `seasonal`: whether the
    reference was the same calendar month (`drift.seasonal_reference`) or a whole year."""
    warn: list[str] = []
    retrain: list[str] = []

    drifted = [f for f in drift["features"] if f["drifted"]]
    share = drift["drifted_share"]
    if share >= thresholds.feature_drift_share:
        warn.append(
            f"{len(drifted)} of {len(drift['features'])} features drifted "
            f"({share:.0%} >= {thresholds.feature_drift_share:.0%}): "
            + ", ".join(f"{f['column']} ({f['method']} {f['score']:.3f})" for f in drifted[:5])
        )
    leaned = leaned_on(drift, thresholds)
    if share < thresholds.feature_drift_share:
        warn.extend(
            _leaned_words(f, thresholds) + ", a medium effect or more"
            for f in leaned
            if medium_or_more(f, thresholds)
        )
        if seasonal:
            warn.extend(
                _population_words(f)
                for f in drifted
                if f not in leaned and large_or_more(f, thresholds)
            )
    cause = (
        "; drifted features it leans on: "
        + ", ".join(f"{f['column']} ({f.get('gain_share', 0.0):.0%} of the gain)" for f in leaned)
        if leaned
        else ""
    )
    moved: list[str] = []
    for name, block in drift["prediction"].items():
        floor = block.get("noise_floor", 0.0)
        if block["score"] >= thresholds.prediction_drift and block["score"] > floor:
            moved.append(
                f"the {name} moved: {block['method']} {block['score']:.3f} "
                f">= {thresholds.prediction_drift} (sampling alone: up to {floor:.3f})"
            )
    demand = drift.get("expected_demand")
    if demand is not None:
        change = demand["relative_change"]
        if abs(change) >= thresholds.expected_demand_change and abs(change) > demand["noise_floor"]:
            moved.append(
                f"expected demand moved {change:+.0%} beyond the reference year's months "
                f"(mean probability {demand['current']:.4f} against {demand['edge']:.4f}; "
                f">= {thresholds.expected_demand_change:.0%}, sampling alone: up to "
                f"{demand['noise_floor']:.0%})"
            )
    if moved:
        moved[-1] += cause
    warn.extend(moved)
    warn.extend(findings)

    if performance is not None:
        test_auc = performance["test_window_auc"]
        high = performance["auc_ci"][1]
        fewer = min(performance["positives"], performance["rows"] - performance["positives"])
        if (
            test_auc is not None
            and fewer >= thresholds.auc_min_positives
            and high == high
            and high < test_auc - thresholds.auc_drop
        ):
            retrain.append(
                f"matured AUC {performance['summary']['auc']:.4f} (95% CI up to {high:.4f}) "
                f"is more than {thresholds.auc_drop} below the test window's {test_auc:.4f}"
            )
        months = performance["calibration_by_month"]
        if calibration_fails(months):
            over = months_over_floor(months)
            words = (
                f"calibration: ECE above the gate's floor on {len(over)} of {len(months)} "
                "matured month ends ("
                + ", ".join(f"{m['as_of']}: {m['ece']:.4f} > {m['floor']:.4f}" for m in over)
                + ")"
            )
            # A floor is a 95th percentile: one month over it is a 1-in-20 chance. Judged
            # (as the gate does, on more than half) once `MATURED_MONTHS` have matured.
            if len(months) >= MATURED_MONTHS:
                retrain.append(words)
            else:
                warn.append(f"{words}; judged from {MATURED_MONTHS} matured month ends")
        retrain.extend(f"on matured labels, {f}" for f in performance["fairness_failures"])
    if retrain:
        return RETRAIN, retrain + warn
    if warn:
        return WARN, warn
    return OK, []


# What `decide` reads of a kept record, block by block (a key path: each name inside the
# one before it). `performance` is None when no month end has matured.
READS: tuple[tuple[str, ...], ...] = (
    ("drift", "features"),
    ("drift", "drifted_share"),
    ("drift", "prediction"),
    ("quality", "features"),
    ("sources",),
    ("performance",),
    ("reference", "seasonal"),
)
PERFORMANCE_READS = (
    "test_window_auc",
    "auc_ci",
    "positives",
    "rows",
    "summary",
    "calibration_by_month",
    "fairness_failures",
)


def lacks(record: dict[str, Any]) -> list[str]:
    """What of `READS` a kept record does not hold, as dotted names ("reference.seasonal"):
    a summary kept by a monitor older than the rule. Empty when `decide` can read it."""
    missing: list[str] = []
    for path in READS:
        block: Any = record
        for depth, name in enumerate(path):
            if not isinstance(block, dict) or name not in block:
                missing.append(".".join(path[: depth + 1]))
                break
            block = block[name]
    performance = record.get("performance")
    if isinstance(performance, dict):
        missing += [f"performance.{k}" for k in PERFORMANCE_READS if k not in performance]
    return list(dict.fromkeys(missing))


def decide(record: dict[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """A monitoring record's status, reasons, notes and data-quality findings, decided from
    the measurements it holds (drift, each feature's quality, the agencies' tables' findings,
    matured performance, whether the reference was seasonal) by `thresholds`. The monitor
    decides a new record so; a record kept from an earlier rule or under other thresholds is
    decided again the same way, with no new measuring (what was measured does not depend on
    the thresholds). The agencies' tables are judged by their own rules
    (`monitoring.sources`), once a month for every service: their findings are kept as
    they are. Returns the record's `quality` block with its findings judged again."""
    drift = record["drift"]
    quality = record["quality"]
    findings = feature_findings(quality["features"], _not_compared(quality), thresholds)
    findings += [f for table in record["sources"] for f in table["findings"]]
    status, reasons = service_status(
        drift,
        findings,
        record["performance"],
        thresholds,
        seasonal=record["reference"]["seasonal"],
    )
    return {
        "status": status,
        "reasons": reasons,
        "notes": drift_notes(drift, thresholds),
        "thresholds": thresholds.as_dict(),
        "quality": {**quality, "findings": findings},
    }
