"""A data sheet per agency extract (after Gebru et al., 2021, "Datasheets for Datasets"):
what the table holds, its columns as the data contract states them, how it is linked to
people, its recording lag and coverage measured on the extract, its validation quarantine
counts, the consistency report's figures for it, and the monitor's latest findings.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import SERVICE_SOURCES
from needs_model.extracts import contract
from needs_model.extracts.sources import read_as_of
from needs_model.extracts.validate import default_report_dir
from needs_model.monitoring.kept import latest_status
from needs_model.reports.model_card import FILE_LINKS, Links
from needs_model.reports.page import both, esc, heading, link, page, paragraph, table


def table_id(t: contract.Table) -> str:
    """`agency/name`, as the monitor and the consistency report name a table."""
    return f"{t.agency}/{t.name}"


def find_table(identifier: str) -> contract.Table:
    """The contract table `agency/name` (or `agency__name`); KeyError naming the known ones."""
    agency, _, name = identifier.replace("__", "/").partition("/")
    for t in contract.TABLES:
        if (t.agency, t.name) == (agency, name):
            return t
    known = ", ".join(table_id(t) for t in contract.TABLES)
    raise KeyError(f"unknown table {identifier!r}; known: {known}")


def _lag(frame: pd.DataFrame, t: contract.Table) -> list[tuple[str, float, float, float]]:
    """Days from each event date to the day it was recorded: median, 90th and 99th
    percentiles (the contract's date pairs that end in `recorded_at`)."""
    out = []
    for earlier, later in t.date_order:
        if later != "recorded_at" or earlier not in frame:
            continue
        days = (
            (pd.to_datetime(frame["recorded_at"]) - pd.to_datetime(frame[earlier])).dt.days
        ).dropna()
        if len(days):
            q = np.percentile(days, [50, 90, 99])
            out.append((f"{earlier} → recorded_at", float(q[0]), float(q[1]), float(q[2])))
    return out


def sheet_data(
    t: contract.Table, raw_dir: Path, linked_dir: Path, reports_dir: Path
) -> dict[str, Any]:
    """What the sheet shows, measured on the extract in `raw_dir` (as of its newest row)."""
    ident = table_id(t)
    data: dict[str, Any] = {
        "table": t,
        "id": ident,
        "services": [s for s, tables in SERVICE_SOURCES.items() if ident in tables],
    }
    if (raw_dir / t.path).exists():
        frame = read_as_of(raw_dir, t.agency, t.name, dt.date.max)
        recorded = pd.to_datetime(frame["recorded_at"])
        communes = frame["commune_code"].nunique() if "commune_code" in frame else None
        data["coverage"] = {
            "rows": len(frame),
            "first": recorded.min().date().isoformat() if len(frame) else None,
            "last": recorded.max().date().isoformat() if len(frame) else None,
            "communes": communes,
        }
        data["lag"] = _lag(frame, t)
        cccds = [c.name for c in t.columns if c.is_cccd]
        data["cccd_missing"] = {c: float(frame[c].isna().mean()) for c in cccds if c in frame}
    validation = default_report_dir(raw_dir) / "report.json"
    if validation.exists():
        entries = json.loads(validation.read_text(encoding="utf-8"))
        data["validation"] = next((e for e in entries if e["table"] == ident), None)
    reports = sorted(linked_dir.glob("*/consistency.parquet"))
    if reports:
        report = pd.read_parquet(reports[-1])
        mine = report[(report["agency_a"] == ident) | (report["agency_b"] == ident)]
        data["consistency"] = {
            "as_of": reports[-1].parent.name,
            "by_type": mine.groupby("type").size().sort_index().to_dict(),
        }
    status = latest_status(reports_dir)
    if status is not None:
        data["monitoring"] = {
            "as_of": status["as_of"],
            "entry": next((s for s in status.get("sources", []) if s["table"] == ident), None),
        }
    return data


def _how_linked(t: contract.Table) -> tuple[str, str]:
    cccds = [c.name for c in t.columns if c.is_cccd]
    if not cccds:
        return (
            "Không có cột CCCD: bảng được nối qua mã hộ hoặc mã giấy phép của nó.",
            "No CCCD column: the table is joined through its household or licence number.",
        )
    names = ", ".join(cccds)
    return (
        f"Nối với người qua số CCCD ({names}); dòng thiếu hoặc sai CCCD được bộ nối tìm "
        "theo họ tên, ngày sinh và xã, và mọi điểm không khớp được ghi vào báo cáo nhất quán.",
        f"Linked to people by CCCD ({names}); rows with a missing or wrong CCCD are found by "
        "the linker on name, birth date and commune, and every disagreement goes to the "
        "consistency report.",
    )


def render_data_sheet(
    data: dict[str, Any], links: Links = FILE_LINKS, served: Collection[str] = ()
) -> str:
    """The sheet; the services in `served` link to their cards, the others are named."""
    t: contract.Table = data["table"]
    body = paragraph(t.description, t.description)
    body += heading(2, "Dùng cho dịch vụ", "Used by the services", "services")
    body += (
        "<ul>"
        + "".join(
            f"<li>{link(links.model(s), s, s)}</li>"
            if s in served
            else f"<li>{both(s, 'không được phục vụ / not served')}</li>"
            for s in data["services"]
        )
        + "</ul>"
    )
    body += heading(2, "Cột (hợp đồng dữ liệu)", "Columns (the data contract)", "columns")
    body += table(
        [
            ("Cột", "column"),
            ("Kiểu", "type"),
            ("Mô tả", "description"),
            ("Được trống", "nullable"),
            ("Giá trị cho phép", "allowed"),
        ],
        [
            (c.name, c.dtype, c.description, c.nullable, ", ".join(c.allowed) if c.allowed else "")
            for c in t.columns
        ],
    )
    body += paragraph(f"Khoá: {t.key}.", f"Key: {t.key}.")
    body += heading(2, "Cách nối", "How it is linked", "linking") + paragraph(*_how_linked(t))
    coverage = data.get("coverage")
    body += heading(2, "Độ phủ và độ trễ", "Coverage and lag", "coverage")
    if coverage is None:
        body += paragraph("Không có bản trích xuất này.", "This extract is not present.", "note")
    else:
        body += table(
            [("Mục", "item"), ("Giá trị", "value")],
            [
                (both("Số dòng", "rows"), esc(f"{coverage['rows']:,}")),
                (both("Ghi nhận từ", "recorded from"), esc(coverage["first"] or "–")),
                (both("Ghi nhận đến", "recorded until"), esc(coverage["last"] or "–")),
                (
                    both("Số xã", "communes"),
                    esc(coverage["communes"] if coverage["communes"] is not None else "–"),
                ),
                *(
                    (both(f"Thiếu {c}", f"{c} missing"), esc(f"{share:.1%}"))
                    for c, share in data.get("cccd_missing", {}).items()
                ),
            ],
            raw_columns=(0, 1),
        )
        if data["lag"]:
            body += table(
                [
                    ("Khoảng", "span"),
                    ("Trung vị (ngày)", "median (days)"),
                    ("P90", "P90"),
                    ("P99", "P99"),
                ],
                data["lag"],
                digits=0,
            )
    body += heading(2, "Kiểm tra hợp lệ", "Validation", "validation")
    v = data.get("validation")
    if v is None:
        body += paragraph(
            "Chưa kiểm tra (needs-model validate).", "Not validated yet (needs-model validate)."
        )
    else:
        body += table(
            [("Dòng", "rows"), ("Hợp lệ", "valid"), ("Cách ly", "quarantined")],
            [(v["rows"], v["valid"], v["quarantined"])],
        ) + table(
            [("Lý do cách ly", "quarantine reason"), ("Dòng", "rows")],
            sorted(v["reasons"].items(), key=lambda kv: -kv[1]),
        )
    body += heading(2, "Báo cáo nhất quán", "Consistency report", "consistency")
    c = data.get("consistency")
    if c is None:
        body += paragraph("Chưa nối (needs-model link).", "Not linked yet (needs-model link).")
    else:
        body += paragraph(
            f"Các điểm không khớp với sổ hộ tịch ngày {c['as_of']}:",
            f"Disagreements with the registry as of {c['as_of']}:",
        ) + table([("Loại", "type"), ("Số", "count")], sorted(c["by_type"].items()))
    m = data.get("monitoring")
    body += heading(2, "Giám sát bảng nguồn", "Source monitoring", "monitoring")
    if m is None or m["entry"] is None:
        body += paragraph("Chưa giám sát.", "Not monitored yet.")
    else:
        entry = m["entry"]
        findings = "".join(f"<li>{esc(f)}</li>" for f in entry["findings"]) or "<li>–</li>"
        body += (
            paragraph(
                f"Tháng đến {m['as_of']} so với 12 tháng trước: {entry['rows']['month']:,} dòng.",
                f"The month to {m['as_of']} against the 12 months before: "
                f"{entry['rows']['month']:,} rows.",
            )
            + f"<ul>{findings}</ul>"
        )
        volume = entry.get("volume", [])
        if volume:
            body += table(
                [
                    ("Dòng", "rows"),
                    ("Tháng", "month"),
                    ("Ít nhất trước", "fewest before"),
                    ("Nhiều nhất trước", "most before"),
                ],
                [(v["rows"], v["month"], v["reference_low"], v["reference_high"]) for v in volume],
            )
    nav = link(links.index, "Mục lục", "index")
    return page(f"Phiếu dữ liệu: {data['id']}", f"Data sheet: {data['id']}", body, nav)
