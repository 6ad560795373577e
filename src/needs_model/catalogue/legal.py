"""Legal durations and thresholds as dated parameters, each with its source.

Rules, the twin and (later) the models read legal facts from here, never from literals:
a new poverty standard or a new decree is a new dated entry, not a code change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Certainty = Literal["verified", "secondary", "uncertain"]


@dataclass(frozen=True)
class LegalParameter:
    """One legal value valid on [valid_from, valid_to)."""

    name: str
    value: float
    unit: str
    valid_from: dt.date
    valid_to: dt.date | None
    source: str
    certainty: Certainty
    # When the value became public; None: not before it took effect. A stage computing a
    # value for a later date (e.g. the poverty line at the next review) sees an entry only
    # once it is announced (`legal_parameter(..., known_on=as_of)`).
    announced_on: dt.date | None = None

    def is_valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)

    @property
    def known_from(self) -> dt.date:
        return self.announced_on or self.valid_from


_EPOCH = dt.date(1900, 1, 1)

LEGAL_PARAMETERS: tuple[LegalParameter, ...] = (
    LegalParameter(
        "birth_registration_deadline_days",
        60,
        "days",
        _EPOCH,
        None,
        "Law on Civil Status 2014, art. 15",
        "verified",
    ),
    LegalParameter(
        "grade1_entry_age_years",
        6,
        "years (calendar year)",
        _EPOCH,
        None,
        "Education Law 2019, art. 28(1)(a)",
        "verified",
    ),
    LegalParameter(
        "grade1_max_delay_years",
        3,
        "years",
        _EPOCH,
        None,
        "Circular 28/2020/TT-BGDĐT, art. 33",
        "verified",
    ),
    LegalParameter(
        "medical_license_validity_years",
        5,
        "years",
        _EPOCH,
        dt.date(2024, 1, 1),
        "Law 40/2009 certificates had no expiry; the transition to Law 15/2023 is modelled as "
        "5-year validity (FACTS.md [U])",
        "uncertain",
    ),
    LegalParameter(
        "medical_cme_hours_per_cycle",
        120,
        "hours per 5-year cycle",
        _EPOCH,
        dt.date(2024, 1, 1),
        "Circular 22/2013/TT-BYT (24 hours a year)",
        "uncertain",
    ),
    LegalParameter(
        "medical_license_validity_years",
        5,
        "years",
        dt.date(2024, 1, 1),
        None,
        "Law 15/2023/QH15 on Medical Examination and Treatment, art. 27(2)",
        "secondary",
    ),
    LegalParameter(
        "medical_cme_hours_per_cycle",
        120,
        "hours per 5-year cycle",
        dt.date(2024, 1, 1),
        None,
        "Circular 32/2023/TT-BYT",
        "secondary",
    ),
    LegalParameter(
        "tour_guide_card_validity_years",
        5,
        "years",
        _EPOCH,
        None,
        "Law on Tourism 2017, arts. 58-59 (validity treated as a parameter)",
        "uncertain",
    ),
    LegalParameter(
        "veterinary_certificate_validity_years",
        5,
        "years",
        _EPOCH,
        None,
        "Law on Veterinary Medicine 2015, art. 109",
        "secondary",
    ),
    LegalParameter(
        "vehicle_badge_max_validity_years",
        7,
        "years",
        dt.date(2020, 4, 1),
        dt.date(2025, 1, 1),
        "Decree 10/2020/ND-CP, art. 22",
        "secondary",
    ),
    LegalParameter(
        "vehicle_badge_max_validity_years",
        7,
        "years",
        dt.date(2025, 1, 1),
        None,
        "Decree 158/2024/ND-CP (replaces Decree 10/2020 from 2025-01-01)",
        "uncertain",
    ),
    LegalParameter(
        "vehicle_service_life_passenger_years",
        20,
        "years from the year of manufacture",
        _EPOCH,
        None,
        "Decree 10/2020/ND-CP (service life of passenger vehicles; Decree 95/2009/ND-CP)",
        "uncertain",
    ),
    LegalParameter(
        "vehicle_service_life_freight_years",
        25,
        "years from the year of manufacture",
        _EPOCH,
        None,
        "Decree 10/2020/ND-CP (service life of freight vehicles; Decree 95/2009/ND-CP)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_line_rural_vnd",
        1_500_000,
        "VND per person per month",
        dt.date(2021, 3, 15),
        dt.date(2027, 1, 1),
        "Decree 07/2021/ND-CP (in force 2021-03-15; used from the end-2021 review for 2022-2025; "
        "reportedly kept for 2026)",
        "verified",
    ),
    LegalParameter(
        "poverty_income_line_urban_vnd",
        2_000_000,
        "VND per person per month",
        dt.date(2021, 3, 15),
        dt.date(2027, 1, 1),
        "Decree 07/2021/ND-CP (standard 2022-2025; reportedly kept for 2026)",
        "verified",
    ),
    # Decision 09/2011 (2011-2015) measured income only: at or under the lower line poor, up
    # to the upper one near-poor; no deprivation criterion (no `poverty_min_deprivations_
    # for_poor` in force: the twin then counts income alone).
    LegalParameter(
        "poverty_income_line_rural_vnd",
        520_000,
        "VND per person per month",
        dt.date(2011, 1, 1),
        dt.date(2016, 1, 1),
        "Decision 09/2011/QD-TTg (2011-2015; near-poor line; the amounts are not checked "
        "against the text)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_line_urban_vnd",
        650_000,
        "VND per person per month",
        dt.date(2011, 1, 1),
        dt.date(2016, 1, 1),
        "Decision 09/2011/QD-TTg (2011-2015; near-poor line)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_floor_rural_vnd",
        400_000,
        "VND per person per month (poor)",
        dt.date(2011, 1, 1),
        dt.date(2016, 1, 1),
        "Decision 09/2011/QD-TTg (2011-2015; poverty line)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_floor_urban_vnd",
        500_000,
        "VND per person per month (poor)",
        dt.date(2011, 1, 1),
        dt.date(2016, 1, 1),
        "Decision 09/2011/QD-TTg (2011-2015; poverty line)",
        "uncertain",
    ),
    # Decision 59/2015 had two income lines: at or under the lower one a household is poor
    # whatever its deprivations; between the two it is poor with >= 3 deprivations, else
    # near-poor. The upper one is the line of the lists (poor or near-poor at or under it).
    LegalParameter(
        "poverty_income_line_rural_vnd",
        1_000_000,
        "VND per person per month",
        dt.date(2016, 1, 1),
        dt.date(2021, 3, 15),
        "Decision 59/2015/QD-TTg (2016-2020; in force 2016-01-05, applied from 2016-01-01; "
        "its 10 indicators: hoidapphapluat.co; the amounts are not checked against the text)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_line_urban_vnd",
        1_300_000,
        "VND per person per month",
        dt.date(2016, 1, 1),
        dt.date(2021, 3, 15),
        "Decision 59/2015/QD-TTg (2016-2020)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_floor_rural_vnd",
        700_000,
        "VND per person per month (poor whatever the deprivations)",
        dt.date(2016, 1, 1),
        dt.date(2021, 3, 15),
        "Decision 59/2015/QD-TTg (2016-2020)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_floor_urban_vnd",
        900_000,
        "VND per person per month (poor whatever the deprivations)",
        dt.date(2016, 1, 1),
        dt.date(2021, 3, 15),
        "Decision 59/2015/QD-TTg (2016-2020)",
        "uncertain",
    ),
    LegalParameter(
        "poverty_income_line_rural_vnd",
        2_200_000,
        "VND per person per month",
        dt.date(2027, 1, 1),
        None,
        "National multidimensional poverty standard 2026-2030 (FACTS.md: huengaynay.vn); the "
        "announcement date is an assumption [U]: reported by the end of 2025",
        "uncertain",
        announced_on=dt.date(2025, 12, 31),
    ),
    LegalParameter(
        "poverty_income_line_urban_vnd",
        2_800_000,
        "VND per person per month",
        dt.date(2027, 1, 1),
        None,
        "National multidimensional poverty standard 2026-2030 (FACTS.md: huengaynay.vn); the "
        "announcement date is an assumption [U]: reported by the end of 2025",
        "uncertain",
        announced_on=dt.date(2025, 12, 31),
    ),
    LegalParameter(
        "licence_renewal_window_days",
        180,
        "days before expiry",
        _EPOCH,
        None,
        "Operational: practitioners are reminded from 6 months before expiry (renewal files "
        "are due before expiry under Law 15/2023, art. 30; the window is the province's choice)",
        "uncertain",
    ),
    LegalParameter(
        "licence_grace_days",
        90,
        "days after expiry",
        _EPOCH,
        None,
        "Operational: a lapsed licence is still followed up for 90 days",
        "uncertain",
    ),
    LegalParameter(
        "vehicle_badge_renewal_window_days",
        90,
        "days before expiry",
        dt.date(2020, 4, 1),
        None,
        "Operational: Decree 10/2020 / 158/2024 badges are re-issued before expiry",
        "uncertain",
    ),
    LegalParameter(
        "poverty_min_deprivations_for_poor",
        3,
        "deprivations out of 12",
        dt.date(2021, 3, 15),
        None,
        "Decree 07/2021/ND-CP",
        "secondary",
    ),
    LegalParameter(
        "poverty_min_deprivations_for_poor",
        3,
        "deprivations out of 10 (the twin counts its 12: the 2021 set, which replaced "
        "access to health services with employment, dependants and nutrition) [U]",
        dt.date(2016, 1, 1),
        dt.date(2021, 3, 15),
        "Decision 59/2015/QD-TTg (between the two income lines)",
        "secondary",
    ),
)


class UnknownLegalParameterError(LookupError):
    """No entry of that name is valid on the requested date."""


def legal_parameter(name: str, on: dt.date, known_on: dt.date | None = None) -> LegalParameter:
    """The entry of `name` in force on day `on`; with `known_on`, as it could be known that
    day: an entry announced later is not seen, and the one in force on `known_on` is taken
    to continue (what a planner would assume)."""
    entry = _in_force(name, on)
    if known_on is None or entry.known_from <= known_on:
        return entry
    return _in_force(name, known_on)


def _in_force(name: str, on: dt.date) -> LegalParameter:
    for parameter in LEGAL_PARAMETERS:
        if parameter.name == name and parameter.is_valid_on(on):
            return parameter
    raise UnknownLegalParameterError(f"no legal parameter {name!r} is in force on {on}")


def legal_value(name: str, on: dt.date, known_on: dt.date | None = None) -> float:
    """The value of `name` in force on day `on` (as known on `known_on`, if given)."""
    return legal_parameter(name, on, known_on).value


def legal_value_or(name: str, on: dt.date, absent: float) -> float:
    """The value of `name` in force on day `on`, or `absent` when the law of that day has
    no such rule (the poverty floor before 2011 and after 2020, a deprivation count before
    2016)."""
    try:
        return legal_value(name, on)
    except UnknownLegalParameterError:
        return absent
