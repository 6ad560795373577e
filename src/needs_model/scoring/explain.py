"""Exact SHAP contributions (LightGBM's native TreeSHAP) turned into plain sentences.

`contributions` returns one row per subject: one column per model feature plus the bias
(expected margin) last; each row sums to the booster's raw margin. The calibrated
probability is a monotone function of that margin, so a contribution's sign says whether
the feature raised or lowered the probability.

Sentences come from `REASONS`, declared per feature beside the feature catalogue. Health
details (pregnancy, conditions) are `SENSITIVE`: roles that do outreach see a generic
sentence naming the agency, never the value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from needs_model.catalogue.features import FEATURES, Feature
from needs_model.catalogue.services import LICENCES
from needs_model.modelling.training import ServiceModel

Language = str  # "vi" or "en"


def contributions(model: ServiceModel, matrix: np.ndarray) -> np.ndarray:
    """(n, k + 1) TreeSHAP values in margin units; the last column is the bias."""
    values = model.booster.predict(matrix, pred_contrib=True)
    return np.asarray(values, dtype=np.float64).reshape(len(matrix), len(model.features) + 1)


def _number(value: float, language: Language, digits: int = 2) -> str:
    """Vietnamese groups thousands with dots, English with commas; small values keep
    up to `digits` decimals."""
    if abs(value) >= 1000:
        grouped = f"{value:,.0f}"
        return grouped.replace(",", ".") if language == "vi" else grouped
    return f"{round(value, digits):g}"


def _vi_en(vi: str, en: str, digits: int = 2) -> Callable[[float], tuple[str, str]]:
    def render(value: float) -> tuple[str, str]:
        return vi.format(v=_number(value, "vi", digits)), en.format(v=_number(value, "en", digits))

    return render


def _flag(yes: tuple[str, str], no: tuple[str, str]) -> Callable[[float], tuple[str, str]]:
    def render(value: float) -> tuple[str, str]:
        return yes if value >= 0.5 else no

    return render


def _days_until(
    vi_thing: str,
    en_thing: str,
    vi_verb: str = "hết hạn",
    en_verb: str = "expires",
    en_past: str = "expired",
) -> Callable[[float], tuple[str, str]]:
    def render(value: float) -> tuple[str, str]:
        days = round(value)
        if days >= 0:
            return (f"{vi_thing} {vi_verb} sau {days} ngày", f"{en_thing} {en_verb} in {days} days")
        return (
            f"{vi_thing} đã {vi_verb} {-days} ngày trước",
            f"{en_thing} {en_past} {-days} days ago",
        )

    return render


def _due_date(value: float) -> tuple[str, str]:
    days = round(value)
    if days >= 0:
        return f"Dự sinh sau {days} ngày", f"Baby due in {days} days"
    return f"Đã quá ngày dự sinh {-days} ngày", f"Due date passed {-days} days ago"


def _percent(vi: str, en: str, signed: bool = False) -> Callable[[float], tuple[str, str]]:
    def render(value: float) -> tuple[str, str]:
        shown = value - 1.0 if signed else value
        text = f"{shown:+.0%}" if signed else f"{shown:.0%}"
        return vi.format(v=text), en.format(v=text)

    return render


@dataclass(frozen=True)
class Reason:
    render: Callable[[float], tuple[str, str]]
    generic: tuple[str, str] | None = None  # shown instead of the value to outreach roles


RULE = _flag(("Đến hạn theo quy định", "Due under the rules"), ("Chưa đến hạn", "Not yet due"))
HEALTH = ("Hồ sơ y tế có thông tin liên quan", "The health record holds relevant information")

REASONS: dict[str, Reason] = {
    "age_years": Reason(_vi_en("{v} tuổi", "Aged {v}")),
    "is_married": Reason(_flag(("Đã kết hôn", "Married"), ("Chưa kết hôn", "Not married"))),
    "household_size": Reason(_vi_en("Hộ có {v} nhân khẩu", "Household of {v} people")),
    "is_urban": Reason(
        _flag(
            ("Sống ở khu vực thành thị", "Lives in an urban area"),
            ("Sống ở khu vực nông thôn", "Lives in a rural area"),
        )
    ),
    "is_mountain": Reason(
        _flag(
            ("Sống ở xã miền núi", "Lives in a mountain commune"),
            ("Không sống ở xã miền núi", "Lives outside the mountain communes"),
        )
    ),
    "days_to_expected_due_date": Reason(
        _due_date,
        ("Hồ sơ khám thai cho thấy sắp sinh", "An antenatal record suggests a birth soon"),
    ),
    "days_since_unregistered_birth": Reason(
        _vi_en(
            "Đã sinh con {v} ngày trước, chưa đăng ký khai sinh",
            "Gave birth {v} days ago; the birth is not registered yet",
        )
    ),
    "births_registered_5y": Reason(
        _vi_en("{v} lần đăng ký khai sinh trong 5 năm", "{v} births registered in 5 years")
    ),
    "months_since_last_registered_birth": Reason(
        _vi_en(
            "Lần khai sinh gần nhất cách đây {v} tháng",
            "Last registered birth {v} months ago",
            digits=0,
        )
    ),
    "age_in_years_at_next_round": Reason(
        _vi_en("Tròn {v} tuổi ở kỳ tuyển sinh tới", "Will be {v} at the next admission round")
    ),
    "months_to_next_round": Reason(
        _vi_en("Kỳ tuyển sinh lớp 1 sau {v} tháng", "Grade-1 admission round in {v} months")
    ),
    "disability_recorded": Reason(
        _flag(
            ("Có ghi nhận khuyết tật", "A disability is recorded"),
            ("Không ghi nhận khuyết tật", "No disability recorded"),
        ),
        HEALTH,
    ),
    "household_poor_last_review": Reason(
        _flag(
            ("Hộ nghèo/cận nghèo ở kỳ rà soát gần nhất", "Household poor or near-poor last review"),
            ("Hộ không nghèo ở kỳ rà soát gần nhất", "Household not poor at the last review"),
        )
    ),
    "days_to_expiry": Reason(_days_until("Giấy phép", "The licence")),
    "months_since_issue": Reason(
        _vi_en("Được cấp cách đây {v} tháng", "Issued {v} months ago", digits=0)
    ),
    "renewals_10y": Reason(
        _vi_en("Đã gia hạn {v} lần trong 10 năm", "Renewed {v} times in 10 years")
    ),
    "cme_hours_reported_since_issue": Reason(
        _vi_en(
            "Đã báo cáo {v} giờ cập nhật kiến thức y khoa từ khi cấp",
            "{v} hours of continuing medical education reported since issue",
        )
    ),
    "cme_courses_reported_since_issue": Reason(
        _vi_en(
            "Đã báo cáo {v} khóa cập nhật kiến thức y khoa từ khi cấp",
            "{v} CME courses reported since issue",
        )
    ),
    "cme_hours_reported_short_of_requirement": Reason(
        _vi_en(
            "Theo báo cáo còn thiếu {v} giờ cập nhật kiến thức (cần 120)",
            "{v} CME hours short of the 120 required, as reported",
        )
    ),
    "cme_hours_projected_at_expiry": Reason(
        _vi_en(
            "Dự kiến {v} giờ cập nhật kiến thức khi hết hạn (cần 120)",
            "Projected {v} CME hours at expiry (120 required)",
        )
    ),
    "refresher_course_done": Reason(
        _flag(
            ("Đã học lớp cập nhật kiến thức", "Refresher course completed"),
            ("Chưa học lớp cập nhật kiến thức", "Refresher course not completed"),
        )
    ),
    "last_review_poor": Reason(
        _flag(
            ("Hộ nghèo ở kỳ rà soát gần nhất", "Poor at the last review"),
            ("Không phải hộ nghèo ở kỳ rà soát gần nhất", "Not poor at the last review"),
        )
    ),
    "last_review_near_poor": Reason(
        _flag(
            ("Hộ cận nghèo ở kỳ rà soát gần nhất", "Near-poor at the last review"),
            ("Không phải hộ cận nghèo ở kỳ rà soát gần nhất", "Not near-poor at the last review"),
        )
    ),
    "last_income_to_line_ratio": Reason(
        _percent(
            "Thu nhập bình quân bằng {v} chuẩn nghèo",
            "Income per person is {v} of the poverty line",
        )
    ),
    "income_change_ratio": Reason(
        _percent(
            "Thu nhập thay đổi {v} giữa hai kỳ rà soát",
            "Income changed {v} between the last two reviews",
            signed=True,
        )
    ),
    "last_deprivation_count": Reason(
        _vi_en(
            "Thiếu hụt {v} chỉ số dịch vụ xã hội cơ bản",
            "Deprived on {v} basic social service indicators",
        )
    ),
    "months_since_last_full_survey": Reason(
        _vi_en(
            "Điều tra thu nhập đầy đủ lần gần nhất cách đây {v} tháng",
            "Income last surveyed in full {v} months ago",
            digits=0,
        )
    ),
    "last_scorecard_points": Reason(
        _vi_en("Điểm phiếu rà soát nhanh gần nhất: {v}", "Last scorecard points: {v}", digits=0)
    ),
    "last_review_entry_applied": Reason(
        _flag(
            ("Hộ tự đăng ký ở kỳ rà soát gần nhất", "Applied at the last review"),
            ("Hộ không tự đăng ký ở kỳ rà soát gần nhất", "Did not apply at the last review"),
        )
    ),
    "last_review_entry_proposed": Reason(
        _flag(
            ("Được đề xuất rà soát ở kỳ gần nhất", "Proposed for the last review"),
            ("Không được đề xuất ở kỳ rà soát gần nhất", "Not proposed for the last review"),
        )
    ),
    "members_with_conditions_3y": Reason(
        _vi_en(
            "{v} thành viên có bệnh mãn tính hoặc khuyết tật",
            "{v} members with a chronic illness or disability",
        ),
        HEALTH,
    ),
    "conditions_12m": Reason(
        _vi_en("{v} chẩn đoán mới trong 12 tháng", "{v} new diagnoses in 12 months"), HEALTH
    ),
    "storm_damage_12m": Reason(
        _flag(
            (
                "Hộ có tên trong danh sách thiệt hại do bão trong 12 tháng",
                "On a storm-damage list in the last 12 months",
            ),
            (
                "Hộ không có tên trong danh sách thiệt hại do bão trong 12 tháng",
                "Not on a storm-damage list in the last 12 months",
            ),
        )
    ),
    "commune_storm_12m": Reason(
        _flag(
            (
                "Xã bị thiệt hại do bão trong 12 tháng",
                "The commune was hit by a storm in 12 months",
            ),
            (
                "Xã không bị thiệt hại do bão trong 12 tháng",
                "The commune was not hit by a storm in 12 months",
            ),
        )
    ),
    "children_under_16": Reason(_vi_en("{v} trẻ dưới 16 tuổi", "{v} children under 16")),
    "members_over_60": Reason(_vi_en("{v} người trên 60 tuổi", "{v} members over 60")),
    "months_to_next_review": Reason(
        _vi_en("Kỳ rà soát hộ nghèo sau {v} tháng", "Next poverty review in {v} months")
    ),
    "active_badges": Reason(_vi_en("{v} phù hiệu xe còn hiệu lực", "{v} vehicle badges in force")),
    "days_to_nearest_badge_expiry": Reason(_days_until("Phù hiệu xe gần nhất", "The next badge")),
    "badges_expiring_90d": Reason(
        _vi_en("{v} phù hiệu hết hạn trong 90 ngày", "{v} badges expire within 90 days")
    ),
    "months_since_last_badge": Reason(
        _vi_en(
            "Phù hiệu gần nhất cấp cách đây {v} tháng", "Last badge issued {v} months ago", digits=0
        )
    ),
    "business_age_months": Reason(
        _vi_en(
            "Doanh nghiệp được cấp phép {v} tháng trước",
            "Business licensed {v} months ago",
            digits=0,
        )
    ),
    "passenger_vehicles": Reason(
        _vi_en("{v} xe khách còn phù hiệu", "{v} passenger vehicles with a badge in force")
    ),
    "oldest_vehicle_age_years": Reason(
        _vi_en("Xe cũ nhất đã {v} năm tuổi", "Oldest vehicle is {v} years old", digits=0)
    ),
    "months_to_nearest_service_life_end": Reason(
        _vi_en(
            "Một xe hết niên hạn sử dụng sau {v} tháng",
            "A vehicle reaches its service life in {v} months",
            digits=0,
        )
    ),
    "vehicles_reaching_service_life_in_horizon": Reason(
        _vi_en(
            "{v} xe hết niên hạn trong kỳ dự báo",
            "{v} vehicles reach their service life within the horizon",
        )
    ),
    "renewable_badges_expiring_in_horizon": Reason(
        _vi_en(
            "{v} phù hiệu có thể gia hạn sắp hết hạn",
            "{v} renewable badges expire within the horizon",
        )
    ),
    "badges_expired_last_2_months": Reason(
        _vi_en(
            "{v} phù hiệu vừa hết hạn trong 2 tháng qua",
            "{v} badges expired in the last 2 months",
        )
    ),
    "vehicles_added_24m": Reason(
        _vi_en("{v} xe mới trong 24 tháng", "{v} vehicles added in 24 months")
    ),
    "owner_age_years": Reason(_vi_en("Chủ doanh nghiệp {v} tuổi", "Owner aged {v}")),
    "rule_birth_due": Reason(RULE),
    "rule_turns_six": Reason(RULE),
    "rule_licence_expiring": Reason(RULE),
    "rule_income_below_line": Reason(RULE),
    "rule_badge_expiring": Reason(RULE),
}

SENSITIVE = frozenset(name for name, reason in REASONS.items() if reason.generic is not None)
CATALOGUE: dict[str, Feature] = {f.name: f for f in FEATURES}


def sentence(
    feature: str, value: float, service_id: str, language: Language, with_values: bool = True
) -> str:
    """One plain sentence for a feature's value (generic for sensitive ones if asked)."""
    reason = REASONS[feature]
    index = 0 if language == "vi" else 1
    if not with_values and reason.generic is not None:
        return reason.generic[index]
    if value is None or math.isnan(float(value)):
        entry = CATALOGUE[feature]
        described = entry.description_vi if language == "vi" else entry.description_en.lower()
        return (
            f"Không có dữ liệu: {described.lower()}"
            if language == "vi"
            else f"No record: {described}"
        )
    value = float(value)
    if feature.startswith("rule_"):
        entry = CATALOGUE[feature]
        label = entry.description_vi if language == "vi" else entry.description_en
        topic = label.split(": ", 1)[-1]  # "Rule: badge expiring" -> "badge expiring"
        return f"{reason.render(value)[index]}: {topic}"
    if feature == "days_to_expiry" and service_id in LICENCES:
        vi, en = LICENCES[service_id].name_vi, LICENCES[service_id].name_en
        return _days_until(vi, en)(value)[index]
    return reason.render(value)[index]


@dataclass(frozen=True)
class Explained:
    """One reason. `withheld`: a sensitive feature shown to a caller without values, whose
    value and direction (which way it moved the score) must not be shown either."""

    feature: str
    value: float | None
    contribution: float
    text: str
    withheld: bool = False


def top_reasons(
    features: list[str],
    values: np.ndarray,
    contribution_row: np.ndarray,
    service_id: str,
    language: Language,
    limit: int = 3,
    with_values: bool = True,
) -> list[Explained]:
    """The `limit` features that moved this subject's margin most, largest |SHAP| first."""
    shap_values = contribution_row[: len(features)]
    order = np.argsort(-np.abs(shap_values), kind="stable")[:limit]
    out = []
    for i in order:
        raw = float(values[i])
        withheld = not with_values and features[i] in SENSITIVE
        out.append(
            Explained(
                features[i],
                None if withheld or math.isnan(raw) else raw,
                float(shap_values[i]),
                sentence(features[i], raw, service_id, language, with_values),
                withheld,
            )
        )
    return out
