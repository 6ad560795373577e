"""The Needs prediction service: `uvicorn api.main:app`.

Importing this module builds the FastAPI object only; the scored snapshot, the models and
the service database are opened in the lifespan (or injected by `create_app`, in tests).
Every route declares the roles that may call it; a route that does not is refused when
the app is built.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Path, Query, Request
from sqlalchemy import Engine
from starlette.types import ASGIApp

from api.docs import install_docs
from api.errors import ApiError, install, not_found
from api.headers import SecurityHeaders
from api.logs import install_log_masking
from api.schemas import (
    CCCD,
    ERRORS,
    MAX_SEQ,
    NOTICE,
    AccessLogResponse,
    AuditLogResponse,
    CandidatesResponse,
    CommuneCode,
    ForecastResponse,
    Health,
    Month,
    NeedsResponse,
    OutcomesRecorded,
    OutcomesRequest,
    OutcomesSummary,
    PredictionRequest,
    PredictionResponse,
    Purpose,
    ServiceId,
    ServicesResponse,
)
from api.security import (
    Authenticate,
    BodyLimit,
    RateLimiter,
    allow,
    check_every_route_declares_roles,
    language,
)
from api.startup import StartupError, open_service
from api.store import ServiceTable, Store
from api.trail import Trail
from needs_model import audit
from needs_model import outcomes as outcome_store
from needs_model.access import Principal, Scope, seconds_to_next_day
from needs_model.dossier import DOSSIERS
from needs_model.explain import SENSITIVE, top_reasons
from needs_model.feature_catalogue import features_for
from needs_model.scoring import BANDS, band
from needs_model.services import SERVICES, service
from needs_model.settings import Settings, get_settings

API_VERSION = "1.0.0"
log = logging.getLogger("needs.api")
Lang = Annotated[str, Depends(language)]
PurposeQuery = Annotated[Purpose | None, Query(description="Why you ask (kept in the audit log).")]
CccdPath = Annotated[CCCD, Path(description="12-digit CCCD", examples=["049187909209"])]
AnyRole = Annotated[Principal, Depends(allow("planner", "auditor", "data_scientist", "admin"))]
Outreach = Annotated[Principal, Depends(allow("planner", "admin"))]
OutreachReads = Annotated[Principal, Depends(allow("planner", "admin", personal=True))]
AuditorReads = Annotated[Principal, Depends(allow("auditor", "admin", personal=True))]
Forecasters = Annotated[Principal, Depends(allow("planner", "data_scientist", "admin"))]


def _store(request: Request) -> Store:
    store: Store | None = request.app.state.store
    if store is None:
        raise ApiError(503, "no_scores", "no scored snapshot is loaded (run needs-model score)")
    return store


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _trail(request: Request) -> Trail:
    trail: Trail = request.app.state.trail
    return trail


StoreDep = Annotated[Store, Depends(_store)]
EngineDep = Annotated[Engine, Depends(_engine)]
TrailDep = Annotated[Trail, Depends(_trail)]
PREDICTION_ID = re.compile(r"pr_([0-9]{8})_([0-9A-Za-z.-]{1,16})_([0-9a-f]{24})")


def _prediction_digest(as_of: str, service_id: str, subject_id: str, version: str) -> str:
    return hashlib.sha256(f"{as_of}|{service_id}|{subject_id}|{version}".encode()).hexdigest()


def prediction_id(as_of: str, service_id: str, subject_id: str, version: str) -> str:
    """`pr_<as-of>_<model version>_<digest>`: an outcome's prediction id can be checked
    against the subject it names, for this or an earlier scored snapshot."""
    digest = _prediction_digest(as_of, service_id, subject_id, version)
    return f"pr_{as_of.replace('-', '')}_{version}_{digest[:24]}"


def _check_prediction_id(
    pid: str, service_id: str, subject_id: str, current_as_of: str, field: str
) -> None:
    match = PREDICTION_ID.fullmatch(pid)
    if match is not None:
        day, version, digest = match.groups()
        as_of = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        issued = _prediction_digest(as_of, service_id, subject_id, version)[:24]
        if as_of <= current_as_of and hmac.compare_digest(issued, digest):
            return
    raise ApiError(
        422,
        "unknown_prediction",
        f"{pid} is not a prediction this API issued for this {service_id} subject",
        field,
    )


def _check_quota(request: Request, principal: Principal) -> None:
    """429 when the key's daily quota of personal records is spent (routes that return
    personal data only for some requests call this themselves)."""
    quota = principal.personal_reads_per_day or request.app.state.settings.personal_reads_per_day
    if principal.personal_reads_today >= quota:
        raise ApiError(
            429,
            "quota_exceeded",
            f"the key read {principal.personal_reads_today} personal records today "
            f"(quota {quota}); the quota resets at midnight, Vietnam time",
            headers={"Retry-After": str(seconds_to_next_day())},
        )


def _sources(store: Store, service_id: str) -> list[dict[str, str | None]]:
    dates = store.manifest["sources"]
    return [
        {"table": t, "as_of": dates.get(t)} for t in store.manifest["service_sources"][service_id]
    ]


def _prediction(
    store: Store,
    table: ServiceTable,
    values: np.ndarray,
    shap_row: np.ndarray,
    probability: float,
    subject_id: str | None,
    principal: Principal,
    lang: str,
    full: bool,
    pid: str,
) -> dict[str, Any]:
    with_values = principal.role != "planner"
    features = table.model.features
    reasons = top_reasons(
        features, values, shap_row, table.service_id, lang, limit=3, with_values=with_values
    )
    # For outreach roles a sensitive feature (health, pregnancy) shows a generic sentence and
    # neither its value nor which way it moved the score: the direction would reveal it.
    hidden = {r.feature for r in reasons if not with_values and r.feature in SENSITIVE}
    out: dict[str, Any] = {
        "prediction_id": pid,
        "service_id": table.service_id,
        "subject_id": subject_id,
        "probability": round(float(probability), 6),
        "band": band(probability),
        "legal_trigger": bool(values[table.rule_index] == 1),
        "horizon_months": service(table.service_id).horizon_months,
        "reasons": [
            {
                "feature": r.feature,
                "text": r.text,
                "contribution": None if r.feature in hidden else round(r.contribution, 6),
                "direction": None
                if r.feature in hidden
                else ("raises" if r.contribution > 0 else "lowers"),
                "value": r.value,
            }
            for r in reasons
        ],
        "sources": _sources(store, table.service_id),
        "model_version": table.version,
    }
    if full:
        out["margin"] = float(shap_row.sum())
        out["bias"] = float(shap_row[-1])
        out["contributions"] = {f: float(v) for f, v in zip(features, shap_row[:-1], strict=True)}
    return out


def _subject_prediction(
    store: Store, table: ServiceTable, row: int, principal: Principal, lang: str, full: bool
) -> dict[str, Any]:
    subject_id = str(table.subject_ids[row])
    shap_row = table.explain_row(row)
    return _prediction(
        store,
        table,
        table.matrix[row],
        shap_row,
        float(table.probability[row]),
        subject_id,
        principal,
        lang,
        full,
        prediction_id(store.as_of, table.service_id, subject_id, table.version),
    )


def _citizen(store: Store, principal: Principal, cccd: str, field: str) -> dict[str, Any]:
    person = store.people.get(cccd)
    if person is None or not principal.scope.allows(
        person["commune_code"], person["district_code"]
    ):
        raise not_found(f"citizen {cccd}", field, attempted=cccd)
    return person


def _citizen_rows(
    store: Store, principal: Principal, cccd: str, services: list[str] | None
) -> list[tuple[ServiceTable, int]]:
    rows = []
    for service_id, subject_id in store.by_cccd.get(cccd, []):
        if services is not None and service_id not in services:
            continue
        table = store.services[service_id]
        row = table.row_of[subject_id]
        if principal.scope.allows(table.commune[row], table.district[row]):
            rows.append((table, row))
    return rows


def _served(store: Store, service_id: str, field: str) -> ServiceTable:
    table = store.services.get(service_id)
    if table is None:
        reason = store.manifest.get("not_served", {}).get(service_id, "no model is served")
        raise ApiError(409, "model_not_served", f"{service_id}: {reason}", field)
    return table


def _check_full(principal: Principal, explain: str) -> bool:
    if explain == "full" and principal.role == "planner":
        raise ApiError(403, "forbidden", "planners receive reasons, not contributions", "explain")
    return explain == "full"


def _subjects_logged(table: ServiceTable, row: int) -> list[str]:
    contact, subject = table.contact[row], str(table.subject_ids[row])
    return [s for s in {subject, contact} if isinstance(s, str)]


def _scope_communes(store: Store, scope: Scope) -> set[str] | None:
    """The 2025 communes a scope covers (None: the whole province)."""
    if scope.level == "province":
        return None
    if scope.level == "commune":
        return {scope.code}
    communes = store.communes
    return set(communes.loc[communes["district_code"] == scope.code, "commune_code"].astype(str))


def _communes_asked(store: Store, principal: Principal, commune: str | None) -> set[str] | None:
    """The communes a query may read: the one asked for (known, inside the scope: communes
    are public, so an outside one is a 403, not a 404), else the whole scope."""
    allowed = _scope_communes(store, principal.scope)
    if commune is None:
        return allowed
    if commune not in store.commune_codes:
        raise ApiError(422, "invalid_value", f"unknown commune {commune}", "commune")
    if allowed is not None and commune not in allowed:
        raise ApiError(403, "out_of_scope", f"commune {commune} is outside your scope", "commune")
    return {commune}


class NeedsApp(FastAPI):
    """FastAPI with the security headers outside everything, Starlette's own 500 page
    included (it is sent from the outermost middleware, past every added one)."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None, store: Store | None = None, engine: Engine | None = None
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        install_log_masking()
        if app.state.engine is None:  # tests inject the database and the snapshot
            try:
                app.state.engine, app.state.store = open_service(config)
            except StartupError as error:
                # One clear line for the operator, then a short traceback (uvicorn prints
                # the exception and exits with status 3 before binding the port).
                log.error("cannot start: %s", error)
                raise StartupError(str(error)) from None
            if app.state.store is None:
                # Serve /health ("no_scores") and 503 elsewhere rather than refuse to start.
                log.warning("no scored snapshot in %s: run needs-model score", config.scores_dir)
        app.state.trail.engine = app.state.engine
        # The snapshot is hundreds of thousands of long-lived objects; a full garbage
        # collection walking them stalled requests for ~90 ms on the demo province (more on
        # the full one). They live as long as the process: take them out of the collector.
        gc.collect()
        gc.freeze()
        yield
        if audit.head(app.state.engine) > 0:
            app.state.trail.checkpoints.take(app.state.engine)

    config = settings or get_settings()
    app = NeedsApp(
        title="Needs — proactive public services",
        version=API_VERSION,
        description=(
            "Scores each citizen for the likelihood of needing each pilot service soon, with "
            "reasons, pre-filled dossiers, candidate lists and forecasts. "
            + NOTICE["en"]
            + " Authenticate with `Authorization: Bearer <key>` (`needs-model keys create`)."
        ),
        lifespan=lifespan,
        responses=ERRORS,
        docs_url=None,  # served from the app's own files by install_docs (no CDN)
        redoc_url=None,
    )
    install_docs(app)
    app.state.store, app.state.engine, app.state.settings = store, engine, config
    app.state.trail = Trail(config)
    app.state.trail.engine = engine
    app.state.limiter = RateLimiter(config.requests_per_minute)
    install(app)
    # The last added runs first: authenticate, then read (and bound) the body.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)
    app.add_middleware(Authenticate)

    @app.get("/health", tags=["service"], response_model=Health)
    def health(request: Request) -> dict[str, Any]:
        """Liveness, API and model versions and the data's as-of date (no key needed)."""
        loaded: Store | None = request.app.state.store
        return {
            "status": "ok" if loaded is not None else "no_scores",
            "api_version": API_VERSION,
            "data_as_of": loaded.as_of if loaded else None,
            "models": {s: t.version for s, t in loaded.services.items()} if loaded else {},
            "not_served": loaded.manifest.get("not_served", {}) if loaded else {},
        }

    @app.get("/v1/services", tags=["service"], response_model=ServicesResponse)
    def services(_: AnyRole, store: StoreDep) -> dict[str, Any]:
        """The pilot services: names, horizon, legal basis, dossier documents, model."""
        return {
            "services": [
                {
                    "service_id": s.service_id,
                    "name_vi": s.name_vi,
                    "name_en": s.name_en,
                    "subject": s.subject_kind,
                    "horizon_months": s.horizon_months,
                    "label": s.label_definition,
                    "legal_basis": s.legal_basis,
                    "documents": [
                        {
                            "component": c.name,
                            "name_vi": c.label_vi,
                            "name_en": c.label_en,
                            "source": c.source,
                            "fields": list(c.fields),
                        }
                        for c in DOSSIERS[s.service_id]
                    ],
                    "features": features_for(s.service_id),
                    "model_version": (
                        store.services[s.service_id].version
                        if s.service_id in store.services
                        else None
                    ),
                }
                for s in SERVICES
            ]
        }

    @app.post("/v1/predictions", tags=["predictions"], response_model=PredictionResponse)
    def predictions(
        request: Request,
        principal: AnyRole,
        request_body: PredictionRequest,
        store: StoreDep,
        trail: TrailDep,
        lang: Lang,
    ) -> dict[str, Any]:
        """Scores with reasons, by CCCD (latest profiles) or by inline feature records."""
        full = _check_full(principal, request_body.explain)
        size = len(request_body.cccds or request_body.records or [])
        if size > config.max_batch:
            raise ApiError(
                413, "batch_too_large", f"at most {config.max_batch} per request", "cccds"
            )
        out: list[dict[str, Any]] = []
        logged: list[str] = []
        if request_body.cccds is not None:
            _check_quota(request, principal)
            for i, cccd in enumerate(request_body.cccds):
                _citizen(store, principal, cccd, f"cccds[{i}]")
                for table, row in _citizen_rows(store, principal, cccd, request_body.services):
                    out.append(_subject_prediction(store, table, row, principal, lang, full))
                    logged += _subjects_logged(table, row)
            action = "predict"
        else:
            records = request_body.records or []
            for i, record in enumerate(records):
                table = _served(store, record.service_id, f"records[{i}].service_id")
                values = np.array(
                    [
                        np.nan if record.features.get(f) is None else record.features[f]
                        for f in table.model.features
                    ],
                    dtype=np.float64,
                )
                probability, shap_values = store.live(record.service_id, values[None, :])
                out.append(
                    _prediction(
                        store,
                        table,
                        values,
                        shap_values[0],
                        float(probability[0]),
                        record.reference,
                        principal,
                        lang,
                        full,
                        f"pr_inline_{uuid.uuid4().hex[:24]}",
                    )
                )
            action = "predict_inline"
        trail.record(
            principal,
            action=action,
            route="POST /v1/predictions",
            subjects=logged,
            purpose=request_body.purpose,
            details={
                "predictions": [p["prediction_id"] for p in out],
                "services": sorted({p["service_id"] for p in out}),
                "explain": request_body.explain,
            },
            personal_reads=len(set(logged)),
        )
        return {"as_of": store.as_of, "notice": NOTICE[lang], "predictions": out}

    @app.get("/v1/citizens/{cccd}/needs", tags=["citizens"], response_model=NeedsResponse)
    def needs(
        principal: OutreachReads,
        cccd: CccdPath,
        store: StoreDep,
        trail: TrailDep,
        lang: Lang,
        purpose: PurposeQuery = None,
    ) -> dict[str, Any]:
        """Every service for one citizen, and the pre-filled dossier of each likely one."""
        person = _citizen(store, principal, cccd, "cccd")
        items = []
        logged = [cccd]
        for table, row in _citizen_rows(store, principal, cccd, None):
            prediction = _subject_prediction(store, table, row, principal, lang, False)
            likely = prediction["band"] != "low" or prediction["legal_trigger"]
            dossier = None
            if likely:
                dossier = _dossier(store, table, str(table.subject_ids[row]), lang)
            items.append({**prediction, "likely": likely, "dossier": dossier})
            logged += _subjects_logged(table, row)
        trail.record(
            principal,
            action="read_needs_and_dossiers",
            route="GET /v1/citizens/{cccd}/needs",
            subjects=logged,
            purpose=purpose,
            details={"predictions": [i["prediction_id"] for i in items]},
            personal_reads=len(set(logged)),
        )
        return {
            "as_of": store.as_of,
            "notice": NOTICE[lang],
            "citizen": {
                "cccd": cccd,
                "full_name": person["full_name"],
                "commune_code": person["commune_code"],
            },
            "needs": items,
            "not_served": sorted(store.manifest.get("not_served", {})),
        }

    @app.get(
        "/v1/services/{service_id}/candidates",
        tags=["planning"],
        response_model=CandidatesResponse,
    )
    def candidates(
        principal: OutreachReads,
        service_id: ServiceId,
        store: StoreDep,
        trail: TrailDep,
        lang: Lang,
        commune: Annotated[CommuneCode | None, Query()] = None,
        min_band: Annotated[Literal["high", "medium", "low"], Query()] = "low",
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        purpose: PurposeQuery = None,
    ) -> dict[str, Any]:
        """The ranked proactive contact list, most likely first, with reasons."""
        table = _served(store, service_id, "service_id")
        communes = _communes_asked(store, principal, commune)
        mask = np.ones(len(table.subject_ids), dtype=bool)
        if communes is not None:
            mask &= np.isin(table.commune, list(communes))
        floor = {name: threshold for threshold, name in BANDS}.get(min_band, 0.0)
        mask &= table.probability >= floor
        rows = table.order[mask[table.order]]
        start = _decode_cursor(cursor, store.as_of, table, rows) if cursor else 0
        page = rows[start : start + limit]
        items = []
        for rank, row in enumerate(page, start=start + 1):
            prediction = _subject_prediction(store, table, int(row), principal, lang, False)
            contact = table.contact[row]
            person = store.people.get(contact) if isinstance(contact, str) else None
            items.append(
                {
                    "rank": rank,
                    "contact": {
                        "cccd": contact if isinstance(contact, str) else None,
                        "full_name": person["full_name"] if person else None,
                    },
                    "commune_code": table.commune[row],
                    **prediction,
                }
            )
        end = start + len(page)
        next_cursor = _encode_cursor(store.as_of, table, rows, end) if end < len(rows) else None
        subjects = [s for row in page for s in _subjects_logged(table, int(row))]
        trail.record(
            principal,
            action="read_candidates",
            route="GET /v1/services/{service_id}/candidates",
            subjects=subjects,
            purpose=purpose,
            details={
                "service": service_id,
                "commune": commune,
                "start": start,
                "returned": len(items),
            },
            personal_reads=len(set(subjects)),
        )
        return {
            "as_of": store.as_of,
            "notice": NOTICE[lang],
            "service_id": service_id,
            "total": len(rows),
            "candidates": items,
            "next_cursor": next_cursor,
        }

    @app.get("/v1/forecast", tags=["planning"], response_model=ForecastResponse)
    def forecast(
        principal: Forecasters,
        store: StoreDep,
        trail: TrailDep,
        service_id: Annotated[ServiceId, Query(alias="service")],
        commune: Annotated[CommuneCode | None, Query()] = None,
        month: Annotated[Month | None, Query()] = None,
    ) -> dict[str, Any]:
        """Expected requests per commune in the service's horizon, with a 90 % interval
        from the exact distribution of a sum of the calibrated Bernoulli probabilities."""
        _served(store, service_id, "service")
        rows = store.forecast[store.forecast["service_id"] == service_id]
        communes = _communes_asked(store, principal, commune)
        if communes is not None:
            rows = rows[rows["commune_code"].isin(communes)]
        window = rows.iloc[0] if len(rows) else None
        if month is not None and window is not None:
            first, last = str(window["window_start"])[:7], str(window["window_end"])[:7]
            if not first <= month <= last:
                raise ApiError(
                    422,
                    "outside_horizon",
                    f"the forecast covers {first}..{last} (as of {store.as_of}); "
                    f"{month} is outside it",
                    "month",
                )
        trail.record(
            principal,
            action="read_forecast",
            route="GET /v1/forecast",
            details={"service": service_id, "commune": commune, "month": month},
        )
        return {
            "as_of": store.as_of,
            "service_id": service_id,
            "method": "exact Poisson-binomial distribution of the calibrated probabilities",
            "forecasts": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
                for r in rows.to_dict("records")
            ],
        }

    @app.post("/v1/outcomes", tags=["outcomes"], status_code=201, response_model=OutcomesRecorded)
    def record_outcomes(
        principal: Outreach,
        request_body: OutcomesRequest,
        store: StoreDep,
        engine: EngineDep,
        trail: TrailDep,
    ) -> dict[str, Any]:
        """Record what happened after a contact (notified, completed, declined, wrong data)."""
        if len(request_body.outcomes) > config.max_batch:
            raise ApiError(413, "batch_too_large", f"at most {config.max_batch}", "outcomes")
        rows = []
        for i, item in enumerate(request_body.outcomes):
            table = _served(store, item.service_id, f"outcomes[{i}].service_id")
            asked: str | None
            if item.cccd is not None:
                subject = next(
                    (s for sid, s in store.by_cccd.get(item.cccd, []) if sid == item.service_id),
                    None,
                )
                where, asked = f"outcomes[{i}].cccd", item.cccd
            else:
                subject, where = item.subject_id, f"outcomes[{i}].subject_id"
                asked = item.subject_id
            row = table.row_of.get(subject) if subject is not None else None
            if row is None or not principal.scope.allows(table.commune[row], table.district[row]):
                raise not_found(f"a {item.service_id} subject", where, attempted=asked)
            if item.prediction_id is not None:
                _check_prediction_id(
                    item.prediction_id,
                    item.service_id,
                    str(subject),
                    store.as_of,
                    f"outcomes[{i}].prediction_id",
                )
            rows.append(
                {
                    "service_id": item.service_id,
                    "subject_id": subject,
                    "cccd": table.contact[row] if isinstance(table.contact[row], str) else None,
                    "commune_code": table.commune[row],
                    "status": item.status,
                    "prediction_id": item.prediction_id,
                    "probability": float(table.probability[row]),
                    "note": item.note,
                    "occurred_on": item.occurred_on or dt.date.today().isoformat(),
                }
            )
        ids = outcome_store.record(engine, principal.key_id, rows)
        trail.record(
            principal,
            action="record_outcomes",
            route="POST /v1/outcomes",
            subjects=[s for r in rows for s in (r["subject_id"], r["cccd"]) if s],
            purpose=request_body.purpose,
            details={"outcomes": ids},
        )
        return {"recorded": ids}

    @app.get("/v1/outcomes/summary", tags=["outcomes"], response_model=OutcomesSummary)
    def outcomes_summary(
        principal: AnyRole,
        store: StoreDep,
        engine: EngineDep,
        trail: TrailDep,
        service_id: Annotated[ServiceId | None, Query(alias="service")] = None,
    ) -> dict[str, Any]:
        """Take-up (completed / notified) by service and commune, within your scope."""
        table = outcome_store.summary(engine, _scope_communes(store, principal.scope), service_id)
        trail.record(
            principal,
            action="read_outcomes_summary",
            route="GET /v1/outcomes/summary",
            details={"service": service_id},
        )
        records = json.loads(table.to_json(orient="records"))
        return {"summary": records}

    @app.get("/v1/audit/log", tags=["audit"], response_model=AuditLogResponse)
    def audit_log(
        principal: AuditorReads,
        engine: EngineDep,
        trail: TrailDep,
        after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
        until: Annotated[
            int | None,
            Query(ge=1, le=MAX_SEQ, description="Stop at this entry (the `until` of page 1)."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
    ) -> dict[str, Any]:
        """The hash-chained log, oldest first, for province-wide auditors. Page with `after`
        (the last seq seen) and the `until` of the first page: the log grows with every
        read (this one too), so paging stops at the head as it was when paging began."""
        if principal.scope.level != "province":
            # Entries name citizens of every commune, and other keys and their purposes: a
            # district or commune auditor reads its citizens' access logs instead.
            raise ApiError(
                403,
                "out_of_scope",
                f"the audit log covers the whole province; a {principal.scope.level} key "
                "reads the access log of each citizen in its scope",
                None,
            )
        head = audit.head(engine)
        stop = head if until is None else min(until, head)
        entries = audit.read(
            engine,
            after_seq=after,
            until_seq=stop,
            limit=limit,
            actions=[action] if action else None,
        )
        last = entries[-1]["seq"] if entries else None
        more = last is not None and last < stop and len(entries) == limit
        trail.record(
            principal,
            action="read_audit_log",
            route="GET /v1/audit/log",
            details={"after": after, "until": stop, "returned": len(entries)},
            personal_reads=len({s for e in entries for s in e["subjects"]}),
        )
        return {
            "head": head,
            "until": stop,
            "entries": entries,
            "next_after": last if more else None,
        }

    @app.get("/v1/citizens/{cccd}/access-log", tags=["audit"], response_model=AccessLogResponse)
    def access_log(
        principal: AuditorReads,
        cccd: CccdPath,
        store: StoreDep,
        engine: EngineDep,
        trail: TrailDep,
        before: Annotated[
            int | None, Query(ge=1, le=MAX_SEQ, description="The `next_before` of a page.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        purpose: PurposeQuery = None,
    ) -> dict[str, Any]:
        """Who read this citizen's data, when and why (after Estonia's Data Tracker), newest
        first, paged with `before`."""
        _citizen(store, principal, cccd, "cccd")
        head = audit.head(engine)
        total = audit.count_subject(engine, cccd, until_seq=head)
        entries = audit.read(
            engine,
            subject=cccd,
            until_seq=head,
            before_seq=before,
            limit=limit,
            newest_first=True,
        )
        more = len(entries) == limit and entries[-1]["seq"] > 1
        trail.record(
            principal,
            action="read_access_log",
            route="GET /v1/citizens/{cccd}/access-log",
            subjects=[cccd],
            purpose=purpose,
            details={"before": before, "returned": len(entries)},
            personal_reads=1,
        )
        return {
            "cccd": cccd,
            "total": total,
            "accesses": [
                {
                    "seq": e["seq"],
                    "at": e["at"],
                    "key_id": e["key_id"],
                    "role": e["role"],
                    "action": e["action"],
                    "purpose": e["purpose"],
                }
                for e in entries
            ],
            "next_before": entries[-1]["seq"] if more else None,
        }

    check_every_route_declares_roles(app)
    return app


def _encode_cursor(as_of: str, table: ServiceTable, rows: np.ndarray, end: int) -> str:
    last = int(rows[end - 1])
    payload = {
        "as_of": as_of,
        "p": float(table.probability[last]),
        "s": str(table.subject_ids[last]),
    }
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _decode_cursor(cursor: str, as_of: str, table: ServiceTable, rows: np.ndarray) -> int:
    """Position after the cursor's (probability, subject) in the ranked rows (keyset)."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        p, s, seen_as_of = float(payload["p"]), str(payload["s"]), str(payload["as_of"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(
            422, "invalid_cursor", "the cursor is not one this API issued", "cursor"
        ) from error
    if seen_as_of != as_of:
        raise ApiError(
            422,
            "stale_cursor",
            "the scores were refreshed since this cursor; start again",
            "cursor",
        )
    probs = table.probability[rows]
    ids = table.subject_ids[rows]
    return int(np.sum((probs > p) | ((probs == p) & (ids <= s))))


def _dossier(store: Store, table: ServiceTable, subject_id: str, lang: str) -> list[dict[str, Any]]:
    row = table.dossiers.get(subject_id) or {}
    components = []
    for component in DOSSIERS[table.service_id]:
        record_id = row.get(f"{component.name}.record_id")
        on_record = store.flags_by_record.get(record_id, []) if record_id else []
        fields = []
        for name in component.fields:
            value = row.get(f"{component.name}.{name}")
            flags = list(on_record)
            if name == "cccd" and isinstance(value, str):
                flags += store.flags_by_cccd.get(value, [])
            fields.append({"field": name, "value": value, "flags": flags})
        held = any(f["value"] is not None for f in fields)
        components.append(
            {
                "component": component.name,
                "name": component.label_vi if lang == "vi" else component.label_en,
                "source": component.source,
                "recorded_at": row.get(f"{component.name}.recorded_at"),
                "prefilled": held,
                "supplied_by": None
                if held
                else ("citizen" if component.source == "citizen" else "the issuing agency"),
                "fields": fields,
            }
        )
    return components


app = create_app()
