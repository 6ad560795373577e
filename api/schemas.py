"""Request and response models. Requests are strict: unknown fields, strings for numbers,
NaN and infinities, out-of-range values and malformed CCCDs are refused with the field named.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from needs_model import cccd as cccd_rules
from needs_model.feature_catalogue import FEATURES, features_for
from needs_model.outcomes import Status
from needs_model.services import SERVICE_IDS

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


CCCD = Annotated[str, AfterValidator(_check_cccd)]
ServiceId = Annotated[str, AfterValidator(_check_service)]
Purpose = Annotated[str, Field(min_length=1, max_length=200)]


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
    reference: str | None = Field(default=None, max_length=64)

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
    contribution: float = Field(description="SHAP value in log-odds (margin) units.")
    direction: Literal["raises", "lowers"]
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
    subject_id: str | None = Field(default=None, max_length=32)
    status: Status
    prediction_id: str | None = Field(default=None, max_length=64)
    occurred_on: str | None = Field(
        default=None, pattern=r"^\d{4}-\d{2}-\d{2}$", description="YYYY-MM-DD (default today)"
    )
    note: str | None = Field(default=None, max_length=500)

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


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None


class ErrorResponse(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (401, "Missing or unknown API key"),
        (403, "The key's role may not use this route"),
        (404, "Unknown, or outside the key's scope"),
        (413, "Body or batch too large"),
        (422, "Invalid request; `field` names the problem"),
    )
}
