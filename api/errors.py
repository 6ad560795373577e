"""JSON errors with a stable `code`, a `message` and the `field` at fault.

Every failure the API knows about is an `ApiError`; request-validation failures become 422
naming the first field at fault; anything unexpected becomes a 500 without a traceback
(and is logged server-side, without the path's identifiers). No error path ever returns a
score. A refusal of an authenticated caller (403, 404, 429) is written to the audit log.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from needs_model.governance.access import Principal

log = logging.getLogger("needs.api")

# The audit action written for each refused status.
REFUSALS = {403: "denied", 404: "not_found", 429: "quota_exceeded"}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        attempted: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.attempted, self.headers = attempted, headers


def not_found(what: str, field: str | None = None, attempted: str | None = None) -> ApiError:
    # The same answer for "does not exist" and "outside your scope": existence never leaks.
    return ApiError(404, "not_found", f"{what} was not found", field, attempted=attempted)


def body(code: str, message: str, field: str | None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def route_template(request: Request) -> str:
    """`GET /v1/citizens/{cccd}/needs`: the route, never the identifiers in the path."""
    route = request.scope.get("route")
    path = getattr(route, "path", None) or "(unmatched)"
    return f"{request.method} {path}"


def _field(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or ".".join(str(p) for p in location)


def _validation_message(error: dict[str, Any]) -> tuple[str, str]:
    kind = str(error.get("type", ""))
    message = str(error.get("msg", "invalid value"))
    if kind == "extra_forbidden":
        return "unknown_field", "unknown field (not part of this request)"
    if kind == "finite_number":
        return "not_finite", "must be a finite number (NaN and infinities are refused)"
    if kind in ("float_parsing", "int_parsing", "float_type", "int_type", "bool_type"):
        return "wrong_type", message
    if kind == "missing":
        return "missing_field", "this field is required"
    if kind == "json_invalid":
        return "invalid_json", "the body is not valid JSON"
    return "invalid_value", message


async def _log_refusal(request: Request, error: ApiError) -> None:
    principal: Principal | None = getattr(request.state, "principal", None)
    action = REFUSALS.get(error.status)
    trail = getattr(request.app.state, "trail", None)
    if principal is None or action is None or trail is None:
        return
    details: dict[str, Any] = {"status": error.status, "code": error.code, "field": error.field}
    if error.attempted is not None:
        details["attempted"] = error.attempted
    await run_in_threadpool(
        trail.record,
        principal,
        action=action,
        route=route_template(request),
        details=details,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> JSONResponse:
        await _log_refusal(request, error)
        return JSONResponse(
            body(error.code, error.message, error.field),
            status_code=error.status,
            headers=error.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {"loc": (), "msg": "invalid request"}
        code, message = _validation_message(first)
        return JSONResponse(
            body(code, message, _field(tuple(first.get("loc", ())))), status_code=422
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}
        code = codes.get(error.status_code, "http_error")
        return JSONResponse(
            body(code, str(error.detail), None),
            status_code=error.status_code,
            headers=error.headers,  # 405 carries `Allow`
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", route_template(request))
        return JSONResponse(
            body("internal_error", "unexpected server error (logged)", None), status_code=500
        )
