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

import pandas as pd

from needs_model.catalogue.dossiers import DOSSIERS, Component
from needs_model.catalogue.services import LICENCES
from needs_model.features.build import licences_in_force, residents, unregistered_births
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


def _identity(c: Context, cccds: pd.Series, component: Component) -> pd.DataFrame:
    people = c.profiles.people.set_index("cccd")
    out = pd.DataFrame(index=cccds.index)
    for name in ("full_name", "birth_date", "sex"):
        out[name] = cccds.map(people[name])
    out["cccd"] = cccds
    out["record_id"] = cccds.map(people["record_id"])
    out["recorded_at"] = cccds.map(people["recorded_at"])
    return out


def _contact_person(c: Context, cccds: pd.Series, component: Component) -> pd.DataFrame:
    """The person contacted about the subject, from the register, and how they are related
    to the subject (`scoring.contacts`: a parent, an adult of the household, ...)."""
    out = _identity(c, cccds, component)
    out.insert(len(out.columns) - 2, "relation", c.subjects.loc[cccds.index, "contact_relation"])
    return out


def _residence(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    book = c.profiles.households.set_index("household_id")
    out = pd.DataFrame(index=household_ids.index)
    out["household_id"] = household_ids
    out["commune_code"] = household_ids.map(book["commune_key"])
    out["commune_name"] = out["commune_code"].map(c.commune_names)
    out["record_id"] = household_ids.map(book["record_id"])
    out["recorded_at"] = household_ids.map(book["recorded_at"])
    return out


def _latest_by(frame: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    return frame.sort_values(order).groupby(key).tail(1).set_index(key)


def _facility_birth(c: Context, mothers: pd.Series, component: Component) -> pd.DataFrame:
    births = unregistered_births(c.profiles)
    latest = _latest_by(births, "linked_cccd", ["child_birth_date", "recorded_at"])
    out = pd.DataFrame(index=mothers.index)
    for name in (
        "birth_certificate_no",
        "child_birth_date",
        "child_sex",
        "record_id",
        "recorded_at",
    ):
        out[name] = mothers.map(latest[name])
    return out


def _registration_of_child(c: Context, children: pd.Series, component: Component) -> pd.DataFrame:
    p = c.profiles
    tx = p.transactions[p.transactions["service_id"] == component.of_service].dropna(
        subset=["child_cccd"]
    )
    by_child = _latest_by(tx, "child_cccd", ["delivered_on"])
    people = p.people.set_index("cccd")
    out = pd.DataFrame(index=children.index)
    out["registered_on"] = children.map(by_child["delivered_on"])
    mother = children.map(by_child["subject_cccd"])
    out["mother_cccd"] = mother
    out["mother_full_name"] = mother.map(people["full_name"])
    out["record_id"] = children.map(by_child["transaction_id"])
    out["recorded_at"] = children.map(by_child["recorded_at"])
    return out


def _licence_in_force(c: Context, holders: pd.Series, component: Component) -> pd.DataFrame:
    latest = licences_in_force(c.profiles, c.service_id).set_index("linked_cccd")
    out = pd.DataFrame(index=holders.index)
    out["number"] = holders.map(latest[LICENCES[c.service_id].number_column])
    for name in ("issue_date", "expiry_date", "record_id", "recorded_at"):
        out[name] = holders.map(latest[name])
    return out


def _household(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    p = c.profiles
    book = p.households.set_index("household_id")
    size = residents(p).groupby("household_id").size()
    out = pd.DataFrame(index=household_ids.index)
    out["household_id"] = household_ids
    out["area_type"] = household_ids.map(book["area_type"])
    out["members"] = household_ids.map(size)
    out["record_id"] = household_ids.map(book["record_id"])
    out["recorded_at"] = household_ids.map(book["recorded_at"])
    return out


def _last_review(c: Context, household_ids: pd.Series, component: Component) -> pd.DataFrame:
    surveys = _latest_by(c.profiles.surveys, "household_id", ["survey_year", "recorded_at"])
    out = pd.DataFrame(index=household_ids.index)
    for name in (
        "survey_year",
        "per_capita_income_vnd",
        "deprivation_count",
        "review_result",
        "record_id",
        "recorded_at",
    ):
        out[name] = household_ids.map(surveys[name])
    return out


def _business(c: Context, business_ids: pd.Series, component: Component) -> pd.DataFrame:
    rows = c.profiles.records["transport/businesses"]
    licensed = rows[rows["event"] == "licensed"].sort_values("event_date")
    first = licensed.groupby("business_id").head(1).set_index("business_id")
    out = pd.DataFrame(index=business_ids.index)
    out["business_id"] = business_ids
    out["licensed_on"] = business_ids.map(first["event_date"])
    out["record_id"] = business_ids.map(first["record_id"])
    out["recorded_at"] = business_ids.map(first["recorded_at"])
    return out


def _next_badge(c: Context, business_ids: pd.Series, component: Component) -> pd.DataFrame:
    as_of = pd.Timestamp(c.profiles.as_of)
    badges = c.profiles.badges.sort_values(["issue_date", "recorded_at"])
    badges = badges.groupby("plate_no").tail(1)
    in_force = badges[(badges["issue_date"] <= as_of) & (badges["expiry_date"] >= as_of)]
    nearest = (
        in_force.sort_values(["expiry_date", "badge_no"]).groupby("business_id").head(1)
    ).set_index("business_id")
    out = pd.DataFrame(index=business_ids.index)
    for name in ("badge_no", "plate_no", "vehicle_type", "expiry_date", "record_id", "recorded_at"):
        out[name] = business_ids.map(nearest[name])
    return out


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
