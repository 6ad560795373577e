"""What each service's pre-filled dossier holds: its components, declared once per service.

A component names the agency table it is filled from (`source`; "citizen" when no agency
holds it), its labels, its fields, which of the subject's keys finds its record (`key`:
the person to contact, the subject itself, or the household) and the `reader` that fills
it (`scoring.prefill.READERS`; None when no agency holds it: the dossier then lists it
empty and says who supplies it). Adding a service means declaring its dossier here; a new
kind of record also needs its reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from needs_model.catalogue.services import LICENCES

Key = Literal["contact", "subject", "household"]


@dataclass(frozen=True)
class Component:
    name: str
    source: str  # agency/table, or "citizen" when no agency holds it
    label_vi: str
    label_en: str
    fields: tuple[str, ...]
    reader: str | None = None  # a key of scoring.prefill.READERS
    key: Key = "contact"
    of_service: str | None = None  # for a record of an earlier service: which service


IDENTITY = ("full_name", "cccd", "birth_date")


def _person(
    name: str, label_vi: str, label_en: str, fields: tuple[str, ...] = IDENTITY
) -> Component:
    """The person to contact, from the population register."""
    return Component(name, "registry/people", label_vi, label_en, fields, "identity", "contact")


RESIDENCE = Component(
    "residence",
    "registry/households",
    "Nơi cư trú",
    "Residence",
    ("household_id", "commune_code", "commune_name"),
    "residence",
    "household",
)

DOSSIERS: dict[str, tuple[Component, ...]] = {
    "birth_registration": (
        _person("mother", "Người mẹ", "Mother"),
        Component(
            "birth_certificate",
            "health/births",
            "Giấy chứng sinh",
            "Facility birth certificate",
            ("birth_certificate_no", "child_birth_date", "child_sex"),
            "facility_birth",
            "subject",
        ),
        Component("father", "citizen", "Người cha", "Father", ("full_name", "cccd")),
        RESIDENCE,
    ),
    "school_admission": (
        Component(
            "child",
            "registry/people",
            "Trẻ",
            "Child",
            (*IDENTITY, "sex"),
            "identity",
            "subject",
        ),
        # Whom the school contacts (services.Service.contact): the mother, else the father,
        # alive and resident in the province; else an adult of the child's household.
        Component(
            "parent",
            "registry/people",
            "Cha, mẹ hoặc người lớn trong hộ (người liên hệ)",
            "Parent, or an adult of the household (the contact)",
            (*IDENTITY, "relation"),
            "contact_person",
        ),
        Component(
            "birth_registration",
            "services/transactions",
            "Đăng ký khai sinh",
            "Birth registration",
            ("registered_on", "mother_cccd", "mother_full_name"),
            "registration_of_child",
            "subject",
            of_service="birth_registration",
        ),
        RESIDENCE,
    ),
    **{
        service_id: (
            _person("holder", "Người hành nghề", "Holder"),
            Component(
                "licence",
                licence.table,
                "Giấy phép hiện hành",
                "Licence in force",
                ("number", "issue_date", "expiry_date"),
                "licence_in_force",
                "subject",
            ),
            RESIDENCE,
        )
        for service_id, licence in LICENCES.items()
    },
    "poor_household_confirmation": (
        _person("contact", "Người liên hệ", "Contact"),
        Component(
            "household",
            "registry/households",
            "Hộ gia đình",
            "Household",
            ("household_id", "area_type", "members"),
            "household",
            "subject",
        ),
        Component(
            "last_review",
            "welfare/household_surveys",
            "Kỳ rà soát gần nhất",
            "Last review",
            ("survey_year", "per_capita_income_vnd", "deprivation_count", "review_result"),
            "last_review",
            "subject",
        ),
        RESIDENCE,
    ),
    "transport_business_license": (
        _person("owner", "Chủ doanh nghiệp", "Owner"),
        Component(
            "business",
            "transport/businesses",
            "Doanh nghiệp vận tải",
            "Transport business",
            ("business_id", "licensed_on"),
            "business",
            "subject",
        ),
        Component(
            "next_badge",
            "transport/vehicle_badges",
            "Phù hiệu sắp hết hạn",
            "Next badge to expire",
            ("badge_no", "plate_no", "vehicle_type", "expiry_date"),
            "next_badge",
            "subject",
        ),
        RESIDENCE,
    ),
}
