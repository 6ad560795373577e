"""Pre-filled dossiers: every document component the state already holds (once-only).

For each likely subject the batch scorer writes one wide row per service: for every
component of `DOSSIERS[service]`, its fields (`<component>.<field>`), the record it came
from (`<component>.record_id`) and when that record was written (`<component>.recorded_at`).
The API turns a row into components and attaches the consistency-report flags raised on
the record or the person, so an official sees which prefilled value to double-check.

A component no agency holds (e.g. the father of a child: no register links him) is listed
with no value and says who supplies it, so the dossier is honest about what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from needs_model.features.build import (
    LICENCE_TABLES,
    licences_in_force,
    residents,
    unregistered_births,
)
from needs_model.linking.profiles import Profiles


@dataclass(frozen=True)
class Component:
    name: str
    source: str  # agency/table, or "citizen" when no agency holds it
    label_vi: str
    label_en: str
    fields: tuple[str, ...]


IDENTITY = ("full_name", "cccd", "birth_date")
RESIDENCE = Component(
    "residence",
    "registry/households",
    "Nơi cư trú",
    "Residence",
    ("household_id", "commune_code", "commune_name"),
)

DOSSIERS: dict[str, tuple[Component, ...]] = {
    "birth_registration": (
        Component("mother", "registry/people", "Người mẹ", "Mother", IDENTITY),
        Component(
            "birth_certificate",
            "health/births",
            "Giấy chứng sinh",
            "Facility birth certificate",
            ("birth_certificate_no", "child_birth_date", "child_sex"),
        ),
        Component("father", "citizen", "Người cha", "Father", ("full_name", "cccd")),
        RESIDENCE,
    ),
    "school_admission": (
        Component("child", "registry/people", "Trẻ", "Child", (*IDENTITY, "sex")),
        Component(
            "birth_registration",
            "services/transactions",
            "Đăng ký khai sinh",
            "Birth registration",
            ("registered_on", "mother_cccd", "mother_full_name"),
        ),
        RESIDENCE,
    ),
    **{
        service_id: (
            Component("holder", "registry/people", "Người hành nghề", "Holder", IDENTITY),
            Component(
                "licence",
                table,
                "Giấy phép hiện hành",
                "Licence in force",
                ("number", "issue_date", "expiry_date"),
            ),
            RESIDENCE,
        )
        for service_id, table in LICENCE_TABLES.items()
    },
    "poor_household_confirmation": (
        Component("contact", "registry/people", "Người liên hệ", "Contact", IDENTITY),
        Component(
            "household",
            "registry/households",
            "Hộ gia đình",
            "Household",
            ("household_id", "area_type", "members"),
        ),
        Component(
            "last_review",
            "welfare/household_surveys",
            "Kỳ rà soát gần nhất",
            "Last review",
            ("survey_year", "per_capita_income_vnd", "deprivation_count", "review_result"),
        ),
        RESIDENCE,
    ),
    "transport_business_license": (
        Component("owner", "registry/people", "Chủ doanh nghiệp", "Owner", IDENTITY),
        Component(
            "business",
            "transport/businesses",
            "Doanh nghiệp vận tải",
            "Transport business",
            ("business_id", "licensed_on"),
        ),
        Component(
            "next_badge",
            "transport/vehicle_badges",
            "Phù hiệu sắp hết hạn",
            "Next badge to expire",
            ("badge_no", "plate_no", "vehicle_type", "expiry_date"),
        ),
        RESIDENCE,
    ),
}
LICENCE_NUMBER = {
    "licensing/medical_licenses": "license_no",
    "tourism/guide_cards": "card_no",
    "agriculture/vet_certificates": "certificate_no",
}


def _identity(p: Profiles, cccds: pd.Series, component: str) -> pd.DataFrame:
    people = p.people.set_index("cccd")
    out = pd.DataFrame(index=cccds.index)
    for name in ("full_name", "birth_date", "sex"):
        out[f"{component}.{name}"] = cccds.map(people[name])
    out[f"{component}.cccd"] = cccds
    out[f"{component}.record_id"] = cccds.map(people["record_id"])
    out[f"{component}.recorded_at"] = cccds.map(people["recorded_at"])
    return out


def _residence(p: Profiles, household_ids: pd.Series, commune_names: pd.Series) -> pd.DataFrame:
    book = p.households.set_index("household_id")
    out = pd.DataFrame(index=household_ids.index)
    out["residence.household_id"] = household_ids
    out["residence.commune_code"] = household_ids.map(book["commune_key"])
    out["residence.commune_name"] = out["residence.commune_code"].map(commune_names)
    out["residence.record_id"] = household_ids.map(book["record_id"])
    out["residence.recorded_at"] = household_ids.map(book["recorded_at"])
    return out


def _latest_by(frame: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    return frame.sort_values(order).groupby(key).tail(1).set_index(key)


def _birth_certificate(p: Profiles, mothers: pd.Series) -> pd.DataFrame:
    births = unregistered_births(p)
    latest = _latest_by(births, "linked_cccd", ["child_birth_date", "recorded_at"])
    out = pd.DataFrame(index=mothers.index)
    for name in (
        "birth_certificate_no",
        "child_birth_date",
        "child_sex",
        "record_id",
        "recorded_at",
    ):
        out[f"birth_certificate.{name}"] = mothers.map(latest[name])
    return out


def _birth_registration_of_child(p: Profiles, children: pd.Series) -> pd.DataFrame:
    tx = p.transactions[p.transactions["service_id"] == "birth_registration"].dropna(
        subset=["child_cccd"]
    )
    by_child = _latest_by(tx, "child_cccd", ["delivered_on"])
    people = p.people.set_index("cccd")
    out = pd.DataFrame(index=children.index)
    out["birth_registration.registered_on"] = children.map(by_child["delivered_on"])
    mother = children.map(by_child["subject_cccd"])
    out["birth_registration.mother_cccd"] = mother
    out["birth_registration.mother_full_name"] = mother.map(people["full_name"])
    out["birth_registration.record_id"] = children.map(by_child["transaction_id"])
    out["birth_registration.recorded_at"] = children.map(by_child["recorded_at"])
    return out


def _licence(p: Profiles, service_id: str, holders: pd.Series) -> pd.DataFrame:
    latest = licences_in_force(p, service_id).set_index("linked_cccd")
    out = pd.DataFrame(index=holders.index)
    out["licence.number"] = holders.map(latest[LICENCE_NUMBER[LICENCE_TABLES[service_id]]])
    for name in ("issue_date", "expiry_date", "record_id", "recorded_at"):
        out[f"licence.{name}"] = holders.map(latest[name])
    return out


def household_contacts(p: Profiles) -> pd.Series:
    """household_id -> the CCCD to contact: its oldest resident adult (the household book
    does not name a head), else its oldest resident."""
    people = residents(p)
    ranked = people.sort_values(["birth_date", "cccd"])
    adults = ranked[ranked["age_years"] >= 18].groupby("household_id")["cccd"].first()
    anyone = ranked.groupby("household_id")["cccd"].first()
    return adults.combine_first(anyone)


def business_owners(p: Profiles) -> pd.Series:
    """business_id -> the owner's CCCD as linked to the registry."""
    rows = p.records["transport/businesses"].dropna(subset=["linked_cccd"])
    return _latest_by(rows, "business_id", ["event_date", "recorded_at"])["linked_cccd"]


def _household(p: Profiles, household_ids: pd.Series) -> pd.DataFrame:
    book = p.households.set_index("household_id")
    size = residents(p).groupby("household_id").size()
    surveys = _latest_by(p.surveys, "household_id", ["survey_year", "recorded_at"])
    out = pd.DataFrame(index=household_ids.index)
    out["household.household_id"] = household_ids
    out["household.area_type"] = household_ids.map(book["area_type"])
    out["household.members"] = household_ids.map(size)
    out["household.record_id"] = household_ids.map(book["record_id"])
    out["household.recorded_at"] = household_ids.map(book["recorded_at"])
    for name in (
        "survey_year",
        "per_capita_income_vnd",
        "deprivation_count",
        "review_result",
        "record_id",
        "recorded_at",
    ):
        out[f"last_review.{name}"] = household_ids.map(surveys[name])
    return out


def _business(p: Profiles, business_ids: pd.Series) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    rows = p.records["transport/businesses"]
    licensed = rows[rows["event"] == "licensed"].sort_values("event_date")
    first = licensed.groupby("business_id").head(1).set_index("business_id")
    badges = p.badges.sort_values(["issue_date", "recorded_at"]).groupby("plate_no").tail(1)
    in_force = badges[(badges["issue_date"] <= as_of) & (badges["expiry_date"] >= as_of)]
    nearest = (
        in_force.sort_values(["expiry_date", "badge_no"]).groupby("business_id").head(1)
    ).set_index("business_id")
    out = pd.DataFrame(index=business_ids.index)
    out["business.business_id"] = business_ids
    out["business.licensed_on"] = business_ids.map(first["event_date"])
    out["business.record_id"] = business_ids.map(first["record_id"])
    out["business.recorded_at"] = business_ids.map(first["recorded_at"])
    for name in ("badge_no", "plate_no", "vehicle_type", "expiry_date", "record_id", "recorded_at"):
        out[f"next_badge.{name}"] = business_ids.map(nearest[name])
    return out


def build_dossiers(
    p: Profiles, service_id: str, subjects: pd.DataFrame, commune_names: pd.Series
) -> pd.DataFrame:
    """One wide row per subject (`subjects` has subject_id, contact_cccd, household_id)."""
    subject = subjects["subject_id"]
    contact = subjects["contact_cccd"]
    parts: list[pd.DataFrame] = [subjects[["subject_id"]]]
    if service_id == "birth_registration":
        parts += [_identity(p, contact, "mother"), _birth_certificate(p, contact)]
    elif service_id == "school_admission":
        parts += [_identity(p, contact, "child"), _birth_registration_of_child(p, contact)]
    elif service_id in LICENCE_TABLES:
        parts += [_identity(p, contact, "holder"), _licence(p, service_id, contact)]
    elif service_id == "poor_household_confirmation":
        parts += [_identity(p, contact, "contact"), _household(p, subject)]
    elif service_id == "transport_business_license":
        parts += [_identity(p, contact, "owner"), _business(p, subject)]
    else:
        raise KeyError(f"no dossier is declared for {service_id!r}")
    parts.append(_residence(p, subjects["household_id"], commune_names))
    out = pd.concat(parts, axis=1)
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)
