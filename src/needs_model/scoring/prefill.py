"""Pre-filled dossiers: every document component the state already holds (once-only).

For each likely subject the batch scorer writes one wide row per service: for every
component of the service's dossier (declared in `catalogue.dossiers`), its fields
(`<component>.<field>`), the record it came from (`<component>.record_id`) and when that
record was written (`<component>.recorded_at`). The API turns a row into components and
attaches the consistency-report flags raised on the record or the person, so an official
sees which prefilled value to double-check.

A component no agency holds (e.g. the father of a child whose birth is not registered yet:
no register links them) has no reader and is listed with no value, saying who supplies it,
so the dossier is honest about what is missing. Each reader below fills one kind of record
for any service that declares it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from needs_model.catalogue.dossiers import DOSSIERS, Component
from needs_model.catalogue.services import LICENCES
from needs_model.features.build import (
    latest_by,
    licences_in_force,
    residents,
    unregistered_births,
)
from needs_model.linking.profiles import Profiles

__all__ = ["DOSSIERS", "READERS", "Component", "build_dossiers"]


@dataclass(frozen=True)
class Context:
    """What every reader may use: the profiles, the service, the 2025 commune names and the
    scored rows being filled (subject_id, contact_cccd, contact_relation, household_id)."""

    profiles: Profiles
    service_id: str
    commune_names: pd.Series
    subjects: pd.DataFrame


RECORD = ("record_id", "recorded_at")  # where each value came from, on every component
SAME_RECORD = {name: name for name in RECORD}


def _fields(
    keys: pd.Series, table: pd.DataFrame, columns: tuple[str, ...] | dict[str, str]
) -> pd.DataFrame:
    """For each key, columns of its row in `table` (indexed by key); a dict names the output
    column of each table column."""
    pairs = columns.items() if isinstance(columns, dict) else ((c, c) for c in columns)
    return pd.DataFrame({out: keys.map(table[column]) for out, column in pairs}, index=keys.index)


def _identity(c: Context, cccds: pd.Series, component: Component) -> pd.DataFrame:
    people = c.profiles.people.set_index("cccd")
    out = _fields(cccds, people, ("full_name", "birth_date", "sex", *RECORD))
    out.insert(3, "cccd", cccds)
    return out


def _contact_person(c: Context, cccds: pd.Series, component: Component) -> pd.DataFrame:
    """The person contacted about the subject, from the register, and how they are related
    to the subject (`scoring.contacts`: a parent, an adult of the household, ...)."""
    out = _identity(c, cccds, component)
    out.insert(len(out.columns) - 2, "relation", c.subjects.loc[cccds.index, "contact_relation"])
    return out


def _residence(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    book = c.profiles.households.set_index("household_id")
    out = _fields(household_ids, book, {"commune_code": "commune_key"} | SAME_RECORD)
    out.insert(0, "household_id", household_ids)
    out.insert(2, "commune_name", out["commune_code"].map(c.commune_names))
    return out


def _facility_birth(c: Context, mothers: pd.Series, component: Component) -> pd.DataFrame:
    births = unregistered_births(c.profiles)
    latest = latest_by(births, "linked_cccd", ["child_birth_date", "recorded_at"])
    return _fields(
        mothers, latest, ("birth_certificate_no", "child_birth_date", "child_sex", *RECORD)
    )


def _registration_of_child(c: Context, children: pd.Series, component: Component) -> pd.DataFrame:
    p = c.profiles
    tx = p.transactions[p.transactions["service_id"] == component.of_service].dropna(
        subset=["child_cccd"]
    )
    by_child = latest_by(tx, "child_cccd", ["delivered_on"])
    out = _fields(
        children,
        by_child,
        {
            "registered_on": "delivered_on",
            "mother_cccd": "subject_cccd",
            "record_id": "transaction_id",
            "recorded_at": "recorded_at",
        },
    )
    names = p.people.set_index("cccd")["full_name"]
    out.insert(2, "mother_full_name", out["mother_cccd"].map(names))
    return out


def _licence_in_force(c: Context, holders: pd.Series, component: Component) -> pd.DataFrame:
    latest = licences_in_force(c.profiles, c.service_id).set_index("linked_cccd")
    number = LICENCES[c.service_id].number_column
    columns = {"number": number, "issue_date": "issue_date", "expiry_date": "expiry_date"}
    return _fields(holders, latest, columns | SAME_RECORD)


def _household(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    p = c.profiles
    book = p.households.set_index("household_id")
    out = _fields(household_ids, book, ("area_type", *RECORD))
    out.insert(0, "household_id", household_ids)
    out.insert(2, "members", household_ids.map(residents(p).groupby("household_id").size()))
    return out


def _last_review(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    surveys = latest_by(c.profiles.surveys, "household_id", ["survey_year", "recorded_at"])
    columns = ("survey_year", "per_capita_income_vnd", "deprivation_count", "review_result")
    return _fields(household_ids, surveys, (*columns, *RECORD))


def _business(c: Context, business_ids: pd.Series, component: Component) -> pd.DataFrame:
    rows = c.profiles.records["transport/businesses"]
    licensed = rows[rows["event"] == "licensed"].sort_values("event_date")
    first = licensed.groupby("business_id").head(1).set_index("business_id")
    out = _fields(business_ids, first, {"licensed_on": "event_date"} | SAME_RECORD)
    out.insert(0, "business_id", business_ids)
    return out


def _next_badge(c: Context, business_ids: pd.Series, component: Component) -> pd.DataFrame:
    as_of = pd.Timestamp(c.profiles.as_of)
    badges = c.profiles.badges.sort_values(["issue_date", "recorded_at"])
    badges = badges.groupby("plate_no").tail(1)
    in_force = badges[(badges["issue_date"] <= as_of) & (badges["expiry_date"] >= as_of)]
    nearest = (
        in_force.sort_values(["expiry_date", "badge_no"]).groupby("business_id").head(1)
    ).set_index("business_id")
    return _fields(
        business_ids, nearest, ("badge_no", "plate_no", "vehicle_type", "expiry_date", *RECORD)
    )


# A reader returns the component's fields (and `record_id`, `recorded_at`) for the subjects'
# keys; `build_dossiers` prefixes them with the component's name.
Reader = Callable[[Context, pd.Series, Component], pd.DataFrame]
# One reader per kind of record; `catalogue.dossiers` names them.
READERS: dict[str, Reader] = {
    "identity": _identity,
    "contact_person": _contact_person,
    "residence": _residence,
    "facility_birth": _facility_birth,
    "registration_of_child": _registration_of_child,
    "licence_in_force": _licence_in_force,
    "household": _household,
    "last_review": _last_review,
    "business": _business,
    "next_badge": _next_badge,
}


def build_dossiers(
    p: Profiles, service_id: str, subjects: pd.DataFrame, commune_names: pd.Series
) -> pd.DataFrame:
    """One wide row per subject (`subjects` has subject_id, contact_cccd, contact_relation,
    household_id): the columns of every component the service's dossier declares, in its
    order."""
    if service_id not in DOSSIERS:
        raise KeyError(f"no dossier is declared for {service_id!r}")
    keys: dict[str, pd.Series] = {
        "contact": subjects["contact_cccd"],
        "subject": subjects["subject_id"],
        "household": subjects["household_id"],
    }
    context = Context(p, service_id, commune_names, subjects)
    parts: list[pd.DataFrame] = [subjects[["subject_id"]]]
    for component in DOSSIERS[service_id]:
        if component.reader is not None:
            part = READERS[component.reader](context, keys[component.key], component)
            parts.append(part.add_prefix(f"{component.name}."))
    out = pd.concat(parts, axis=1)
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out.reset_index(drop=True)


# -- reading a prepared dossier back: what the API and the auditors' pages show ------------
Flags = dict[str, list[dict[str, Any]]]
FLAG_COLUMNS = ["type", "agency_a", "agency_b", "record_id", "note"]


def flags_index(consistency: pd.DataFrame, key: str) -> Flags:
    """The consistency report's rows by `key` (record_id or cccd): each field of a dossier
    shows the disagreements found on its record or its person."""
    out: Flags = {}
    for row in consistency.dropna(subset=[key])[[key, *FLAG_COLUMNS]].itertuples(index=False):
        entry = {c: (None if pd.isna(v) else v) for c, v in zip(FLAG_COLUMNS, row[1:], strict=True)}
        out.setdefault(str(row[0]), []).append(entry)
    return out


def dossier_components(
    service_id: str,
    row: dict[str, Any],
    lang: str,
    by_record: Flags,
    by_cccd: Flags,
    contact_withheld: bool = False,
) -> list[dict[str, Any]]:
    """A prepared dossier (`row`: its stored columns, `component.field`) as its components
    with their prefilled values, sources and flags; the components read through the contact
    are left empty when the contact is withheld from the caller."""
    components = []
    for component in DOSSIERS[service_id]:
        withheld = component.key == "contact" and contact_withheld
        record_id = None if withheld else row.get(f"{component.name}.record_id")
        on_record = by_record.get(record_id, []) if record_id else []
        fields = []
        for name in component.fields:
            value = None if withheld else row.get(f"{component.name}.{name}")
            flags = list(on_record)
            if name == "cccd" and isinstance(value, str):
                flags += by_cccd.get(value, [])
            fields.append({"field": name, "value": value, "flags": flags})
        held = any(f["value"] is not None for f in fields)
        supplied_by = None
        if not held and not withheld:
            supplied_by = "citizen" if component.source == "citizen" else "the issuing agency"
        components.append(
            {
                "component": component.name,
                "name": component.label_vi if lang == "vi" else component.label_en,
                "source": component.source,
                "recorded_at": None if withheld else row.get(f"{component.name}.recorded_at"),
                "prefilled": held,
                "supplied_by": supplied_by,
                "outside_scope": withheld,
                "fields": fields,
            }
        )
    return components
