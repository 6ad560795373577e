"""Once-only profiles: link every agency's records to one identity per citizen.

Records join on the CCCD when it is present, valid, known to the registry and plausible
(the name or birth date agrees). Otherwise they are matched on the diacritic-insensitive
name, birth date and commune, with a match score; a record with several equally good
candidates is left unlinked and reported, never guessed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.extracts.sources import read_as_of
from needs_model.reference import cccd
from needs_model.reference.geography import quang_nam_communes
from needs_model.reference.text import name_key, similarity

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
# The service register names the person subject of a delivered service like any agency does;
# its rows are linked too, and the labels come from those links (features.attach_labels).
TRANSACTIONS = ("services", "transactions", "subject_", "delivered_on")
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
    households: pd.DataFrame = field(default_factory=pd.DataFrame)  # the book's latest rows


def _prepare(frame: pd.DataFrame, prefix: str, event_column: str) -> pd.DataFrame:
    key = "transaction_id" if "transaction_id" in frame else "record_id"
    out = pd.DataFrame(
        {
            "event_date": frame[event_column].to_numpy(),
            "sex": frame["sex"].to_numpy() if "sex" in frame else None,
            "record_id": frame[key].to_numpy(),
            "cccd": frame[f"{prefix}cccd"].to_numpy(),
            "full_name": frame[f"{prefix}full_name"].to_numpy(),
            "birth_date": frame[f"{prefix}birth_date"].to_numpy(),
            "commune_key": commune_key(frame["commune_code"], frame["province_code"]).to_numpy(),
            "recorded_at": frame["recorded_at"].to_numpy(),
        }
    )
    # A record written without a name (the register's person columns are nullable) matches
    # no one on the name.
    out["name_key"] = name_key(out["full_name"]).fillna("")
    return out


def _first_unique(
    candidates: pd.DataFrame,
    method_single: str,
    score_same: float,
    score_other: float,
    ambiguous_reason: str,
) -> pd.DataFrame:
    """Per query: a unique candidate person, or the unique one known in the query's commune
    (now or earlier, when the candidates carry the registry's history); else ambiguous,
    reported as `ambiguous_reason`, never guessed."""
    candidates = candidates.assign(
        local=candidates["commune_key"].to_numpy() == candidates["commune_key_p"].to_numpy()
    )
    per_person = candidates.groupby(["qid", "cccd_p"], as_index=False, sort=False)["local"].any()
    counts = per_person.groupby("qid")["cccd_p"].transform("size")
    local_counts = per_person.groupby("qid")["local"].transform("sum")
    single = per_person[counts == 1]
    by_commune = per_person[(counts > 1) & per_person["local"] & (local_counts == 1)]
    chosen = pd.concat(
        [
            single.assign(
                method=method_single,
                score=np.where(single["local"].to_numpy(), score_same, score_other),
            ),
            by_commune.assign(method=method_single + "_commune", score=score_other),
        ]
    )
    ambiguous = set(per_person["qid"]) - set(chosen["qid"])
    return pd.concat(
        [
            chosen[["qid", "cccd_p", "method", "score"]],
            pd.DataFrame(
                {
                    "qid": sorted(ambiguous),
                    "cccd_p": None,
                    "method": ambiguous_reason,
                    "score": 0.0,
                }
            ),
        ],
        ignore_index=True,
    )


# Why a record was left unlinked (the `method` of an unlinked record, after any CCCD reason).
UNLINKED_REASONS = {
    "ambiguous_namesakes": "several people share the name and birth date, none singled out "
    "by the commune",
    "ambiguous_similar_names": "several people with a similar name share the birth date and "
    "commune",
    "ambiguous_birth_date_typo": "several namesakes born within a typo of the birth date",
    "unmatched": "no one in the registry matches the name and birth date, even allowing one typo",
}


def registry_identities(people: pd.DataFrame, rows: pd.DataFrame | None = None) -> pd.DataFrame:
    """cccd, name_key, birth_date, commune_key: every value the registry has held for each
    usable CCCD (the latest row and, from `rows`, the earlier ones), so a record written
    before a correction or a move still finds its person."""
    columns = ["cccd", "name_key", "birth_date", "commune_key"]
    parts = [people[columns]]
    if rows is not None and len(rows):
        known = rows[rows["cccd"].isin(set(people["cccd"]))]
        parts.append(known[columns])
    return pd.concat(parts, ignore_index=True).drop_duplicates(ignore_index=True)


def match_without_id(
    queries: pd.DataFrame, people: pd.DataFrame, rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Match records on name, birth date and commune: exact name and birth date first, then a
    misspelt name (same birth date and commune), then a birth-date typo (same name). Every
    value the registry has held counts (`registry_identities` of `people` and `rows`).

    `queries`: qid, name_key, birth_date, commune_key. Returns qid, cccd_p, method, score
    for every query (cccd_p None when unmatched or ambiguous; the method then says why).
    """
    registry = registry_identities(people, rows).rename(
        columns={"cccd": "cccd_p", "commune_key": "commune_key_p"}
    )
    q = queries[["qid", "name_key", "birth_date", "commune_key"]]
    exact = q.merge(registry, on=["name_key", "birth_date"])
    results = [_first_unique(exact, "name_birth", 0.97, 0.9, "ambiguous_namesakes")]
    rest = q[~q["qid"].isin(set(exact["qid"]))]

    near = rest.merge(
        registry.rename(columns={"name_key": "name_key_p"}),
        left_on=["birth_date", "commune_key"],
        right_on=["birth_date", "commune_key_p"],
    )
    near["similarity"] = [
        similarity(a, b) for a, b in zip(near["name_key"], near["name_key_p"], strict=True)
    ]
    near = (
        near[near["similarity"] >= NAME_SIMILARITY_MIN]
        .sort_values(["qid", "similarity"], ascending=[True, False])
        .drop_duplicates(["qid", "cccd_p"])
    )
    best = near.groupby("qid").head(2)
    top = best.groupby("qid")["similarity"].agg(["first", "size", "last"])
    clear = top[(top["size"] == 1) | (top["first"] > top["last"])].index
    winners = best.groupby("qid").head(1)
    winners = winners[winners["qid"].isin(clear)]
    results.append(
        winners.assign(method="similar_name", score=(0.6 + 0.3 * winners["similarity"]).round(3))[
            ["qid", "cccd_p", "method", "score"]
        ]
    )
    results.append(
        pd.DataFrame(
            {
                "qid": sorted(set(best["qid"]) - set(clear)),
                "cccd_p": None,
                "method": "ambiguous_similar_names",
                "score": 0.0,
            }
        )
    )
    rest = rest[~rest["qid"].isin(set(near["qid"]))]

    expanded = rest.assign(
        birth_date=[date_typo_variants(day) for day in rest["birth_date"]]
    ).explode("birth_date")
    expanded["birth_date"] = pd.to_datetime(expanded["birth_date"]).astype(
        registry["birth_date"].dtype
    )
    typo = expanded.merge(registry, on=["name_key", "birth_date"])
    results.append(_first_unique(typo, "birth_date_typo", 0.85, 0.75, "ambiguous_birth_date_typo"))
    matched = pd.concat(results, ignore_index=True)
    out = queries[["qid"]].merge(matched, on="qid", how="left")
    out["method"] = out["method"].fillna("unmatched")
    out["score"] = out["score"].fillna(0.0)
    return out


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
    return Registry(
        rows=rows, people=people, orphans=rows[~usable], households=load_household_book(raw, as_of)
    )


def load_household_book(raw: Path, as_of: dt.date) -> pd.DataFrame:
    """The household book's latest row per household on the as-of date, with commune_key."""
    rows = read_as_of(raw, "registry", "households", as_of)
    rows["commune_key"] = commune_key(rows["commune_code"], rows["province_code"])
    return (
        rows.sort_values(["recorded_at", "record_id"], kind="stable")
        .groupby("household_id", sort=False)
        .tail(1)
        .sort_values("household_id", kind="stable")
        .reset_index(drop=True)
    )


def _link_without_id(
    records: pd.DataFrame, people: pd.DataFrame, rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    queries = records.assign(qid=np.arange(len(records)))
    matched = match_without_id(queries, people, rows).set_index("qid").loc[queries["qid"]]
    return records.assign(
        linked_cccd=matched["cccd_p"].to_numpy(),
        method=matched["method"].to_numpy(),
        score=matched["score"].to_numpy(),
    )


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
    # A record written before a registry correction agrees with the value held then.
    history = registry_identities(registry.people, registry.rows)
    earlier = candidates[~plausible].reset_index().merge(history, on="cccd", suffixes=("", "_p"))
    agrees = (earlier["birth_date"] == earlier["birth_date_p"]) | (
        earlier["name_key"] == earlier["name_key_p"]
    )
    plausible |= candidates.index.isin(set(earlier.loc[agrees, "index"]))
    for i in np.flatnonzero(~plausible):
        score = similarity(candidates["name_key"].iat[i], reg["name_key"].iat[i])
        plausible[i] = score >= NAME_SIMILARITY_MIN
    by_id = candidates[plausible].assign(linked_cccd=lambda f: f["cccd"], method="cccd", score=1.0)
    rest = records.drop(index=by_id.index)
    fuzzy = _link_without_id(rest, registry.people, registry.rows)
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
    parts.append(_prepared_transactions(raw, as_of))
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


def _prepared_transactions(raw: Path, recorded_by: dt.date) -> pd.DataFrame:
    """The person-subject rows of the service register recorded on or before `recorded_by`,
    ready for `link_records` (record_id is the transaction id)."""
    agency, name, prefix, event_column = TRANSACTIONS
    rows = read_as_of(raw, agency, name, recorded_by)
    rows = rows[rows["subject_kind"] == "person"]
    prepared = _prepare(rows, prefix, event_column)
    prepared.insert(0, "source", f"{agency}/{name}")
    return prepared


def linked_transactions(
    raw: Path, as_of: dt.date, recorded_by: dt.date | None = None
) -> pd.DataFrame:
    """Every person-subject transaction recorded on or before `recorded_by` (default
    `as_of`), linked against the registry as known on `as_of`: transaction_id, service_id,
    delivered_on, linked_cccd, method, score. Labels read this, so they carry the same
    identity errors, and lose the same ambiguous records, as every other linked extract.

    Every service's labels on every snapshot date read the same links (those of the data's
    end), so the last result is kept, keyed on the two files' size and modification time.
    """
    stamp = tuple(
        (f.stat().st_mtime_ns, f.stat().st_size)
        for f in (raw / "registry" / "people.parquet", raw / "services" / "transactions.parquet")
    )
    return _linked_transactions(raw.resolve(), as_of, recorded_by or as_of, stamp).copy()


@lru_cache(maxsize=2)
def _linked_transactions(
    raw: Path, as_of: dt.date, recorded_by: dt.date, stamp: tuple[tuple[int, int], ...]
) -> pd.DataFrame:
    registry = load_registry(raw, as_of)
    linked = link_records(_prepared_transactions(raw, recorded_by), registry)
    rows = read_as_of(
        raw,
        "services",
        "transactions",
        recorded_by,
        ["transaction_id", "service_id", "delivered_on"],
    )
    return rows.merge(
        linked[["record_id", "linked_cccd", "method", "score"]].rename(
            columns={"record_id": "transaction_id"}
        ),
        on="transaction_id",
    ).drop(columns="recorded_at")
