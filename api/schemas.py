"""Request and response models. Requests are strict: unknown fields, strings for numbers,
NaN and infinities, out-of-range values and malformed CCCDs are refused with the field named.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from needs_model.catalogue.features import FEATURES, features_for
from needs_model.catalogue.services import SERVICE_IDS, ContactRelation
from needs_model.governance.outcomes import Status
from needs_model.reference import cccd as cccd_rules

API_VERSION = "1.0.0"
NOTICE = {
    "vi": "Điểm số chỉ dùng để chủ động liên hệ người dân; không dùng để từ chối dịch vụ.",
    "en": "A score only orders proactive outreach; it never decides or denies a service.",
}

# Accepted value range per feature unit (inline records): what the definitions allow.
UNIT_RANGES: dict[str, tuple[float, float]] = {
    "years": (0, 130),
    "0/1": (0, 1),
    "people": (0, 100),
    "days": (-36_600, 36_600),
    "count": (0, 1_000),
    "months": (0, 1_200),
    "hours": (0, 10_000),
    "ratio": (0, 1_000),
    "count (0-12)": (0, 12),
    "points": (-1_000, 1_000),  # the review's scorecard: whole points, negative below average
}
FEATURE_RANGES = {f.name: UNIT_RANGES[f.unit] for f in FEATURES}
BINARY = {f.name for f in FEATURES if f.unit == "0/1"}


def _check_cccd(value: str) -> str:
    problem = cccd_rules.explain_invalid(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _check_service(value: str) -> str:
    if value not in SERVICE_IDS:
        raise ValueError(f"unknown service {value!r}; known: {', '.join(SERVICE_IDS)}")
    return value


# Unicode categories refused in free text: controls (NUL, escapes, line breaks), format
# characters (right-to-left overrides, zero-width joiners) that make a logged text read
# differently from what was stored, surrogates, private-use and unassigned code points.
_REFUSED_CATEGORIES = {"Cc": "control", "Cf": "formatting", "Cs": "surrogate", "Co": "private-use"}


def _plain_text(value: str) -> str:
    for position, char in enumerate(value):
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES or category == "Cn":
            kind = _REFUSED_CATEGORIES.get(category, "unassigned")
            raise ValueError(
                f"{kind} character U+{ord(char):04X} at position {position} is not allowed"
            )
    return unicodedata.normalize("NFC", value)


def _check_day(value: str) -> str:
    try:
        day = dt.date.fromisoformat(value)
    except ValueError as error:
        raise ValueError(f"{value!r} is not a calendar date (YYYY-MM-DD)") from error
    if day > dt.date.today() + dt.timedelta(days=1):
        raise ValueError(f"{value} is in the future")
    if day < dt.date(2000, 1, 1):
        raise ValueError(f"{value} is before 2000-01-01")
    return value


# The schema says what is accepted (the OpenAPI document carries the pattern and the enum);
# the validators say why a value is refused.
CCCD = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{12}$", min_length=12, max_length=12),
    AfterValidator(_check_cccd),
]
ServiceId = Annotated[
    str,
    AfterValidator(_check_service),
    WithJsonSchema({"type": "string", "enum": list(SERVICE_IDS)}),
]
PlainText = Annotated[str, AfterValidator(_plain_text)]
Purpose = Annotated[PlainText, Field(min_length=1, max_length=200)]
Day = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
    AfterValidator(_check_day),
]
CommuneCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{5}$")]
Month = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
# Sequence numbers of the audit log: bounded so that no integer reaches the database's limit.
MAX_SEQ = 2**53


STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


def strict_with_examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(**STRICT, json_schema_extra={"examples": list(examples)})


class Strict(BaseModel):
    model_config = STRICT


class FeatureRecord(Strict):
    service_id: ServiceId
    features: dict[str, float | None] = Field(
        description="Feature values by name (docs/features.md); a missing or null feature "
        "is treated as unrecorded, as in the data."
    )
    reference: PlainText | None = Field(default=None, max_length=64)

    @field_validator("features")
    @classmethod
    def _known_and_in_range(
        cls, features: dict[str, float | None], info: ValidationInfo
    ) -> dict[str, float | None]:
        service_id = info.data.get("service_id")
        if service_id is None:  # the service itself was refused; that error is reported
            return features
        allowed = set(features_for(service_id))
        for name, value in features.items():
            if name not in allowed:
                raise ValueError(f"{name!r} is not a feature of {service_id}")
            if value is None:
                continue
            low, high = FEATURE_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f"{name} = {value:g} is outside [{low:g}, {high:g}]")
            if name in BINARY and value not in (0, 1):
                raise ValueError(f"{name} must be 0 or 1")
        return features


class PredictionRequest(Strict):
    cccds: list[CCCD] | None = Field(default=None, description="Citizens to score (CCCD).")
    records: list[FeatureRecord] | None = Field(
        default=None, description="Inline feature records (what-if, or data from elsewhere)."
    )
    services: list[ServiceId] | None = Field(
        default=None, description="Restrict to these services (default: all that apply)."
    )
    purpose: Purpose | None = Field(default=None, description="Why (kept in the audit log).")
    explain: Literal["reasons", "full"] = Field(
        default="reasons", description="`full` adds every contribution (not for planners)."
    )

    @model_validator(mode="after")
    def _one_source(self) -> PredictionRequest:
        if (self.cccds is None) == (self.records is None):
            raise ValueError("give exactly one of `cccds` or `records`")
        if not (self.cccds or self.records):
            raise ValueError("the batch is empty")
        return self

    model_config = strict_with_examples(
        {"cccds": ["049187909209"], "purpose": "monthly outreach list"},
        {
            "records": [
                {
                    "service_id": "tour_guide_card_renewal",
                    "features": {"days_to_expiry": 21, "age_years": 41},
                }
            ]
        },
    )


class Reason(BaseModel):
    feature: str
    text: str
    contribution: float | None = Field(
        description="SHAP value in log-odds (margin) units; null for a sensitive feature "
        "(health, pregnancy) when the caller does outreach."
    )
    direction: Literal["raises", "lowers"] | None = Field(
        description="null for a sensitive feature when the caller does outreach."
    )
    value: float | None = None


class Source(BaseModel):
    table: str
    as_of: str | None


class Prediction(BaseModel):
    prediction_id: str
    service_id: str
    subject_id: str | None
    probability: float = Field(description="Calibrated probability of needing the service.")
    band: Literal["high", "medium", "low"]
    legal_trigger: bool = Field(description="The service's legal rule fires on this subject.")
    horizon_months: int
    reasons: list[Reason]
    margin: float | None = None
    bias: float | None = None
    contributions: dict[str, float] | None = None
    sources: list[Source]
    model_version: str


class PredictionResponse(BaseModel):
    as_of: str
    notice: str
    predictions: list[Prediction]


class OutcomeIn(Strict):
    service_id: ServiceId
    cccd: CCCD | None = None
    subject_id: str | None = Field(default=None, max_length=32, pattern=r"^[0-9A-Za-z_-]+$")
    status: Status
    prediction_id: str | None = Field(
        default=None,
        max_length=64,
        pattern=r"^pr_[0-9]{8}_[0-9A-Za-z.-]{1,16}_[0-9a-f]{24}$",
        description="The id of the prediction this contact followed (as issued by this API).",
    )
    occurred_on: Day | None = Field(default=None, description="YYYY-MM-DD (default today)")
    note: PlainText | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _who(self) -> OutcomeIn:
        if (self.cccd is None) == (self.subject_id is None):
            raise ValueError("give exactly one of `cccd` or `subject_id`")
        return self


class OutcomesRequest(Strict):
    outcomes: list[OutcomeIn] = Field(min_length=1)
    purpose: Purpose | None = None

    model_config = strict_with_examples(
        {
            "outcomes": [
                {"service_id": "birth_registration", "cccd": "049187909209", "status": "notified"}
            ]
        }
    )


class Citizen(BaseModel):
    cccd: str
    full_name: str | None
    commune_code: str | None


class DossierField(BaseModel):
    field: str
    value: str | int | float | bool | None
    flags: list[dict[str, Any]] = Field(
        description="Disagreements between agencies on this record (consistency report)."
    )


class DossierComponent(BaseModel):
    component: str
    name: str
    source: str
    recorded_at: str | None
    prefilled: bool
    supplied_by: str | None
    outside_scope: bool = Field(
        description="The component describes the contact, who lives outside the key's scope: "
        "its values are withheld (a key whose scope covers the contact reads them)."
    )
    fields: list[DossierField]


class Contact(BaseModel):
    cccd: str | None
    full_name: str | None
    relation: ContactRelation | None = Field(
        description="Who the contact is to the subject: the subject itself (`self`), the "
        "subject's `mother` or `father` (alive and resident in the province), the oldest "
        "resident adult of its household (`household_adult`) or its oldest resident "
        "(`household_member`), a business's `owner`; null when nobody is known to contact "
        "(a child with no parent and no adult resident)."
    )
    outside_scope: bool = Field(
        description="The contact lives outside the key's scope: named by relation only."
    )


class Need(Prediction):
    likely: bool
    role: Literal["subject", "contact"] = Field(
        description="The citizen asked for is the need's subject (`subject`), or the person "
        "contacted about someone else's need (`contact`: a parent about a child's grade-1 "
        "admission, a household's adult about the household)."
    )
    contact: Contact
    dossier: list[DossierComponent] | None


class NeedsResponse(BaseModel):
    as_of: str
    notice: str
    citizen: Citizen
    needs: list[Need]
    not_served: list[str]


class Candidate(Prediction):
    rank: int
    contact: Contact
    commune_code: str | None = Field(description="null when no agency recorded one")


class CandidatesResponse(BaseModel):
    as_of: str
    notice: str
    service_id: str
    total: int
    candidates: list[Candidate]
    next_cursor: str | None


class CommuneForecast(BaseModel):
    service_id: str
    commune_code: str = Field(description="A 2025 commune code, or `province`.")
    window_start: str
    window_end: str
    subjects: int
    expected: float
    sd: float
    low: int
    high: int
    level: float
    rule_triggers: int


class ForecastResponse(BaseModel):
    as_of: str
    service_id: str
    method: str
    forecasts: list[CommuneForecast]


class MonitoredService(BaseModel):
    status: Literal["ok", "warn", "retrain"]
    reasons: list[str] = Field(description="Why, in words, with the thresholds behind them.")
    notes: list[str] = Field(
        default_factory=list,
        description="Drift to look at that raised no alarm: features the model leans on "
        "that drifted while its scores stayed put.",
    )
    champion_version: str
    summary: str = Field(description="The run's summary.json, under reports/monitoring/.")
    report: str = Field(description="Evidently's page: GET /v1/monitoring/{service}/report.")


class SourceRows(BaseModel):
    month: int
    reference: int


class SourceVolume(BaseModel):
    rows: str = Field(description='"all rows" or one row type, e.g. "event=emigration"')
    month: int = Field(description="Rows of that kind recorded in the month.")
    reference_low: int = Field(description="The fewest in any of the 12 months before.")
    reference_high: int = Field(description="The most in any of the 12 months before.")


class SourceQuality(BaseModel):
    table: str = Field(description="agency/table of the data contract")
    agency: str
    rows: SourceRows = Field(description="Rows recorded in the month and the 12 months before.")
    judged: bool = Field(description="False when the month had too few rows to judge.")
    findings: list[str]
    volume: list[SourceVolume] = Field(
        default_factory=list,
        description="Rows recorded in the month against the 12 months before (judged on "
        "every month, small ones too: a month without rows is a finding).",
    )


class MonitoringResponse(BaseModel):
    as_of: str
    generated_at: str
    services: dict[str, MonitoredService]
    not_monitored: list[str] = Field(description="Services that could not be, with why.")
    runs: list[str] = Field(description="Every month end monitoring ran on.")
    sources: list[SourceQuality] = Field(
        default_factory=list,
        description="The agencies' tables that month against the 12 months before.",
    )


class MonitoredMonth(BaseModel):
    as_of: str = Field(description="The month end monitored.")
    status: Literal["ok", "warn", "retrain"]
    reasons: list[str] = Field(description="Why, in words, as given on the day.")
    champion_version: str


class MonitoredServiceHistory(BaseModel):
    months: int = Field(description="Month ends this service was monitored on.")
    warn: int = Field(description="Of them, how many were given `warn`.")
    retrain: int = Field(description="Of them, how many were given `retrain`.")
    statuses: list[MonitoredMonth] = Field(description="Oldest first.")


class MonitoringHistory(BaseModel):
    runs: list[str] = Field(description="The month ends monitoring ran on, in the range.")
    services: dict[str, MonitoredServiceHistory]
    unreadable: list[str] = Field(
        default_factory=list,
        description="Runs whose status.json could not be read, each with why; the others "
        "are listed.",
    )


class Document(BaseModel):
    component: str
    name_vi: str
    name_en: str
    source: str
    fields: list[str]


class ServiceInfo(BaseModel):
    service_id: str
    name_vi: str
    name_en: str
    subject: str
    horizon_months: int
    label: str
    legal_basis: str
    documents: list[Document]
    features: list[str]
    model_version: str | None
    scorer: Literal["rule", "additive", "pooled", "gbm"] | None = Field(
        description="What the served model is: the legal rule's calibrated rate (rule), "
        "boosted stumps (additive), gradient-boosted trees trained with the other services of "
        "its pool (pooled: the three practice renewals) or on its own rows (gbm); null when "
        "not served."
    )


class ServicesResponse(BaseModel):
    services: list[ServiceInfo]


class Health(BaseModel):
    status: Literal["ok", "no_scores"]
    api_version: str
    data_as_of: str | None
    models: dict[str, str]
    scorers: dict[str, str]
    not_served: dict[str, str]


class OutcomesRecorded(BaseModel):
    recorded: list[str]


class TakeUp(BaseModel):
    service_id: str
    commune_code: str | None
    notified: int
    completed: int
    declined: int
    wrong_data: int
    take_up: float | None


class OutcomesSummary(BaseModel):
    summary: list[TakeUp]


class AuditEntry(BaseModel):
    seq: int
    at: str
    key_id: str
    role: str
    action: str
    route: str
    purpose: str | None
    subjects: list[str]
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditLogResponse(BaseModel):
    head: int = Field(description="The newest entry when this page was asked for.")
    until: int = Field(description="Pages stop at this entry: pass it back with `after`.")
    entries: list[AuditEntry]
    next_after: int | None = Field(description="`after` for the next page; null at the end.")


class Access(BaseModel):
    seq: int
    at: str
    key_id: str
    role: str
    action: str
    purpose: str | None


class AccessLogResponse(BaseModel):
    cccd: str
    total: int = Field(description="Entries naming this citizen when the page was asked for.")
    accesses: list[Access] = Field(description="Newest first.")
    next_before: int | None = Field(description="`before` for the next (older) page.")


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "The body could not be read"),
        (401, "Missing, unknown, revoked or expired API key"),
        (403, "The key's role or scope may not use this route or value"),
        (404, "Unknown, or outside the key's scope"),
        (405, "Method not allowed (`Allow` lists the allowed ones)"),
        (409, "No model is served for this service"),
        (413, "Body or batch too large"),
        (422, "Invalid request; `field` names the problem"),
        (429, "Request budget or daily personal-data quota used up (see `Retry-After`)"),
        (503, "No scored snapshot is loaded"),
    )
}
