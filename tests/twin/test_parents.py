"""The twin records a child's parents where its households say who they are, the registry
extract writes their numbers (with the omissions `ErrorRates` injects), and nothing else."""

import numpy as np
import pandas as pd

from needs_model.twin import demography
from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, new_world, step_month

# A child of the first day was born when its mother was at least 17; her husband is at
# most 3 years younger than she is, and grandparents are older than her.
CHILD_AGE_GAP_MONTHS = 12 * 12


def test_first_day_children_get_the_parents_their_household_implies():
    """Each household is built as a woman, her husband when she has one, then their
    children (younger than her by far), then grandparents: the children's mother is the
    woman, their father her husband, and nobody else gets a parent (which side the
    grandparents come from is not drawn)."""
    w = new_world(SimulationSpec(people=4_000, seed=21), TwinParameters())
    p = w.people
    n = len(w.initial["people"])
    household = p["household"][:n]
    first = np.r_[0, np.flatnonzero(np.diff(household)) + 1]  # each household's first member
    woman = first[np.searchsorted(first, np.arange(n), side="right") - 1]
    couple = p["spouse"][woman] == woman + 1
    child = (p["birth_ym"][:n] - p["birth_ym"][woman] > CHILD_AGE_GAP_MONTHS) & (
        p["sex"][woman] == 1
    )
    assert child.sum() > 1_000 and (child & ~couple).sum() > 20  # single mothers' children

    mother, father = p["mother"][:n], p["father"][:n]
    assert (mother[child] == woman[child]).all()
    assert (father[child & couple] == woman[child & couple] + 1).all()
    assert (p["sex"][father[child & couple]] == 0).all()
    assert (father[child & ~couple] == -1).all()
    assert (mother[~child] == -1).all() and (father[~child] == -1).all()
    # Every child the mother is recorded with is one she bore (her parity).
    born_to = np.bincount(mother[child], minlength=n)
    assert (born_to[woman[child]] == p["parity"][woman[child]]).all()


def test_a_newborns_father_is_the_mothers_husband_or_late_husband():
    """A child born in the marriage, or within 300 days of the husband's death, is his (Law
    on Marriage and Family 2014, art. 88(1)); an unmarried mother's child has no recorded
    father. Followed month by month from the husbands the state shows before each month."""
    spec = SimulationSpec(people=6_000, seed=23, start="2021-01", end="2023-12")
    w = new_world(spec, TwinParameters())
    p = w.people
    last_husband: dict[int, tuple[int, int]] = {}  # woman -> (husband, month he died or -1)
    seen = {"husband": 0, "late_husband": 0, "none": 0}
    for ym in range(spec.start_ym, spec.end_ym + 1):
        w.ym = ym
        husband_before = p["spouse"].copy()
        alive_before = p["alive"].copy()
        for woman in np.flatnonzero((husband_before >= 0) & (p["sex"] == 1)):
            last_husband[int(woman)] = (int(husband_before[woman]), -1)
        n_before = p.n
        step_month(w, spec.people)
        for woman, (husband, died) in list(last_husband.items()):
            if died < 0 and alive_before[husband] and not p["alive"][husband]:
                last_husband[woman] = (husband, ym)
        for child in range(n_before, p.n):
            if p["birth_ym"][child] != ym:
                continue  # arrived with an in-migrant household, not born here
            mother = int(p["mother"][child])
            husband, died = last_husband.get(mother, (-1, -1))
            if husband_before[mother] >= 0:
                expected, case = int(husband_before[mother]), "husband"
            elif husband >= 0 and died >= 0 and ym - died <= 9:
                expected, case = husband, "late_husband"
            else:
                expected, case = -1, "none"
            assert p["father"][child] == expected, (child, case)
            seen[case] += 1
    assert seen["husband"] > 200 and seen["none"] > 5, seen
    # Every widow keeps her late husband, for a child she bears in the next 300 days.
    widowed = {w_: h for w_, (h, died) in last_husband.items() if died >= 0}
    assert len(widowed) > 10
    assert all(p["late_spouse"][woman] == husband for woman, husband in widowed.items())


def test_a_child_born_within_300_days_of_the_husbands_death_is_his():
    """Two widows about to give birth (the month after their ninth month of pregnancy every
    pregnancy ends): one widowed 3 months ago, one 11 months ago."""
    w = new_world(SimulationSpec(people=2_000, seed=24), TwinParameters())
    p = w.people
    couples = np.flatnonzero((p["sex"] == 1) & (p["spouse"] >= 0) & (w.person_age() < 45))
    recent, long_ago = couples[:2]
    for widow, months in ((recent, 3), (long_ago, 11)):
        husband = p["spouse"][widow]
        p["alive"][husband] = False
        p["exit_ym"][husband] = w.ym - months
        p["spouse"][[widow, husband]] = -1
        p["late_spouse"][widow] = husband
        p["gestation"][widow] = 9
    before = p.n
    demography.births(w)
    born = np.arange(before, p.n)
    father = dict(zip(p["mother"][born], p["father"][born], strict=True))
    assert father[recent] >= 0 and p["late_spouse"][recent] == father[recent]
    assert father[long_ago] == -1


def test_the_registry_writes_each_recorded_parents_number_or_an_injected_omission(province):
    """Every registry row carries the CCCD of the parents the twin records for the person,
    except where `truth/errors.parquet` says the number was never entered; the omission is
    the person's (all their rows), at the rate `ErrorRates` sets."""
    _, raw = province
    rows = pd.read_parquet(raw / "registry/people.parquet")
    truth = pd.read_parquet(raw / "truth/people.parquet")
    identities = pd.read_parquet(raw / "truth/identities.parquet")
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    person = (
        identities[identities["table"] == "registry/people"]
        .set_index("record_id")["person_id"]
        .loc[rows["record_id"]]
        .to_numpy()
    )
    cccd_of = truth["cccd"].to_numpy()
    rate = TwinParameters().errors.missing_parent_cccd
    for relation in ("mother", "father"):
        column = f"{relation}_cccd"
        parent = truth[f"{relation}_id"].to_numpy()[person]
        expected = np.where(parent >= 0, cccd_of[np.maximum(parent, 0)], None)
        recorded = rows[column].to_numpy(dtype=object)
        omitted = set(
            errors.loc[
                (errors["error_type"] == "missing_parent_cccd") & (errors["column"] == column),
                "record_id",
            ]
        )
        is_omitted = rows["record_id"].isin(omitted).to_numpy()
        assert (pd.isna(recorded) == (pd.isna(expected) | is_omitted)).all(), column
        kept = ~is_omitted & pd.notna(expected)
        assert (recorded[kept] == expected[kept]).all(), column
        assert kept.sum() > 5_000, column
        # Per person: none of an omitted person's rows carries the number.
        people_omitted = set(person[is_omitted])
        assert not (np.isin(person, list(people_omitted)) & pd.notna(recorded)).any()
        with_parent = np.unique(person[pd.notna(expected)])
        share = len(people_omitted) / len(with_parent)
        se = np.sqrt(rate * (1 - rate) / len(with_parent))
        assert abs(share - rate) < 4 * se, (column, share)
