"""The Needs prediction service: `uvicorn api.main:app`.

Importing this module builds the FastAPI object only; the scored snapshot, the models and
the service database are opened in the lifespan (or injected by `create_app`, in tests).
Every route declares the roles that may call it; a route that does not is refused when
the app is built.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.types import ASGIApp

from api.docs import install_docs
from api.errors import install
from api.headers import SecurityHeaders
from api.logs import install_log_masking
from api.routes import audit as audit_routes
from api.routes import citizens, monitoring, outcomes, planning, predictions, reports
from api.routes import service as service_routes
from api.schemas import API_VERSION, ERRORS, NOTICE
from api.security import Authenticate, BodyLimit, RateLimiter, check_every_route_declares_roles
from api.startup import StartupError, open_service
from api.store import Store
from api.trail import Trail
from needs_model.settings import Settings, get_settings

log = logging.getLogger("needs.api")
ROUTERS = (
    service_routes.router,
    predictions.router,
    citizens.router,
    planning.router,
    outcomes.router,
    audit_routes.router,
    monitoring.router,
    reports.router,
)


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
        # collection walking them took 114 ms on the demo province (bench/probe_stalls.py; more on
        # the full one). They live as long as the process: take them out of the collector.
        gc.collect()
        gc.freeze()
        yield
        app.state.trail.checkpoints.take_if_moved(app.state.engine)

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

    for router in ROUTERS:
        app.include_router(router)

    check_every_route_declares_roles(app)
    _pages_are_html_only(app)
    return app


def _pages_are_html_only(app: FastAPI) -> None:
    """Routes that return a page (Evidently's report) document `text/html` for 200; FastAPI
    also lists an empty `application/json` there, which the page never is."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()
        for operations in schema["paths"].values():
            for operation in operations.values():
                content = operation.get("responses", {}).get("200", {}).get("content", {})
                if "text/html" in content and content.get("application/json") == {"schema": {}}:
                    del content["application/json"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


app = create_app()
