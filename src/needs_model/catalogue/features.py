"""Every model feature, declared once: training, serving, explanations and docs read it.

Ethnicity and religion are never features (sensitive data, Law 91/2025); the feature
tables carry them (and sex) beside the features as `audit_ethnicity`, `audit_religion` and
`audit_sex` for fairness audits only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import SERVICE_IDS

LICENCE_SERVICES = (
    "medical_license_renewal",
    "tour_guide_card_renewal",
    "veterinary_certificate_renewal",
)
PERSON_SERVICES = ("birth_registration", "school_admission", *LICENCE_SERVICES)
AUDIT_COLUMNS = ("audit_ethnicity", "audit_religion", "audit_sex")


@dataclass(frozen=True)
class Feature:
    name: str
    services: tuple[str, ...]  # the services whose models take it by default
    description_vi: str
    description_en: str
    source: str
    unit: str
    computed_as_of: str
    # Services whose feature tables carry it too, as an optional feature a data scientist
    # may give their model (`TrainConfig.features`): computed, monitored and explained as
    # any other once a served model takes it.
    optional_for: tuple[str, ...] = ()


F = Feature
FEATURES: tuple[Feature, ...] = (
    F(
        "age_years",
        (*PERSON_SERVICES,),
        "Tuổi",
        "Age",
        "registry",
        "years",
        "completed years between the registry birth date and the as-of date",
    ),
    F(
        "is_married",
        ("birth_registration",),
        "Đã kết hôn",
        "Married",
        "registry",
        "0/1",
        "latest registry marital status on or before the as-of date",
    ),
    F(
        "household_size",
        (*PERSON_SERVICES, "poor_household_confirmation"),
        "Số nhân khẩu",
        "Household size",
        "registry",
        "people",
        "residents of the household in the registry",
    ),
    F(
        "is_urban",
        SERVICE_IDS,
        "Khu vực thành thị",
        "Urban area",
        "registry",
        "0/1",
        "the household book's commune is a ward or township",
    ),
    F(
        "is_mountain",
        SERVICE_IDS,
        "Xã miền núi",
        "Mountain commune",
        "registry",
        "0/1",
        "the household's commune lies in the western mountain districts",
    ),
    F(
        "days_to_expected_due_date",
        ("birth_registration",),
        "Số ngày đến ngày dự sinh",
        "Days to the expected due date",
        "health",
        "days",
        "due date of the latest antenatal record minus the as-of date (missing if none open)",
    ),
    F(
        "days_since_unregistered_birth",
        ("birth_registration",),
        "Số ngày từ khi sinh (chưa đăng ký khai sinh)",
        "Days since a facility birth not yet registered",
        "health + services",
        "days",
        "days since her latest facility birth in the past year with no birth registration since",
    ),
    F(
        "births_registered_5y",
        ("birth_registration",),
        "Số lần đăng ký khai sinh trong 5 năm",
        "Births registered in the last 5 years",
        "services",
        "count",
        "birth registrations naming her as mother in the 5 years before the as-of date",
    ),
    F(
        "months_since_last_registered_birth",
        ("birth_registration",),
        "Số tháng từ lần khai sinh gần nhất",
        "Months since her last registered birth",
        "services",
        "months",
        "missing if none in the last 10 years",
    ),
    F(
        "age_in_years_at_next_round",
        ("school_admission",),
        "Tuổi (theo năm) tại kỳ tuyển sinh tới",
        "Age in the calendar year of the next admission round",
        "registry",
        "years",
        "year of the next August round minus the birth year",
    ),
    F(
        "months_to_next_round",
        ("school_admission",),
        "Số tháng đến kỳ tuyển sinh",
        "Months to the next admission round",
        "calendar",
        "months",
        "months until the next August",
    ),
    F(
        "disability_recorded",
        ("school_admission",),
        "Có hồ sơ khuyết tật",
        "Disability on record",
        "health",
        "0/1",
        "a disability diagnosis recorded by then",
    ),
    F(
        "household_poor_last_review",
        ("school_admission",),
        "Hộ nghèo/cận nghèo lần rà soát gần nhất",
        "Household poor or near-poor at the last review",
        "welfare",
        "0/1",
        "result of the household's latest review (not an ever-poor flag)",
        optional_for=("birth_registration",),
    ),
    F(
        "days_to_expiry",
        LICENCE_SERVICES,
        "Số ngày đến hạn",
        "Days to expiry",
        "issuing agency",
        "days",
        "expiry of the licence in force minus the as-of date",
    ),
    F(
        "months_since_issue",
        LICENCE_SERVICES,
        "Số tháng từ khi cấp",
        "Months since issue",
        "issuing agency",
        "months",
        "as-of date minus the issue date of the licence in force",
    ),
    F(
        "renewals_10y",
        LICENCE_SERVICES,
        "Số lần gia hạn trong 10 năm",
        "Renewals in 10 years",
        "issuing agency",
        "count",
        "renewal rows in the 10 years before the as-of date",
    ),
    F(
        "cme_hours_reported_since_issue",
        ("medical_license_renewal",),
        "Số giờ CME đã báo cáo từ khi cấp",
        "CME hours reported since issue",
        "licensing",
        "hours",
        "sum of the hours on the course certificates recorded since the licence in force was "
        "issued (some courses are never sent in)",
    ),
    F(
        "cme_courses_reported_since_issue",
        ("medical_license_renewal",),
        "Số khóa CME đã báo cáo từ khi cấp",
        "CME courses reported since issue",
        "licensing",
        "count",
        "course certificates recorded since the licence in force was issued",
    ),
    F(
        "cme_hours_projected_at_expiry",
        ("medical_license_renewal",),
        "Số giờ CME dự kiến khi hết hạn",
        "CME hours projected to expiry",
        "licensing",
        "hours",
        "reported hours / months since issue × licence months (from 6 months after issue; "
        "120 required per 5 years)",
    ),
    F(
        "cme_hours_reported_short_of_requirement",
        ("medical_license_renewal",),
        "Số giờ CME còn thiếu theo báo cáo",
        "CME hours short of the requirement, as reported",
        "licensing",
        "hours",
        "120 (the cycle's requirement, legal parameter) minus the reported hours, at least 0",
    ),
    F(
        "refresher_course_done",
        ("tour_guide_card_renewal",),
        "Đã học bồi dưỡng",
        "Refresher course done",
        "tourism",
        "0/1",
        "a course certificate since the card was issued",
    ),
    F(
        "last_review_poor",
        ("poor_household_confirmation",),
        "Hộ nghèo lần rà soát gần nhất",
        "Poor at the last review",
        "welfare",
        "0/1",
        "latest review result is poor",
    ),
    F(
        "last_review_near_poor",
        ("poor_household_confirmation",),
        "Hộ cận nghèo lần rà soát gần nhất",
        "Near-poor at the last review",
        "welfare",
        "0/1",
        "latest review result is near-poor",
    ),
    F(
        "last_income_to_line_ratio",
        ("poor_household_confirmation",),
        "Thu nhập so với chuẩn nghèo",
        "Income relative to the poverty line",
        "welfare",
        "ratio",
        "income per person at the last full survey / the line in force at the next review; "
        "missing when never surveyed in full (most households)",
    ),
    F(
        "income_change_ratio",
        ("poor_household_confirmation",),
        "Thay đổi thu nhập giữa hai lần rà soát",
        "Income change between the last two reviews",
        "welfare",
        "ratio",
        "last / previous full survey; missing without two",
    ),
    F(
        "last_deprivation_count",
        ("poor_household_confirmation",),
        "Số chỉ số thiếu hụt",
        "Deprivations at the last review",
        "welfare",
        "count (0-12)",
        "Decree 07/2021 indicators at the last full survey; missing when never surveyed",
    ),
    F(
        "months_since_last_full_survey",
        ("poor_household_confirmation",),
        "Số tháng từ lần điều tra đầy đủ gần nhất",
        "Months since the last full survey",
        "welfare",
        "months",
        "as-of date minus the last survey with income; missing when none in the last 10 years",
    ),
    F(
        "last_scorecard_points",
        ("poor_household_confirmation",),
        "Điểm phiếu rà soát nhanh gần nhất",
        "Last scorecard points",
        "welfare",
        "points",
        "quick asset / living scorecard at the last review entered; missing when never",
    ),
    F(
        "last_review_entry_applied",
        ("poor_household_confirmation",),
        "Tự đăng ký rà soát lần gần nhất",
        "Applied at the last review",
        "welfare",
        "0/1",
        "entered the last review it took part in by applying",
    ),
    F(
        "last_review_entry_proposed",
        ("poor_household_confirmation",),
        "Được đề xuất rà soát lần gần nhất",
        "Proposed at the last review",
        "welfare",
        "0/1",
        "entered the last review it took part in on the village head's / commune's proposal",
    ),
    F(
        "members_with_conditions_3y",
        ("poor_household_confirmation",),
        "Thành viên có bệnh mãn tính/khuyết tật (3 năm)",
        "Members diagnosed in 3 years",
        "health",
        "people",
        "members with a chronic illness or disability diagnosed in the last 3 years",
    ),
    F(
        "conditions_12m",
        ("poor_household_confirmation",),
        "Chẩn đoán trong 12 tháng",
        "Diagnoses in 12 months",
        "health",
        "count",
        "diagnoses of members in the last 12 months",
    ),
    F(
        "storm_damage_12m",
        ("poor_household_confirmation",),
        "Bị thiệt hại do bão (12 tháng)",
        "Storm damage in 12 months",
        "welfare",
        "0/1",
        "on a commune's storm-damage list for a storm in the last 12 months",
    ),
    F(
        "commune_storm_12m",
        ("poor_household_confirmation",),
        "Xã bị bão (12 tháng)",
        "Commune hit by a storm in 12 months",
        "welfare",
        "0/1",
        "the household's commune (2025 units) listed storm damage in the last 12 months",
    ),
    F(
        "children_under_16",
        ("poor_household_confirmation",),
        "Số trẻ dưới 16 tuổi",
        "Children under 16",
        "registry",
        "people",
        "resident members under 16",
    ),
    F(
        "members_over_60",
        ("poor_household_confirmation",),
        "Số người trên 60 tuổi",
        "Members over 60",
        "registry",
        "people",
        "resident members aged 60 or more",
    ),
    F(
        "months_to_next_review",
        ("poor_household_confirmation",),
        "Số tháng đến kỳ rà soát",
        "Months to the next review",
        "calendar",
        "months",
        "months until the December review",
    ),
    F(
        "active_badges",
        ("transport_business_license",),
        "Số phù hiệu còn hạn",
        "Badges in force",
        "transport",
        "count",
        "badges issued by then and not yet expired",
    ),
    F(
        "days_to_nearest_badge_expiry",
        ("transport_business_license",),
        "Số ngày đến hạn phù hiệu gần nhất",
        "Days to the nearest badge expiry",
        "transport",
        "days",
        "smallest expiry minus as-of date among badges in force",
    ),
    F(
        "badges_expiring_90d",
        ("transport_business_license",),
        "Phù hiệu hết hạn trong 90 ngày",
        "Badges expiring in 90 days",
        "transport",
        "count",
        "badges in force expiring within 90 days",
    ),
    F(
        "months_since_last_badge",
        ("transport_business_license",),
        "Số tháng từ phù hiệu gần nhất",
        "Months since the last badge",
        "transport",
        "months",
        "since the latest badge issue",
    ),
    F(
        "business_age_months",
        ("transport_business_license",),
        "Tuổi doanh nghiệp",
        "Business age",
        "transport",
        "months",
        "since the business licence",
    ),
    F(
        "passenger_vehicles",
        ("transport_business_license",),
        "Số xe khách còn phù hiệu",
        "Passenger vehicles in force",
        "transport",
        "count",
        "vehicles with a badge in force whose register entry says passenger",
    ),
    F(
        "oldest_vehicle_age_years",
        ("transport_business_license",),
        "Tuổi xe cũ nhất",
        "Oldest vehicle's age",
        "transport",
        "years",
        "as-of year minus the earliest year of manufacture among vehicles with a badge in force",
    ),
    F(
        "months_to_nearest_service_life_end",
        ("transport_business_license",),
        "Số tháng đến khi xe đầu tiên hết niên hạn",
        "Months to the nearest end of service life",
        "transport",
        "months",
        "fewest months from the as-of month to the December of year of manufacture + service "
        "life (20 years passenger, 25 freight) among vehicles with a badge in force",
    ),
    F(
        "vehicles_reaching_service_life_in_horizon",
        ("transport_business_license",),
        "Số xe hết niên hạn trong kỳ dự báo",
        "Vehicles reaching their service life in the horizon",
        "transport",
        "count",
        "vehicles with a badge in force whose service life ends within the 3-month horizon",
    ),
    F(
        "renewable_badges_expiring_in_horizon",
        ("transport_business_license",),
        "Số phù hiệu hết hạn có thể gia hạn",
        "Renewable badges expiring in the horizon",
        "transport",
        "count",
        "badges in force expiring within the horizon on vehicles whose service life goes on",
    ),
    F(
        "badges_expired_last_2_months",
        ("transport_business_license",),
        "Số phù hiệu vừa hết hạn (2 tháng)",
        "Badges expired in the last 2 months",
        "transport",
        "count",
        "vehicles whose latest badge expired in the 2 months before the as-of date and whose "
        "service life goes on",
    ),
    F(
        "vehicles_added_24m",
        ("transport_business_license",),
        "Số xe mới trong 24 tháng",
        "Vehicles added in 24 months",
        "transport",
        "count",
        "plates whose first badge was issued in the 24 months before the as-of date",
    ),
    F(
        "owner_age_years",
        ("transport_business_license",),
        "Tuổi chủ doanh nghiệp",
        "Owner's age",
        "registry",
        "years",
        "the owner's age",
    ),
    F(
        "rule_birth_due",
        ("birth_registration",),
        "Quy tắc: sắp sinh/chưa khai sinh",
        "Rule: birth due or unregistered",
        "rules",
        "0/1",
        "needs_model.catalogue.rules.birth_due",
    ),
    F(
        "rule_turns_six",
        ("school_admission",),
        "Quy tắc: tròn 6 tuổi",
        "Rule: turns six",
        "rules",
        "0/1",
        "needs_model.catalogue.rules.turns_six",
    ),
    F(
        "rule_licence_expiring",
        LICENCE_SERVICES,
        "Quy tắc: sắp hết hạn",
        "Rule: expiring",
        "rules",
        "0/1",
        "needs_model.catalogue.rules.licence_expiring",
    ),
    F(
        "rule_income_below_line",
        ("poor_household_confirmation",),
        "Quy tắc: dưới chuẩn nghèo",
        "Rule: income below the line",
        "rules",
        "0/1",
        "needs_model.catalogue.rules.income_below_line",
    ),
    F(
        "rule_badge_expiring",
        ("transport_business_license",),
        "Quy tắc: phù hiệu sắp hết hạn",
        "Rule: badge expiring",
        "rules",
        "0/1",
        "needs_model.catalogue.rules.badge_expiring",
    ),
)


def features_for(service_id: str) -> list[str]:
    """The service's default model inputs."""
    return [f.name for f in FEATURES if service_id in f.services]


def optional_features(service_id: str) -> list[str]:
    """Optional features: the service's tables carry them beside its defaults, for a model
    to take when a data scientist chooses."""
    return [f.name for f in FEATURES if service_id in f.optional_for]


def computed_for(service_id: str) -> list[str]:
    """Every feature column of the service's tables: its defaults, then its optional ones."""
    return [*features_for(service_id), *optional_features(service_id)]


def model_inputs(service_id: str, chosen: Sequence[str] | None = None) -> list[str]:
    """A model's inputs, in the order of the service's tables (`computed_for`): the
    service's defaults, or `chosen` (names the service's tables carry, optional ones
    included; its rule's trigger among them: the rule scorer and the baselines read it).
    Raises ValueError naming what cannot be used."""
    if chosen is None:
        return features_for(service_id)
    available = computed_for(service_id)
    unknown = [name for name in chosen if name not in available]
    if unknown:
        raise ValueError(
            f"{service_id} has no feature {', '.join(unknown)}; its tables carry "
            f"{', '.join(available)}"
        )
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"{service_id}: a feature is named twice in {list(chosen)}")
    trigger = TRIGGERS[service_id].name
    if trigger not in chosen:
        raise ValueError(
            f"{service_id}: the rule's trigger {trigger} must stay among the inputs (the rule "
            "scorer and the rule baseline read it)"
        )
    return [name for name in available if name in chosen]


def render_markdown() -> str:
    lines = [
        "# Features",
        "",
        "Generated by `needs-model features-docs` from `needs_model.catalogue.features`; do "
        "not edit by hand. Every feature is computed only from records whose `recorded_at` "
        "is on or before the as-of date. Ethnicity and religion are never features; they "
        "are kept beside them (`audit_ethnicity`, `audit_religion`) for fairness audits. "
        "An optional feature is computed into the service's tables but is a model input only "
        "when a data scientist chooses it (`TrainConfig.features`, notebook 02).",
        "",
    ]
    for service_id in SERVICE_IDS:
        lines += [
            f"## `{service_id}`",
            "",
            "| feature | Tiếng Việt | English | source | unit | as of t |",
            "|---|---|---|---|---|---|",
        ]
        for f in FEATURES:
            if service_id in f.services or service_id in f.optional_for:
                name = f"`{f.name}`" + (" (optional)" if service_id in f.optional_for else "")
                lines.append(
                    f"| {name} | {f.description_vi} | {f.description_en} | "
                    f"{f.source} | {f.unit} | {f.computed_as_of} |"
                )
        lines.append("")
    return "\n".join(lines)
