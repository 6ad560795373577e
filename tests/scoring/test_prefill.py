"""Pre-filled dossiers: every declared component is filled from its own record, or honestly
left to the citizen."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from needs_model.catalogue.dossiers import DOSSIERS
from needs_model.catalogue.services import LICENCES, SERVICE_IDS
from needs_model.features.build import build_features
from needs_model.linking.profiles import build_profiles
from needs_model.scoring.batch import communes_2025
from needs_model.scoring.contacts import contact_book, contacts
from needs_model.scoring.prefill import READERS, build_dossiers

AS_OF = dt.date(2025, 6, 30)


def test_every_service_declares_a_dossier_whose_readers_exist():
    assert set(DOSSIERS) == set(SERVICE_IDS)
    for service_id, components in DOSSIERS.items():
        names = [c.name for c in components]
        assert len(names) == len(set(names)), service_id
        assert names[-1] == "residence", service_id
        for component in components:
            if component.reader is None:
                assert component.source == "citizen", (service_id, component.name)
            else:
                assert component.reader in READERS, (service_id, component.reader)


@pytest.fixture(scope="module")
def dossiers(province) -> tuple[object, dict[str, pd.DataFrame]]:
    """Every service's dossier for all its subjects on AS_OF."""
    _, raw = province
    profiles = build_profiles(raw, AS_OF)
    book = contact_book(profiles)
    names = communes_2025()["commune_name"]
    out = {}
    for service_id in SERVICE_IDS:
        frame = build_features(profiles, service_id)
        frame = pd.concat([frame, contacts(book, service_id, frame)], axis=1)
        out[service_id] = build_dossiers(profiles, service_id, frame.reset_index(drop=True), names)
    return raw, out


def test_each_component_with_a_reader_has_its_declared_fields_and_its_record(dossiers):
    _, frames = dossiers
    for service_id, frame in frames.items():
        assert len(frame), service_id
        expected = {"subject_id"}
        for component in DOSSIERS[service_id]:
            mine = {c for c in frame.columns if c.startswith(f"{component.name}.")}
            if component.reader is None:
                assert not mine, (service_id, component.name)
                continue
            wanted = {f"{component.name}.{f}" for f in component.fields}
            wanted |= {f"{component.name}.record_id", f"{component.name}.recorded_at"}
            assert wanted <= mine, (service_id, component.name, wanted - mine)
            expected |= mine
        assert set(frame.columns) == expected, service_id


# The number column of each licence table, as docs/data-contract.md names it.
NUMBER_IN_THE_CONTRACT = {
    "licensing/medical_licenses": "license_no",
    "tourism/guide_cards": "card_no",
    "agriculture/vet_certificates": "certificate_no",
}


def test_a_licence_is_prefilled_from_the_holders_latest_issue_in_the_extract(dossiers):
    raw, frames = dossiers
    checked = 0
    for service_id, licence in LICENCES.items():
        number = NUMBER_IN_THE_CONTRACT[licence.table]
        agency, table = licence.table.split("/")
        rows = pd.read_parquet(raw / agency / f"{table}.parquet")
        rows = rows[pd.to_datetime(rows["recorded_at"]) <= pd.Timestamp(AS_OF)]
        # A licence in force comes from an issue, a renewal or a new issue after a lapse.
        rows = rows[rows["event"].isin(["issued", "renewed", "reissued"])]
        for _, row in frames[service_id].dropna(subset=["licence.number"]).iterrows():
            own = rows[rows[number] == row["licence.number"]]
            assert len(own), (service_id, row["licence.number"])
            latest = own.sort_values(["event_date", "recorded_at"]).iloc[-1]
            assert row["licence.expiry_date"] == str(latest["expiry_date"])[:10]
            assert row["licence.record_id"] == latest["record_id"]
            checked += 1
    assert checked >= 50


def test_a_school_dossier_names_the_mother_the_birth_registration_named(dossiers):
    raw, frames = dossiers
    tx = pd.read_parquet(raw / "services" / "transactions.parquet")
    known = pd.to_datetime(tx["recorded_at"]) <= pd.Timestamp(AS_OF)
    tx = tx[(tx["service_id"] == "birth_registration") & known]
    frame = frames["school_admission"].dropna(subset=["birth_registration.mother_cccd"])
    assert len(frame) >= 50
    mother_of = tx.dropna(subset=["child_cccd"]).set_index("child_cccd")["subject_cccd"]
    for _, row in frame.iterrows():
        assert row["birth_registration.mother_cccd"] == mother_of[row["child.cccd"]]
