"""One citizen's explanation for one service: the printable page an auditor attaches to a
case file, and what a citizen could be shown on request.

For each subject the citizen is (or is the contact for: a child's parent, a household's
adult) on the newest scored snapshot: the score and band, a waterfall of the served
model's exact contributions, the reasons in Vietnamese and English, every source table
with its as-of date, the prepared dossier with each field's agency and consistency flags,
what the citizen can do if a record is wrong, and the access-log entries naming them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import service
from needs_model.governance.access import Scope
from needs_model.modelling.promotion import verify_bundle
from needs_model.modelling.training import ServiceModel
from needs_model.reports import plots
from needs_model.reports.explanations import BY_NAME, plain_name
from needs_model.reports.model_card import FILE_LINKS, Links
from needs_model.reports.page import both, esc, figure, heading, link, page, paragraph, table
from needs_model.scoring.bands import band
from needs_model.scoring.explain import Explained, contributions, top_reasons
from needs_model.scoring.prefill import dossier_components, flags_index
from needs_model.scoring.snapshot import ScoredSnapshot, plain

WATERFALL_STEPS = 8  # the largest contributions drawn one by one; the rest together
REASONS = 5
BANDS = {"high": ("cao", "high"), "medium": ("trung bình", "medium"), "low": ("thấp", "low")}
# Where a citizen goes to have a record corrected: the office that keeps it.
OFFICES = {
    "registry": (
        "UBND xã (hộ tịch) hoặc công an xã (cư trú)",
        "the commune office (civil status) or commune police (residence)",
    ),
    "health": (
        "cơ sở y tế đã ghi nhận (trạm y tế, bệnh viện)",
        "the health facility that recorded it",
    ),
    "education": ("nhà trường hoặc phòng giáo dục", "the school or the education office"),
    "licensing": ("Sở Y tế (giấy phép hành nghề)", "the Department of Health (practice licences)"),
    "tourism": ("cơ quan cấp thẻ hướng dẫn viên", "the office that issues guide cards"),
    "agriculture": (
        "cơ quan thú y cấp chứng chỉ",
        "the veterinary office that issued the certificate",
    ),
    "transport": ("cơ quan quản lý vận tải", "the transport licensing office"),
    "welfare": ("UBND xã (rà soát hộ nghèo)", "the commune office (the poverty review)"),
    "services": ("bộ phận một cửa", "the one-stop desk"),
}


class CaseError(LookupError):
    """No explanation can be given (nothing scored, an unknown citizen); says which."""


class OutOfScope(CaseError):
    """A case lies outside the reader's scope: answered as for an unknown citizen."""


@dataclass(frozen=True)
class Case:
    """One subject of one service as the snapshot scored it."""

    service_id: str
    subject_id: str
    relation: str | None  # None: the citizen is the subject; else how the subject is related
    commune_code: str | None
    district_code: str | None
    version: str
    features: list[str]
    values: np.ndarray
    contributions: np.ndarray  # k + 1, the bias last (exact TreeSHAP, margin units)
    probability: float
    rule_fires: bool
    reasons: dict[str, list[Explained]]  # by language
    dossier: dict[str, list[dict[str, Any]]]  # by language
    prepared: bool  # the batch prepared a dossier (high or medium band, rule, or top of commune)
    model: ServiceModel

    def largest_first(self) -> np.ndarray:
        """The features' positions by the size of their contribution, largest first (ties
        in the model's order): the order of the waterfall and of its table."""
        return np.argsort(-np.abs(self.contributions[:-1]), kind="stable")


@dataclass(frozen=True)
class CitizenFile:
    cccd: str
    service_id: str
    as_of: str
    sources: list[tuple[str, str | None]]  # (agency/table, its data's as-of date)
    cases: list[Case]


def citizen_file(
    snapshot_folder: Path,
    models_dir: Path,
    cccd: str,
    service_id: str,
    scope: Scope | None = None,
) -> CitizenFile:
    """The citizen's cases for a service on the scored snapshot in `snapshot_folder`, with
    the model versions its manifest names. With a reader's `scope`: OutOfScope when a case
    lies outside it, and a case's contact outside it is withheld from the dossier (as the
    API withholds it)."""
    snapshot = ScoredSnapshot(snapshot_folder)
    if not snapshot.complete:
        raise CaseError(
            f"{snapshot_folder} is not a complete scored snapshot (run needs-model score)"
        )
    manifest = snapshot.manifest()
    version = manifest["models"].get(service_id)
    if version is None:
        raise CaseError(f"{service_id} is not scored on the snapshot of {manifest['as_of']}")
    index = snapshot.read("index")
    mine = index[(index["cccd"].astype(str) == cccd) & (index["service_id"] == service_id)]
    if mine.empty:
        raise CaseError(
            f"{cccd} is neither a subject nor a contact of {service_id} on the snapshot of "
            f"{manifest['as_of']}"
        )
    bundle = models_dir / service_id / str(version)
    verify_bundle(bundle)
    model = ServiceModel.load(bundle, service_id)
    subjects = snapshot.read("subjects", service_id)
    subjects = subjects[subjects["subject_id"].astype(str).isin(mine["subject_id"].astype(str))]
    if scope is not None:
        outside = [
            str(r["subject_id"])
            for _, r in subjects.iterrows()
            if not scope.allows(_clean(r.get("commune_code")), _clean(r.get("district_code")))
        ]
        if outside:
            raise OutOfScope(
                f"{cccd} is neither a subject nor a contact of {service_id} in the scope {scope}"
            )
    people = snapshot.read("people", columns=["cccd", "commune_code", "district_code"])
    place = {str(c): (_clean(m), _clean(d)) for c, m, d in people.itertuples(index=False)}
    dossiers = snapshot.read("dossiers", service_id)
    consistency = snapshot.read("consistency")
    by_record, by_cccd = flags_index(consistency, "record_id"), flags_index(consistency, "cccd")
    cases = []
    for _, row in subjects.sort_values("subject_id").iterrows():
        frame = row.to_frame().T
        values = model.matrix(frame)[0]
        shap_row = contributions(model, values[None, :])[0]
        subject_id = str(row["subject_id"])
        stored = dossiers[dossiers["subject_id"].astype(str) == subject_id]
        record = {} if stored.empty else {k: _clean(v) for k, v in stored.iloc[0].items()}
        contact = _clean(row.get("contact_cccd"))
        withheld = (
            scope is not None
            and contact is not None
            and not scope.allows(*place.get(str(contact), (None, None)))
        )
        cases.append(
            Case(
                service_id=service_id,
                subject_id=subject_id,
                relation=None if subject_id == cccd else _clean(row.get("contact_relation")),
                commune_code=_clean(row.get("commune_code")),
                district_code=_clean(row.get("district_code")),
                version=str(version),
                features=list(model.features),
                values=values,
                contributions=shap_row,
                probability=float(row["probability"]),
                rule_fires=bool(row["rule_fires"]),
                reasons={
                    lang: top_reasons(model.features, values, shap_row, service_id, lang, REASONS)
                    for lang in ("vi", "en")
                },
                dossier={
                    lang: dossier_components(
                        service_id, record, lang, by_record, by_cccd, contact_withheld=withheld
                    )
                    for lang in ("vi", "en")
                },
                prepared=not stored.empty,
                model=model,
            )
        )
    dates = manifest["sources"]
    return CitizenFile(
        cccd=cccd,
        service_id=service_id,
        as_of=str(manifest["as_of"]),
        sources=[(t, dates.get(t)) for t in manifest["service_sources"][service_id]],
        cases=cases,
    )


def _clean(value: Any) -> Any:
    """A snapshot's value as plain Python, dates as ISO text."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return plain(value)


def _value_text(feature: str, value: float) -> str:
    if np.isnan(value):
        return "–"
    unit = BY_NAME[feature].unit if feature in BY_NAME else ""
    shown = f"{value:g}"
    return f"{shown} {unit}" if unit and unit != "0/1" else shown


def _score(case: Case) -> str:
    name = band(case.probability)
    vi, en = BANDS[name]
    s = service(case.service_id)
    return table(
        [("Mục", "item"), ("Giá trị", "value")],
        [
            (
                both("Xác suất cần dịch vụ", "probability of needing it"),
                esc(f"{case.probability:.1%}"),
            ),
            (both("trong", "within"), esc(f"{s.horizon_months} tháng / months")),
            (both("Nhóm", "band"), both(vi, en)),
            (
                both("Căn cứ pháp lý được kích hoạt", "legal trigger fires"),
                both("có", "yes") if case.rule_fires else both("không", "no"),
            ),
            (
                both("Hồ sơ đã được chuẩn bị trước", "dossier prepared in advance"),
                both("có", "yes") if case.prepared else both("không", "no"),
            ),
            (both("Phiên bản mô hình", "model version"), esc(case.version)),
        ],
        raw_columns=(0, 1),
    )


def waterfall_png(case: Case) -> bytes:
    """The case's waterfall: from the base value through its largest contributions (the
    rest together) to its margin, the ends labelled with probabilities."""
    shap_values = case.contributions[:-1]
    order = case.largest_first()
    steps = [
        (plain_name(case.features[i], "en"), float(shap_values[i])) for i in order[:WATERFALL_STEPS]
    ]
    rest = float(shap_values[order[WATERFALL_STEPS:]].sum())

    def probability_of(margin: float) -> float:
        return float(case.model.calibrator(np.array([margin]))[0])

    return plots.waterfall(float(case.contributions[-1]), steps, probability_of, rest)


def _waterfall(case: Case) -> str:
    shap_values = case.contributions[:-1]
    bias = float(case.contributions[-1])
    rows = [
        (
            plain_name(case.features[i], "vi"),
            plain_name(case.features[i], "en"),
            _value_text(case.features[i], float(case.values[i])),
            float(shap_values[i]),
        )
        for i in case.largest_first()
    ]
    numbers = table(
        ["Tiếng Việt", "English", ("Giá trị", "value"), ("Đóng góp", "contribution")],
        [
            ("giá trị nền", "base value", "", bias),
            *rows,
            ("tổng (log-odds)", "margin", "", float(case.contributions.sum())),
        ],
        digits=4,
    )
    return figure(
        waterfall_png(case),
        "waterfall of the contributions",
        "Từ giá trị nền của mô hình, mỗi đặc trưng đẩy điểm lên (đỏ) hoặc xuống (xanh); "
        "tổng các đóng góp chính xác bằng điểm của mô hình.",
        "From the model's base value, each feature pushes the score up (red) or down (blue); "
        "the contributions add up exactly to the model's score.",
        numbers,
    )


def _reasons(case: Case) -> str:
    items = "".join(
        f'<li>{both(vi.text, en.text)} <span class="muted">({vi.contribution:+.3f})</span></li>'
        for vi, en in zip(case.reasons["vi"], case.reasons["en"], strict=True)
    )
    return f"<ol>{items}</ol>"


def _flag_text(flag: dict[str, Any]) -> str:
    text = f"{flag['type']} ({flag['agency_a']} ≠ {flag['agency_b']})"
    return f"{text}: {flag['note']}" if flag.get("note") else text


def _dossier(case: Case, links: Links) -> str:
    if not case.prepared:
        return paragraph(
            "Không có hồ sơ chuẩn bị trước: nhóm thấp, quy tắc không kích hoạt, và không nằm "
            "trong nhóm đầu của xã. Người dân vẫn được phục vụ đầy đủ khi nộp hồ sơ.",
            "No dossier was prepared in advance: low band, no legal trigger, not among the "
            "commune's first. The citizen is served in full when they apply.",
            "note",
        )
    rows = []
    for vi, en in zip(case.dossier["vi"], case.dossier["en"], strict=True):
        for field in vi["fields"]:
            flags = "; ".join(_flag_text(f) for f in field["flags"])
            source = vi["source"]
            rows.append(
                (
                    both(vi["name"], en["name"]),
                    esc(field["field"]),
                    esc(field["value"] if field["value"] is not None else "–"),
                    link(links.source(source), source, source) if "/" in source else esc(source),
                    esc(vi["recorded_at"] or "–"),
                    esc(flags or "–"),
                )
            )
    return table(
        [
            ("Thành phần", "component"),
            ("Trường", "field"),
            ("Giá trị điền sẵn", "prefilled value"),
            ("Nguồn", "source"),
            ("Ghi nhận", "recorded"),
            ("Cờ nhất quán", "consistency flags"),
        ],
        rows,
        raw_columns=(0, 1, 2, 3, 4, 5),
    )


def _recourse(file: CitizenFile) -> str:
    agencies = sorted({t.split("/")[0] for t, _ in file.sources})
    items = "".join(
        f"<li>{both(f'{a}: {OFFICES[a][0]}', f'{a}: {OFFICES[a][1]}')}</li>"
        for a in agencies
        if a in OFFICES
    )
    return (
        heading(2, "Nếu một hồ sơ sai", "If a record is wrong", "recourse")
        + paragraph(
            "Người dân có quyền yêu cầu chỉnh sửa dữ liệu cá nhân của mình (Luật Bảo vệ dữ "
            "liệu cá nhân 91/2025/QH15). Hãy đến cơ quan giữ hồ sơ, mang theo giấy tờ gốc; "
            "bản sửa đi vào ảnh chụp dữ liệu tháng sau và điểm được tính lại. Trong lúc đó "
            "không ai bị từ chối dịch vụ vì điểm số.",
            "A citizen may ask for their personal data to be corrected (Personal Data "
            "Protection Law 91/2025/QH15). Go to the office that keeps the record with the "
            "original papers; the correction enters the next monthly snapshot and the score is "
            "computed again. Meanwhile no one is refused a service because of a score.",
        )
        + f"<ul>{items}</ul>"
    )


def _access_log(entries: list[dict[str, Any]]) -> str:
    rows = [
        (e["seq"], e["at"], e["role"], e["action"], e["route"], e.get("purpose") or "–")
        for e in entries
    ]
    return heading(2, "Nhật ký truy cập", "Access log", "log") + (
        table(
            [
                "#",
                ("Lúc", "at"),
                ("Vai trò", "role"),
                ("Hành động", "action"),
                ("Đường dẫn", "route"),
                ("Mục đích", "purpose"),
            ],
            rows,
        )
        if rows
        else paragraph("Chưa ai đọc dữ liệu của người này.", "No one has read this person's data.")
    )


def render_citizen_file(
    file: CitizenFile, access_log: list[dict[str, Any]], links: Links = FILE_LINKS
) -> str:
    s = service(file.service_id)
    body = paragraph(
        f"CCCD {file.cccd}; dịch vụ “{s.name_vi}”; ảnh chụp dữ liệu ngày {file.as_of}. Điểm "
        "số chỉ dùng để sắp thứ tự việc nhắc trước; nó không bao giờ từ chối một dịch vụ.",
        f"CCCD {file.cccd}; service “{s.name_en}”; data snapshot of {file.as_of}. The score "
        "only orders who is reminded first; it never denies a service.",
        "never",
    )
    for case in file.cases:
        who = (
            both("Người này", "This person")
            if case.relation is None
            else both(
                f"Đối tượng {case.subject_id} ({case.relation})",
                f"Subject {case.subject_id} ({case.relation})",
            )
        )
        body += f"<h2>{who}</h2>"
        body += _score(case)
        body += heading(3, "Vì sao", "Why", None) + _reasons(case) + _waterfall(case)
        body += heading(3, "Hồ sơ điền sẵn", "The pre-filled dossier", None) + _dossier(case, links)
    body += heading(2, "Nguồn dữ liệu", "Data sources", "sources") + table(
        [("Bảng", "table"), ("Dữ liệu đến ngày", "data as of")],
        [(link(links.source(t), t, t), esc(as_of or "–")) for t, as_of in file.sources],
        raw_columns=(0, 1),
    )
    body += _recourse(file) + _access_log(access_log)
    if file.cases:
        card = link(
            links.version(file.service_id, file.cases[0].version),
            "thẻ mô hình của phiên bản đã chấm điểm",
            "the card of the version that scored it",
        )
        body += f"<p>{both('Mô hình: xem', 'The model: see')} {card}.</p>"
    return page(
        f"Giải thích cho một người: {s.name_vi}",
        f"One citizen's explanation: {s.name_en}",
        body,
        link(links.index, "Mục lục", "index"),
    )


def audit_details(file: CitizenFile) -> dict[str, Any]:
    """What the access log keeps of an explanation read (the same from the CLI and the
    API): the people it names, what it was about, and how many personal records it read."""
    return {
        "action": "explain_citizen",
        "subjects": [file.cccd, *(c.subject_id for c in file.cases)],
        "details": {"service": file.service_id, "as_of": file.as_of},
        "personal_reads": len(file.cases),
    }


def read_access_log(engine: Any, cccd: str, subjects: list[str]) -> list[dict[str, Any]]:
    """The audit entries naming the citizen or their subjects, oldest first."""
    from needs_model.governance import audit

    seen: dict[int, dict[str, Any]] = {}
    for subject in {cccd, *subjects}:
        for entry in audit.read(engine, subject=subject, limit=1000):
            seen[int(entry["seq"])] = entry
    return [seen[k] for k in sorted(seen)]


EXPLAINERS = ("auditor", "admin")


@dataclass(frozen=True)
class Explanation:
    file: CitizenFile
    page: str  # the printable page (HTML)


def explain(
    settings: Any, cccd: str, service_id: str, key: str, route: str, purpose: str | None = None
) -> Explanation:
    """One citizen's explanation read with an API key, as `needs-model explain` and the audit
    notebook read it: the key must be an auditor's or admin's, the citizen's cases within its
    scope (else answered as an unknown citizen), and the read is in the access log (under
    `route`) before the page is made. CaseError says what is missing or refused."""
    import re

    from needs_model.governance import audit
    from needs_model.governance.access import authenticate
    from needs_model.governance.db import make_engine
    from needs_model.reports.model_card import file_links
    from needs_model.scoring.snapshot import latest_snapshot

    if not re.fullmatch(r"\d{12}", cccd):
        raise CaseError(f"a CCCD has 12 digits, got {cccd!r}")
    engine = make_engine(settings.database_url)
    principal = authenticate(engine, key)
    if isinstance(principal, str):
        raise CaseError(f"the key is {principal}")
    if principal.role not in EXPLAINERS:
        raise CaseError(
            f"a {principal.role}'s key cannot read a citizen's explanation "
            f"({' or '.join(EXPLAINERS)} only)"
        )
    folder = latest_snapshot(settings.scores_dir)
    if folder is None:
        raise CaseError(f"no scored snapshot under {settings.scores_dir}")
    file = citizen_file(folder, settings.models_dir, cccd, service_id, principal.scope)
    logged = audit_details(file)
    audit.append(
        engine,
        key_id=principal.key_id,
        role=principal.role,
        route=route,
        purpose=purpose,
        **logged,
    )
    # Links to the report set on this machine, wherever the page is saved.
    links = file_links(settings.reports_dir.resolve().as_uri() + "/")
    log = read_access_log(engine, cccd, logged["subjects"])
    return Explanation(file, render_citizen_file(file, log, links))
