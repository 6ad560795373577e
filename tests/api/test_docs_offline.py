"""The docs pages work offline, and every response carries the security headers.

Swagger UI and ReDoc must load nothing from another origin (the province's machines may
be offline) and must work under a strict Content-Security-Policy. The in-process tests
read what the pages and their assets make a browser load; the `browser` test renders both
pages in Chromium with every other origin cut off and fails on any CSP violation.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urljoin, urlsplit

import pytest
import uvicorn
from fastapi import Depends, FastAPI, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.testclient import TestClient

from api.docs import PUBLIC_DOCS_PATHS, STATIC_DIR, install_docs
from api.headers import SecurityHeaders

CHROMIUM = Path("/usr/bin/chromium")
# The policy the issue gives for every API (JSON) response, errors included.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
# The one change made to the vendored ReDoc bundle (api/static/docs/README.md).
REDOC_LOGO = 'alt:"redocly logo",onError:()=>t(!1),src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
REDOC_LOGO_REMOVED = 'alt:"redocly logo",onError:()=>t(!1),src:""'
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]


def build_app() -> FastAPI:
    """What `api.main` builds, reduced to a dummy personal-data route and two odd ones."""
    app = FastAPI(
        title="Docs test",
        docs_url=None,
        redoc_url=None,
        swagger_ui_parameters={"docExpansion": "full"},
    )

    @app.get("/v1/x", summary="Dummy route")
    def dummy(
        credentials: Credentials,
    ) -> dict[str, str | None]:
        return {"key": credentials.credentials if credentials else None}

    @app.get("/v1/boom", summary="Fails")
    def boom() -> dict[str, str]:
        raise RuntimeError("unexpected")

    @app.get("/v1/own-headers", summary="Sets headers of its own")
    def own_headers(response: Response) -> dict[str, str]:
        response.headers["Cache-Control"] = "private, max-age=5"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Server"] = "leaky/1.0"
        return {}

    install_docs(app)
    return app


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(SecurityHeaders(build_app()), raise_server_exceptions=False) as test_client:
        yield test_client


class Markup(HTMLParser):
    """What an HTML page makes a browser load, and any code or style written inline."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") or name.endswith(
                "-url"
            ):
                self.urls.append(value or "")
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}>")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            self._in_script = True
            if not dict(attrs).get("src"):
                self.inline.append("<script> without src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(f"<script> body {data.strip()[:40]!r}")


def markup(html: str) -> Markup:
    parser = Markup()
    parser.feed(html)
    parser.close()
    return parser


def is_other_origin(url: str) -> bool:
    """True for a URL naming a scheme or a host (`https://…`, `//cdn…`), not for a path."""
    parts = urlsplit(url.strip())
    return bool(parts.scheme or parts.netloc) or url.strip().startswith("//")


_CSS_URL = re.compile(r"""url\(\s*['"]?\s*([^'")\s]*)""", re.IGNORECASE)
_CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*['"]?\s*([^'")\s;]*)""", re.IGNORECASE)


def css_loads(css: str) -> list[str]:
    """The URLs a stylesheet loads (url(), @import, @font-face sources), data: left out."""
    urls = _CSS_URL.findall(css) + _CSS_IMPORT.findall(css)
    return [u for u in urls if not u.lower().startswith("data:")]


# Loads written into script: an element's src, a worker or fetch of an absolute URL,
# CSS-in-JS imports and url()s, and the hosts that serve web fonts and bundles. A plain URL
# string (a spec's $schema id, an <a href> to a project page) loads nothing.
_SCRIPT_LOADS = re.compile(
    r"""\bsrc\s*[:=]\s*['"`](?:https?:)?//"""
    r"""|(?:importScripts|new\s+Worker|fetch)\(\s*['"`](?:https?:)?//"""
    r"""|@import\s+(?:url\()?\s*['"]?(?:https?:)?//"""
    r"""|(?<!new )url\(\s*['"]?(?:https?:)?//"""  # CSS url(), not JavaScript's new URL()
    r"""|fonts\.googleapis\.com|fonts\.gstatic\.com|cdn\.jsdelivr\.net|unpkg\.com"""
    r"""|cdnjs\.cloudflare\.com|cdn\.redoc\.ly|cdn\.redocly\.com""",
    re.IGNORECASE,
)


def script_loads(code: str) -> list[str]:
    return [code[max(m.start() - 40, 0) : m.end() + 40] for m in _SCRIPT_LOADS.finditer(code)]


def served_assets() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in (".js", ".css", ".svg"))


def policy(header: str) -> dict[str, list[str]]:
    directives = (d.split() for d in header.split(";") if d.strip())
    return {d[0]: d[1:] for d in directives}


# --- the pages --------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_pages_name_no_other_origin_and_carry_no_inline_code(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = markup(response.text)
    assert page.urls, "the page loads its viewer from somewhere"
    assert [u for u in page.urls if is_other_origin(u)] == []
    # Not even in text: no scheme-qualified or protocol-relative URL anywhere.
    assert re.search(r"https?:|//", response.text) is None
    assert page.inline == []


def test_swagger_page_points_at_the_openapi_document_and_passes_the_apps_settings(client):
    page = client.get("/docs").text
    assert 'data-openapi-url="/openapi.json"' in page
    assert "&quot;docExpansion&quot;: &quot;full&quot;" in page
    assert "&quot;validatorUrl&quot;: null" in page  # no badge from validator.swagger.io


def test_redoc_page_reads_the_openapi_document_by_attribute(client):
    assert '<redoc spec-url="/openapi.json"></redoc>' in client.get("/redoc").text


@pytest.mark.parametrize("path", PAGES)
def test_every_url_a_page_loads_is_served_with_its_content_type(client, path):
    expected = {
        ".js": ("text/javascript", "application/javascript"),
        ".css": ("text/css",),
        ".svg": ("image/svg+xml",),
        ".json": ("application/json",),
        "": ("text/html",),
    }
    for url in markup(client.get(path).text).urls:
        asset = client.get(urljoin(path, url))
        assert asset.status_code == 200, url
        content_type = asset.headers["content-type"].split(";")[0]
        assert content_type in expected[Path(urlsplit(url).path).suffix], url
        if content_type == "text/css":
            # What a stylesheet loads in turn is served too (none today: data: URIs only).
            for nested in css_loads(asset.text):
                assert not is_other_origin(nested), (url, nested)
                assert client.get(urljoin(url, nested)).status_code == 200, (url, nested)


def test_favicon_is_served_locally(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file's magic number


def test_the_pages_work_under_a_root_path():
    with TestClient(SecurityHeaders(build_app()), root_path="/needs") as proxied:
        page = proxied.get("/needs/docs").text
        personal = proxied.get("/needs/v1/x")
    urls = markup(page).urls
    assert urls and all(u.startswith("/needs/") for u in urls), urls
    assert personal.headers["cache-control"] == "no-store"


# --- the assets -------------------------------------------------------------------------


@pytest.mark.parametrize("asset", served_assets(), ids=lambda p: str(p.relative_to(STATIC_DIR)))
def test_no_asset_loads_anything_from_another_origin(asset):
    text = asset.read_text(encoding="utf-8")
    if asset.suffix == ".css":
        assert [u for u in css_loads(text) if is_other_origin(u)] == []
        assert "@font-face" not in text  # ReDoc's Google fonts are not wanted either
    assert script_loads(text) == []


def test_the_load_scan_finds_the_cdn_logo_of_unpatched_redoc():
    # Guard: the scan above would have caught the one remote load ReDoc 2.5.4 makes.
    patched = (STATIC_DIR / "redoc" / "redoc.standalone.js").read_text(encoding="utf-8")
    assert patched.count(REDOC_LOGO_REMOVED) == 1
    unpatched = patched.replace(REDOC_LOGO_REMOVED, REDOC_LOGO)
    assert any("cdn.redoc.ly" in hit for hit in script_loads(unpatched))


def test_vendored_files_are_the_published_ones():
    listed = {}
    for line in (STATIC_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        listed[name] = digest
    vendored = {
        str(p.relative_to(STATIC_DIR))
        for folder in ("swagger-ui", "redoc")
        for p in (STATIC_DIR / folder).iterdir()
    }
    assert vendored == set(listed)
    for name, digest in listed.items():
        data = (STATIC_DIR / name).read_bytes()
        if name == "redoc/redoc.standalone.js":
            data = data.replace(REDOC_LOGO_REMOVED.encode(), REDOC_LOGO.encode())
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_assets_are_cacheable_and_revalidated(client):
    url = "/static/docs/swagger-ui/swagger-ui-bundle.js"
    first = client.get(url)
    assert first.headers["cache-control"] == "no-cache"
    again = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["x-content-type-options"] == "nosniff"


# --- the headers ------------------------------------------------------------------------

EVERY_KIND = {
    "/v1/x": 200,
    "/openapi.json": 200,
    "/docs": 200,
    "/docs/oauth2-redirect": 200,
    "/redoc": 200,
    "/favicon.ico": 200,
    "/static/docs/swagger-ui/swagger-ui.css": 200,
    "/static/docs/missing.js": 404,
    "/nowhere": 404,
    "/v1/nowhere": 404,
    "/v1/boom": 500,
}


@pytest.mark.parametrize(("path", "status"), EVERY_KIND.items())
def test_every_response_carries_the_security_headers_once(client, path, status):
    response = client.get(path)
    assert response.status_code == status
    headers = response.headers
    for name, value in {
        "x-content-type-options": "nosniff",
        "x-frame-options": "DENY",
        "referrer-policy": "no-referrer",
    }.items():
        assert headers.get_list(name) == [value], name
    assert len(headers.get_list("content-security-policy")) == 1
    assert "server" not in headers


@pytest.mark.parametrize("path", ["/v1/x", "/v1/nowhere", "/v1/boom", "/openapi.json", "/nowhere"])
def test_api_and_error_responses_may_load_nothing(client, path):
    assert client.get(path).headers["content-security-policy"] == API_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_docs_pages_allow_their_own_origin_and_no_unsafe_source(client, path):
    directives = policy(client.get(path).headers["content-security-policy"])
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives.get("object-src", directives["default-src"]) in (["'none'"], ["'self'"])
    script_sources = directives.get("script-src", directives["default-src"])
    assert script_sources == ["'self'"]  # no inline script, no eval, no other host
    for name, sources in directives.items():
        for source in sources:
            allowed = source in ("'self'", "'none'") or source.startswith("'sha256-")
            allowed |= name == "img-src" and source == "data:"
            allowed |= name == "worker-src" and source == "blob:"
            assert allowed, f"{name} {source}"


@pytest.mark.parametrize(
    ("path", "no_store"),
    [
        ("/v1/x", True),
        ("/v1/nowhere", True),
        ("/v1/boom", True),
        ("/docs", False),
        ("/openapi.json", False),
        ("/static/docs/swagger-ui/swagger-ui.css", False),
    ],
)
def test_personal_data_responses_are_never_stored(client, path, no_store):
    cache_control = client.get(path).headers.get_list("cache-control")
    assert (cache_control == ["no-store"]) is no_store, cache_control


def test_headers_the_app_set_are_kept_and_its_server_header_dropped(client):
    headers = client.get("/v1/own-headers").headers
    assert headers.get_list("cache-control") == ["private, max-age=5"]
    assert headers.get_list("x-frame-options") == ["SAMEORIGIN"]
    assert "server" not in headers
    assert headers["x-content-type-options"] == "nosniff"


# --- the routes -------------------------------------------------------------------------


def test_install_docs_adds_exactly_the_public_routes_outside_the_schema():
    app = FastAPI(docs_url=None, redoc_url=None)
    install_docs(app)
    added = {r.path for r in app.routes if isinstance(r, APIRoute)}
    assert added == {"/docs", "/docs/oauth2-redirect", "/redoc", "/favicon.ico"}
    assert added == PUBLIC_DOCS_PATHS
    assert app.openapi()["paths"] == {}


def test_install_docs_refuses_an_app_that_still_serves_the_cdn_pages():
    with pytest.raises(ValueError, match="docs_url=None"):
        install_docs(FastAPI())


# --- a real browser ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` over real HTTP (uvicorn in a thread), as a browser would reach it: its origin."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        server_header=False,
        lifespan="off",
        ws="none",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """The test app over real HTTP, as a browser would reach it."""
    with serving(SecurityHeaders(build_app())) as origin:
        yield origin


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    executable = str(CHROMIUM) if CHROMIUM.exists() else shutil.which("chromium")
    # `make test-browser` (CI) sets NEEDS_REQUIRE_BROWSER: there a missing browser is a failure.
    required = bool(os.environ.get("NEEDS_REQUIRE_BROWSER"))
    if executable is None:
        message = "Chromium is not installed (apt-get install chromium)"
        pytest.fail(message) if required else pytest.skip(message)
    if required:
        from playwright import sync_api
    else:
        sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    # Debian's Chromium, never a browser build downloaded by `playwright install`.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # Only this machine resolves: a load from elsewhere could not succeed anyway.
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            ],
        )
        yield browser
        browser.close()


class Visit:
    """A browser context that refuses every other origin and records what pages do."""

    def __init__(self, browser: Any, origin: str) -> None:
        self.origin = origin
        self.requests: list[str] = []
        self.refused: list[str] = []
        self.failed: list[str] = []
        self.console: list[str] = []
        self.context = browser.new_context()
        self.context.route("**/*", self._route)
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.context.on("requestfailed", lambda r: self.failed.append(f"{r.url} {r.failure}"))

    def _route(self, route: Any) -> None:
        if self.same_origin(route.request.url):
            route.continue_()
        else:
            self.refused.append(route.request.url)
            route.abort()

    def same_origin(self, url: str) -> bool:
        return url.startswith((self.origin + "/", "blob:" + self.origin + "/"))

    def open(self, path: str) -> Any:
        page = self.context.new_page()
        page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        page.goto(self.origin + path)
        return page

    def problems(self) -> list[str]:
        noise = ("log: ", "info: ", "debug: ")
        return [m for m in self.console if not m.startswith(noise) or "Security Policy" in m]


@pytest.mark.browser
def test_swagger_ui_renders_and_calls_the_api_offline_under_its_csp(chromium, live_server):
    visit = Visit(chromium, live_server)
    page = visit.open("/docs")
    operation = page.locator(".opblock", has=page.locator('[data-path="/v1/x"]'))
    operation.wait_for(timeout=30_000)
    # Authorize with a key, then try the operation: the UI calls the API from the page.
    page.click("button.authorize")
    page.fill(".modal-ux input", "test-key-123")
    page.click(".modal-ux button.modal-btn.auth.authorize")
    page.click(".modal-ux button.btn-done")
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tr.response .response-col_status")
    status.wait_for(timeout=30_000)
    assert status.inner_text().strip() == "200"
    assert "test-key-123" in operation.locator(".live-responses-table").inner_text()
    page.wait_for_load_state("networkidle")
    visit.context.close()

    assert visit.refused == [] and visit.failed == []
    assert all(visit.same_origin(u) for u in visit.requests), visit.requests
    assert f"{live_server}/openapi.json" in visit.requests
    assert f"{live_server}/v1/x" in visit.requests
    assert visit.problems() == []


@pytest.mark.browser
def test_redoc_renders_and_searches_offline_under_its_csp(chromium, live_server):
    visit = Visit(chromium, live_server)
    page = visit.open("/redoc")
    page.get_by_text("/v1/x").first.wait_for(timeout=30_000)
    # The search index lives in a blob: Worker (worker-src blob:): search must find it.
    page.fill('input[placeholder="Search..."]', "Sets headers")
    page.locator('[data-role="search:results"]').get_by_text("Sets headers of its own").wait_for(
        timeout=30_000
    )
    page.wait_for_load_state("networkidle")
    workers = [w.url for w in page.workers]
    visit.context.close()

    assert visit.refused == [] and visit.failed == []
    assert all(visit.same_origin(u) for u in visit.requests), visit.requests
    assert [w for w in workers if w.startswith(f"blob:{live_server}/")], workers
    assert visit.problems() == []


@pytest.mark.browser
def test_the_browser_check_sees_a_csp_violation(chromium, live_server):
    # Guard: serve /docs with its policy missing `img-src data:` (Swagger UI's icons); the
    # recorder above must report the violation, or its silence would prove nothing.
    visit = Visit(chromium, live_server)

    def weaker(route: Any) -> None:
        response = route.fetch()
        headers = {**response.headers, "content-security-policy": "default-src 'self'"}
        route.fulfill(response=response, headers=headers)

    visit.context.route(f"{live_server}/docs", weaker)
    page = visit.open("/docs")
    page.locator('[data-path="/v1/x"]').first.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    visit.context.close()
    assert any("Content Security Policy" in m for m in visit.problems()), visit.console
