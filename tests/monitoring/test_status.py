"""The status rules: drift and quality warn, matured failures ask for retraining."""

from __future__ import annotations

from needs_model.monitoring.status import OK, RETRAIN, WARN, service_status
from needs_model.monitoring.thresholds import Thresholds

T = Thresholds()


def _status(
    drift: dict,
    performance: dict | None = None,
    findings: list[str] | None = None,
    seasonal: bool = True,
) -> tuple[str, list[str]]:
    """`service_status` with the default thresholds, against the same calendar month unless
    told otherwise."""
    return service_status(drift, findings or [], performance, T, seasonal=seasonal)


def _drift(drifted: int, of: int = 10, probability: float = 0.01) -> dict:
    features = [
        {
            "column": f"f{i}",
            "method": "wasserstein",
            "score": 0.3 if i < drifted else 0.01,
            "threshold": 0.1,
            "drifted": i < drifted,
            "noise_floor": 0.05,
            "gain_share": 0.05,
        }
        for i in range(of)
    ]
    return {
        "features": features,
        "drifted_share": drifted / of,
        "prediction": {
            "probability": {"method": "psi", "score": probability},
            "band": {"method": "jensenshannon", "score": 0.0},
        },
    }


def _performance(auc: float, high: float, months_over: int = 0, positives: int = 100) -> dict:
    months = [
        {"as_of": f"2025-0{i + 1}-28", "ece": 0.05 if i < months_over else 0.01, "floor": 0.02}
        for i in range(3)
    ]
    return {
        "rows": 1000,
        "positives": positives,
        "test_window_auc": 0.9,
        "summary": {"auc": auc},
        "auc_ci": [auc - 0.01, high],
        "calibration_by_month": months,
        "fairness_failures": [],
    }


def test_a_feature_the_model_leans_on_warns_alone_when_it_moved_by_a_medium_effect():
    from needs_model.monitoring.status import drift_notes

    leaned_on = _drift(1)
    leaned_on["features"][0].update(gain_share=0.4, effect_size=0.6)
    status, reasons = _status(leaned_on)
    assert status == WARN
    assert reasons == [
        "f0 drifted (wasserstein 0.300, sampling alone: up to 0.050; effect 0.60) and carries "
        "40% of the model's gain (>= 10%), a medium effect or more"
    ]
    assert drift_notes(leaned_on, T) == []
    # A category's scale is Cohen's w: 0.3 is medium.
    category = _drift(1)
    category["features"][0].update(method="jensenshannon", gain_share=0.4, effect_size=0.35)
    assert _status(category)[0] == WARN


def test_a_small_drift_of_a_feature_the_model_leans_on_is_a_note_until_the_scores_move():
    from needs_model.monitoring.status import drift_notes

    leaned_on = _drift(1)
    leaned_on["features"][0].update(gain_share=0.4, effect_size=0.2)
    # The scores stayed put: no alarm, but a note a data scientist reads.
    assert _status(leaned_on) == (OK, [])
    assert drift_notes(leaned_on, T) == [
        "f0 drifted (wasserstein 0.300, sampling alone: up to 0.050; effect 0.20) and carries "
        "40% of the model's gain (>= 10%), a small effect"
    ]
    # The scores moved: the warning names the drifted feature as the likely cause.
    leaned_on["prediction"]["probability"]["score"] = 0.3
    status, reasons = _status(leaned_on)
    assert status == WARN
    assert reasons == [
        "the probability moved: psi 0.300 >= 0.1 (sampling alone: up to 0.000); drifted "
        "features it leans on: f0 (40% of the gain)"
    ]
    # Drifted but hardly used (by less than a large effect), or used but not drifted: no note.
    minor = _drift(1)
    minor["features"][0]["effect_size"] = 0.7
    assert drift_notes(minor, T) == [] and _status(minor)[0] == OK
    still = _drift(0)
    still["features"][0].update(gain_share=0.9, effect_size=0.9)
    assert drift_notes(still, T) == []


def test_a_feature_the_model_hardly_uses_warns_when_it_moved_by_a_large_effect():
    # A number by 0.8 standard deviations, a category by w = 0.5 (Cohen's "large"), with 5 %
    # of the gain (below the 10 % a feature needs for a medium drift to warn).
    number = _drift(1)
    number["features"][0]["effect_size"] = 0.85
    status, reasons = _status(number)
    assert status == WARN
    assert reasons == [
        "f0 drifted (wasserstein 0.300, sampling alone: up to 0.050) by a large effect (0.85): "
        "the model carries only 5.0% of its gain on it, but the population it describes changed"
    ]
    category = _drift(1)
    category["features"][0].update(method="jensenshannon", effect_size=0.55)
    assert _status(category)[0] == WARN
    category["features"][0]["effect_size"] = 0.45  # medium, not large
    assert _status(category) == (OK, [])
    # Against a whole year (no month of its own in the reference), the calendar alone moves
    # a feature: a large effect there is no alarm for a feature the model hardly uses.
    assert _status(number, seasonal=False) == (OK, [])
    # A large effect the drift test did not confirm (within sampling) is no alarm.
    unconfirmed = _drift(0)
    unconfirmed["features"][0]["effect_size"] = 2.0
    assert _status(unconfirmed) == (OK, [])


def test_nothing_moved_is_ok():
    assert _status(_drift(1), _performance(0.9, 0.91)) == (OK, [])


def test_a_third_of_the_features_drifting_warns_and_names_them():
    status, reasons = _status(_drift(3))
    assert status == WARN
    assert "3 of 10 features drifted" in reasons[0] and "f0 (wasserstein 0.300)" in reasons[0]


def test_scores_that_moved_warn():
    status, reasons = _status(_drift(0, probability=0.12))
    assert status == WARN and "probability moved: psi 0.120" in reasons[0]


def test_a_quality_finding_warns():
    status, reasons = _status(_drift(0), findings=["x: missing"])
    assert (status, reasons) == (WARN, ["x: missing"])


def test_a_matured_auc_drop_beyond_doubt_asks_for_retraining():
    # Upper end of the interval 0.87 < 0.9 - 0.02: retrain; 0.885 is within the tolerance.
    status, reasons = _status(_drift(0), _performance(0.85, 0.87))
    assert status == RETRAIN and "matured AUC 0.8500" in reasons[0]
    assert _status(_drift(0), _performance(0.87, 0.885))[0] == OK


def test_a_matured_auc_on_a_handful_of_positives_is_no_evidence():
    # 19 positives: the same drop is not judged (fewer than the gate's baselines need).
    thin = _performance(0.85, 0.87, positives=T.auc_min_positives - 1)
    assert _status(_drift(0), thin) == (OK, [])
    enough = _performance(0.85, 0.87, positives=T.auc_min_positives)
    assert _status(_drift(0), enough)[0] == RETRAIN


def test_calibration_failing_on_most_matured_months_asks_for_retraining():
    status, reasons = _status(_drift(0), _performance(0.9, 0.91, 2))
    assert status == RETRAIN and reasons[0].startswith("calibration: ECE above the gate's floor")
    # One month of three over its floor is not a majority.
    assert _status(_drift(0), _performance(0.9, 0.91, 1))[0] == OK


def test_one_matured_month_over_its_floor_warns_until_three_have_matured():
    performance = _performance(0.9, 0.91, 1)
    performance["calibration_by_month"] = performance["calibration_by_month"][:1]
    status, reasons = _status(_drift(0), performance)
    assert status == WARN
    assert reasons[0].endswith("judged from 3 matured month ends"), reasons


def test_retrain_reasons_come_first_and_keep_the_warnings():
    status, reasons = _status(_drift(5), _performance(0.8, 0.82))
    assert status == RETRAIN
    assert reasons[0].startswith("matured AUC") and "features drifted" in reasons[1]


def _record(drift: dict, quality: dict | None = None, tables: list[str] | None = None) -> dict:
    """A kept record's measurements: drift, each feature's quality, the agencies' tables'
    findings (`tables`), no matured labels, a reference of the same calendar month."""
    return {
        "drift": drift,
        "quality": {"features": quality or {}, "not_compared": [], "findings": []},
        "sources": [{"table": "registry/people", "findings": tables or []}],
        "performance": None,
        "reference": {"seasonal": True},
    }


def test_a_kept_record_is_decided_from_its_own_measurements_and_reference():
    from needs_model.monitoring.status import decide

    drift = _drift(1)
    drift["features"][0]["effect_size"] = 0.85  # large, on a feature the model hardly uses
    record = _record(drift)
    decided = decide(record, T)
    assert decided["status"] == WARN and decided["reasons"][0].startswith("f0 drifted")
    assert decided["thresholds"] == T.as_dict()
    # Whether the reference was the same calendar month is read from the record's reference.
    record["reference"]["seasonal"] = False
    decided = decide(record, T)
    assert (decided["status"], decided["reasons"]) == (OK, [])
    # Other thresholds, another decision from the same record.
    stricter = Thresholds(feature_drift_share=0.1)
    reasons = decide(record, stricter)["reasons"]
    assert reasons == ["1 of 10 features drifted (10% >= 10%): f0 (wasserstein 0.300)"]


def test_a_kept_records_quality_is_judged_again_from_its_measurements():
    from needs_model.monitoring.status import decide

    # 8 points more missing than in the reference; a tenth of values outside its range, more
    # than the 40 that sampling alone gives.
    quality = {
        "age": {"missing_share": 0.13, "reference_missing_share": 0.05},
        "income": {
            "outside_reference_share": 0.1,
            "outside_reference_count": 100,
            "outside_reference_by_chance": 40,
        },
    }
    record = _record(_drift(0), quality, tables=["registry/people: 3 new values of ward_code"])
    decided = decide(record, T)
    findings = decided["quality"]["findings"]
    assert decided["status"] == WARN and decided["reasons"] == findings
    assert findings == [
        "age: missing share 13.0% against 5.0% in the reference (+8.0% >= 5%)",
        "income: 10.0% of values (100) outside the reference's range or categories (>= 5%; "
        "sampling alone: up to 40)",
        "registry/people: 3 new values of ward_code",
    ]
    # Past both thresholds, only the table's finding is left: its rules are its own.
    laxer = Thresholds(missing_share_rise=0.1, out_of_range_share=0.2)
    assert decide(record, laxer)["quality"]["findings"] == [
        "registry/people: 3 new values of ward_code"
    ]
    # A feature with no value on one side is a finding whatever the thresholds, kept by
    # name, or (by a monitor before 2026-12-06) only in its words.
    record = _record(_drift(0))
    record["quality"]["not_compared"] = ["badge_count"]
    words = ["badge_count holds no value on one side: not compared"]
    assert decide(record, laxer)["quality"]["findings"] == words
    del record["quality"]["not_compared"]
    record["quality"]["findings"] = [*words, "age: missing share 13.0% against 5.0% ..."]
    assert decide(record, laxer)["quality"]["findings"] == words
