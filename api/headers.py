"""Security headers on every HTTP response, as a pure ASGI middleware.

Wrap the whole app (`SecurityHeaders(app)`) rather than `app.add_middleware`: Starlette
sends its 500 page from `ServerErrorMiddleware`, outside every added middleware, and an
error must carry the headers too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# What an API response (JSON) may load or be framed by: nothing. Pages that need more (the
# docs, `api.docs`) set their own policy, which is kept.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# /v1 responses carry personal data: no browser or proxy may keep a copy.
PERSONAL_DATA_PREFIX = "/v1"

_ALWAYS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy", API_POLICY.encode()),
)
_NO_STORE = (b"cache-control", b"no-store")


def _route_path(scope: Scope) -> str:
    """The path inside the app (without the `root_path` a proxy mounts it under)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def carries_personal_data(path: str) -> bool:
    return path == PERSONAL_DATA_PREFIX or path.startswith(PERSONAL_DATA_PREFIX + "/")


def secured(headers: list[tuple[bytes, bytes]], no_store: bool) -> list[tuple[bytes, bytes]]:
    """`headers` without `server`, plus each security header the app did not set itself."""
    kept = [(name, value) for name, value in headers if name.lower() != b"server"]
    present = {name.lower() for name, _ in kept}
    wanted = (*_ALWAYS, _NO_STORE) if no_store else _ALWAYS
    return kept + [(name, value) for name, value in wanted if name not in present]


class SecurityHeaders:
    """Add nosniff, DENY framing, no referrer and a CSP to every HTTP response, and
    `Cache-Control: no-store` to every /v1 response; drop any `server` header.

    A header the app already set (say a page's own CSP) is kept, never duplicated: two
    CSP headers would both apply, and two Cache-Control values contradict each other.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        no_store = carries_personal_data(_route_path(scope))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                message = {**message, "headers": secured(headers, no_store)}
            await send(message)

        await self.app(scope, receive, send_secured)
