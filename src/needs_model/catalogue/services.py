"""The catalogue of pilot services (DESIGN.md): data, not code.

A service is one declarative entry; the twin, features, training and serving iterate over
the catalogue. Horizons are in whole months because snapshots are month ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SubjectKind = Literal["person", "household", "business"]
# Who a planner contacts about a subject (`scoring.contacts` resolves them on the profiles):
#   self              the subject (a person)
#   mother, father    the subject's parent in the population register, when alive and
#                     resident in the province on the as-of date
#   household_adult   the oldest resident adult of the subject's household (the household
#                     book names no head)
#   household_member  the oldest resident of the subject's household, adult or not
#   owner             the owner of the subject business, as linked to the register
ContactRelation = Literal[
    "self", "mother", "father", "household_adult", "household_member", "owner"
]
# The relations each kind of subject can have.
CONTACT_RELATIONS: dict[SubjectKind, frozenset[ContactRelation]] = {
    "person": frozenset({"self", "mother", "father", "household_adult", "household_member"}),
    "household": frozenset({"household_adult", "household_member"}),
    "business": frozenset({"owner"}),
}


@dataclass(frozen=True)
class Service:
    service_id: str
    subject_kind: SubjectKind
    subject_description: str
    horizon_months: int
    label_definition: str
    name_vi: str
    name_en: str
    legal_basis: str
    # The planners' capacity, for evaluation: the share of each commune's subjects at risk
    # its staff contact from one monthly list, top first. A planning choice [U], set near
    # the service's base rate (the share who need it within the horizon) so that the
    # ranking decides who is reached; `bench/evaluation_table.py reports --planning` prints
    # both side by side for a trained province.
    outreach_share: float
    # Whom to contact about a subject, in order of preference: the first one known (and, for
    # a parent, alive and resident) is the contact; none known leaves the contact empty.
    contact: tuple[ContactRelation, ...]
    # Services whose subjects behave alike enough to learn from together: a pooled scorer
    # of this service also trains on the other members' rows (`pool_members`), while this
    # service's own validation window decides whether it is served and calibrates it.
    pool: str | None = None


SERVICES: tuple[Service, ...] = (
    Service(
        "birth_registration",
        "person",
        "woman aged 15-49 (the mother)",
        2,
        "a birth to her is registered in (as_of, as_of + 2 months] (~60 days)",
        "Đăng ký khai sinh",
        "Birth registration",
        "Law on Civil Status 2014, art. 15",
        0.02,
        contact=("self",),
    ),
    Service(
        "school_admission",
        "person",
        "child aged 4-9 not yet in grade 1",
        12,
        "the child is admitted to grade 1 in (as_of, as_of + 12 months]",
        "Tuyển sinh lớp 1",
        "Grade-1 admission",
        "Education Law 2019, art. 28",
        0.30,
        contact=("mother", "father", "household_adult"),
    ),
    Service(
        "medical_license_renewal",
        "person",
        "holder of a medical practice licence",
        3,
        "the holder renews the practice licence in (as_of, as_of + 3 months]",
        "Gia hạn giấy phép hành nghề khám bệnh, chữa bệnh",
        "Medical practice licence renewal",
        "Law 15/2023/QH15, art. 27",
        0.05,
        contact=("self",),
        pool="practice_renewal",
    ),
    Service(
        "tour_guide_card_renewal",
        "person",
        "holder of a tour-guide card",
        3,
        "the holder renews the card in (as_of, as_of + 3 months]",
        "Cấp đổi thẻ hướng dẫn viên du lịch",
        "Tour-guide card renewal",
        "Law on Tourism 2017, art. 58",
        0.05,
        contact=("self",),
        pool="practice_renewal",
    ),
    Service(
        "poor_household_confirmation",
        "household",
        "household resident in the province",
        12,
        "the household is confirmed poor or near-poor at the next annual review",
        "Xác nhận hộ nghèo, hộ cận nghèo",
        "Poor / near-poor household confirmation",
        "Decree 07/2021/ND-CP",
        0.1,
        contact=("household_adult", "household_member"),
    ),
    Service(
        "veterinary_certificate_renewal",
        "person",
        "holder of a veterinary practice certificate",
        3,
        "the holder renews the certificate in (as_of, as_of + 3 months]",
        "Gia hạn chứng chỉ hành nghề thú y",
        "Veterinary practice certificate renewal",
        "Law on Veterinary Medicine 2015, art. 109",
        0.05,
        contact=("self",),
        pool="practice_renewal",
    ),
    Service(
        "transport_business_license",
        "business",
        "licensed transport business",
        3,
        "the business is issued a vehicle badge (new or renewed) in (as_of, as_of + 3 months]",
        "Cấp giấy phép kinh doanh vận tải, phù hiệu xe",
        "Transport licence / vehicle badge",
        "Decree 10/2020/ND-CP, replaced by Decree 158/2024/ND-CP from 2025",
        0.15,
        contact=("owner",),
    ),
)

SERVICE_IDS: tuple[str, ...] = tuple(s.service_id for s in SERVICES)


def pool_members(service_id: str) -> tuple[str, ...]:
    """The other services of `service_id`'s pool (none when it is not pooled)."""
    pool = service(service_id).pool
    if pool is None:
        return ()
    return tuple(s.service_id for s in SERVICES if s.pool == pool and s.service_id != service_id)


def service(service_id: str) -> Service:
    """The catalogue entry for `service_id` (KeyError naming the known ids otherwise)."""
    for entry in SERVICES:
        if entry.service_id == service_id:
            return entry
    raise KeyError(f"unknown service {service_id!r}; known: {', '.join(SERVICE_IDS)}")


# The agency tables each service's features and dossier read (the sources a prediction cites).
SERVICE_SOURCES: dict[str, tuple[str, ...]] = {
    "birth_registration": (
        "registry/people",
        "registry/households",
        "health/pregnancies",
        "health/births",
        "services/transactions",
    ),
    "school_admission": (
        "registry/people",
        "registry/households",
        "education/enrolments",
        "health/conditions",
        "welfare/household_surveys",
        "services/transactions",
    ),
    "medical_license_renewal": (
        "registry/people",
        "registry/households",
        "licensing/medical_licenses",
    ),
    "tour_guide_card_renewal": ("registry/people", "registry/households", "tourism/guide_cards"),
    "veterinary_certificate_renewal": (
        "registry/people",
        "registry/households",
        "agriculture/vet_certificates",
    ),
    "poor_household_confirmation": (
        "registry/people",
        "registry/households",
        "welfare/household_surveys",
        "welfare/storm_damage",
        "health/conditions",
    ),
    "transport_business_license": (
        "registry/people",
        "registry/households",
        "transport/businesses",
        "transport/vehicle_badges",
    ),
}


@dataclass(frozen=True)
class Licence:
    """The licence a renewal service is about: where the agency keeps it, the column holding
    its number, the dated legal parameter giving its validity (`catalogue.legal`), and its
    name the way the holder knows it (for `days_to_expiry` reasons and dossiers)."""

    table: str
    number_column: str
    validity_parameter: str
    name_vi: str
    name_en: str


LICENCES: dict[str, Licence] = {
    "medical_license_renewal": Licence(
        "licensing/medical_licenses",
        "license_no",
        "medical_license_validity_years",
        "Giấy phép hành nghề",
        "The practice licence",
    ),
    "tour_guide_card_renewal": Licence(
        "tourism/guide_cards",
        "card_no",
        "tour_guide_card_validity_years",
        "Thẻ hướng dẫn viên",
        "Tour-guide card",
    ),
    "veterinary_certificate_renewal": Licence(
        "agriculture/vet_certificates",
        "certificate_no",
        "veterinary_certificate_validity_years",
        "Chứng chỉ hành nghề thú y",
        "The veterinary certificate",
    ),
}
