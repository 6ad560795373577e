"""Authentication before anything else, per-route roles (deny by default), budgets, scopes,
language and body limits.

Order of a request (outermost first): `Authenticate` (the key is checked before the body is
read or the path is routed: 401 and 429 are answered here), `BodyLimit` (413), then the
route's `allow(...)` dependency (403 for a role the route does not declare, 429 for a key
whose daily quota of personal records is spent), then the route itself.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.docs import PUBLIC_DOCS_PATHS, STATIC_URL
from api.errors import ApiError, body
from api.logs import mask_path
from needs_model.governance.access import ROLES, Principal, Role, authenticate, seconds_to_next_day

# A browser cannot send a header: an auditor signs in once with a form, and the key rides
# in a cookie (HttpOnly, SameSite=Strict, path /v1) that counts for GET and HEAD only, so a
# page read is the most it can do and another site's page cannot send it.
SIGN_IN_URL = "/v1/reports/sign-in"
SIGN_OUT_URL = "/v1/reports/sign-out"
KEY_COOKIE = "needs_key"
PUBLIC_PATHS = (
    frozenset({"/health", "/openapi.json", SIGN_IN_URL, SIGN_OUT_URL}) | PUBLIC_DOCS_PATHS
)
PUBLIC_PREFIXES = (STATIC_URL + "/",)
# Declared for the OpenAPI document (the `Authenticate` middleware does the checking).
bearer_scheme = HTTPBearer(auto_error=False, description="`Authorization: Bearer needs_<id>_<s>`")
header_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, description="or `X-API-Key`")
_REFUSED = {
    "missing": "an API key is required",
    "unknown": "unknown API key",
    "revoked": "this API key was revoked",
    "expired": "this API key has expired (ask for a new one: needs-model keys create)",
}


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def presented_key(headers: dict[bytes, bytes], method: str = "GET") -> str | None:
    """The key from `Authorization: Bearer ...` or `X-API-Key`, else (GET and HEAD only)
    from the sign-in cookie; None when none is sent."""
    authorization = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    if key:
        return key
    if method in ("GET", "HEAD"):
        return cookie_key(headers.get(b"cookie", b"").decode("latin-1"))
    return None


def cookie_key(cookie_header: str) -> str | None:
    """The key in the sign-in cookie of a `Cookie` header, if any."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == KEY_COOKIE and value:
            return value
    return None


class RateLimiter:
    """A token bucket per key: up to a minute's budget at once, refilled continuously.

    Per worker process (N workers admit up to N times the budget; a proxy in front can
    enforce a global one).
    """

    def __init__(self, default_per_minute: int) -> None:
        self.default_per_minute = default_per_minute
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, principal: Principal, now: float | None = None) -> int | None:
        """Take a token; None if granted, else the seconds to wait for one."""
        per_minute = principal.requests_per_minute or self.default_per_minute
        rate = per_minute / 60.0
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(principal.key_id, (float(per_minute), now))
            tokens = min(float(per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[principal.key_id] = (tokens - 1.0, now)
                return None
            self._buckets[principal.key_id] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / rate))


class Authenticate:
    """Resolve the caller's key before the request goes further (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        key = presented_key(dict(scope.get("headers") or []), scope.get("method", "GET"))
        # The lookup is a database read: off the event loop (SQLite's busy handler sleeps,
        # and a sleep here would stall every request in flight).
        found = await run_in_threadpool(authenticate, state.engine, key) if key else "missing"
        if not isinstance(found, Principal):
            await send_error(
                send, 401, "unauthenticated", _REFUSED[found], "Authorization",
                {"www-authenticate": "Bearer"},
            )  # fmt: skip
            return
        wait = state.limiter.retry_after(found)
        if wait is not None:
            route = f"{scope['method']} {mask_path(scope['path'])}"
            await run_in_threadpool(state.trail.rate_limited, found, route, wait)
            message = "the key's request budget is used up; retry later"
            headers = {"retry-after": str(wait)}
            await send_error(send, 429, "rate_limited", message, None, headers)
            return
        scope.setdefault("state", {})["principal"] = found
        await self.app(scope, receive, send)


def allow(*roles: Role, personal: bool = False) -> Callable[..., Awaitable[Principal]]:
    """The dependency a route declares: which roles may call it, and whether it returns
    personal data (then the key's daily quota applies). Routes without one are refused at
    start-up (see `check_every_route_declares_roles`)."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    async def dependency(
        request: Request,
        _bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
        _header: Annotated[str | None, Depends(header_scheme)],
    ) -> Principal:
        principal: Principal | None = getattr(request.state, "principal", None)
        if principal is None:  # the middleware did not run: deny
            raise ApiError(401, "unauthenticated", _REFUSED["missing"], "Authorization")
        if principal.role not in roles:
            raise ApiError(403, "forbidden", f"role {principal.role} may not use this route")
        if personal:
            check_quota(principal, request.app.state.settings.personal_reads_per_day)
        return principal

    dependency.allowed_roles = roles  # type: ignore[attr-defined]
    return dependency


def check_quota(principal: Principal, default_per_day: int) -> None:
    """429 when the key's daily quota of personal records is spent (the key's own quota, else
    the default). Routes that return personal data only for some requests call it directly."""
    quota = principal.personal_reads_per_day or default_per_day
    if principal.personal_reads_today >= quota:
        raise ApiError(
            429,
            "quota_exceeded",
            f"the key read {principal.personal_reads_today} personal records today "
            f"(quota {quota}); the quota resets at midnight, Vietnam time",
            headers={"Retry-After": str(seconds_to_next_day())},
        )


def declared_roles(route: APIRoute) -> tuple[str, ...] | None:
    for dependant in route.dependant.dependencies:
        roles = getattr(dependant.call, "allowed_roles", None)
        if roles is not None:
            return tuple(roles)
    return None


def api_routes(app: FastAPI) -> list[APIRoute]:
    """Every API route of the app, those of included routers too (FastAPI keeps an included
    router as one entry of `app.routes`; a check that only looked there would see nothing)."""

    def walk(routes: Any) -> Any:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            nested = getattr(route, "original_router", None)
            if nested is not None:
                yield from walk(nested.routes)

    return list(walk(app.routes))


def check_every_route_declares_roles(app: FastAPI) -> None:
    missing = [
        r.path for r in api_routes(app) if not is_public(r.path) and declared_roles(r) is None
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
    """Refuse bodies over `max_bytes` with 413, whether declared (Content-Length) or sent in
    chunks: the body is read (up to the limit) before the app sees it, then replayed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _too_large(send, self.max_bytes)
            return
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                await _too_large(send, self.max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # waits for the client's disconnect
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, max_bytes: int) -> None:
    await send_error(send, 413, "too_large", f"the body exceeds {max_bytes} bytes", None)


async def send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    field: str | None,
    extra_headers: dict[str, str] | None = None,
) -> None:
    """Answer with the API's JSON error body from middleware (outside the app's handlers)."""
    payload = json.dumps(body(code, message, field)).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.encode(), v.encode()) for k, v in (extra_headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
