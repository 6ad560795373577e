"""The consistency report: every disagreement between agencies, never silently "fixed".

Each row names the type, the two agencies, the person, both values and the as-of date.
Profiles keep the registry's value for identity (the documented precedence) and this
table keeps the other value with its source; downstream features read the registry for
identity and the issuing agency for licences.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.extracts.sources import read_as_of
from needs_model.linking.link import UNLINKED_REASONS, Links
from needs_model.reference.geography import quang_nam_communes

REPORT_COLUMNS = [
    "type",
    "agency_a",
    "agency_b",
    "cccd",
    "record_id",
    "other_record_id",
    "value_a",
    "value_b",
    "note",
    "commune_key",
    "as_of",
]
TYPES = {
    "name": "Name differs from the registry",
    "birth_date": "Birth date differs from the registry",
    "sex": "Sex differs from the registry",
    "missing_cccd": "Record without a CCCD (linked on name, birth date, commune)",
    "cccd_mismatch": "Record's CCCD is invalid, unknown or another person's",
    "duplicate_record": "The registry holds the person twice",
    "address": "Agency saw the person in another commune than the registry then",
    "household_address": "Person's registry commune differs from the household book's",
    "deceased_with_active_licence": "Registry says deceased; a licence is still active",
    "deceased_with_enrolment": "Registry says deceased; enrolled this school year",
    "birth_without_registered_mother": "Facility birth whose mother is not in the registry",
    "unlinked_record": "Record could not be linked to one person (ambiguous or unknown)",
}


def _rows(kind: str, frame: pd.DataFrame, **columns: object) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    out["type"] = kind
    for name in REPORT_COLUMNS[1:-1]:
        value = columns.get(name)
        out[name] = value if value is not None else None
    return out


def _against_registry(kind: str, f: pd.DataFrame, **columns: object) -> pd.DataFrame:
    """Report rows for agency records `f` that disagree with their registry identity."""
    return _rows(
        kind,
        f,
        agency_a="registry/people",
        agency_b=f["source"],
        cccd=f["linked_cccd"],
        record_id=f["record_id"],
        commune_key=f["commune_key"],
        **columns,
    )


def identity_disagreements(links: Links) -> pd.DataFrame:
    records = links.records[links.records["linked_cccd"].notna()]
    people = links.registry.people.set_index("cccd")
    reg = people.loc[records["linked_cccd"]]
    reg.index = records.index
    agency_records = records["source"] != "registry/people"
    out = []
    differ = agency_records & (records["birth_date"].to_numpy() != reg["birth_date"].to_numpy())
    f = records[differ]
    out.append(
        _against_registry(
            "birth_date",
            f,
            value_a=reg.loc[differ, "birth_date"].dt.date.astype(str),
            value_b=f["birth_date"].dt.date.astype(str),
        )
    )
    differ = agency_records & (records["full_name"].to_numpy() != reg["full_name"].to_numpy())
    f = records[differ]
    diacritics_only = f["name_key"].to_numpy() == reg.loc[differ, "name_key"].to_numpy()
    out.append(
        _against_registry(
            "name",
            f,
            value_a=reg.loc[differ, "full_name"],
            value_b=f["full_name"],
            note=np.where(diacritics_only, "diacritics only", "spelling"),
        )
    )
    has_sex = agency_records & records["sex"].notna()
    differ = has_sex & (records["sex"].to_numpy() != reg["sex"].to_numpy())
    f = records[differ]
    out.append(_against_registry("sex", f, value_a=reg.loc[differ, "sex"], value_b=f["sex"]))
    f = records[agency_records & records["cccd"].isna()]
    out.append(
        _against_registry(
            "missing_cccd",
            f,
            value_a=f["linked_cccd"],
            note=f["method"] + " (score " + f["score"].astype(str) + ")",
        )
    )
    f = records[agency_records & records["cccd"].notna() & (records["method"] != "cccd")]
    out.append(
        _against_registry(
            "cccd_mismatch", f, value_a=f["linked_cccd"], value_b=f["cccd"], note=f["method"]
        )
    )
    unlinked = links.records[links.records["linked_cccd"].isna()]
    out.append(
        _rows(
            "unlinked_record",
            unlinked,
            agency_a=unlinked["source"],
            record_id=unlinked["record_id"],
            value_b=unlinked["full_name"],
            note=unlinked["method"],
            commune_key=unlinked["commune_key"],
        )
    )
    births = unlinked[unlinked["source"] == "health/births"]
    out.append(
        _rows(
            "birth_without_registered_mother",
            births,
            agency_a="health/births",
            agency_b="registry/people",
            record_id=births["record_id"],
            value_a=births["full_name"],
            value_b=births["cccd"],
            commune_key=births["commune_key"],
        )
    )
    return pd.concat(out, ignore_index=True)


def registry_duplicates(links: Links) -> pd.DataFrame:
    rows = links.registry.rows
    initial = rows[(rows["event"] == "initial") & rows["cccd"].notna()]
    first = initial.sort_values("record_id").groupby("cccd")["record_id"].first()
    extra = initial[initial["record_id"].to_numpy() != first.loc[initial["cccd"]].to_numpy()]
    out = [
        _rows(
            "duplicate_record",
            extra,
            agency_a="registry/people",
            agency_b="registry/people",
            cccd=extra["cccd"],
            record_id=extra["record_id"],
            other_record_id=first.loc[extra["cccd"]].to_numpy(),
            value_a=extra["full_name"],
            commune_key=extra["commune_key"],
        )
    ]
    orphans = links.records[
        (links.records["source"] == "registry/people") & links.records["linked_cccd"].notna()
    ]
    first_all = (
        rows[rows["cccd"].notna()].sort_values("record_id").groupby("cccd")["record_id"].first()
    )
    out.append(
        _rows(
            "duplicate_record",
            orphans,
            agency_a="registry/people",
            agency_b="registry/people",
            cccd=orphans["linked_cccd"],
            record_id=orphans["record_id"],
            other_record_id=first_all.reindex(orphans["linked_cccd"]).to_numpy(),
            value_a=orphans["full_name"],
            note="re-registered without a CCCD",
            commune_key=orphans["commune_key"],
        )
    )
    return pd.concat(out, ignore_index=True)


def address_disagreements(links: Links) -> pd.DataFrame:
    """Agency records placing a person elsewhere than the registry did on that date, and
    residents whose registry commune differs from their household book's."""
    rows = links.registry.rows
    history = rows[rows["cccd"].notna()][["cccd", "recorded_at", "commune_key", "status"]]
    history = history.rename(columns={"commune_key": "registry_commune"}).sort_values("recorded_at")
    history["cccd"] = history["cccd"].astype(object)
    records = links.records[
        (links.records["linked_cccd"].notna()) & (links.records["source"] != "registry/people")
    ]
    # Agencies record a few days after the event; compare with the registry a week on.
    probe = records.assign(
        when=records["event_date"] + pd.Timedelta(days=7),
        linked_cccd=records["linked_cccd"].astype(object),
    ).sort_values("when")
    merged = pd.merge_asof(
        probe,
        history,
        left_on="when",
        right_on="recorded_at",
        left_by="linked_cccd",
        right_by="cccd",
        suffixes=("", "_registry"),
    )
    differ = merged["registry_commune"].notna() & (
        merged["registry_commune"] != merged["commune_key"]
    )
    differ &= merged["status"].eq("resident")
    f = merged[differ]
    out = [
        _rows(
            "address",
            f,
            agency_a="registry/people",
            agency_b=f["source"],
            cccd=f["linked_cccd"],
            record_id=f["record_id"],
            value_a=f["registry_commune"],
            value_b=f["commune_key"],
            commune_key=f["commune_key"],
        )
    ]
    book = links.registry.households
    people = links.registry.people
    residents = people[people["status"] == "resident"]
    merged = residents.merge(
        book[["household_id", "commune_key", "record_id", "status"]],
        on="household_id",
        suffixes=("", "_book"),
    )
    differ = (merged["status_book"] == "resident") & (
        merged["commune_key"] != merged["commune_key_book"]
    )
    f = merged[differ]
    out.append(
        _rows(
            "household_address",
            f,
            agency_a="registry/people",
            agency_b="registry/households",
            cccd=f["cccd"],
            record_id=f["record_id"],
            other_record_id=f["record_id_book"],
            value_a=f["commune_key"],
            value_b=f["commune_key_book"],
            commune_key=f["commune_key_book"],
        )
    )
    return pd.concat(out, ignore_index=True)


def deceased_still_active(links: Links, raw: Path, as_of: dt.date) -> pd.DataFrame:
    people = links.registry.people
    deceased = set(people.loc[people["status"] == "deceased", "cccd"])
    records = links.records
    out = []
    for agency, name in (
        ("licensing", "medical_licenses"),
        ("tourism", "guide_cards"),
        ("agriculture", "vet_certificates"),
    ):
        rows = read_as_of(raw, agency, name, as_of, ["record_id", "event", "expiry_date"])
        rows = rows.merge(
            records[records["source"] == f"{agency}/{name}"][
                ["record_id", "linked_cccd", "commune_key"]
            ],
            on="record_id",
        )
        latest = rows.sort_values(["recorded_at", "record_id"]).groupby("linked_cccd").tail(1)
        active = (latest["event"] != "lapsed") & (latest["expiry_date"] >= pd.Timestamp(as_of))
        f = latest[active & latest["linked_cccd"].isin(deceased)]
        out.append(
            _rows(
                "deceased_with_active_licence",
                f,
                agency_a="registry/people",
                agency_b=f"{agency}/{name}",
                cccd=f["linked_cccd"],
                record_id=f["record_id"],
                value_a="deceased",
                value_b="active until " + f["expiry_date"].dt.date.astype(str),
                commune_key=f["commune_key"],
            )
        )
    enrol = records[
        (records["source"] == "education/enrolments")
        & (records["event_date"] > pd.Timestamp(as_of) - pd.Timedelta(days=365))
    ]
    f = enrol[enrol["linked_cccd"].isin(deceased)]
    out.append(
        _rows(
            "deceased_with_enrolment",
            f,
            agency_a="registry/people",
            agency_b="education/enrolments",
            cccd=f["linked_cccd"],
            record_id=f["record_id"],
            value_a="deceased",
            value_b="enrolled " + f["event_date"].dt.date.astype(str),
            commune_key=f["commune_key"],
        )
    )
    return pd.concat(out, ignore_index=True)


def consistency_report(links: Links, raw: Path, as_of: dt.date) -> pd.DataFrame:
    report = pd.concat(
        [
            identity_disagreements(links),
            registry_duplicates(links),
            address_disagreements(links),
            deceased_still_active(links, raw, as_of),
        ],
        ignore_index=True,
    )
    report["as_of"] = pd.Timestamp(as_of)
    for column in REPORT_COLUMNS[:-1]:
        report[column] = report[column].astype("string")
    return report[REPORT_COLUMNS].reset_index(drop=True)


def summary_tables(report: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    by_type = report.groupby(["type", "agency_b"], dropna=False).size().rename("rows").reset_index()
    names = (
        quang_nam_communes()
        .drop_duplicates("commune_code_2025")
        .set_index("commune_code_2025")["commune_name_2025"]
    )
    by_commune = report.groupby(["commune_key", "type"]).size().unstack(fill_value=0)
    by_commune.insert(0, "commune", names.reindex(by_commune.index).to_numpy())
    return by_type, by_commune.reset_index()


def unlinked_reasons(report: pd.DataFrame) -> pd.DataFrame:
    """Unlinked records per reason (`linking.link.UNLINKED_REASONS`) and per reason the
    record's own CCCD was not used (none, invalid, unknown, implausible), with the meaning."""
    unlinked = report[report["type"] == "unlinked_record"]
    if unlinked.empty:
        return pd.DataFrame(columns=["reason", "cccd", "records", "meaning"])
    note = unlinked["note"].astype(str)
    split = note.str.rpartition("+")
    frame = pd.DataFrame(
        {
            "reason": split[2].to_numpy(),
            "cccd": split[0].replace("", "none").to_numpy(),
        }
    )
    counts = frame.value_counts().rename("records").reset_index()
    counts["meaning"] = counts["reason"].map(UNLINKED_REASONS)
    return counts.sort_values(["records", "reason"], ascending=[False, True], ignore_index=True)


def write_report(report: pd.DataFrame, out: Path, as_of: dt.date) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report.to_parquet(out / "consistency.parquet", index=False)
    by_type, by_commune = summary_tables(report)
    lines = [
        f"# Consistency report, as of {as_of}",
        "",
        f"{len(report):,} disagreements between agencies. Nothing has been corrected: "
        "each row keeps both values and their sources (`consistency.parquet`).",
        "",
        "| type | meaning | other agency | rows |",
        "|---|---|---|---:|",
    ]
    lines += [
        f"| {r.type} | {TYPES.get(r.type, '')} | {r.agency_b} | {r.rows:,} |"
        for r in by_type.itertuples()
    ]
    reasons = unlinked_reasons(report)
    lines += [
        "",
        "## Unlinked records by reason",
        "",
        "Left unlinked rather than guessed; the CCCD part says why the record's own number "
        "was not used (none: it had none).",
        "",
        _markdown_table(reasons) if len(reasons) else "None.",
    ]
    lines += ["", "## By commune (2025 units)", "", _markdown_table(by_commune)]
    (out / "consistency.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    page = [
        "<!doctype html><meta charset='utf-8'><title>Consistency report</title>",
        f"<h1>Consistency report, as of {as_of}</h1>",
        f"<p>{len(report):,} disagreements; nothing corrected.</p>",
        by_type.assign(meaning=by_type["type"].map(TYPES)).to_html(index=False, escape=True),
        "<h2>Unlinked records by reason</h2>",
        reasons.to_html(index=False, escape=True),
        "<h2>By commune</h2>",
        by_commune.to_html(index=False, escape=True),
    ]
    (out / "consistency.html").write_text("\n".join(page), encoding="utf-8")


def _markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])
