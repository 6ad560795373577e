"""The champions' monitoring (`needs-model monitor`): the latest status of every service and
Evidently's report, for auditors and data scientists. Aggregates only: no citizen's data."""

from __future__ import annotations

from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse

from api.deps import SettingsDep, TrailDep
from api.errors import ApiError
from api.schemas import Day, MonitoringHistory, MonitoringResponse, ServiceId
from api.security import allow
from needs_model.governance.access import Principal
from needs_model.monitoring.kept import (
    MONITORING_DIR,
    history,
    latest_status,
    run_dates,
    status_on,
)
from needs_model.monitoring.status import RETRAIN, WARN

router = APIRouter(tags=["monitoring"])
Watchers = Annotated[Principal, Depends(allow("auditor", "data_scientist", "admin"))]
# Evidently's page carries its script, styles and font inline and loads nothing: inline code
# may run, nothing may be fetched, sent or framed.
REPORT_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; frame-ancestors 'none'; form-action 'none'"
)


def _monitoring_root(settings: Any) -> FilePath:
    root: FilePath = settings.reports_dir / MONITORING_DIR
    return root


def _status(settings: Any, as_of: str | None) -> dict[str, Any]:
    status = (
        latest_status(settings.reports_dir)
        if as_of is None
        else status_on(settings.reports_dir, as_of)
    )
    if status is None:
        detail = (
            "no monitoring has run (needs-model monitor)"
            if as_of is None
            else (f"no monitoring ran on {as_of}")
        )
        raise ApiError(404, "not_monitored", detail, "as_of" if as_of else None)
    return status


@router.get("/v1/monitoring", response_model=MonitoringResponse)
def monitoring(
    principal: Watchers,
    settings: SettingsDep,
    trail: TrailDep,
    as_of: Annotated[Day | None, Query(description="A past run (default the latest).")] = None,
) -> dict[str, Any]:
    """Each served service's status (ok, warn or retrain) with its reasons, and the months
    on which monitoring ran."""
    status = _status(settings, as_of)
    runs = run_dates(settings.reports_dir)
    trail.record(
        principal,
        action="read_monitoring",
        route="GET /v1/monitoring",
        details={"as_of": status["as_of"]},
    )
    return {
        "as_of": status["as_of"],
        "generated_at": status["generated_at"],
        "services": status["services"],
        "not_monitored": status["not_monitored"],
        "runs": runs,
        "sources": status.get("sources", []),
    }


@router.get("/v1/monitoring/history", response_model=MonitoringHistory)
def monitoring_history(
    principal: Watchers,
    settings: SettingsDep,
    trail: TrailDep,
    service_id: Annotated[
        ServiceId | None, Query(alias="service", description="One service (default all).")
    ] = None,
    first: Annotated[
        Day | None, Query(alias="from", description="The first month end (kept).")
    ] = None,
    last: Annotated[Day | None, Query(alias="to", description="The last month end (kept).")] = None,
) -> dict[str, Any]:
    """Each service's status month by month, as the monitor gave it on the day (the
    statuses are not decided again: `needs-model monitor-replay` does that), with how many
    months warned and asked for retraining."""
    if first is not None and last is not None and first > last:
        raise ApiError(422, "invalid_value", f"from {first} is after to {last}", "from")
    kept = history(settings.reports_dir, None if service_id is None else [service_id], first, last)
    if not kept.runs and not kept.unreadable:
        span = "" if first is None and last is None else f" from {first or '…'} to {last or '…'}"
        raise ApiError(404, "not_monitored", f"no monitoring ran{span}", None)
    trail.record(
        principal,
        action="read_monitoring_history",
        route="GET /v1/monitoring/history",
        details={"service": service_id, "from": first, "to": last, "runs": len(kept.runs)},
    )
    return {
        "runs": kept.runs,
        "services": {
            sid: {
                "months": len(months),
                "warn": sum(m["status"] == WARN for m in months),
                "retrain": sum(m["status"] == RETRAIN for m in months),
                "statuses": months,
            }
            for sid, months in kept.services.items()
        },
        "unreadable": kept.unreadable,
    }


@router.get(
    "/v1/monitoring/{service_id}/report",
    response_model=None,
    responses={
        200: {
            "description": "Evidently's page (HTML)",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
    },
)
def monitoring_report(
    principal: Watchers,
    settings: SettingsDep,
    trail: TrailDep,
    service_id: Annotated[ServiceId, Path()],
    as_of: Annotated[Day | None, Query(description="A past run (default the latest).")] = None,
) -> HTMLResponse:
    """Evidently's report of the service's monitoring run: drift per feature and of the
    scores, data quality, with its tests. Self-contained HTML, readable offline."""
    root = _monitoring_root(settings)
    status = _status(settings, as_of)
    entry = status["services"].get(service_id)
    if entry is None:
        raise ApiError(
            404, "not_monitored", f"{service_id} was not monitored on {status['as_of']}", None
        )
    page = root / entry["report"]
    if not page.exists():
        raise ApiError(404, "not_monitored", f"the report of {service_id} is missing", None)
    trail.record(
        principal,
        action="read_monitoring_report",
        route="GET /v1/monitoring/{service_id}/report",
        details={"service": service_id, "as_of": status["as_of"]},
    )
    return HTMLResponse(
        page.read_text(encoding="utf-8"),
        headers={"content-security-policy": REPORT_POLICY},
    )
