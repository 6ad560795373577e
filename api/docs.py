"""Swagger UI and ReDoc served entirely from files shipped with the app.

FastAPI's built-in pages load Swagger UI from a CDN and ReDoc's fonts from Google; the
province's machines may be offline, so `install_docs` serves Swagger UI 5.35.0 and ReDoc
2.5.4 from `api/static/docs/` (sources, licences and checksums in its README.md and
SHA256SUMS). The pages carry no inline script or style, so each can declare a
Content-Security-Policy that allows `'self'` and only the few relaxations its viewer needs
(see `SWAGGER_POLICY`, `REDOC_POLICY`); every other response keeps the API's default
(`api.headers`).
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import swagger_ui_default_parameters
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent / "static" / "docs"
STATIC_URL = "/static/docs"
DOCS_URL, OAUTH2_REDIRECT_URL, REDOC_URL, FAVICON_URL = (
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/favicon.ico",
)
# The routes `install_docs` adds; all are public (no key), like the OpenAPI document.
PUBLIC_DOCS_PATHS = frozenset({DOCS_URL, OAUTH2_REDIRECT_URL, REDOC_URL, FAVICON_URL})

# Each page allows what its viewer was seen to need in a browser, nothing more (no
# 'unsafe-eval', no 'unsafe-inline'): tests/api/test_docs_offline.py fails on any
# violation. Both viewers draw icons from data: URIs.
# Swagger UI styles elements through the DOM (not <style> or style="" markup) and
# submits no form (its Authorize dialog handles the submit in script).
SWAGGER_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
# ReDoc 2.5.4 injects two <style> elements, allowed by their hashes: the empty one that
# styled-components fills through the CSSOM, and perfect-scrollbar's CSS. It runs its
# search index in a Worker built from a blob: URL holding code of its own bundle.
# Upgrading ReDoc may change the second hash; the browser test prints the new one.
REDOC_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # "" (styled-components)
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css
)
REDOC_POLICY = (
    f"default-src 'self'; img-src 'self' data:; style-src 'self' {' '.join(REDOC_STYLE_HASHES)}; "
    "worker-src blob:; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# The oauth2-redirect page only runs swagger-ui's oauth2-redirect.js.
REDIRECT_POLICY = (
    "default-src 'none'; script-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# Assets change only with a release: revalidate (ETag, 304) rather than trust an age.
ASSET_CACHE = "no-cache"

_MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class DocsAssets(StaticFiles):
    """`StaticFiles` with fixed media types (a machine's mime.types does not decide whether
    a browser, with `nosniff`, runs a script) and a revalidating Cache-Control."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        media_type = _MEDIA_TYPES.get(Path(full_path).suffix)
        if media_type is not None and "content-type" in response.headers:
            response.headers["content-type"] = media_type
        response.headers["cache-control"] = ASSET_CACHE
        return response


def _page(title: str, head: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n{head}</head>\n<body>\n{body}</body>\n</html>\n"
    )


def swagger_html(title: str, root: str, openapi_url: str, parameters: dict[str, object]) -> str:
    """The /docs page: the settings travel as data- attributes, read by swagger-init.js."""
    static = f"{root}{STATIC_URL}"
    # No call to the public validator (validator.swagger.io) from an offline page.
    settings = json.dumps({**parameters, "validatorUrl": None})
    head = (
        f'<link rel="icon" type="image/svg+xml" href="{static}/favicon.svg">\n'
        f'<link rel="stylesheet" href="{static}/swagger-ui/swagger-ui.css">\n'
    )
    body = (
        f'<div id="swagger-ui" data-openapi-url="{escape(root + openapi_url)}" '
        f'data-oauth2-redirect-url="{escape(root + OAUTH2_REDIRECT_URL)}" '
        f'data-parameters="{escape(settings)}"></div>\n'
        f'<script src="{static}/swagger-ui/swagger-ui-bundle.js"></script>\n'
        f'<script src="{static}/swagger-init.js"></script>\n'
    )
    return _page(f"{title} - Swagger UI", head, body)


def redoc_html(title: str, root: str, openapi_url: str) -> str:
    """The /redoc page: ReDoc's standalone bundle starts itself on the <redoc> element."""
    static = f"{root}{STATIC_URL}"
    head = (
        f'<link rel="icon" type="image/svg+xml" href="{static}/favicon.svg">\n'
        f'<link rel="stylesheet" href="{static}/redoc.css">\n'
    )
    body = (
        f'<redoc spec-url="{escape(root + openapi_url)}"></redoc>\n'
        f'<script src="{static}/redoc/redoc.standalone.js"></script>\n'
    )
    return _page(f"{title} - ReDoc", head, body)


def oauth2_redirect_html(root: str) -> str:
    """Swagger UI's OAuth2 redirect target, its script served as a file."""
    script = f'<script src="{root}{STATIC_URL}/swagger-ui/oauth2-redirect.js"></script>\n'
    return _page("Swagger UI: OAuth2 Redirect", "", script)


def install_docs(app: FastAPI) -> None:
    """Add /docs, /docs/oauth2-redirect, /redoc, /favicon.ico and the assets under
    /static/docs to an app built with `docs_url=None, redoc_url=None`.

    Raises:
        ValueError: the app still serves FastAPI's own (CDN) pages, or has no OpenAPI URL.
    """
    if app.docs_url is not None or app.redoc_url is not None:
        raise ValueError("build the app with docs_url=None, redoc_url=None")
    if app.openapi_url is None:
        raise ValueError("the docs pages need the app's OpenAPI document (openapi_url)")
    openapi_url = app.openapi_url
    parameters = {**swagger_ui_default_parameters, **(app.swagger_ui_parameters or {})}
    app.mount(STATIC_URL, DocsAssets(directory=STATIC_DIR), name="docs-static")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        page = swagger_html(app.title, root(request), openapi_url, parameters)
        return HTMLResponse(page, headers={"Content-Security-Policy": SWAGGER_POLICY})

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        page = oauth2_redirect_html(root(request))
        return HTMLResponse(page, headers={"Content-Security-Policy": REDIRECT_POLICY})

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        page = redoc_html(app.title, root(request), openapi_url)
        return HTMLResponse(page, headers={"Content-Security-Policy": REDOC_POLICY})

    @app.get(FAVICON_URL, include_in_schema=False)
    async def favicon() -> FileResponse:
        return FileResponse(
            STATIC_DIR / "favicon.ico",
            media_type="image/x-icon",
            headers={"Cache-Control": ASSET_CACHE},
        )
