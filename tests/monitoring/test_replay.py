"""`monitoring.replay`: kept months decided again under other thresholds, from what their
summaries measured, with nothing kept rewritten."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from needs_model.monitoring.kept import MONITORING_DIR
from needs_model.monitoring.replay import replay
from needs_model.monitoring.status import OK, READS, WARN, decide, lacks
from needs_model.monitoring.thresholds import Thresholds

T = Thresholds()


def _record(effect: float = 0.0, missing: float = 0.0) -> dict:
    """A kept summary's measurements: ten features, the first drifted by `effect` standard
    deviations and carrying 40 % of the model's gain when `effect` is not 0, the second
    missing on a share `missing` of rows (none in the reference)."""
    features = [
        {
            "column": f"f{i}",
            "method": "wasserstein",
            "score": 0.3 if i == 0 and effect else 0.01,
            "threshold": 0.1,
            "drifted": i == 0 and bool(effect),
            "noise_floor": 0.05,
            "gain_share": 0.4 if i == 0 else 0.05,
            "effect_size": effect if i == 0 else 0.0,
        }
        for i in range(10)
    ]
    drift = {
        "features": features,
        "drifted_share": 0.1 if effect else 0.0,
        "prediction": {"probability": {"method": "psi", "score": 0.01}},
    }
    quality = {"f1": {"missing_share": missing, "reference_missing_share": 0.0}}
    return {
        "drift": drift,
        "quality": {"features": quality, "not_compared": []},
        "sources": [],
        "performance": None,
        "reference": {"seasonal": True},
    }


def _keep(reports: Path, as_of: str, records: dict[str, dict]) -> None:
    """A monitoring run as the monitor keeps it: each summary with the status the default
    thresholds gave it, and the run's status.json listing them."""
    services = {}
    for service_id, record in records.items():
        folder = reports / MONITORING_DIR / as_of / service_id
        folder.mkdir(parents=True)
        decided = decide(record, T)
        kept = {"service_id": service_id, "as_of": as_of, **record, **decided}
        (folder / "summary.json").write_text(json.dumps(kept))
        services[service_id] = {
            "status": kept["status"],
            "summary": f"{as_of}/{service_id}/summary.json",
        }
    status = {"as_of": as_of, "services": services}
    (reports / MONITORING_DIR / as_of / "status.json").write_text(json.dumps(status))


@pytest.fixture
def reports(tmp_path) -> Path:
    _keep(
        tmp_path,
        "2026-01-31",
        {"births": _record(effect=0.6), "schools": _record(missing=0.08)},
    )
    _keep(tmp_path, "2026-02-28", {"births": _record(), "schools": _record()})
    return tmp_path


def _files(reports: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(reports.rglob("*.json"))}


def test_under_the_thresholds_they_were_kept_with_no_month_changes(reports):
    result = replay(reports, T)
    assert [(m.as_of, m.service_id) for m in result.months] == [
        ("2026-01-31", "births"),
        ("2026-01-31", "schools"),
        ("2026-02-28", "births"),
        ("2026-02-28", "schools"),
    ]
    assert not any(m.changed for m in result.months) and result.problems == []
    assert (result.kept_alarms, result.alarms) == (2, 2)


def test_a_threshold_raised_past_a_months_drift_clears_its_alarm_and_rewrites_nothing(reports):
    before = _files(reports)
    # The births' feature moved by 0.6 standard deviations: a medium effect by Cohen's 0.5,
    # not by 0.7. The schools' 8 points more missing do not depend on drift thresholds.
    result = replay(reports, Thresholds(medium_effect_numeric=0.7))
    changed = [m for m in result.months if m.changed]
    assert [(m.as_of, m.service_id, m.kept_status, m.status) for m in changed] == [
        ("2026-01-31", "births", WARN, OK)
    ]
    assert changed[0].reasons_new == [] and len(changed[0].reasons_gone) == 1
    assert changed[0].reasons_gone[0].startswith("f0 drifted (wasserstein 0.300")
    assert (result.kept_alarms, result.alarms) == (2, 1)
    assert result.by_service() == {"births": (2, 1, 0), "schools": (2, 1, 1)}
    assert _files(reports) == before
    # Lowered, the same drift still warns, and nothing new appears.
    assert not any(m.changed for m in replay(reports, Thresholds(medium_effect_numeric=0.4)).months)
    # A rise of the missing share is judged again too: 8 points are not 10.
    (schools,) = [
        m for m in replay(reports, Thresholds(missing_share_rise=0.1)).months if m.changed
    ]
    assert (schools.service_id, schools.kept_status, schools.status) == ("schools", WARN, OK)
    assert schools.reasons_gone == [
        "f1: missing share 8.0% against 0.0% in the reference (+8.0% >= 5%)"
    ]


def test_the_months_and_services_asked_for_are_the_ones_decided(reports):
    only = replay(reports, T, services=["schools"], first="2026-02-01")
    assert [(m.as_of, m.service_id) for m in only.months] == [("2026-02-28", "schools")]
    upto = replay(reports, T, last="2026-01-31")
    assert {m.as_of for m in upto.months} == {"2026-01-31"}


def test_a_summary_that_cannot_be_decided_again_is_named_and_the_others_are(reports):
    folder = reports / MONITORING_DIR / "2026-01-31"
    record = json.loads((folder / "births" / "summary.json").read_text())
    del record["reference"]  # as a monitor kept it before it stored its reference
    (folder / "births" / "summary.json").write_text(json.dumps(record))
    (folder / "schools" / "summary.json").unlink()
    result = replay(reports, T)
    assert [(m.as_of, m.service_id) for m in result.months] == [
        ("2026-02-28", "births"),
        ("2026-02-28", "schools"),
    ]
    births, schools = result.problems
    assert births.startswith("2026-01-31 births: ")
    assert "lacks what the status rule reads (reference); it was kept by an older" in births
    assert schools.startswith("2026-01-31 schools: ") and schools.endswith("is missing")


def test_a_run_whose_status_cannot_be_read_is_named_and_the_others_are_decided(reports):
    (reports / MONITORING_DIR / "2026-01-31" / "status.json").write_text("[")
    result = replay(reports, T)
    assert {m.as_of for m in result.months} == {"2026-02-28"}
    (problem,) = result.problems
    assert problem.startswith("2026-01-31: ") and "status.json" in problem


def test_a_summary_missing_a_block_inside_another_is_named_by_its_path(reports):
    path = reports / MONITORING_DIR / "2026-02-28" / "births" / "summary.json"
    record = json.loads(path.read_text())
    del record["drift"]["prediction"]
    record["performance"] = {"rows": 10}  # matured, as kept before calibration by month
    path.write_text(json.dumps(record))
    (problem,) = replay(reports, T).problems
    assert "(drift.prediction, performance.test_window_auc, performance.auc_ci," in problem
    assert "performance.fairness_failures)" in problem and "performance.rows" not in problem


def test_an_error_of_the_rule_on_a_complete_summary_is_not_called_an_old_summary(
    reports, monkeypatch
):
    # A bug inside `decide` must surface, not read as "kept by an older monitor".
    def broken(record, thresholds):
        return record["no such measurement"]

    monkeypatch.setattr("needs_model.monitoring.replay.decide", broken)
    with pytest.raises(KeyError, match="no such measurement"):
        replay(reports, T)


@pytest.mark.parametrize("path", READS, ids=".".join)
def test_each_block_replay_checks_for_is_one_the_rule_reads(path):
    # `lacks` names no more than `decide` needs: without any one block it cannot decide.
    record = _record(effect=0.6)
    assert lacks(record) == []
    block = record
    for name in path[:-1]:
        block = block[name]
    del block[path[-1]]
    assert lacks(record) == [".".join(path)]
    with pytest.raises(KeyError):
        decide(record, T)
