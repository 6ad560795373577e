"""Once-only profiles: link every agency's records to one identity per citizen.

Records join on the CCCD when it is present, valid, known to the registry and plausible
(the name or birth date agrees). Otherwise they are matched on the diacritic-insensitive
name, birth date and commune, with a match score; a record with several equally good
candidates is left unlinked and reported, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model import cccd
from needs_model.geography import quang_nam_communes
from needs_model.sources import read_as_of
from needs_model.text import name_key, similarity

# (agency, table, column prefix, the column dating the event) of every table naming a person.
PERSON_SOURCES: tuple[tuple[str, str, str, str], ...] = (
    ("health", "pregnancies", "mother_", "visit_date"),
    ("health", "births", "mother_", "child_birth_date"),
    ("health", "conditions", "", "diagnosis_date"),
    ("education", "enrolments", "", "enrol_date"),
    ("licensing", "medical_licenses", "", "event_date"),
    ("tourism", "guide_cards", "", "event_date"),
    ("agriculture", "vet_certificates", "", "event_date"),
    ("transport", "businesses", "owner_", "event_date"),
)
NAME_SIMILARITY_MIN = 0.8


@lru_cache(maxsize=1)
def _legacy_to_new() -> dict[str, str]:
    communes = quang_nam_communes()
    return dict(zip(communes["commune_code"], communes["commune_code_2025"], strict=True))


def commune_key(codes: pd.Series, provinces: pd.Series) -> pd.Series:
    """The 2025 commune code of a record, whichever code system it was written in."""
    legacy_to_new = _legacy_to_new()
    legacy = provinces.astype("string").eq("49").fillna(False).to_numpy(dtype=bool)
    out = codes.astype(object).copy()
    out[legacy] = codes[legacy].map(legacy_to_new)
    return out


def date_typo_variants(day: pd.Timestamp) -> list[pd.Timestamp]:
    """Dates a birth date typo could have produced from `day` (and vice versa)."""
    variants = [day + pd.Timedelta(days=d) for d in (-3, -2, -1, 1, 2, 3, -365, 365, -366, 366)]
    if day.day <= 12 and day.day != day.month:
        variants.append(pd.Timestamp(year=day.year, month=day.day, day=day.month))
    return variants


@dataclass
class Registry:
    """The registry as known on the as-of date."""

    rows: pd.DataFrame  # every registry/people row, with name_key and commune_key
    people: pd.DataFrame  # one row per CCCD: the latest state
    orphans: pd.DataFrame  # registry rows without a usable CCCD


def _prepare(frame: pd.DataFrame, prefix: str, event_column: str) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "event_date": frame[event_column].to_numpy(),
            "sex": frame["sex"].to_numpy() if "sex" in frame else None,
            "record_id": frame["record_id"].to_numpy(),
            "cccd": frame[f"{prefix}cccd"].to_numpy(),
            "full_name": frame[f"{prefix}full_name"].to_numpy(),
            "birth_date": frame[f"{prefix}birth_date"].to_numpy(),
            "commune_key": commune_key(frame["commune_code"], frame["province_code"]).to_numpy(),
            "recorded_at": frame["recorded_at"].to_numpy(),
        }
    )
    out["name_key"] = name_key(out["full_name"])
    return out


class Matcher:
    """Candidate look-ups over the registry's people for records without a usable CCCD."""

    def __init__(self, people: pd.DataFrame, queries: pd.DataFrame) -> None:
        """Index only the registry people a query could match (same name or same birth date
        and commune), so that the cost follows the number of records without a usable ID."""
        self.by_name_birth: dict[tuple[str, pd.Timestamp], list[int]] = defaultdict(list)
        self.by_birth_commune: dict[tuple[pd.Timestamp, str], list[int]] = defaultdict(list)
        self.by_name: dict[str, list[int]] = defaultdict(list)
        names = set(queries["name_key"].dropna())
        same_name = people["name_key"].map(lambda k: k in names).to_numpy(dtype=bool)
        pairs = queries[["birth_date", "commune_key"]].drop_duplicates()
        same_place = (
            people[["birth_date", "commune_key"]]
            .reset_index()
            .merge(pairs, on=["birth_date", "commune_key"])["index"]
            .to_numpy()
        )
        relevant = same_name.copy()
        relevant[people.index.get_indexer(same_place)] = True
        self.people = people[relevant].reset_index(drop=True)
        for i, (key, birth, commune) in enumerate(
            zip(
                self.people["name_key"],
                self.people["birth_date"],
                self.people["commune_key"],
                strict=True,
            )
        ):
            self.by_name_birth[(key, birth)].append(i)
            self.by_birth_commune[(birth, commune)].append(i)
            self.by_name[key].append(i)

    def match(self, key: str, birth: pd.Timestamp, commune: str) -> tuple[int | None, str, float]:
        """(registry row, method, score); row None when unmatched or ambiguous."""
        communes = self.people["commune_key"]
        exact = self.by_name_birth.get((key, birth), [])
        if len(exact) == 1:
            same_commune = communes[exact[0]] == commune
            return exact[0], "name_birth", 0.97 if same_commune else 0.9
        if len(exact) > 1:
            local = [i for i in exact if communes[i] == commune]
            if len(local) == 1:
                return local[0], "name_birth_commune", 0.9
            return None, "ambiguous", 0.0
        # A misspelt name: same birth date and commune, similar name.
        near = [
            (similarity(key, self.people["name_key"][i]), i)
            for i in self.by_birth_commune.get((birth, commune), [])
        ]
        near = [(s, i) for s, i in near if s >= NAME_SIMILARITY_MIN]
        if near:
            near.sort(reverse=True)
            if len(near) == 1 or near[0][0] > near[1][0]:
                return near[0][1], "similar_name", round(0.6 + 0.3 * near[0][0], 3)
            return None, "ambiguous", 0.0
        # A birth-date typo: same name, a date one typo away.
        variants = set(date_typo_variants(birth))
        typo = [i for i in self.by_name.get(key, []) if self.people["birth_date"][i] in variants]
        local = [i for i in typo if communes[i] == commune]
        chosen = local if local else typo
        if len(chosen) == 1:
            return chosen[0], "birth_date_typo", 0.85 if local else 0.75
        if len(chosen) > 1:
            return None, "ambiguous", 0.0
        return None, "unmatched", 0.0


def load_registry(raw: Path, as_of: dt.date) -> Registry:
    rows = read_as_of(raw, "registry", "people", as_of)
    rows["name_key"] = name_key(rows["full_name"])
    rows["commune_key"] = commune_key(rows["commune_code"], rows["province_code"])
    usable = rows["cccd"].notna() & cccd.invalid_reasons(rows["cccd"]).isna()
    people = (
        rows[usable]
        .sort_values(["recorded_at", "record_id"], kind="stable")
        .groupby("cccd", sort=False)
        .tail(1)
        .sort_values("cccd", kind="stable")
        .reset_index(drop=True)
    )
    # Registry rows without a usable CCCD (duplicates re-registered without it) are linked
    # to the identity they duplicate, like any other agency's record.
    return Registry(rows=rows, people=people, orphans=rows[~usable])


def _link_without_id(records: pd.DataFrame, matcher: Matcher) -> pd.DataFrame:
    linked, methods, scores = [], [], []
    for key, birth, commune in zip(
        records["name_key"], records["birth_date"], records["commune_key"], strict=True
    ):
        row, method, score = matcher.match(key, birth, commune)
        linked.append(matcher.people["cccd"].iat[row] if row is not None else None)
        methods.append(method)
        scores.append(score)
    return records.assign(linked_cccd=linked, method=methods, score=scores)


def link_records(records: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """Add linked_cccd, method and score to prepared records (any mix of sources)."""
    records = records.reset_index(drop=True)
    people = registry.people.set_index("cccd")
    ids = records["cccd"].astype(object).to_numpy()
    present = pd.notna(ids)
    valid = present & cccd.invalid_reasons(records["cccd"]).isna().to_numpy()
    position = people.index.get_indexer(pd.Index(np.where(valid, ids, "").astype(object)))
    known = valid & (position >= 0)
    candidates = records[known]
    reg = people.iloc[position[known]]
    plausible = (candidates["birth_date"].to_numpy() == reg["birth_date"].to_numpy()) | (
        candidates["name_key"].to_numpy() == reg["name_key"].to_numpy()
    )
    for i in np.flatnonzero(~plausible):
        score = similarity(candidates["name_key"].iat[i], reg["name_key"].iat[i])
        plausible[i] = score >= NAME_SIMILARITY_MIN
    by_id = candidates[plausible].assign(linked_cccd=lambda f: f["cccd"], method="cccd", score=1.0)
    rest = records.drop(index=by_id.index)
    fuzzy = _link_without_id(rest, Matcher(registry.people, rest))
    # Say why the CCCD was not used: missing, invalid, unknown to the registry, implausible.
    reason = np.select(
        [~present[rest.index], ~valid[rest.index], ~known[rest.index]],
        ["", "invalid_cccd+", "unknown_cccd+"],
        default="implausible_cccd+",
    )
    fuzzy["method"] = [r + str(m) for r, m in zip(reason, fuzzy["method"], strict=True)]
    return pd.concat([by_id, fuzzy]).sort_index()


@dataclass
class Links:
    registry: Registry
    records: pd.DataFrame  # every agency person record: source, record_id, linked_cccd, ...


def link(raw: Path, as_of: dt.date) -> Links:
    """Link every person-bearing record recorded on or before `as_of` to a registry CCCD."""
    registry = load_registry(raw, as_of)
    parts = []
    for agency, name, prefix, event_column in PERSON_SOURCES:
        prepared = _prepare(read_as_of(raw, agency, name, as_of), prefix, event_column)
        prepared.insert(0, "source", f"{agency}/{name}")
        parts.append(prepared)
    orphans = registry.orphans
    parts.append(
        pd.DataFrame(
            {
                "source": "registry/people",
                "record_id": orphans["record_id"].to_numpy(),
                "cccd": orphans["cccd"].to_numpy(),
                "full_name": orphans["full_name"].to_numpy(),
                "birth_date": orphans["birth_date"].to_numpy(),
                "commune_key": orphans["commune_key"].to_numpy(),
                "recorded_at": orphans["recorded_at"].to_numpy(),
                "name_key": orphans["name_key"].to_numpy(),
            }
        )
    )
    records = link_records(pd.concat(parts, ignore_index=True), registry)
    return Links(registry=registry, records=records)
