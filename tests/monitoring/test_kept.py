"""`monitoring.kept`: what the monitor kept, read back — each service's statuses month by
month as given on the day, and the runs that cannot be read named, not dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from needs_model.monitoring.kept import MONITORING_DIR, history, services_to_retrain


def _run(reports: Path, as_of: str, statuses: dict[str, str]) -> None:
    """A run's status.json as the monitor writes it, each service with one reason."""
    services = {
        sid: {
            "status": status,
            "reasons": [] if status == "ok" else [f"{sid} {status} on {as_of}"],
            "notes": [],
            "champion_version": "3",
            "summary": f"{as_of}/{sid}/summary.json",
            "report": f"{as_of}/{sid}/report.html",
        }
        for sid, status in statuses.items()
    }
    folder = reports / MONITORING_DIR / as_of
    folder.mkdir(parents=True)
    status = {"as_of": as_of, "services": services, "not_monitored": [], "sources": []}
    (folder / "status.json").write_text(json.dumps(status))
    latest = reports / MONITORING_DIR / "latest.json"
    if not latest.exists() or json.loads(latest.read_text())["as_of"] <= as_of:
        latest.write_text(json.dumps(status))  # as the monitor: only a newer run replaces it


@pytest.fixture
def reports(tmp_path) -> Path:
    # Written out of order: the history is by date, not by when a run was written.
    _run(tmp_path, "2026-03-31", {"births": "retrain", "schools": "ok"})
    _run(tmp_path, "2026-01-31", {"births": "ok", "schools": "warn"})
    _run(tmp_path, "2026-02-28", {"births": "warn"})
    return tmp_path


def test_each_service_has_its_months_oldest_first_as_given(reports):
    kept = history(reports)
    assert kept.runs == ["2026-01-31", "2026-02-28", "2026-03-31"]
    assert [(m["as_of"], m["status"]) for m in kept.services["births"]] == [
        ("2026-01-31", "ok"),
        ("2026-02-28", "warn"),
        ("2026-03-31", "retrain"),
    ]
    # A month a service was not monitored on is absent from its list, not "ok".
    assert [m["as_of"] for m in kept.services["schools"]] == ["2026-01-31", "2026-03-31"]
    assert kept.services["schools"][0]["reasons"] == ["schools warn on 2026-01-31"]
    assert kept.unreadable == []


def test_the_services_and_months_asked_for(reports):
    kept = history(reports, ["schools"], first="2026-02-01", last="2026-03-31")
    assert kept.runs == ["2026-02-28", "2026-03-31"]
    assert list(kept.services) == ["schools"]
    assert [m["as_of"] for m in kept.services["schools"]] == ["2026-03-31"]
    assert history(reports, last="2026-01-30").runs == []


def test_a_run_that_cannot_be_read_is_named_and_the_others_are_read(reports):
    (reports / MONITORING_DIR / "2026-02-28" / "status.json").write_text('{"as_of": ')
    kept = history(reports)
    assert kept.runs == ["2026-01-31", "2026-03-31"]
    # Named within the reports folder, never by the server's own path.
    assert kept.unreadable == [
        "2026-02-28: monitoring/2026-02-28/status.json is not JSON (Expecting value, line 1)"
    ]
    assert str(reports) not in kept.unreadable[0]
    (reports / MONITORING_DIR / "2026-02-28" / "status.json").write_text("[]")
    (problem,) = history(reports).unreadable
    assert problem == "2026-02-28: monitoring/2026-02-28/status.json holds no services"
    (reports / MONITORING_DIR / "2026-02-28" / "status.json").write_bytes(b"\xff\xfe{")
    assert history(reports).unreadable == [
        "2026-02-28: monitoring/2026-02-28/status.json is not UTF-8 text"
    ]


def test_retraining_is_asked_for_by_the_newest_run_only(reports):
    assert services_to_retrain(reports) == ("2026-03-31", ["births"])
    _run(reports, "2026-04-30", {"births": "ok", "schools": "retrain"})
    assert services_to_retrain(reports) == ("2026-04-30", ["schools"])
    assert services_to_retrain(reports.parent / "nothing") is None
