"""What routes depend on: the loaded snapshot, the database, the audit trail, the settings,
the caller's roles (one alias per kind of route) and common parameters."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy import Engine

from api.errors import ApiError
from api.schemas import CCCD, Purpose
from api.security import allow, language
from api.store import Store
from api.trail import Trail
from needs_model.governance.access import Principal
from needs_model.settings import Settings

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


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]
