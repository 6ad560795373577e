"""Whom a planner contacts about each scored subject, as the catalogue declares it.

`Service.contact` lists relations in order of preference; `contacts` takes, for each
subject, the first one the profiles know: the subject itself; a parent the population
register names (`mother_cccd`, `father_cccd` on the subject's latest row) who is alive and
resident in the province on the as-of date; the oldest resident adult (or, failing one, the
oldest resident) of the subject's household; a business's owner. The scored snapshot keeps
the relation beside the contact (`contact_relation`), so a planner knows whom they call and
why: a five-year-old's grade-1 admission is discussed with a parent, not with the child.

Contacts are resolved on the whole province's profiles, not per shard of households: a
parent may live in another household (a mother who married into one elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from needs_model.catalogue.services import CONTACT_RELATIONS, ContactRelation, service
from needs_model.extracts.validate import ContractViolation
from needs_model.features.build import latest_by, residents
from needs_model.linking.profiles import Profiles

ADULT_AGE = 18
PARENT_COLUMNS = ("mother_cccd", "father_cccd")


@dataclass(frozen=True)
class ContactBook:
    """What resolving contacts reads, computed once per profiles."""

    resident: pd.Index  # CCCDs alive and resident in the province on the as-of date
    parents: pd.DataFrame  # by CCCD: mother_cccd, father_cccd (the register's latest row)
    household_adult: pd.Series  # household_id -> its oldest resident adult
    household_member: pd.Series  # household_id -> its oldest resident
    owner: pd.Series  # business_id -> the owner's CCCD


def business_owners(p: Profiles) -> pd.Series:
    """business_id -> the owner's CCCD as linked to the registry."""
    rows = p.records["transport/businesses"].dropna(subset=["linked_cccd"])
    return latest_by(rows, "business_id", ["event_date", "recorded_at"])["linked_cccd"]


def contact_book(p: Profiles) -> ContactBook:
    """Residents, the register's parents and each household's eldest, once per profiles."""
    missing = [c for c in PARENT_COLUMNS if c not in p.people]
    if missing:
        raise ContractViolation(
            [
                f"registry/people: missing column {', '.join(repr(c) for c in missing)} (the "
                "extracts predate the contract's parents; `needs-model validate` lists every "
                "problem): export or simulate them again"
            ]
        )
    people = residents(p)
    ranked = people.sort_values(["birth_date", "cccd"])
    adults = ranked[ranked["age_years"] >= ADULT_AGE]
    return ContactBook(
        resident=pd.Index(people["cccd"].astype(object)),
        parents=p.people.set_index("cccd")[list(PARENT_COLUMNS)],
        household_adult=adults.groupby("household_id")["cccd"].first(),
        household_member=ranked.groupby("household_id")["cccd"].first(),
        owner=business_owners(p),
    )


def _candidates(
    book: ContactBook, relation: ContactRelation, subjects: pd.DataFrame, household: pd.Series
) -> pd.Series:
    """The CCCD `relation` names for each subject (missing where it names nobody usable)."""
    if relation == "self":
        return subjects["subject_id"]
    if relation in ("mother", "father"):
        parent = subjects["subject_id"].map(book.parents[f"{relation}_cccd"])
        known = parent.notna().to_numpy(dtype=bool)
        found = book.resident.get_indexer(pd.Index(parent.astype(object))) >= 0
        return parent.where(known & found)
    if relation == "household_adult":
        return household.map(book.household_adult)
    if relation == "household_member":
        return household.map(book.household_member)
    return subjects["subject_id"].map(book.owner)


def contacts(book: ContactBook, service_id: str, subjects: pd.DataFrame) -> pd.DataFrame:
    """`contact_cccd` and `contact_relation` for each row of `subjects` (subject_id,
    household_id), by the service's declared order; both missing when none is known."""
    entry = service(service_id)
    household = subjects["subject_id" if entry.subject_kind == "household" else "household_id"]
    contact = np.full(len(subjects), None, dtype=object)
    relation_of = np.full(len(subjects), None, dtype=object)
    for relation in entry.contact:
        if relation not in CONTACT_RELATIONS[entry.subject_kind]:
            raise ValueError(
                f"{service_id}: a {entry.subject_kind} subject has no {relation!r} to contact"
            )
        candidate = _candidates(book, relation, subjects, household).astype(object).to_numpy()
        take = pd.isna(contact) & pd.notna(candidate)
        contact[take] = candidate[take]
        relation_of[take] = relation
    return pd.DataFrame(
        {
            "contact_cccd": pd.Series(contact, index=subjects.index, dtype="string"),
            "contact_relation": pd.Series(relation_of, index=subjects.index, dtype="string"),
        }
    )
