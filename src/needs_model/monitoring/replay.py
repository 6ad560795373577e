"""Kept monitoring months decided again under other thresholds, without measuring again.

A data scientist who would change a threshold asks first what it would have done: how many
of the months already monitored would have raised an alarm, and which reasons come or go.
The drift, findings and matured labels a month's `summary.json` keeps do not depend on the
thresholds, so `status.decide` gives each month the status it would have had. Nothing kept
is rewritten: the statuses auditors read are those the monitor gave on the day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from needs_model.monitoring.kept import MONITORING_DIR, history
from needs_model.monitoring.status import OK, decide, lacks
from needs_model.monitoring.thresholds import Thresholds


@dataclass(frozen=True)
class ReplayedMonth:
    """One service-month: the status it was given and the one `thresholds` give it."""

    as_of: str
    service_id: str
    kept_status: str
    kept_reasons: list[str]
    status: str
    reasons: list[str]

    @property
    def changed(self) -> bool:
        return (self.status, self.reasons) != (self.kept_status, self.kept_reasons)

    @property
    def reasons_gone(self) -> list[str]:
        return [r for r in self.kept_reasons if r not in self.reasons]

    @property
    def reasons_new(self) -> list[str]:
        return [r for r in self.reasons if r not in self.kept_reasons]


@dataclass(frozen=True)
class Replay:
    months: list[ReplayedMonth]
    # Service-months that could not be decided again, each with why (file and problem).
    problems: list[str]

    @property
    def kept_alarms(self) -> int:
        return sum(m.kept_status != OK for m in self.months)

    @property
    def alarms(self) -> int:
        return sum(m.status != OK for m in self.months)

    def by_service(self) -> dict[str, tuple[int, int, int]]:
        """Per service: (months, alarms as kept, alarms under the thresholds replayed)."""
        out: dict[str, tuple[int, int, int]] = {}
        for m in self.months:
            months, kept, now = out.get(m.service_id, (0, 0, 0))
            out[m.service_id] = (months + 1, kept + (m.kept_status != OK), now + (m.status != OK))
        return dict(sorted(out.items()))


def replay(
    reports_dir: Path,
    thresholds: Thresholds,
    services: list[str] | None = None,
    first: str | None = None,
    last: str | None = None,
) -> Replay:
    """Every kept service-month from `first` to `last` (YYYY-MM-DD, both kept), of
    `services` (default all), decided again by `thresholds`. The months are those each
    run's `status.json` lists (`kept.history`), oldest first; a run or summary that cannot
    be read is named in `problems`."""
    kept = history(reports_dir, services, first, last)
    months: list[ReplayedMonth] = []
    problems: list[str] = list(kept.unreadable)
    entries = sorted(
        (
            (entry["as_of"], service_id, entry)
            for service_id, e in kept.services.items()
            for entry in e
        ),
        key=lambda t: (t[0], t[1]),
    )
    for as_of, service_id, entry in entries:
        path = reports_dir / MONITORING_DIR / entry["summary"]
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            problems.append(f"{as_of} {service_id}: {path} is missing")
            continue
        except json.JSONDecodeError as error:
            problems.append(f"{as_of} {service_id}: {path} is not JSON ({error.msg})")
            continue
        # Checked before deciding, not caught after: an error inside `decide` on a
        # complete record is a bug of the rule and must not read as an old summary.
        missing = (
            [k for k in ("status", "reasons") if k not in record] + lacks(record)
            if isinstance(record, dict)
            else ["a JSON object"]
        )
        if missing:
            problems.append(
                f"{as_of} {service_id}: {path} lacks what the status rule reads "
                f"({', '.join(missing)}); it was kept by an older monitor: monitor "
                f"{as_of} again"
            )
            continue
        decided = decide(record, thresholds)
        months.append(
            ReplayedMonth(
                as_of=as_of,
                service_id=service_id,
                kept_status=record["status"],
                kept_reasons=record["reasons"],
                status=decided["status"],
                reasons=decided["reasons"],
            )
        )
    return Replay(months, problems)
