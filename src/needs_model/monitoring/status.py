"""A service's monitoring status, `ok`, `warn` or `retrain`, with its reasons in words.

`retrain` needs matured labels: the champion would now fail a check of the promotion gate
(calibration month by month, the fairness gap of a group) or its AUC fell beyond doubt by
more than `Thresholds.auc_drop` from its test window. Drift of the inputs or of the scores,
and data-quality findings, raise `warn`: they say where to look before the labels can say
whether it matters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from needs_model.modelling.promotion import calibration_fails, months_over_floor
from needs_model.monitoring.performance import MATURED_MONTHS

OK, WARN, RETRAIN = "ok", "warn", "retrain"


@dataclass(frozen=True)
class Thresholds:
    # Share of a service's features whose drift score reaches its test's threshold.
    feature_drift_share: float = 0.3
    # A drifted feature carrying at least this share of the model's split gain warns by
    # itself: one feature the scores lean on can move them while the others stay put (a
    # baby boom moves the pregnancy records and nothing else).
    important_feature_gain_share: float = 0.1
    # Drift score of the calibrated probabilities (population stability index) or of the
    # band counts (Jensen-Shannon distance) at which scores are said to have moved, when it
    # also exceeds what sampling alone gives at the month's size (`drift.noise_floor`).
    prediction_drift: float = 0.1
    # Expected demand (the mean calibrated probability): its relative distance beyond the
    # band of the reference year's monthly means at which planners are told, when it also
    # exceeds what sampling alone gives (`drift.expected_demand`). A fifth more or fewer
    # people than any month the outreach was planned on.
    expected_demand_change: float = 0.2
    # Matured AUC: retrain when the upper end of its 95 % interval lies this far below the
    # champion's test-window AUC.
    auc_drop: float = 0.02
    # Data quality, per feature: a rise in the missing share, or a share of values outside
    # the reference's range, at least this large (values outside: also more than sampling
    # from the reference's own population gives but for a chance of 1 in 1,000,
    # `drift.outside_by_chance`: two of 25 on a small month end are not a finding).
    missing_share_rise: float = 0.05
    out_of_range_share: float = 0.05

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def service_status(
    drift: dict[str, Any],
    quality: dict[str, Any],
    performance: dict[str, Any] | None,
    thresholds: Thresholds,
) -> tuple[str, list[str]]:
    """(status, reasons). `drift` as `drift.drift_summary` returns it, `quality` as
    `quality.feature_quality`, `performance` as `performance.matured_performance` or None
    when no month end has matured since the champion's test window."""
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
    if share < thresholds.feature_drift_share:
        for f in drifted:
            gain = f.get("gain_share", 0.0)
            if gain >= thresholds.important_feature_gain_share:
                warn.append(
                    f"{f['column']} drifted ({f['method']} {f['score']:.3f}, sampling alone: up "
                    f"to {f['noise_floor']:.3f}) and carries {gain:.0%} of the model's gain "
                    f"(>= {thresholds.important_feature_gain_share:.0%})"
                )
    for name, block in drift["prediction"].items():
        floor = block.get("noise_floor", 0.0)
        if block["score"] >= thresholds.prediction_drift and block["score"] > floor:
            warn.append(
                f"the {name} moved: {block['method']} {block['score']:.3f} "
                f">= {thresholds.prediction_drift} (sampling alone: up to {floor:.3f})"
            )
    demand = drift.get("expected_demand")
    if demand is not None:
        change = demand["relative_change"]
        if abs(change) >= thresholds.expected_demand_change and abs(change) > demand["noise_floor"]:
            warn.append(
                f"expected demand moved {change:+.0%} beyond the reference year's months "
                f"(mean probability {demand['current']:.4f} against {demand['edge']:.4f}; "
                f">= {thresholds.expected_demand_change:.0%}, sampling alone: up to "
                f"{demand['noise_floor']:.0%})"
            )
    for finding in quality["findings"]:
        warn.append(finding)

    if performance is not None:
        test_auc = performance["test_window_auc"]
        high = performance["auc_ci"][1]
        if test_auc is not None and high == high and high < test_auc - thresholds.auc_drop:
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
