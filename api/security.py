"""Authentication, per-route roles (deny by default), scopes, language and body limits."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, body
from needs_model import audit
from needs_model.access import ROLES, Principal, Role, authenticate

PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"})
_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer needs_<id>_<secret>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key`")


def allow(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """The dependency a route declares: which roles may call it. Routes without one are
    refused at start-up (see `check_every_route_declares_roles`)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        header: Annotated[str | None, Depends(_header)],
    ) -> Principal:
        presented = bearer.credentials if bearer is not None else header
        if not presented:
            raise ApiError(401, "unauthenticated", "an API key is required", "Authorization")
        engine = request.app.state.engine
        principal = authenticate(engine, presented)
        if principal is None:
            raise ApiError(401, "unauthenticated", "unknown or revoked API key", "Authorization")
        if principal.role not in roles:
            audit.append(
                engine,
                key_id=principal.key_id,
                role=principal.role,
                action="denied",
                route=f"{request.method} {request.url.path}",
                details={"allowed_roles": list(roles)},
            )
            raise ApiError(403, "forbidden", f"role {principal.role} may not use this route", None)
        return principal

    dependency.allowed_roles = roles  # type: ignore[attr-defined]
    return dependency


def declared_roles(route: APIRoute) -> tuple[str, ...] | None:
    for dependant in route.dependant.dependencies:
        roles = getattr(dependant.call, "allowed_roles", None)
        if roles is not None:
            return tuple(roles)
    return None


def check_every_route_declares_roles(app: FastAPI) -> None:
    missing = [
        r.path
        for r in app.routes
        if isinstance(r, APIRoute) and r.path not in PUBLIC_PATHS and declared_roles(r) is None
    ]
    if missing:
        raise RuntimeError(f"routes without declared roles (denied by default): {missing}")


def language(request: Request) -> str:
    """`vi` (default) or `en`, from Accept-Language with its q-values."""
    header = request.headers.get("accept-language", "")
    best, best_q = "vi", -1.0
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        q -= position * 1e-6  # earlier wins ties
        if code in ("vi", "en") and q > best_q:
            best, best_q = code, q
    return best


class BodyLimit:
    """Refuse bodies over `max_bytes` with 413 (declared length or counted while streaming)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _BodyTooLarge(self.max_bytes)
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_bytes)


class _BodyTooLarge(ApiError):
    # An ApiError, so the app's handler answers 413 when it surfaces inside a route.
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "too_large", f"the body exceeds {max_bytes} bytes")


async def _too_large(send: Send, max_bytes: int) -> None:
    payload = json.dumps(body("too_large", f"the body exceeds {max_bytes} bytes", None)).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
