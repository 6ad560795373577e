"""What auditors read, as pages (`needs_model.reports`): the index, a served model's card
and an agency extract's data sheet. Cards are for every role (a planner reads what the
score is for and what it must never be used for); the index and the data sheets for
auditors, data scientists and admins; one citizen's explanation for auditors and admins
(a personal read, within the key's scope). Every read goes to the audit log.

Pages are rendered on first request and kept per served version and monitoring date (a
card draws seven images from the model's exact contributions: a few seconds).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import (
    AnyRole,
    AuditorReads,
    CccdPath,
    EngineDep,
    PurposeQuery,
    SettingsDep,
    StoreDep,
    TrailDep,
)
from api.errors import ApiError, not_found
from api.schemas import ServiceId
from api.security import KEY_COOKIE, SIGN_IN_URL, SIGN_OUT_URL, allow
from api.views import citizen_in_scope
from needs_model.extracts.validate import default_report_dir
from needs_model.governance.access import Principal, authenticate
from needs_model.modelling.promotion import current_version, refusals_file
from needs_model.monitoring.kept import latest_file
from needs_model.reports.build import render_index, served
from needs_model.reports.citizen import (
    CaseError,
    OutOfScope,
    audit_details,
    citizen_file,
    read_access_log,
    render_citizen_file,
)
from needs_model.reports.data_sheet import find_table, render_data_sheet, sheet_data
from needs_model.reports.model_card import Links, card_data, latest_monitoring, render_model_card
from needs_model.reports.page import page, paragraph
from needs_model.settings import Settings

router = APIRouter(tags=["reports"])
Readers = Annotated[Principal, Depends(allow("auditor", "data_scientist", "admin"))]
# The pages carry their styles and images inline and no script: nothing may run, be
# fetched, sent or framed.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; form-action 'none'"
)
HTML: dict[int | str, dict[str, Any]] = {
    200: {"description": "A page (HTML)", "content": {"text/html": {"schema": {"type": "string"}}}}
}
API_LINKS = Links(
    model=lambda s: f"/v1/reports/models/{s}",
    version=lambda s, v: f"/v1/reports/models/{s}?version={v}",
    source=lambda t: f"/v1/reports/sources/{t.replace('/', '__')}",
    monitoring_report=lambda s, as_of: f"/v1/monitoring/{s}/report?as_of={as_of}",
    index="/v1/reports",
)


def _page(text: str) -> HTMLResponse:
    return HTMLResponse(text, headers={"content-security-policy": PAGE_POLICY})


@lru_cache(maxsize=32)
def _card(
    models_dir: str,
    reports_dir: str,
    service_id: str,
    version: str,
    served_now: str,
    latest: str | None,
    refusals_changed: int,
) -> str:
    """One card per (version, version served now, latest monitoring date, when the gate's
    refusals last changed): all are in the key, so a promotion, a monitoring run or a
    refusal renders it again."""
    data = card_data(service_id, FilePath(models_dir), FilePath(reports_dir), version)
    return render_model_card(data, API_LINKS)


def _changed(path: FilePath) -> int:
    """When a file last changed, in nanoseconds (0 when absent)."""
    return path.stat().st_mtime_ns if path.exists() else 0


def _stamp(settings: Settings, table_path: str) -> tuple[int, ...]:
    """When the files a data sheet reads last changed (0 when absent): a new extract,
    validation, link or monitoring run renders the sheet again."""
    files = [
        settings.raw_dir / table_path,
        default_report_dir(settings.raw_dir) / "report.json",
        *sorted(settings.linked_dir.glob("*/consistency.parquet"))[-1:],
        latest_file(settings.reports_dir),
    ]
    return tuple(_changed(f) for f in files)


@lru_cache(maxsize=64)
def _sheet(
    table: str,
    raw_dir: str,
    linked_dir: str,
    reports_dir: str,
    models_dir: str,
    stamp: tuple[int, ...],
) -> str:
    """A data sheet per table and state of its files (`stamp`): a sheet reads the whole
    extract, seconds on the full province."""
    data = sheet_data(
        find_table(table), FilePath(raw_dir), FilePath(linked_dir), FilePath(reports_dir)
    )
    return render_data_sheet(data, API_LINKS, served(FilePath(models_dir)))


@router.get("/v1/reports", response_model=None, responses=HTML)
def reports_index(principal: Readers, settings: SettingsDep, trail: TrailDep) -> HTMLResponse:
    """The auditors' index: every served model's card and monitoring status, every agency
    extract's data sheet, and how to ask for one citizen's explanation."""
    trail.record(principal, action="read_reports_index", route="GET /v1/reports")
    # The one page with a form (sign out): it may post to this server, nowhere else.
    policy = PAGE_POLICY.replace("form-action 'none'", "form-action 'self'")
    return HTMLResponse(
        render_index(settings, API_LINKS, sign_out=SIGN_OUT_URL),
        headers={"content-security-policy": policy},
    )


@router.get("/v1/reports/models/{service_id}", response_model=None, responses=HTML)
def model_card(
    principal: AnyRole,
    settings: SettingsDep,
    trail: TrailDep,
    service_id: Annotated[ServiceId, Path()],
    version: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,6}$", description="A version served before (default: now)."),
    ] = None,
) -> HTMLResponse:
    """The served model's card (or a past version's): intended use and the uses it must
    never have, data and period, features in plain words, metrics against the baselines and
    the twin's oracle, calibration, fairness by group, global explanations, the gate, the
    versions served and its monitoring."""
    served_now = current_version(settings.models_dir, service_id)
    if served_now is None:
        raise ApiError(404, "not_served", f"{service_id}: no model is served", None)
    version = version or served_now
    if not (settings.models_dir / service_id / version / "metadata.json").exists():
        raise ApiError(404, "not_found", f"{service_id}: no version {version}", "version")
    text = _card(
        str(settings.models_dir),
        str(settings.reports_dir),
        service_id,
        version,
        served_now,
        latest_monitoring(settings.reports_dir),
        _changed(refusals_file(settings.models_dir, service_id)),
    )
    trail.record(
        principal,
        action="read_model_card",
        route="GET /v1/reports/models/{service_id}",
        details={"service": service_id, "version": version},
    )
    return _page(text)


@router.get("/v1/reports/sources/{table}", response_model=None, responses=HTML)
def data_sheet(
    principal: Readers,
    settings: SettingsDep,
    trail: TrailDep,
    table: Annotated[
        str,
        Path(
            description="agency__table of the data contract, e.g. registry__people",
            pattern=r"^[a-z_]+__[a-z_]+$",
            examples=["registry__people"],
        ),
    ],
) -> HTMLResponse:
    """An agency extract's data sheet: what it holds, its columns, how it is linked, its lag
    and coverage, its validation quarantine, its consistency figures and monitoring."""
    try:
        found = find_table(table)
    except KeyError as error:
        raise ApiError(404, "unknown_table", str(error.args[0]), "table") from error
    text = _sheet(
        f"{found.agency}/{found.name}",
        str(settings.raw_dir),
        str(settings.linked_dir),
        str(settings.reports_dir),
        str(settings.models_dir),
        _stamp(settings, found.path),
    )
    trail.record(
        principal,
        action="read_data_sheet",
        route="GET /v1/reports/sources/{table}",
        details={"table": f"{found.agency}/{found.name}"},
    )
    return _page(text)


@router.get("/v1/citizens/{cccd}/explanation", response_model=None, responses=HTML)
def citizen_explanation(
    principal: AuditorReads,
    cccd: CccdPath,
    store: StoreDep,
    engine: EngineDep,
    settings: SettingsDep,
    trail: TrailDep,
    service: Annotated[ServiceId, Query(description="The service to explain.")],
    purpose: PurposeQuery = None,
) -> HTMLResponse:
    """One citizen's printable explanation for one service: score and band, the waterfall
    of the model's exact contributions, the reasons in Vietnamese and English, every source
    with its as-of date, the pre-filled dossier with its flags, what to do if a record is
    wrong, and who read this citizen's data (this read included)."""
    citizen_in_scope(store, principal, cccd, "cccd")
    try:
        file = citizen_file(store.folder, settings.models_dir, cccd, service, principal.scope)
    except OutOfScope as error:
        raise not_found(f"citizen {cccd}", "cccd", attempted=cccd) from error
    except CaseError as error:
        raise ApiError(404, "not_found", str(error), "service") from error
    logged = audit_details(file)
    trail.record(principal, route="GET /v1/citizens/{cccd}/explanation", purpose=purpose, **logged)
    log = read_access_log(engine, cccd, logged["subjects"])
    return _page(render_citizen_file(file, log, API_LINKS))


# --- signing in from a browser ----------------------------------------------------------------
SESSION_SECONDS = 12 * 3600
FORM_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
)
FORM = (
    f'<form method="post" action="{SIGN_IN_URL}"><p><label>Khoá API / API key '
    '<input type="password" name="key" autocomplete="off" size="60" required></label></p>'
    '<p><button type="submit">Đăng nhập / Sign in</button></p></form>'
)


def _form(reason: str | None = None, status: int = 200) -> HTMLResponse:
    note = (
        paragraph(f"Không đăng nhập được: {reason}.", f"Not signed in: {reason}.", "note")
        if reason
        else ""
    )
    body = (
        paragraph(
            "Nhập khoá API của bạn để đọc các báo cáo trong trình duyệt. Khoá được giữ trong "
            "một cookie chỉ dùng để đọc trang (12 giờ); mọi lần đọc được ghi vào nhật ký.",
            "Enter your API key to read the reports in a browser. The key is kept in a cookie "
            "that only reads pages (12 hours); every read goes to the audit log.",
        )
        + note
        + FORM
    )
    text = page("Đăng nhập", "Sign in", body)
    return HTMLResponse(text, status_code=status, headers={"content-security-policy": FORM_POLICY})


@router.get(SIGN_IN_URL, response_model=None, responses=HTML)
def sign_in_form() -> HTMLResponse:
    """The sign-in form for reading the reports in a browser (public: it holds nothing)."""
    return _form()


@router.post(
    SIGN_IN_URL,
    response_model=None,
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "Signed in: to the reports"}, 401: HTML[200]},
)
async def sign_in(request: Request, engine: EngineDep, trail: TrailDep) -> Response:
    """Check the key sent by the form (`key`, form-encoded) and keep it in a read-only
    cookie; then to the index (a planner: to the first model card)."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    found = await run_in_threadpool(authenticate, engine, key) if key else "missing"
    if not isinstance(found, Principal):
        reason = {"missing": "no key was given"}.get(str(found), f"the key is {found}")
        return _form(reason, 401)
    await run_in_threadpool(trail.record, found, action="sign_in", route=f"POST {SIGN_IN_URL}")
    landing = "/v1/reports"
    if found.role == "planner":
        first = served(request.app.state.settings.models_dir)
        landing = f"/v1/reports/models/{first[0]}" if first else SIGN_IN_URL
    response = RedirectResponse(landing, status_code=303)
    response.set_cookie(
        KEY_COOKIE, key, max_age=SESSION_SECONDS, path="/v1", httponly=True, samesite="strict"
    )
    return response


@router.post(
    SIGN_OUT_URL,
    response_model=None,
    response_class=RedirectResponse,
    status_code=303,
    responses={303: {"description": "Signed out: to the sign-in form"}},
)
def sign_out() -> Response:
    """Forget the key kept by the browser."""
    response = RedirectResponse(SIGN_IN_URL, status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/v1", httponly=True, samesite="strict")
    return response
