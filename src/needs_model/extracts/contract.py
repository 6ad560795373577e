"""The data contract: one table per agency extract, typed and documented.

The same objects drive the twin's writer, the validator and `docs/data-contract.md`, so
the three cannot drift apart. Every table is an append-only history with `recorded_at`,
the date the agency recorded the row; a change is a new row, never an overwrite.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

DType = Literal["string", "int64", "float64", "date", "bool"]
Sex = Literal["female", "male"]
ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "date": pa.date32(),
    "bool": pa.bool_(),
}
DEPRIVATION_INDICATORS = (
    "employment",
    "dependants",
    "nutrition",
    "health_insurance",
    "adult_education",
    "child_school_attendance",
    "housing_quality",
    "floor_area",
    "water_source",
    "hygienic_latrine",
    "telecom_use",
    "information_access",
)


# The vehicle register's capacity classes by vehicle use (seats / payload).
CAPACITY_CLASSES: dict[str, tuple[str, ...]] = {
    "passenger": ("seats_under_10", "seats_10_to_29", "seats_30_plus"),
    "freight": ("payload_under_3_5t", "payload_3_5_to_10t", "payload_over_10t"),
}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: DType
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    is_cccd: bool = False


@dataclass(frozen=True)
class Table:
    agency: str
    name: str
    description: str
    key: str
    columns: tuple[Column, ...]
    # (earlier, later): rows where `later` < `earlier` are impossible and quarantined.
    date_order: tuple[tuple[str, str], ...] = field(default=())
    # Columns whose CCCD must agree with these birth-date / sex columns.
    cccd_birth: tuple[str, str, str] | None = None  # (cccd column, birth date column, sex column)
    # A parent's CCCD column and the sex its number must encode; the number must also encode
    # a birth year before the person's own (`cccd_birth`'s birth date) and not be the
    # person's own number.
    parent_cccds: tuple[tuple[str, Sex], ...] = field(default=())

    @property
    def path(self) -> str:
        return f"{self.agency}/{self.name}.parquet"

    @property
    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, ARROW_TYPES[c.dtype], c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _recorded() -> Column:
    return Column("recorded_at", "date", "Date the agency recorded this row (append-only history).")


def _commune() -> tuple[Column, Column]:
    return (
        Column(
            "commune_code",
            "string",
            "Commune-level unit code in force on recorded_at "
            "(legacy Quang Nam codes before 2025-07-01, Đà Nẵng codes from then).",
        ),
        Column(
            "province_code",
            "string",
            "Province code in force on recorded_at.",
            allowed=("49", "48"),
        ),
    )


def _person(prefix: str = "", nullable_cccd: bool = True) -> tuple[Column, ...]:
    who = prefix.rstrip("_") or "person"
    return (
        Column(
            f"{prefix}cccd",
            "string",
            f"The {who}'s 12-digit personal identification number "
            "(may be missing in extracts of agencies other than the registry).",
            nullable=nullable_cccd,
            is_cccd=True,
        ),
        Column(f"{prefix}full_name", "string", f"The {who}'s full name as this agency wrote it."),
        Column(f"{prefix}birth_date", "date", f"The {who}'s birth date as this agency wrote it."),
    )


SEX = Column("sex", "string", "Sex at birth.", allowed=("male", "female"))
# "reissued": a new licence for a holder whose previous one lapsed (not a renewal).
LICENCE_EVENTS = ("issued", "renewed", "lapsed", "reissued")


def _parent(column: str, who: str, also_missing: str = "") -> Column:
    return Column(
        column,
        "string",
        f"The {who}'s 12-digit personal identification number. The national population "
        "database records each citizen's father and mother with their numbers (Law on "
        "Identification 2023, art. 9); that the registry's extract carries them is an "
        f"assumption of this contract. Missing when the registry does not know the {who} "
        "(assumed for many adults, whose records reached the database without parents"
        f"{also_missing}); kept when the {who} has died or left the province.",
        nullable=True,
        is_cccd=True,
    )


TABLES: tuple[Table, ...] = (
    Table(
        "registry",
        "people",
        "Civil-status and residence registry: one row per registered change of a person.",
        "record_id",
        (
            Column("record_id", "string", "Registry row number."),
            *_person(nullable_cccd=True),
            SEX,
            Column(
                "ethnicity", "string", "Ethnic group (sensitive: audits only, never a model input)."
            ),
            Column("religion", "string", "Religion (sensitive: audits only, never a model input)."),
            _parent("mother_cccd", "mother"),
            _parent(
                "father_cccd",
                "father",
                ", and for a child born outside marriage whom no father acknowledged",
            ),
            Column("household_id", "string", "Household book number the person belongs to."),
            *_commune(),
            Column("marital_status", "string", "Marital status.", allowed=("single", "married")),
            Column(
                "status",
                "string",
                "Residence status after this change.",
                allowed=("resident", "deceased", "moved_out"),
            ),
            Column(
                "event",
                "string",
                "What changed.",
                allowed=(
                    "initial",
                    "birth_registration",
                    "immigration",
                    "marriage",
                    "moved",
                    "death",
                    "emigration",
                ),
            ),
            Column("event_date", "date", "When the change happened."),
            _recorded(),
        ),
        date_order=(("birth_date", "event_date"), ("event_date", "recorded_at")),
        cccd_birth=("cccd", "birth_date", "sex"),
        parent_cccds=(("mother_cccd", "female"), ("father_cccd", "male")),
    ),
    Table(
        "registry",
        "households",
        "Household books: founding, moves and departures.",
        "record_id",
        (
            Column("record_id", "string", "Registry row number."),
            Column("household_id", "string", "Household book number."),
            *_commune(),
            Column(
                "area_type",
                "string",
                "Urban (ward/township) or rural commune.",
                allowed=("urban", "rural"),
            ),
            Column(
                "status",
                "string",
                "Status after this row: dissolved when nobody is left in the book.",
                allowed=("resident", "moved_out", "dissolved"),
            ),
            Column(
                "event",
                "string",
                "What changed: dissolved closes a book whose last member died, left or "
                "married out (the members' own rows say which).",
                allowed=("initial", "founded", "immigration", "moved", "emigration", "dissolved"),
            ),
            Column("event_date", "date", "When the change happened."),
            _recorded(),
        ),
        date_order=(("event_date", "recorded_at"),),
    ),
    Table(
        "health",
        "pregnancies",
        "Antenatal registrations, with the expected due date.",
        "record_id",
        (
            Column("record_id", "string", "Antenatal record number."),
            *_person("mother_"),
            *_commune(),
            Column("visit_date", "date", "First antenatal visit."),
            Column("expected_due_date", "date", "Expected date of delivery from the visit."),
            _recorded(),
        ),
        date_order=(
            ("mother_birth_date", "visit_date"),
            ("visit_date", "expected_due_date"),
            ("visit_date", "recorded_at"),
        ),
    ),
    Table(
        "health",
        "births",
        "Births in health facilities (the birth certificate).",
        "record_id",
        (
            Column("record_id", "string", "Facility record number."),
            Column("birth_certificate_no", "string", "Birth certificate (giấy chứng sinh) number."),
            *_person("mother_"),
            Column("child_sex", "string", "The child's sex.", allowed=("male", "female")),
            Column("child_birth_date", "date", "The child's birth date."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("mother_birth_date", "child_birth_date"), ("child_birth_date", "recorded_at")),
    ),
    Table(
        "health",
        "conditions",
        "Diagnosed chronic illness and disability.",
        "record_id",
        (
            Column("record_id", "string", "Health record number."),
            *_person(),
            Column("condition", "string", "Condition.", allowed=("chronic_illness", "disability")),
            Column("diagnosis_date", "date", "Diagnosis date."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("birth_date", "diagnosis_date"), ("diagnosis_date", "recorded_at")),
    ),
    Table(
        "education",
        "enrolments",
        "Grade-1 enrolments.",
        "record_id",
        (
            Column("record_id", "string", "Enrolment number."),
            *_person(),
            SEX,
            Column("grade", "int64", "Grade entered."),
            Column("school_year", "string", "School year, e.g. 2024-2025."),
            Column("enrol_date", "date", "Enrolment date."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("birth_date", "enrol_date"), ("enrol_date", "recorded_at")),
    ),
    Table(
        "licensing",
        "medical_licenses",
        "Medical practice licences (Law 15/2023): issues, renewals, lapses and the CME course "
        "certificates sent in (Circular 32/2023: 120 hours per 5-year cycle).",
        "record_id",
        (
            Column("record_id", "string", "Row number."),
            Column("license_no", "string", "Practice licence number."),
            *_person(),
            Column("event", "string", "Row type.", allowed=(*LICENCE_EVENTS, "cme_course")),
            Column("issue_date", "date", "Issue date of the licence in force."),
            Column("expiry_date", "date", "Expiry date of the licence in force."),
            Column(
                "cme_hours",
                "int64",
                "Hours on the CME course certificate (cme_course rows only).",
                nullable=True,
            ),
            Column("event_date", "date", "Date of the issue, renewal, lapse or course."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("issue_date", "expiry_date"), ("event_date", "recorded_at")),
    ),
    Table(
        "tourism",
        "guide_cards",
        "Tour-guide cards (Law on Tourism 2017, arts. 58-59).",
        "record_id",
        (
            Column("record_id", "string", "Row number."),
            Column("card_no", "string", "Card number."),
            Column(
                "card_type",
                "string",
                "Card type.",
                allowed=("international", "domestic", "on_site"),
            ),
            *_person(),
            Column("event", "string", "Row type.", allowed=(*LICENCE_EVENTS, "refresher_course")),
            Column("issue_date", "date", "Issue date of the card in force."),
            Column("expiry_date", "date", "Expiry date of the card in force."),
            Column(
                "event_date", "date", "Date of the issue, renewal, lapse or course certificate."
            ),
            *_commune(),
            _recorded(),
        ),
        date_order=(("issue_date", "expiry_date"), ("event_date", "recorded_at")),
    ),
    Table(
        "agriculture",
        "vet_certificates",
        "Veterinary practice certificates (Law on Veterinary Medicine 2015, art. 109).",
        "record_id",
        (
            Column("record_id", "string", "Row number."),
            Column("certificate_no", "string", "Certificate number."),
            *_person(),
            Column("event", "string", "Row type.", allowed=LICENCE_EVENTS),
            Column("issue_date", "date", "Issue date of the certificate in force."),
            Column("expiry_date", "date", "Expiry date of the certificate in force."),
            Column("event_date", "date", "Date of the issue, renewal or lapse."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("issue_date", "expiry_date"), ("event_date", "recorded_at")),
    ),
    Table(
        "transport",
        "businesses",
        "Transport business licences (Decree 10/2020, 158/2024).",
        "record_id",
        (
            Column("record_id", "string", "Row number."),
            Column("business_id", "string", "Business licence number."),
            *_person("owner_"),
            Column("event", "string", "Row type.", allowed=("licensed", "closed")),
            Column("event_date", "date", "Date of licensing or closure."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("event_date", "recorded_at"),),
    ),
    Table(
        "transport",
        "vehicle_badges",
        "Vehicle badges (phù hiệu), valid up to 7 years, with what the vehicle register holds "
        "about each vehicle (year of manufacture, capacity class).",
        "record_id",
        (
            Column("record_id", "string", "Row number."),
            Column("badge_no", "string", "Badge number."),
            Column("business_id", "string", "Business the vehicle runs for."),
            Column("plate_no", "string", "Registration plate."),
            Column("vehicle_type", "string", "Vehicle use.", allowed=("passenger", "freight")),
            Column(
                "manufacture_year",
                "int64",
                "Year of manufacture (vehicle register); the service life counts from it.",
            ),
            Column(
                "capacity_class",
                "string",
                "Seats (passenger) or payload (freight) class in the vehicle register.",
                allowed=CAPACITY_CLASSES["passenger"] + CAPACITY_CLASSES["freight"],
            ),
            Column("event", "string", "Row type.", allowed=("issued", "renewed")),
            Column("issue_date", "date", "Badge issue date."),
            Column("expiry_date", "date", "Badge expiry date."),
            _recorded(),
        ),
        date_order=(("issue_date", "expiry_date"), ("issue_date", "recorded_at")),
    ),
    Table(
        "welfare",
        "household_surveys",
        "The annual poverty review (Decree 07/2021, amended by Decree 30/2025): one row per "
        "household that entered the review (on the list, applied or proposed), its scorecard "
        "screen, and income and the 12 deprivations only where it was surveyed in full.",
        "record_id",
        (
            Column("record_id", "string", "Survey row number."),
            Column("household_id", "string", "Household book number."),
            Column("survey_year", "int64", "Review year."),
            Column(
                "entry_route",
                "string",
                "How the household entered the review (on the list wins over applied, applied "
                "over proposed by the village head / commune staff).",
                allowed=("on_list", "applied", "proposed"),
            ),
            Column("scorecard_points", "int64", "Points of the quick asset / living scorecard."),
            Column("flagged_for_survey", "bool", "The scorecard flagged it for the full survey."),
            Column(
                "per_capita_income_vnd",
                "int64",
                "Measured income per person per month (VND); null unless surveyed in full.",
                nullable=True,
            ),
            *(
                Column(
                    f"deprived_{name}",
                    "bool",
                    f"Deprived in '{name.replace('_', ' ')}'; null unless surveyed in full.",
                    nullable=True,
                )
                for name in DEPRIVATION_INDICATORS
            ),
            Column(
                "deprivation_count",
                "int64",
                "Number of deprivations (0-12); null unless surveyed in full.",
                nullable=True,
            ),
            Column(
                "review_result",
                "string",
                "Result of the review.",
                allowed=("poor", "near_poor", "not_poor"),
            ),
            Column("survey_date", "date", "Survey date."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("survey_date", "recorded_at"),),
    ),
    Table(
        "welfare",
        "storm_damage",
        "Households on a commune's list of storm damage (a damaged house, crops, boats or "
        "livestock): one row per household and storm. Communes list the damage after a "
        "natural disaster for emergency assistance (Decree 20/2021 on social assistance) and "
        "for support to restore production (Decree 02/2017); that the welfare agency keeps "
        "the lists by household book is an assumption of this contract.",
        "record_id",
        (
            Column("record_id", "string", "List row number."),
            Column("household_id", "string", "Household book number of the damaged household."),
            Column("storm_date", "date", "Date of the storm (the first day of its month)."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("storm_date", "recorded_at"),),
    ),
    Table(
        "services",
        "transactions",
        "Every service actually delivered: the labels.",
        "transaction_id",
        (
            Column("transaction_id", "string", "Transaction number."),
            Column("service_id", "string", "Service (the catalogue id)."),
            Column(
                "subject_kind",
                "string",
                "Kind of subject.",
                allowed=("person", "household", "business"),
            ),
            Column(
                "subject_cccd",
                "string",
                "Subject's CCCD as the service desk wrote it (person services; may be missing "
                "or mistyped like any agency's).",
                nullable=True,
                is_cccd=True,
            ),
            Column(
                "subject_full_name",
                "string",
                "Subject's full name as the service desk wrote it (person services).",
                nullable=True,
            ),
            Column(
                "subject_birth_date",
                "date",
                "Subject's birth date as the service desk wrote it (person services).",
                nullable=True,
            ),
            Column(
                "subject_household_id",
                "string",
                "Subject household (household services).",
                nullable=True,
            ),
            Column(
                "subject_business_id",
                "string",
                "Subject business (business services).",
                nullable=True,
            ),
            Column(
                "child_cccd",
                "string",
                "The registered child (birth registration).",
                nullable=True,
                is_cccd=True,
            ),
            Column("delivered_on", "date", "Date the service was delivered."),
            *_commune(),
            _recorded(),
        ),
        date_order=(("delivered_on", "recorded_at"),),
    ),
)


def table(agency: str, name: str) -> Table:
    for t in TABLES:
        if (t.agency, t.name) == (agency, name):
            return t
    raise KeyError(f"no contract table {agency}/{name}")


def render_markdown() -> str:
    """docs/data-contract.md, generated from TABLES."""
    lines = [
        "# Data contract",
        "",
        "Generated by `needs-model contract-docs` from `needs_model.extracts.contract`; "
        "do not edit by hand.",
        "",
        "Each agency delivers Parquet files `<agency>/<table>.parquet`. Every table is an "
        "append-only history: a change, correction or renewal is a new row with its own "
        "`recorded_at`, so the state on any past date can be rebuilt. Commune and province "
        "codes are those in force on `recorded_at` (Quang Nam `49` and legacy commune codes "
        "before 2025-07-01; Đà Nẵng `48` and the 2025 commune codes from then).",
        "",
        "`needs-model validate DIR` checks a folder against this contract. File-level problems "
        "(missing table or column, wrong type, unreadable file) stop with a message; row-level "
        "problems (invalid CCCD, impossible date order, duplicate key, value outside the allowed "
        "set, missing required value, a parent's number that cannot be that parent's) are "
        "quarantined with their reason.",
        "",
    ]
    for t in TABLES:
        lines += [f"## `{t.agency}/{t.name}`", "", t.description, "", f"Key: `{t.key}`.", ""]
        if t.date_order:
            order = "; ".join(f"`{a}` ≤ `{b}`" for a, b in t.date_order)
            lines += [f"Date order: {order}.", ""]
        if t.parent_cccds and t.cccd_birth is not None:
            own, born, _sex = t.cccd_birth
            parents = "; ".join(
                f"`{column}` encodes a {'woman' if sex == 'female' else 'man'}"
                for column, sex in t.parent_cccds
            )
            lines += [
                f"Parents: {parents}; each encodes a birth year before `{born}`'s and is not "
                f"the row's own `{own}`.",
                "",
            ]
        lines += ["| column | type | required | allowed | description |", "|---|---|---|---|---|"]
        for c in t.columns:
            allowed = ", ".join(c.allowed) if c.allowed else ("12-digit CCCD" if c.is_cccd else "")
            lines.append(
                f"| `{c.name}` | {c.dtype} | {'no' if c.nullable else 'yes'} | {allowed} | "
                f"{c.description} |"
            )
        lines.append("")
    return "\n".join(lines)
