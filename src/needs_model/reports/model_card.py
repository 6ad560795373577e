"""A served model's card (after Mitchell et al., 2019, "Model Cards for Model Reporting"):
what it is for and what it must never be used for, its data and period, its features in
plain words and the sensitive attributes kept out, its metrics against the baselines and
the twin's oracle, calibration, fairness by group with intervals, global explanations, the
gate it passed and who promoted it, its monitoring, and its known limits.

Everything is read from the served bundle (`models/<service>/current/`: metadata,
evaluation, the reference year) and the monitoring reports; nothing is recomputed that the
bundle already states.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.features import AUDIT_COLUMNS
from needs_model.catalogue.services import SERVICE_SOURCES, service
from needs_model.modelling.promotion import (
    REFERENCE_FILE,
    Gate,
    ModelsFolderError,
    current_version,
    own_gap,
    refusals,
    served_history,
    verify_bundle,
)
from needs_model.modelling.training import ServiceModel, month_index
from needs_model.monitoring.kept import history, latest_status
from needs_model.reports import plots
from needs_model.reports.explanations import (
    BY_NAME,
    DEPENDENCE_FEATURES,
    TOP_FEATURES,
    global_explanation,
    plain_name,
)
from needs_model.reports.page import (
    both,
    esc,
    figure,
    heading,
    link,
    page,
    paragraph,
    signed_estimate,
    signed_interval,
    table,
)


@dataclass(frozen=True)
class Links:
    """Where a page's links go: files beside each other (`needs-model report`) or the API's
    routes (`/v1/reports/...`). None: not reachable from there."""

    model: Callable[[str], str]  # the served version's card
    version: Callable[[str, str], str]  # a given version's card
    source: Callable[[str], str]
    monitoring_report: Callable[[str, str], str | None]
    index: str


def file_links(root: str) -> Links:
    """Links between the files of a report set whose folder is `root` as seen from the page
    ("../" from models/ and sources/, "" from the index, a file:// URI from anywhere)."""
    return Links(
        model=lambda s: f"{root}models/{s}.html",
        version=lambda s, v: f"{root}models/{s}/v{v}.html",
        source=lambda t: f"{root}sources/{t.replace('/', '__')}.html",
        monitoring_report=lambda s, as_of: f"{root}monitoring/{as_of}/{s}/report.html",
        index=f"{root}index.html",
    )


FILE_LINKS = file_links("../")

SCORERS = {
    "model": ("Mô hình được phục vụ", "served model"),
    "rule": ("Quy tắc (cơ sở)", "rule baseline"),
    "logistic": ("Hồi quy logistic (cơ sở)", "logistic baseline"),
    "oracle": ("Oracle của mô hình song sinh", "the twin's oracle"),
}
AUDIT_WORDS = {
    "audit_ethnicity": ("dân tộc", "ethnicity"),
    "audit_religion": ("tôn giáo", "religion"),
    "audit_sex": ("giới tính (bản sao để kiểm toán)", "sex (the audit copy)"),
}


class ModelCardError(Exception):
    """A card cannot be written (nothing served, or a bundle without its files)."""


def card_data(
    service_id: str, models_dir: Path, reports_dir: Path, version: str | None = None
) -> dict[str, Any]:
    """What the card of a version (default the served one) shows, from its bundle and the
    monitoring reports."""
    served = current_version(models_dir, service_id)
    version = version or served
    if version is None:
        raise ModelCardError(f"{service_id}: no model is served (promote one first)")
    folder = models_dir / service_id / version
    if not (folder / "metadata.json").exists():
        raise ModelCardError(f"{service_id}: no version {version} in {models_dir}")
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    evaluation = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    verify_bundle(folder)
    model = ServiceModel.load(folder, service_id)
    explanation = None
    if (folder / REFERENCE_FILE).exists():
        explanation = global_explanation(model, pd.read_parquet(folder / REFERENCE_FILE))
    watched = history(reports_dir, [service_id])
    all_refused, refusals_unreadable = _kept(refusals, models_dir, service_id)
    served_versions, history_unreadable = _kept(served_history, models_dir, service_id)
    return {
        "service": service(service_id),
        "version": version,
        "served": version == served,
        "history": served_versions,
        "history_unreadable": history_unreadable,
        # The challengers the gate refused while this version was the champion.
        "refusals": [r for r in all_refused if r.get("champion") == version],
        "refusals_unreadable": refusals_unreadable,
        "metadata": metadata,
        "evaluation": evaluation,
        "model": model,
        "explanation": explanation,
        "monitoring": watched.services.get(service_id, []),
        "monitoring_unreadable": watched.unreadable,
        "latest_monitoring": latest_monitoring(reports_dir),
    }


def _kept(
    read: Callable[[Path, str], list[dict[str, Any]]], models_dir: Path, service_id: str
) -> tuple[list[dict[str, Any]], str | None]:
    """A list the models folder keeps, and why it could not be read (None when it could):
    the card is written either way and says so."""
    try:
        return read(models_dir, service_id), None
    except ModelsFolderError as error:
        return [], str(error)


def _unreadable(title: str, vi: str, en: str, problem: str) -> str:
    """A section's title and why its list could not be read, in both languages."""
    return title + paragraph(
        f"Không đọc được {vi}: {problem}", f"{en} could not be read: {problem}"
    )


def latest_monitoring(reports_dir: Path) -> str | None:
    """The date of the newest monitoring run (None before any)."""
    status = latest_status(reports_dir)
    return None if status is None else str(status["as_of"])


def _span(dates: list[str]) -> str:
    return f"{min(dates)} … {max(dates)} ({len(dates)})" if dates else "–"


def _longer_validation(dates: list[str], config: dict[str, Any]) -> str:
    """Why the validation window spans more months than `valid_months`, when it does: it
    reached back to hold `min_valid_events` people with the need (`training.validation_start`).
    Empty when it did not, or for a bundle trained before the rule."""
    if not dates or "min_valid_events" not in config:
        return ""
    months = month_index(pd.to_datetime(pd.Series(dates)))
    span = int(months.max() - months.min() + 1)
    if span <= config["valid_months"]:
        return ""
    return paragraph(
        f"Cửa sổ kiểm định trải {span} tháng thay vì {config['valid_months']}: "
        f"{config['valid_months']} tháng gần nhất có ít hơn {config['min_valid_events']} người "
        "có nhu cầu, nên cửa sổ lùi dần từng tháng để có đủ, nhiều nhất "
        f"{config['max_valid_months']} tháng và khi cửa sổ huấn luyện còn giữ "
        f"{config['min_train_months']} tháng: bộ hiệu chuẩn học mức xác suất từ các sự kiện này.",
        f"The validation window spans {span} months, not {config['valid_months']}: its "
        f"{config['valid_months']} months held fewer than {config['min_valid_events']} people "
        "with the need, so it reached back a month at a time to hold them, for at most "
        f"{config['max_valid_months']} months and while the training window kept "
        f"{config['min_train_months']}: the calibrator learns its level from these events.",
    )


def _uses(s: Any) -> str:
    return (
        heading(2, "Mục đích sử dụng", "Intended use", "use")
        + paragraph(
            f"Sắp thứ tự người cần được nhắc trước về thủ tục “{s.name_vi}” trong "
            f"{s.horizon_months} tháng tới và chuẩn bị trước hồ sơ cho họ. Đối tượng: "
            f"{s.subject_description}. Nhãn: {s.label_definition}. Căn cứ: {s.legal_basis}.",
            f"Orders who is reminded first about “{s.name_en}” in the next "
            f"{s.horizon_months} months, and whose dossier is prepared in advance. Subject: "
            f"{s.subject_description}. Label: {s.label_definition}. Legal basis: "
            f"{s.legal_basis}.",
        )
        + paragraph(
            "Không bao giờ dùng để từ chối hay trì hoãn một dịch vụ, để xét điều kiện hưởng, "
            "hay thay cho quyết định của cán bộ: điểm số chỉ hỗ trợ, con người quyết định "
            "(Luật Trí tuệ nhân tạo 134/2025/QH15, điều 27). Người không được nhắc vẫn được "
            "phục vụ đầy đủ khi đến nộp hồ sơ.",
            "Never to deny or delay a service, to judge eligibility, or in place of an "
            "officer's decision: the score supports, people decide (AI Law 134/2025/QH15, "
            "art. 27). Anyone not reminded is served in full when they apply.",
            "never",
        )
    )


def _data(data: dict[str, Any], links: Links) -> str:
    windows = data["evaluation"].get("windows", {})
    trained_on = data["metadata"].get("trained_on", {})
    rows = [
        (both(vi, en), _span(windows.get(key, [])))
        for key, vi, en in (
            ("train", "Huấn luyện", "training"),
            ("valid", "Kiểm định (hiệu chuẩn)", "validation (calibration)"),
            ("test", "Kiểm tra (cổng)", "test (the gate)"),
            ("reference", "Năm tham chiếu (giám sát)", "reference year (monitoring)"),
        )
    ]
    sources = [
        (
            link(links.source(t), t, t),
            trained_on.get("rows", {}).get(t),
        )
        for t in SERVICE_SOURCES[data["service"].service_id]
    ]
    return (
        heading(2, "Dữ liệu và thời kỳ", "Data and period", "data")
        + paragraph(
            "Các cửa sổ theo thời gian (ngày chốt cuối tháng); không cửa sổ nào nhìn thấy "
            "tương lai của cửa sổ sau nó.",
            "Temporal windows (month ends); no window sees the future of the one after it.",
        )
        + table([("Cửa sổ", "window"), ("Ngày chốt", "month ends")], rows, raw_columns=(0,))
        + _longer_validation(windows.get("valid", []), data["model"].params.get("config", {}))
        + paragraph(
            f"Tỉnh mô phỏng: {trained_on.get('people', '–')} người, hạt giống "
            f"{trained_on.get('seed', '–')}, {trained_on.get('start', '–')} … "
            f"{trained_on.get('end', '–')}. Bảng nguồn:",
            f"Simulated province: {trained_on.get('people', '–')} people, seed "
            f"{trained_on.get('seed', '–')}, {trained_on.get('start', '–')} … "
            f"{trained_on.get('end', '–')}. Source tables:",
        )
        + table([("Bảng", "table"), ("Số dòng", "rows")], sources, raw_columns=(0,))
    )


def _features(data: dict[str, Any]) -> str:
    model = data["model"]
    rows = []
    for name in model.features:
        entry = BY_NAME.get(name)
        rows.append(
            (
                name,
                entry.description_vi if entry else "",
                entry.description_en if entry else "",
                entry.source if entry else "",
                entry.unit if entry else "",
            )
        )
    kept_out = ", ".join(f"{vi} / {en}" for vi, en in (AUDIT_WORDS[c] for c in AUDIT_COLUMNS))
    return (
        heading(2, "Đặc trưng", "Features", "features")
        + table(["", "Tiếng Việt", "English", ("Nguồn", "source"), ("Đơn vị", "unit")], rows)
        + paragraph(
            f"Giữ ngoài đầu vào của mô hình, chỉ để kiểm toán công bằng: {kept_out}. Một "
            "kiểm thử chứng minh điểm số không đổi khi các cột này bị xáo trộn.",
            f"Kept out of the model's inputs, for fairness audits only: {kept_out}. A test "
            "shows the scores do not change when these columns are shuffled.",
        )
    )


def _metrics(data: dict[str, Any]) -> str:
    results = data["evaluation"].get("results", {})
    rows = []
    for key, (vi, en) in SCORERS.items():
        r = results.get(key)
        if r is None:
            continue
        rows.append(
            (
                both(vi, en),
                r.get("rows"),
                r.get("positives"),
                r.get("auc"),
                r.get("pr_auc"),
                r.get("brier"),
                r.get("ece"),
                r.get("precision_at_5pct"),
                r.get("recall_at_5pct"),
            )
        )
    body = heading(2, "Chỉ số trên cửa sổ kiểm tra", "Metrics on the test window", "metrics")
    body += table(
        [
            "",
            ("Dòng", "rows"),
            ("Dương tính", "positives"),
            "AUC",
            "PR-AUC",
            "Brier",
            "ECE",
            ("Độ chính xác @5%", "precision @5%"),
            ("Độ phủ @5%", "recall @5%"),
        ],
        rows,
        digits=4,
        raw_columns=(0,),
    )
    planning = data["evaluation"].get("planning")
    if planning:
        capacity = [
            (
                both(*SCORERS.get(k, (k, k))),
                v.get("contacted"),
                v.get("hits"),
                v.get("precision"),
                v.get("recall"),
            )
            for k, v in planning.get("at_capacity", {}).items()
        ]
        body += paragraph(
            f"Theo năng lực của cán bộ: mỗi xã liên hệ {planning['outreach_share']:.0%} đối "
            f"tượng mỗi tháng. Tỷ lệ nắm bắt (so với oracle): "
            f"{planning.get('capture_ratio', float('nan')):.3f}.",
            f"At the officers' capacity: each commune contacts {planning['outreach_share']:.0%} "
            f"of its subjects a month. Capture ratio (against the oracle): "
            f"{planning.get('capture_ratio', float('nan')):.3f}.",
        ) + table(
            [
                "",
                ("Liên hệ", "contacted"),
                ("Trúng", "hits"),
                ("Độ chính xác", "precision"),
                ("Độ phủ", "recall"),
            ],
            capacity,
            raw_columns=(0,),
        )
    return body


def _calibration(data: dict[str, Any]) -> str:
    curve = data["evaluation"].get("calibration_curve")
    if not curve:
        return ""
    numbers = table(
        [("Dự báo", "predicted"), ("Thực tế", "observed"), ("Dòng", "rows")],
        [(c["predicted"], c["observed"], c["n"]) for c in curve],
        digits=4,
    )
    return heading(2, "Hiệu chuẩn", "Calibration", "calibration") + figure(
        plots.calibration(curve),
        "calibration curve",
        "Tỷ lệ thực tế theo thập phân vị xác suất trên cửa sổ kiểm tra.",
        "Observed rate by decile of probability on the test window.",
        numbers,
    )


def _fairness(data: dict[str, Any]) -> str:
    groups = data["evaluation"].get("fairness") or []
    if not groups:
        return ""
    gate = Gate()
    rows = [
        (
            g["attribute"],
            g["group"],
            g["rows"],
            g["positives"],
            g["observed_rate"],
            g["mean_predicted"],
            g["mean_predicted"] - g["observed_rate"],
            signed_interval(g.get("calibration_gap_ci")),
            signed_estimate(own_gap(g)),
            g.get("auc"),
            "có / yes" if g["too_small_to_judge"] else "không / no",
        )
        for g in groups
    ]
    numbers = table(
        [
            ("Thuộc tính", "attribute"),
            ("Nhóm", "group"),
            ("Dòng", "rows"),
            ("Dương tính", "positives"),
            ("Thực tế", "observed"),
            ("Dự báo", "predicted"),
            ("Chênh lệch", "gap"),
            ("KTC 95%", "95% CI"),
            ("So với phần còn lại (KTC 95%)", "beyond the rest's (95% CI)"),
            "AUC",
            ("Quá nhỏ để đánh giá", "too small to judge"),
        ],
        rows,
        digits=4,
    )
    judged = [g for g in groups if g.get("calibration_gap_ci") and not g["too_small_to_judge"]]
    image = (
        figure(
            plots.fairness(groups, gate.max_group_gap),
            "fairness by group",
            "Chênh lệch hiệu chuẩn theo nhóm với khoảng tin cậy 95% (lấy mẫu lại theo đối "
            "tượng); điểm rỗng: chênh lệch không khác phần còn lại một cách chắc chắn.",
            "Calibration gap by group with its 95% interval (subjects resampled); hollow: a "
            "gap not beyond doubt different from the rest's.",
            numbers,
        )
        if judged
        else numbers
    )
    return (
        heading(2, "Công bằng theo nhóm", "Fairness by group", "fairness")
        + paragraph(
            "Dân tộc và tôn giáo không phải đầu vào của mô hình; chúng chỉ dùng ở đây để kiểm "
            f"tra. Cổng từ chối khi một nhóm lệch quá {gate.max_group_gap}, khoảng tin cậy "
            "không chứa 0 và chênh lệch đó là của riêng nhóm (khác phần còn lại một cách chắc "
            "chắn); chênh lệch chung của mọi nhóm là hiệu chuẩn, được kiểm tra theo từng tháng.",
            "Ethnicity and religion are not model inputs; they are used here only to check. "
            f"The gate refuses when a group is off by more than {gate.max_group_gap}, its "
            "interval excludes zero, and the gap is the group's own (beyond the rest's beyond "
            "doubt); a gap every group shares is calibration, checked month end by month end.",
        )
        + image
    )


def _explanations(data: dict[str, Any]) -> str:
    e = data["explanation"]
    if e is None:
        return ""
    names = [plain_name(f, "en") for f in e.features]
    numbers = table(
        ["", "Tiếng Việt", "English", ("Trung bình |SHAP|", "mean |SHAP|")],
        [
            (f, plain_name(f, "vi"), plain_name(f, "en"), float(v))
            for f, v in zip(e.features, e.mean_abs, strict=True)
        ],
        digits=4,
    )
    top = min(TOP_FEATURES, len(e.features))
    body = heading(2, "Giải thích toàn cục", "Global explanations", "explanations") + paragraph(
        f"Đóng góp SHAP chính xác (TreeSHAP, đúng các giá trị API trả về) trên {e.rows:,} "
        f"dòng rút ngẫu nhiên từ {e.of_rows:,} dòng của năm tham chiếu; giá trị nền "
        f"{e.bias:+.3f} log-odds.",
        f"Exact SHAP contributions (TreeSHAP, the values the API returns) on {e.rows:,} rows "
        f"drawn at random from the reference year's {e.of_rows:,}; base value {e.bias:+.3f} "
        "log-odds.",
    )
    body += figure(
        plots.importance(names, e.mean_abs),
        "mean absolute SHAP per feature",
        "Trung bình giá trị tuyệt đối của đóng góp theo đặc trưng.",
        "Mean absolute contribution per feature.",
        numbers,
    )
    if e.rows:
        spread = table(
            ["", ("Nhỏ nhất", "lowest"), ("Trung vị", "median"), ("Lớn nhất", "highest")],
            [
                (names[i], *np.percentile(e.contributions[:, i], [0, 50, 100]).tolist())
                for i in range(top)
            ],
            digits=3,
        )
        body += figure(
            plots.beeswarm(names[:top], e.contributions[:, :top], e.values[:, :top]),
            "SHAP summary (beeswarm)",
            "Mỗi chấm là một người: vị trí là đóng góp, màu là giá trị của đặc trưng. "
            "Bảng: đóng góp nhỏ nhất, trung vị và lớn nhất.",
            "Each dot is a person: position is the contribution, colour the feature's value. "
            "Table: the lowest, median and highest contribution.",
            spread,
        )
        for i in range(min(DEPENDENCE_FEATURES, len(e.features))):
            feature = e.features[i]
            entry = BY_NAME.get(feature)
            x, y = e.values[:, i], e.contributions[:, i]
            known = ~np.isnan(x)
            summary = table(
                [("Giá trị", "value"), ("Đóng góp TB", "mean contribution"), ("Dòng", "rows")],
                _binned(x[known], y[known]),
                digits=3,
            )
            body += figure(
                plots.dependence(names[i], entry.unit if entry else "", x, y),
                f"dependence of {feature}",
                f"{plain_name(feature, 'vi')}: giá trị và đóng góp.",
                f"{names[i]}: value against contribution.",
                summary,
            )
    return body


def _binned(x: np.ndarray, y: np.ndarray, bins: int = 6) -> list[tuple[str, float, int]]:
    """The dependence plot in numbers: mean contribution per value range (quantiles)."""
    if not len(x):
        return []
    distinct = np.unique(x)
    if len(distinct) <= bins:  # a flag or a small count: one line per value
        return [(f"{v:g}", float(y[x == v].mean()), int((x == v).sum())) for v in distinct]
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)))
    if len(edges) == 1:
        return [(f"{edges[0]:g}", float(y.mean()), len(y))]
    index = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    return [
        (f"{edges[i]:g} … {edges[i + 1]:g}", float(y[index == i].mean()), int((index == i).sum()))
        for i in range(len(edges) - 1)
        if (index == i).any()
    ]


def _gate(data: dict[str, Any]) -> str:
    metadata = data["metadata"]
    gate = metadata.get("gate")
    body = heading(2, "Phiên bản và cổng thăng hạng", "Version and promotion gate", "gate")
    body += table(
        [("Mục", "item"), ("Giá trị", "value")],
        [
            (both("Phiên bản", "version"), esc(data["version"])),
            (both("Bộ chấm điểm", "scorer"), esc(data["evaluation"].get("scorer", "–"))),
            (both("Thăng hạng lúc", "promoted at"), esc(metadata.get("promoted_at", "–"))),
            (
                both("Người thăng hạng", "promoted by"),
                esc(metadata.get("promoted_by", "không ghi lại / not recorded")),
            ),
            (both("Lần chạy MLflow", "MLflow run"), esc(metadata.get("run_id", "–"))),
            (
                both("Mô hình đăng ký", "registered model"),
                esc(metadata.get("registered_model", "–")),
            ),
        ],
        raw_columns=(0, 1),
    )
    if not data["served"]:
        body += paragraph(
            "Phiên bản này không còn được phục vụ.", "This version is no longer served.", "note"
        )
    if gate is None:
        return body + paragraph(
            "Phiên bản này được thăng hạng trước khi cổng được ghi lại cùng mô hình.",
            "This version was promoted before the gate's checks were recorded with the model.",
            "note",
        )
    items = "".join(f"<li>{esc(c)}</li>" for c in gate["passed"])
    body += paragraph("Đã qua các kiểm tra sau:", "It passed these checks:") + f"<ul>{items}</ul>"
    if gate.get("champion_before"):
        body += paragraph(
            f"Thay cho phiên bản {gate['champion_before']}.",
            f"It replaced version {gate['champion_before']}.",
        )
    if gate.get("challenger_refused"):
        refused = "".join(f"<li>{esc(r)}</li>" for r in gate["challenger_refused"])
        body += (
            paragraph(
                "Phục vụ thay cho mô hình thách thức bị cổng từ chối vì:",
                "Served instead of a challenger the gate refused for:",
                "note",
            )
            + f"<ul>{refused}</ul>"
        )
    return body


def _monitoring(data: dict[str, Any], links: Links) -> str:
    history = data["monitoring"]
    body = heading(2, "Giám sát", "Monitoring", "monitoring")
    for problem in data.get("monitoring_unreadable", []):
        body += paragraph(
            f"Không đọc được một lần giám sát: {problem}",
            f"A monitoring run could not be read: {problem}",
        )
    if not history:
        return body + paragraph(
            "Chưa có lần giám sát nào (needs-model monitor).",
            "Not monitored yet (needs-model monitor).",
        )
    rows = []
    service_id = data["service"].service_id
    for entry in reversed(history):
        href = links.monitoring_report(service_id, entry["as_of"])
        rows.append(
            (
                esc(entry["as_of"]),
                esc(entry["status"]),
                esc(entry.get("champion_version", "")),
                "<br>".join(esc(r) for r in entry.get("reasons", [])) or "–",
                "<br>".join(esc(n) for n in entry.get("notes", [])) or "–",
                f'<a href="{esc(href)}">Evidently</a>' if href else "–",
            )
        )
    return body + table(
        [
            ("Ngày", "as of"),
            ("Trạng thái", "status"),
            ("Phiên bản", "version"),
            ("Lý do", "reasons"),
            ("Ghi chú", "notes"),
            ("Báo cáo", "report"),
        ],
        rows,
        raw_columns=(0, 1, 2, 3, 4, 5),
    )


def _limits(data: dict[str, Any]) -> str:
    items = [
        (
            "Được huấn luyện và đánh giá trên một tỉnh mô phỏng (mô hình song sinh), không "
            "phải hồ sơ thật; chỉ số trên dữ liệu thật có thể khác.",
            "Trained and evaluated on a simulated province (the twin), not real records; "
            "figures on real data may differ.",
        ),
        (
            "Nhãn là những gì cơ quan đã ghi nhận: một việc xảy ra mà không được ghi nhận "
            "thì mô hình không học được.",
            "Labels are what the agencies recorded: what happened unrecorded, the model "
            "cannot learn.",
        ),
        (
            "Nhóm quá nhỏ không được đánh giá công bằng (xem bảng); điều đó không có nghĩa "
            "là công bằng.",
            "Groups too small are not judged for fairness (see the table); that does not "
            "make them fair.",
        ),
    ]
    gate = data["metadata"].get("gate") or {}
    if gate.get("challenger_refused"):
        items.append(
            (
                "Bộ chấm điểm đang phục vụ là phương án dự phòng đơn giản hơn.",
                "The served scorer is a simpler fallback.",
            )
        )
    return heading(2, "Giới hạn đã biết", "Known limits", "limits") + "".join(
        paragraph(vi, en) for vi, en in items
    )


def _versions(data: dict[str, Any], links: Links) -> str:
    service_id = data["service"].service_id
    rows = [
        (
            link(links.version(service_id, e["version"]), e["version"])
            if e["version"] != data["version"]
            else f"<strong>{esc(e['version'])}</strong>",
            esc(e.get("at", "–")),
        )
        for e in reversed(data["history"])
    ]
    title = heading(2, "Các phiên bản đã phục vụ", "Versions served", "versions")
    if data.get("history_unreadable"):
        return _unreadable(
            title, "các phiên bản đã phục vụ", "The versions served", data["history_unreadable"]
        )
    if not rows:
        return ""
    return title + table(
        [("Phiên bản", "version"), ("Bắt đầu phục vụ", "served from")], rows, raw_columns=(0, 1)
    )


def _refused(data: dict[str, Any]) -> str:
    """The challengers the gate refused while this version was served, and why: a
    `retrain` the monitor asked for that changed nothing is still on the record."""
    title = heading(
        2, "Mô hình thách thức bị cổng từ chối", "Challengers the gate refused", "refused"
    )
    if data.get("refusals_unreadable"):
        return _unreadable(
            title, "các lần cổng từ chối", "The gate's refusals", data["refusals_unreadable"]
        )
    if not data.get("refusals"):
        return ""
    rows = []
    for r in reversed(data["refusals"]):
        window = r.get("test_window") or []
        tested = (
            f"{r['test_auc']:.4f} ({window[0]}..{window[-1]})"
            if window and r.get("test_auc") is not None
            else "–"
        )
        decision = "<br>".join(esc(f) for f in r.get("failures", []))
        if r.get("served_instead"):
            decision += "<br>" + both(
                f"phục vụ thay: phiên bản {r['served_instead']}",
                f"served instead: version {r['served_instead']}",
            )
        rows.append(
            (
                r.get("refused_at", "–"),
                r.get("version", "–"),
                r.get("refused_by", "–"),
                tested,
                decision,
            )
        )
    return (
        title
        + paragraph(
            "Khi phiên bản này đang được phục vụ, cổng đã từ chối các mô hình thách thức sau; "
            "phiên bản này tiếp tục được phục vụ trừ khi có ghi khác.",
            "While this version was served, the gate refused these challengers; this version "
            "stayed served unless noted.",
        )
        + table(
            [
                ("Lúc", "at"),
                ("Phiên bản", "version"),
                ("Người xét", "judged by"),
                ("AUC kiểm tra (cửa sổ)", "test AUC (window)"),
                ("Lý do", "reasons"),
            ],
            rows,
            raw_columns=(4,),
        )
    )


def render_model_card(data: dict[str, Any], links: Links = FILE_LINKS) -> str:
    s = data["service"]
    nav = link(links.index, "Mục lục", "index")
    body = (
        _uses(s)
        + _data(data, links)
        + _features(data)
        + _metrics(data)
        + _calibration(data)
        + _fairness(data)
        + _explanations(data)
        + _gate(data)
        + _versions(data, links)
        + _refused(data)
        + _monitoring(data, links)
        + _limits(data)
    )
    return page(
        f"Thẻ mô hình: {s.name_vi} (phiên bản {data['version']})",
        f"Model card: {s.name_en} (version {data['version']})",
        body,
        nav,
    )
