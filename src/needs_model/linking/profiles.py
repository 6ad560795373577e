"""One profile per person and household as known on the as-of date (once-only).

Identity comes from the registry (the documented precedence: registry for identity, the
issuing agency for licences); every other agency's record carries the CCCD it was linked
to. `Profiles.restrict` keeps one shard of households, so the features stage can run per
partition (one machine or a cluster) with the same result.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import pandas as pd

from needs_model.extracts.sources import read_as_of
from needs_model.linking.link import Links, commune_key, link
from needs_model.reference.geography import quang_nam_communes

AGENCY_TABLES = (
    ("health", "pregnancies"),
    ("health", "births"),
    ("health", "conditions"),
    ("education", "enrolments"),
    ("licensing", "medical_licenses"),
    ("tourism", "guide_cards"),
    ("agriculture", "vet_certificates"),
    ("transport", "businesses"),
)


@lru_cache(maxsize=1)
def mountain_communes_2025() -> frozenset[str]:
    """2025 commune codes most of whose legacy communes were mountain communes."""
    communes = quang_nam_communes()
    share = communes.groupby("commune_code_2025")["is_mountain"].mean()
    return frozenset(share[share >= 0.5].index)


@dataclass
class Profiles:
    as_of: dt.date
    people: pd.DataFrame  # registry's latest row per CCCD
    households: pd.DataFrame  # household book's latest row per household
    records: dict[str, pd.DataFrame]  # agency rows with linked_cccd and household_id
    surveys: pd.DataFrame
    badges: pd.DataFrame
    transactions: pd.DataFrame  # services recorded on or before as_of, with linked_cccd
    # The communes' storm-damage lists (with commune_key): a commune's list is news about the
    # commune, so a partition keeps all of it.
    storm_damage: pd.DataFrame
    links: Links | None = field(default=None, repr=False)
    cache: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def restrict(self, household_ids: set[str]) -> Profiles:
        """The same profiles for a subset of households (a partition)."""
        keep_people = self.people["household_id"].isin(household_ids)
        people = self.people[keep_people]
        cccds = set(people["cccd"])
        records = {
            source: frame[frame["household_id"].isin(household_ids)]
            for source, frame in self.records.items()
        }
        businesses = set(records["transport/businesses"]["business_id"])
        tx = self.transactions
        keep_tx = (
            tx["subject_cccd"].isin(cccds)
            | tx["linked_cccd"].isin(cccds)
            | tx["subject_household_id"].isin(household_ids)
            | tx["subject_business_id"].isin(businesses)
        )
        return replace(
            self,
            people=people,
            households=self.households[self.households["household_id"].isin(household_ids)],
            records=records,
            surveys=self.surveys[self.surveys["household_id"].isin(household_ids)],
            badges=self.badges[self.badges["business_id"].isin(businesses)],
            transactions=tx[keep_tx],
            links=None,
            cache={},
        )


def build_profiles(raw: Path, as_of: dt.date, links: Links | None = None) -> Profiles:
    links = links or link(raw, as_of)
    people = links.registry.people.copy()
    mountain = mountain_communes_2025()
    households = links.registry.households.copy()
    households["is_urban"] = households["area_type"].eq("urban")
    households["is_mountain"] = households["commune_key"].isin(mountain)
    household_of = people.set_index("cccd")["household_id"]
    by_source = {s: f for s, f in links.records.groupby("source")}
    records = {}
    for agency, name in AGENCY_TABLES:
        source = f"{agency}/{name}"
        rows = read_as_of(raw, agency, name, as_of)
        linked = by_source.get(source, pd.DataFrame(columns=["record_id", "linked_cccd"]))
        rows = rows.merge(linked[["record_id", "linked_cccd"]], on="record_id", how="left")
        rows["household_id"] = rows["linked_cccd"].map(household_of)
        records[source] = rows
    surveys = read_as_of(raw, "welfare", "household_surveys", as_of)
    badges = read_as_of(raw, "transport", "vehicle_badges", as_of)
    transactions = read_as_of(raw, "services", "transactions", as_of)
    # The person each person-subject transaction links to (like any agency record).
    linked = by_source.get("services/transactions", pd.DataFrame(columns=["record_id"]))
    transactions["linked_cccd"] = transactions["transaction_id"].map(
        linked.set_index("record_id")["linked_cccd"]
    )
    storm_damage = read_as_of(raw, "welfare", "storm_damage", as_of)
    storm_damage["commune_key"] = commune_key(
        storm_damage["commune_code"], storm_damage["province_code"]
    )
    return Profiles(
        as_of, people, households, records, surveys, badges, transactions, storm_damage, links
    )
