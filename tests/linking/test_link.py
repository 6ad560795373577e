"""Linking: CCCD joins, fuzzy matches with scores, ambiguity left unlinked, quality vs truth."""

import datetime as dt

import pandas as pd
import pytest

from needs_model.linking.link import UNLINKED_REASONS, Registry, link, link_records
from needs_model.reference.text import name_key
from needs_model.twin.quality import link_quality


def _people(rows):
    frame = pd.DataFrame(rows, columns=["cccd", "full_name", "birth_date", "commune_key"])
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    frame["name_key"] = name_key(frame["full_name"])
    return frame


def _records(rows):
    frame = pd.DataFrame(
        rows, columns=["record_id", "cccd", "full_name", "birth_date", "commune_key"]
    )
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    frame["name_key"] = name_key(frame["full_name"])
    return frame


@pytest.fixture
def registry():
    people = _people(
        [
            ("049190000001", "Nguyễn Thị Hương", "1990-05-01", "20335"),
            (
                "049190000002",
                "Nguyễn Thị Hương",
                "1990-05-01",
                "20341",
            ),  # a namesake, same birthday
            ("049085000003", "Trần Văn Nam", "1985-03-12", "20335"),
            ("049301000004", "Lê Thị Mai", "2001-07-20", "20350"),
        ]
    )
    return Registry(rows=people, people=people, orphans=people.iloc[0:0])


def test_links_and_why(registry):
    records = _records(
        [
            (
                "a",
                "049085000003",
                "Tran Van Nam",
                "1985-03-12",
                "20335",
            ),  # CCCD, name without accents
            ("b", None, "Le Thi Mai", "2001-07-20", "20350"),  # no CCCD: name + birth date
            (
                "c",
                None,
                "Nguyễn Thị Hương",
                "1990-05-01",
                "20341",
            ),  # namesakes: the commune decides
            (
                "d",
                None,
                "Nguyễn Thị Hương",
                "1990-05-01",
                "20999",
            ),  # namesakes elsewhere: ambiguous
            ("e", "049085000003", "Lê Thị Mai", "2001-07-20", "20350"),  # someone else's CCCD
            ("f", None, "Lê Thị Mia", "2001-07-20", "20350"),  # misspelt name
            ("g", None, "Trần Văn Nam", "1985-12-03", "20335"),  # day and month swapped
            ("h", "04908500000X", "Trần Văn Nam", "1985-03-12", "20335"),  # invalid CCCD
        ]
    )
    out = link_records(records, registry).set_index("record_id")
    assert out.loc["a", "linked_cccd"] == "049085000003" and out.loc["a", "method"] == "cccd"
    assert out.loc["b", "linked_cccd"] == "049301000004" and out.loc["b", "score"] >= 0.9
    assert out.loc["c", "linked_cccd"] == "049190000002"
    assert pd.isna(out.loc["d", "linked_cccd"]) and out.loc["d", "method"] == "ambiguous_namesakes"
    assert out.loc["e", "linked_cccd"] == "049301000004"
    assert out.loc["e", "method"].startswith("implausible_cccd")
    assert (
        out.loc["f", "linked_cccd"] == "049301000004" and out.loc["f", "method"] == "similar_name"
    )
    assert (
        out.loc["g", "linked_cccd"] == "049085000003"
        and out.loc["g", "method"] == "birth_date_typo"
    )
    assert out.loc["h", "linked_cccd"] == "049085000003" and out.loc["h", "method"].startswith(
        "invalid"
    )
    assert (out["score"] <= 1).all() and out.loc["d", "score"] == 0


def _history(rows):
    """Registry rows (cccd, name, birth date, commune, recorded_at): `people` is each CCCD's
    latest row, `rows` all of them, as `load_registry` builds them."""
    frame = pd.DataFrame(
        rows, columns=["cccd", "full_name", "birth_date", "commune_key", "recorded_at"]
    )
    frame["birth_date"] = pd.to_datetime(frame["birth_date"])
    frame["name_key"] = name_key(frame["full_name"])
    people = frame.sort_values("recorded_at").groupby("cccd").tail(1).reset_index(drop=True)
    return Registry(rows=frame, people=people, orphans=frame.iloc[0:0])


def test_the_hard_cases_link_or_are_left_unlinked_with_a_reason():
    """Two errors at once, namesakes born the same year in one commune, a record written
    before a move or before a registry correction: linked where the evidence points to one
    person, otherwise left unlinked with the reason, never guessed."""
    registry = _history(
        [
            # Namesakes born days apart in one commune (Nguyễn Thị Hương is common).
            ("049190000001", "Nguyễn Thị Hương", "1990-05-01", "20335", "2021-01-01"),
            ("049190000002", "Nguyễn Thị Hương", "1990-05-04", "20335", "2021-01-01"),
            # Moved from 20341 to 20350 (the registry recorded the move); a namesake stays.
            ("049085000003", "Trần Văn Nam", "1985-03-12", "20341", "2021-01-01"),
            ("049085000003", "Trần Văn Nam", "1985-03-12", "20350", "2023-05-01"),
            ("049085000005", "Trần Văn Nam", "1985-03-12", "20341", "2021-01-01"),
            # Her birth date corrected in the registry in 2024 (was 2 July, is 20 July).
            ("049301000004", "Lê Thị Mai", "2001-07-02", "20350", "2021-01-01"),
            ("049301000004", "Lê Thị Mai", "2001-07-20", "20350", "2024-03-01"),
            ("049295000006", "Phạm Văn Hùng", "1995-10-25", "20335", "2021-01-01"),
            # Her given name corrected in the registry in 2023 (the full name of her papers).
            ("049198000007", "Hồ Thị Lệ", "1998-04-16", "20350", "2021-01-01"),
            ("049198000007", "Hồ Thị Lệ Quyên", "1998-04-16", "20350", "2023-08-01"),
        ]
    )
    records = _records(
        [
            # missing CCCD + misspelt name: the birth date and commune single her out
            ("two_errors_name", None, "Phạm Văn Hngù", "1995-10-25", "20335"),
            # missing CCCD + birth-date typo: the name and a typo away single him out
            ("two_errors_date", None, "Phạm Văn Hùng", "1995-10-26", "20335"),
            # missing CCCD + typo between two namesakes of one commune: ambiguous
            ("namesakes_typo", None, "Nguyễn Thị Hương", "1990-05-02", "20335"),
            # before his move, in his old commune, where his namesake still lives
            ("before_move", None, "Trần Văn Nam", "1985-03-12", "20341"),
            # after his move, in the new commune: the namesake never lived there
            ("after_move", None, "Tran Van Nam", "1985-03-12", "20350"),
            # written before her correction: the old birth date, no CCCD
            ("before_correction", None, "Lê Thị Mai", "2001-07-02", "20350"),
            # with her CCCD and the old birth date, misspelt name: still her
            ("before_correction_id", "049301000004", "Lê Thị Mia", "2001-07-02", "20350"),
            # with her CCCD, the old name and a birth-date typo: agrees with what the
            # registry held when it was written
            ("old_name_id", "049198000007", "Hồ Thị Lệ", "1998-04-18", "20350"),
            ("nobody", None, "Võ Minh Long", "1970-01-01", "20335"),
        ]
    )
    out = link_records(records, registry).set_index("record_id")
    assert out.loc["two_errors_name", "linked_cccd"] == "049295000006"
    assert out.loc["two_errors_date", "linked_cccd"] == "049295000006"
    assert pd.isna(out.loc["namesakes_typo", "linked_cccd"])
    assert out.loc["namesakes_typo", "method"] == "ambiguous_birth_date_typo"
    assert pd.isna(out.loc["before_move", "linked_cccd"])
    assert out.loc["before_move", "method"] == "ambiguous_namesakes"
    assert out.loc["after_move", "linked_cccd"] == "049085000003"
    assert out.loc["before_correction", "linked_cccd"] == "049301000004"
    assert out.loc["before_correction_id", "linked_cccd"] == "049301000004"
    assert out.loc["before_correction_id", "method"] == "cccd"
    assert out.loc["old_name_id", "linked_cccd"] == "049198000007"
    assert out.loc["old_name_id", "method"] == "cccd"
    assert pd.isna(out.loc["nobody", "linked_cccd"]) and out.loc["nobody", "method"] == "unmatched"
    unlinked = out[out["linked_cccd"].isna()]
    assert set(unlinked["method"]) <= set(UNLINKED_REASONS)


@pytest.mark.parametrize("as_of", [dt.date(2022, 6, 30), dt.date(2025, 11, 30)])
def test_link_quality_meets_the_targets(province, as_of):
    _, raw = province
    links = link(raw, as_of)
    quality = link_quality(raw, links.records, links.registry.people["cccd"])
    assert quality.linkable > 1000
    assert quality.precision >= 0.99, quality
    assert quality.recall >= 0.97, quality


def test_registry_duplicates_resolve_to_one_identity(province):
    _, raw = province
    links = link(raw, dt.date(2024, 6, 30))
    assert links.registry.people["cccd"].is_unique
    orphans = links.records[links.records["source"] == "registry/people"]
    assert len(orphans) > 0 and orphans["linked_cccd"].notna().mean() > 0.97


def test_profiles_carry_each_persons_registered_parents(province):
    """`Profiles.people` (the registry's latest row per CCCD) keeps the parents' numbers, in
    the whole province and in a shard of households: the twin's true parents, unless the
    registry never entered the number (an injected omission)."""
    from needs_model.linking.profiles import build_profiles

    _, raw = province
    profiles = build_profiles(raw, dt.date(2025, 6, 30))
    truth = pd.read_parquet(raw / "truth/people.parquet")
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    omitted = errors[errors["error_type"] == "missing_parent_cccd"]
    person_of = truth.set_index("cccd")["person_id"]
    people = profiles.people.set_index("cccd")
    shard = profiles.restrict(set(profiles.people["household_id"].iloc[::7]))
    for relation in ("mother", "father"):
        column = f"{relation}_cccd"
        parent = truth[f"{relation}_id"].to_numpy()[person_of.loc[people.index].to_numpy()]
        true_cccd = pd.Series(truth["cccd"].to_numpy()[parent], index=people.index).where(
            parent >= 0
        )
        never_entered = set(omitted.loc[omitted["column"] == column, "person_id"])
        entered = ~person_of.loc[people.index].isin(never_entered).to_numpy()
        assert (people[column].notna() == (true_cccd.notna() & entered)).all(), column
        known = people[column].notna()
        assert known.sum() > 5_000
        assert (people.loc[known, column] == true_cccd[known]).all(), column
        in_shard = shard.people.set_index("cccd")[column]
        assert in_shard.notna().sum() > 100
        assert in_shard.equals(people.loc[in_shard.index, column]), column
