"""Whom the list names to contact: a child's parent, alive and resident in the province (the
mother first), else an adult of the child's household; never the five-year-old."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from needs_model.catalogue.services import SERVICES
from needs_model.linking.profiles import Profiles
from needs_model.scoring.contacts import contact_book, contacts

AS_OF = dt.date(2025, 12, 31)
PEOPLE = [
    # cccd, birth date, sex, household, status, mother, father
    ("049219000001", "2019-03-01", "male", "H1", "resident", "049190000011", "049088000012"),
    ("049190000011", "1990-01-01", "female", "H1", "resident", None, None),
    ("049088000012", "1988-01-01", "male", "H1", "resident", None, None),
    # B: the mother died, the father lives in another household.
    ("049320000002", "2020-05-01", "female", "H2", "resident", "049191000021", "049087000022"),
    ("049191000021", "1991-01-01", "female", "H2", "deceased", None, None),
    ("049087000022", "1987-01-01", "male", "H9", "resident", None, None),
    # C: the mother left the province, no father recorded: the oldest adult of the household.
    ("049219000003", "2019-07-01", "male", "H3", "resident", "049195000031", None),
    ("049195000031", "1995-01-01", "female", "H3", "moved_out", None, None),
    ("049164000032", "1964-01-01", "female", "H3", "resident", None, None),
    ("049093000033", "1993-01-01", "male", "H3", "resident", None, None),
    ("049308000034", "2008-06-01", "female", "H3", "resident", None, None),  # 17: not adult
    # D: parents never in this province's register (numbers unknown here), father missing.
    ("049220000004", "2020-01-01", "female", "H4", "resident", "079196000041", None),
    ("049070000042", "1970-01-01", "male", "H4", "resident", None, None),
    # E: alone with a 12-year-old sibling, no parent known: nobody to contact.
    ("049219000005", "2019-09-01", "male", "H5", "resident", None, None),
    ("049313000051", "2013-02-01", "female", "H5", "resident", None, None),
    # F: the mother lives in another household (married out): she is still the contact.
    ("049320000006", "2020-02-01", "female", "H6", "resident", "049194000061", None),
    ("049194000061", "1994-01-01", "female", "H9", "resident", None, None),
    ("049060000062", "1960-01-01", "female", "H6", "resident", None, None),
]
EXPECTED = {  # subject -> (contact, relation)
    "049219000001": ("049190000011", "mother"),
    "049320000002": ("049087000022", "father"),
    "049219000003": ("049164000032", "household_adult"),
    "049220000004": ("049070000042", "household_adult"),
    "049219000005": (None, None),
    "049320000006": ("049194000061", "mother"),
}


def _profiles() -> Profiles:
    people = pd.DataFrame(
        PEOPLE,
        columns=[
            "cccd",
            "birth_date",
            "sex",
            "household_id",
            "status",
            "mother_cccd",
            "father_cccd",
        ],
    )
    people["birth_date"] = pd.to_datetime(people["birth_date"])
    people["ethnicity"], people["religion"] = "Kinh", "Không"
    households = pd.DataFrame(
        {"household_id": sorted(set(people["household_id"])), "is_urban": False}
    ).assign(is_mountain=False)
    businesses = pd.DataFrame(
        {
            "business_id": ["VT1"],
            "linked_cccd": ["049087000022"],
            "event_date": pd.to_datetime(["2020-01-01"]),
            "recorded_at": pd.to_datetime(["2020-01-02"]),
        }
    )
    empty = pd.DataFrame()
    return Profiles(
        AS_OF, people, households, {"transport/businesses": businesses}, empty, empty, empty, empty
    )


def _subjects(ids: list[str], profiles: Profiles) -> pd.DataFrame:
    household = profiles.people.set_index("cccd")["household_id"]
    return pd.DataFrame({"subject_id": ids, "household_id": household.loc[ids].to_numpy()})


def _service(kind: str, first: str):
    return next(s for s in SERVICES if s.subject_kind == kind and s.contact[0] == first)


def test_a_childs_contact_is_a_resident_parent_mother_first_else_an_adult_at_home():
    profiles = _profiles()
    school = _service("person", "mother")
    subjects = _subjects(list(EXPECTED), profiles)
    found = contacts(contact_book(profiles), school.service_id, subjects)
    for i, (contact, relation) in enumerate(EXPECTED.values()):
        assert found["contact_cccd"].iloc[i] == contact or (
            contact is None and pd.isna(found["contact_cccd"].iloc[i])
        ), subjects["subject_id"].iloc[i]
        assert found["contact_relation"].iloc[i] == relation or (
            relation is None and pd.isna(found["contact_relation"].iloc[i])
        )


def test_other_services_keep_their_contacts():
    """A licence holder is their own contact, a household its oldest resident adult (its
    oldest resident when no adult is left), a business its owner."""
    profiles = _profiles()
    book = contact_book(profiles)
    holder = _service("person", "self")
    own = contacts(book, holder.service_id, _subjects(["049190000011"], profiles))
    assert own.iloc[0].tolist() == ["049190000011", "self"]
    household = _service("household", "household_adult")
    homes = pd.DataFrame({"subject_id": ["H3", "H5"], "household_id": ["H3", "H5"]})
    found = contacts(book, household.service_id, homes)
    assert found["contact_cccd"].tolist() == ["049164000032", "049313000051"]
    assert found["contact_relation"].tolist() == ["household_adult", "household_member"]
    business = _service("business", "owner")
    owner = contacts(
        book, business.service_id, pd.DataFrame({"subject_id": ["VT1"], "household_id": [None]})
    )
    assert owner.iloc[0].tolist() == ["049087000022", "owner"]


def _believed_here(raw, truth: pd.DataFrame, as_of: pd.Timestamp) -> pd.Series:
    """Per truth row: alive and in the province, or still resident in the registry as of
    `as_of` (a ghost: a death or departure reported late or never, twin/recording.py) —
    the people a contact can be drawn from."""
    registry = pd.read_parquet(
        raw / "registry/people.parquet", columns=["cccd", "status", "event_date", "recorded_at"]
    )
    seen = registry[pd.to_datetime(registry["recorded_at"]) <= as_of].dropna(subset=["cccd"])
    last = seen.sort_values(["event_date", "recorded_at"], kind="stable").groupby("cccd").tail(1)
    residents = set(last.loc[last["status"] == "resident", "cccd"])
    return (truth["alive"] & truth["present"]) | truth["cccd"].isin(residents)


def _oldest_adult(truth: pd.DataFrame, here_mask: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """household_id -> its oldest adult among `here_mask`, from the twin's truth."""
    here = truth[here_mask].copy()
    born = pd.to_datetime(here["birth_date"])
    before_birthday = (born.dt.month > as_of.month) | (
        (born.dt.month == as_of.month) & (born.dt.day > as_of.day)
    )
    here["age"] = as_of.year - born.dt.year - before_birthday.astype(int)
    adults = here[here["age"] >= 18].sort_values(["birth_date", "cccd"])
    return adults.groupby("household_id")["cccd"].first()


def test_grade_one_contacts_are_the_true_parents_when_alive_and_resident(province, subjects):
    """On the served snapshot (the twin's last day, so its truth is the as-of state): each
    candidate's contact is their true mother when she is alive, in the province and her
    number was entered in the child's record; else the father on the same terms; else the
    oldest adult living in the child's household; else nobody. Never the child. "Alive and in
    the province" as far as the registry knows on the day: a ghost (a death or departure not
    yet, or never, recorded) is still a contact."""
    _, raw = province
    frame = subjects[_service("person", "mother").service_id]
    truth = pd.read_parquet(raw / "truth/people.parquet")
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    omitted = errors[errors["error_type"] == "missing_parent_cccd"]
    believed = _believed_here(raw, truth, pd.Timestamp(AS_OF))
    by_cccd = truth.dropna(subset=["cccd"]).set_index("cccd")
    child = by_cccd.loc[frame["subject_id"].astype(str)]
    expected = pd.Series(None, index=frame.index, dtype=object)
    relation = pd.Series(None, index=frame.index, dtype=object)
    for parent in ("mother", "father"):
        never_entered = set(omitted.loc[omitted["column"] == f"{parent}_cccd", "person_id"])
        pid = child[f"{parent}_id"].to_numpy()
        at_home = truth.iloc[np.maximum(pid, 0)]
        usable = (
            (pid >= 0)
            & believed.to_numpy()[np.maximum(pid, 0)]
            & ~child["person_id"].isin(never_entered).to_numpy()
        )
        take = usable & expected.isna().to_numpy()
        expected[take] = at_home["cccd"].to_numpy()[take]
        relation[take] = parent
    adult = (
        child["household_id"].map(_oldest_adult(truth, believed, pd.Timestamp(AS_OF))).to_numpy()
    )
    take = expected.isna().to_numpy() & pd.notna(adult)
    expected[take], relation[take] = adult[take], "household_adult"

    got = frame["contact_cccd"].astype(object).where(frame["contact_cccd"].notna(), None)
    assert (got.isna() == expected.isna()).all()
    assert (got[got.notna()] == expected[expected.notna()]).all()
    assert (
        frame["contact_relation"].astype(object).fillna("none") == relation.fillna("none")
    ).all()
    assert not (frame["contact_cccd"] == frame["subject_id"]).any()
    shares = relation.fillna("none").value_counts(normalize=True)
    assert shares["mother"] > 0.8 and shares["father"] > 0.03 and shares["household_adult"] > 0


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.service_id)
def test_every_declared_contact_fits_its_subject(service):
    from needs_model.catalogue.services import CONTACT_RELATIONS

    assert service.contact and set(service.contact) <= CONTACT_RELATIONS[service.subject_kind]


def test_the_index_finds_a_need_by_its_subject_and_by_its_contact():
    """index.parquet: a person's own CCCD (role subject) and, when someone else is
    contacted, the contact's (role contact); a need nobody can be contacted about is found
    by its subject only; a service whose contacts are its subjects adds no contact rows."""
    from needs_model.scoring.batch import citizen_index

    def scored(pairs: list[tuple[str, str | None]]) -> pd.DataFrame:
        subject, contact = zip(*pairs, strict=True)
        return pd.DataFrame(
            {
                "subject_id": pd.array(subject, dtype="string"),
                "contact_cccd": pd.array(contact, dtype="string"),
            }
        )

    school = _service("person", "mother").service_id
    holder = _service("person", "self").service_id
    household = _service("household", "household_adult").service_id
    index = citizen_index(
        {
            holder: scored([("049190000011", "049190000011")]),
            school: scored([("049219000001", "049190000011"), ("049219000005", None)]),
            household: scored([("H3", "049164000032")]),
        }
    )
    rows = set(index.itertuples(index=False, name=None))
    assert rows == {
        ("049190000011", holder, "049190000011", "subject"),
        ("049219000001", school, "049219000001", "subject"),
        ("049190000011", school, "049219000001", "contact"),
        ("049219000005", school, "049219000005", "subject"),
        ("049164000032", household, "H3", "contact"),
    }
    assert len(index) == len(rows)


def test_extracts_from_before_the_parents_columns_are_named_not_crashed_on():
    from dataclasses import replace

    from needs_model.extracts.validate import ContractViolation

    profiles = _profiles()
    stale = replace(profiles, people=profiles.people.drop(columns=["father_cccd"]), cache={})
    with pytest.raises(ContractViolation, match="registry/people: missing column 'father_cccd'"):
        contact_book(stale)
