"""The auditors' report set, written as files (`needs-model report`, `make run`):

    <out>/index.html
    <out>/models/<service>.html          one model card per served service
    <out>/sources/<agency>__<table>.html one data sheet per agency extract

Monitoring's own pages stay where the monitor writes them (`<reports>/monitoring/`); the
cards link to them when `out` is the reports folder. Each file is written whole and
renamed into place, so a killed run leaves the previous page, never half of one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.extracts import contract
from needs_model.modelling.promotion import current_version
from needs_model.monitoring.kept import latest_status
from needs_model.reports.data_sheet import render_data_sheet, sheet_data, table_id
from needs_model.reports.model_card import (
    FILE_LINKS,
    Links,
    ModelCardError,
    card_data,
    file_links,
    render_model_card,
)
from needs_model.reports.page import esc, heading, link, page, paragraph, table
from needs_model.settings import Settings

# Links from a version's card, one folder deeper (models/<service>/v<version>.html).
VERSION_LINKS = file_links("../../")


@dataclass(frozen=True)
class Written:
    path: Path
    seconds: float


def served(models_dir: Path) -> list[str]:
    return [s for s in SERVICE_IDS if current_version(models_dir, s) is not None]


def render_index(
    settings: Settings,
    links: Links,
    index_links: Links | None = None,
    sign_out: str | None = None,
) -> str:
    """The page an auditor starts from: every served model's card and status, every agency
    extract's data sheet, and how to ask for one citizen's explanation (and, served to a
    browser, a button to the `sign_out` route)."""
    here = index_links or links
    latest = latest_status(settings.reports_dir)
    rows = []
    for service_id in served(settings.models_dir):
        s = service(service_id)
        entry = (latest or {}).get("services", {}).get(service_id, {})
        rows.append(
            (
                link(here.model(service_id), s.name_vi, s.name_en),
                esc(current_version(settings.models_dir, service_id)),
                esc(entry.get("status", "–")),
            )
        )
    body = heading(2, "Thẻ mô hình", "Model cards", "models")
    body += table(
        [("Dịch vụ", "service"), ("Phiên bản", "version"), ("Giám sát", "monitoring")],
        rows,
        raw_columns=(0, 1, 2),
    )
    if latest is not None:
        body += paragraph(
            f"Trạng thái giám sát ngày {latest['as_of']}.",
            f"Monitoring status as of {latest['as_of']}.",
            "muted",
        )
    body += heading(
        2, "Phiếu dữ liệu của các bản trích xuất", "Data sheets of the extracts", "sources"
    )
    body += (
        "<ul>"
        + "".join(
            f"<li>{link(here.source(table_id(t)), table_id(t), t.description)}</li>"
            for t in contract.TABLES
        )
        + "</ul>"
    )
    body += heading(2, "Giải thích cho một người", "One citizen's explanation", "citizen")
    body += paragraph(
        "Trang in được cho một người và một dịch vụ: needs-model explain --cccd SỐ --service "
        "DỊCH_VỤ, hoặc GET /v1/citizens/{cccd}/explanation?service=… với khoá kiểm toán "
        "viên. Mỗi lần đọc được ghi vào nhật ký truy cập.",
        "A printable page for one person and one service: needs-model explain --cccd NUMBER "
        "--service SERVICE, or GET /v1/citizens/{cccd}/explanation?service=… with an "
        "auditor's key. Every read goes to the access log.",
    )
    nav = (
        f'<form method="post" action="{esc(sign_out)}"><button type="submit">'
        "Đăng xuất / Sign out</button></form>"
        if sign_out
        else ""
    )
    return page("Báo cáo cho kiểm toán viên", "Reports for auditors", body, nav)


def write_page(path: Path, text: str) -> None:
    """Write a page whole: to a hidden partial file, then renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


def write_reports(
    settings: Settings, out: Path, services: list[str] | None = None
) -> list[Written]:
    """Write the index, a card per served service (or those given) and every data sheet."""
    written: list[Written] = []

    def timed(path: Path, render: Callable[[], str]) -> None:
        start = time.perf_counter()
        write_page(path, render())
        written.append(Written(path, time.perf_counter() - start))

    served_now = served(settings.models_dir)
    chosen = services or served_now
    for service_id in chosen:
        try:
            data = card_data(service_id, settings.models_dir, settings.reports_dir)
        except ModelCardError:
            if services:  # asked for by name: say so
                raise
            continue
        timed(out / "models" / f"{service_id}.html", partial(render_model_card, data, FILE_LINKS))
        # Each version's own card, kept: an auditor looking into a past decision reads the
        # card of the version served then. A version's bundle never changes, so a card
        # written once is not written again (the served one is, for its monitoring).
        timed(
            out / "models" / service_id / f"v{data['version']}.html",
            partial(render_model_card, data, VERSION_LINKS),
        )
        for entry in data["history"]:
            path = out / "models" / service_id / f"v{entry['version']}.html"
            if not path.exists() and (settings.models_dir / service_id / entry["version"]).exists():
                old = card_data(
                    service_id, settings.models_dir, settings.reports_dir, entry["version"]
                )
                timed(path, partial(render_model_card, old, VERSION_LINKS))
    for t in contract.TABLES:
        ident = table_id(t)
        timed(
            out / "sources" / f"{ident.replace('/', '__')}.html",
            partial(
                render_data_sheet,
                sheet_data(t, settings.raw_dir, settings.linked_dir, settings.reports_dir),
                FILE_LINKS,
                served_now,
            ),
        )
    index_links = file_links("")
    timed(out / "index.html", lambda: render_index(settings, FILE_LINKS, index_links))
    return written
