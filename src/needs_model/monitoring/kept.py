"""What the monitor kept, read back: each run's `status.json` (every service's status and
reasons that day), `latest.json` (the newest run's) and the history month by month.

`needs-model monitor` (`monitoring.run`) writes them under `reports/monitoring/`; the API,
the auditors' reports, `retrain --if-needed` and `monitor-replay` read them here, without
importing the measuring (`monitoring.run`, `monitoring.drift`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from needs_model.monitoring.status import RETRAIN

MONITORING_DIR = "monitoring"
LATEST = "latest.json"


def latest_file(reports_dir: Path) -> Path:
    """Where the newest monitoring run's status is kept (`latest.json`)."""
    return reports_dir / MONITORING_DIR / LATEST


def status_file(reports_dir: Path, as_of: str) -> Path:
    """Where the status of the monitoring run of `as_of` (YYYY-MM-DD) is kept."""
    return reports_dir / MONITORING_DIR / as_of / "status.json"


def _read_status(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    status: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return status


def latest_status(reports_dir: Path) -> dict[str, Any] | None:
    """The newest monitoring run's status (as of, each service's status and reasons, the
    agencies' tables), or None before any run: what the CLI, the reports and the API read."""
    return _read_status(latest_file(reports_dir))


def run_dates(reports_dir: Path) -> list[str]:
    """The dates (YYYY-MM-DD) monitoring ran on, oldest first."""
    root = reports_dir / MONITORING_DIR
    return sorted(p.parent.name for p in root.glob("*/status.json"))


def status_on(reports_dir: Path, as_of: str) -> dict[str, Any] | None:
    """The status of the monitoring run of `as_of` (YYYY-MM-DD), or None when none ran."""
    return _read_status(status_file(reports_dir, as_of))


@dataclass(frozen=True)
class History:
    """The statuses the monitor gave, month by month, as given on the day (not decided
    again: `replay` does that)."""

    runs: list[str]  # the run dates read, oldest first
    # Per service, its months oldest first: the run date and the run's entry for it
    # (status, reasons, notes, champion_version, summary, report).
    services: dict[str, list[dict[str, Any]]]
    unreadable: list[str]  # the runs whose status.json could not be read, each with why


def history(
    reports_dir: Path,
    services: list[str] | None = None,
    first: str | None = None,
    last: str | None = None,
) -> History:
    """Every run from `first` to `last` (YYYY-MM-DD, both kept), for `services` (default
    all). A run whose status.json cannot be read is named, and the others are read."""
    runs: list[str] = []
    by_service: dict[str, list[dict[str, Any]]] = {}
    unreadable: list[str] = []
    for as_of in run_dates(reports_dir):
        if (first is not None and as_of < first) or (last is not None and as_of > last):
            continue
        # Named relative to the reports folder: the API and the cards show it, and the
        # server's own paths are not theirs to show.
        name = f"{MONITORING_DIR}/{as_of}/status.json"
        try:
            status = status_on(reports_dir, as_of)
        except json.JSONDecodeError as error:
            unreadable.append(f"{as_of}: {name} is not JSON ({error.msg}, line {error.lineno})")
            continue
        except UnicodeDecodeError:
            unreadable.append(f"{as_of}: {name} is not UTF-8 text")
            continue
        except OSError as error:
            unreadable.append(f"{as_of}: {name} cannot be read ({error.strerror})")
            continue
        if status is None:  # removed since it was listed
            continue
        if not isinstance(status, dict) or not isinstance(status.get("services"), dict):
            unreadable.append(f"{as_of}: {name} holds no services")
            continue
        runs.append(as_of)
        for service_id, entry in sorted(status["services"].items()):
            if services is None or service_id in services:
                by_service.setdefault(service_id, []).append({"as_of": as_of, **entry})
    return History(runs, dict(sorted(by_service.items())), unreadable)


def services_to_retrain(reports_dir: Path) -> tuple[str, list[str]] | None:
    """(the latest monitoring date, the services it marked `retrain`), or None when no
    monitoring has run."""
    status = latest_status(reports_dir)
    if status is None:
        return None
    flagged = [s for s, entry in status["services"].items() if entry["status"] == RETRAIN]
    return str(status["as_of"]), flagged
