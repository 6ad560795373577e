"""Rules as code: each pilot service's legal trigger on the as-of date.

A trigger is a legal or administrative fact (a licence expires within its renewal window, a
child turns 6 in the year of the next admission round), computed from the profile with
dated parameters from `needs_model.catalogue.legal`. Triggers are the rule baseline the models must
beat, and features the models may use. Each carries its legal basis and the versions of
the parameters it used.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from needs_model.catalogue.legal import legal_parameter


@dataclass(frozen=True)
class Trigger:
    service_id: str
    name: str
    description_vi: str
    description_en: str
    legal_basis: str
    parameters: tuple[str, ...]

    def parameter_versions(self, on: dt.date) -> dict[str, str]:
        """{parameter: "value (source, valid from)"} in force on `on`."""
        out = {}
        for name in self.parameters:
            p = legal_parameter(name, on)
            out[name] = f"{p.value:g} {p.unit} ({p.source}; from {p.valid_from})"
        return out


TRIGGERS: dict[str, Trigger] = {
    t.service_id: t
    for t in (
        Trigger(
            "birth_registration",
            "rule_birth_due",
            "Có hồ sơ khám thai với ngày dự sinh trong kỳ, "
            "hoặc sinh tại cơ sở y tế chưa đăng ký khai sinh",
            "An antenatal due date falls in the horizon, or a facility birth is not yet registered",
            "Law on Civil Status 2014, art. 15 (register within 60 days)",
            ("birth_registration_deadline_days",),
        ),
        Trigger(
            "school_admission",
            "rule_turns_six",
            "Trẻ tròn 6 tuổi trong năm tuyển sinh lớp 1 tới",
            "The child turns 6 in the calendar year of the next grade-1 admission round",
            "Education Law 2019, art. 28(1)(a)",
            ("grade1_entry_age_years",),
        ),
        Trigger(
            "medical_license_renewal",
            "rule_licence_expiring",
            "Giấy phép hành nghề hết hạn trong thời gian nhắc gia hạn",
            "The practice licence expires within the renewal window",
            "Law 15/2023/QH15, art. 27(2) (valid 5 years)",
            ("licence_renewal_window_days", "licence_grace_days"),
        ),
        Trigger(
            "tour_guide_card_renewal",
            "rule_licence_expiring",
            "Thẻ hướng dẫn viên hết hạn trong thời gian nhắc gia hạn",
            "The tour-guide card expires within the renewal window",
            "Law on Tourism 2017, art. 58",
            ("licence_renewal_window_days", "licence_grace_days"),
        ),
        Trigger(
            "veterinary_certificate_renewal",
            "rule_licence_expiring",
            "Chứng chỉ hành nghề thú y hết hạn trong thời gian nhắc gia hạn",
            "The veterinary certificate expires within the renewal window",
            "Law on Veterinary Medicine 2015, art. 109",
            ("licence_renewal_window_days", "licence_grace_days"),
        ),
        Trigger(
            "poor_household_confirmation",
            "rule_income_below_line",
            "Thu nhập bình quân đầu người lần rà soát gần nhất không vượt chuẩn nghèo",
            "Income per person at the last review is at or below the poverty line",
            "Decree 07/2021/ND-CP",
            ("poverty_income_line_rural_vnd", "poverty_income_line_urban_vnd"),
        ),
        Trigger(
            "transport_business_license",
            "rule_badge_expiring",
            "Có phù hiệu xe hết hạn trong thời gian nhắc",
            "A vehicle badge expires within the renewal window",
            "Decree 10/2020/ND-CP art. 22; Decree 158/2024/ND-CP",
            ("vehicle_badge_renewal_window_days",),
        ),
    )
}


def birth_due(
    days_to_due: pd.Series,
    days_since_unregistered_birth: pd.Series,
    horizon_days: int,
    as_of: dt.date,
) -> pd.Series:
    deadline = legal_parameter("birth_registration_deadline_days", as_of).value
    due = days_to_due.between(-deadline, horizon_days)
    unregistered = days_since_unregistered_birth.notna()
    return (due.fillna(False) | unregistered).astype(bool)


def turns_six(age_in_years_at_next_round: pd.Series, as_of: dt.date) -> pd.Series:
    entry_age = legal_parameter("grade1_entry_age_years", as_of).value
    return (age_in_years_at_next_round == entry_age).fillna(False).astype(bool)


def licence_expiring(days_to_expiry: pd.Series, as_of: dt.date) -> pd.Series:
    window = legal_parameter("licence_renewal_window_days", as_of).value
    grace = legal_parameter("licence_grace_days", as_of).value
    return days_to_expiry.between(-grace, window).fillna(False).astype(bool)


def income_line_vnd(is_urban: pd.Series, on: dt.date, known_on: dt.date) -> pd.Series:
    """The income line that will apply on `on`, as announced by `known_on`."""
    rural = legal_parameter("poverty_income_line_rural_vnd", on, known_on).value
    urban = legal_parameter("poverty_income_line_urban_vnd", on, known_on).value
    return pd.Series(np.where(is_urban.to_numpy(dtype=bool), urban, rural), index=is_urban.index)


def income_below_line(last_income_to_line_ratio: pd.Series) -> pd.Series:
    return (last_income_to_line_ratio <= 1.0).fillna(False).astype(bool)


def badge_expiring(days_to_nearest_badge_expiry: pd.Series, as_of: dt.date) -> pd.Series:
    window = legal_parameter("vehicle_badge_renewal_window_days", as_of).value
    return (days_to_nearest_badge_expiry <= window).fillna(False).astype(bool)
