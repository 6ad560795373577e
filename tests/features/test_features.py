"""Point-in-time features: the future cannot move them, shards give the same rows."""

import datetime as dt
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needs_model.catalogue.features import AUDIT_COLUMNS, FEATURES, features_for, render_markdown
from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.extracts import contract
from needs_model.features.build import attach_labels, build_features
from needs_model.linking.link import linked_transactions
from needs_model.linking.profiles import build_profiles
from needs_model.twin.quality import true_cccd_of_records

AS_OF = dt.date(2023, 9, 30)


@pytest.fixture(scope="module")
def profiles(province):
    _, raw = province
    return build_profiles(raw, AS_OF)


@pytest.fixture(scope="module")
def features(profiles):
    return {s: build_features(profiles, s) for s in SERVICE_IDS}


def _mutate_future(raw: Path, target: Path, as_of: dt.date, seed: int) -> None:
    """Drop, change and add rows recorded after `as_of` in every table."""
    rng = np.random.default_rng(seed)
    shutil.copytree(raw, target, ignore=shutil.ignore_patterns("truth"))
    cutoff = pd.Timestamp(as_of)
    for t in contract.TABLES:
        path = target / t.path
        frame = pq.read_table(path).to_pandas()
        future = pd.to_datetime(frame["recorded_at"]) > cutoff
        past, later = frame[~future], frame[future].copy()
        later = later.sample(frac=0.5, random_state=seed)  # remove half
        for column in t.columns:
            if column.name in ("recorded_at", t.key) or later.empty:
                continue
            if column.dtype == "date":
                later[column.name] = (
                    pd.to_datetime(later[column.name]) - pd.Timedelta(days=400)
                ).dt.date
            elif column.dtype == "string" and column.allowed is None:
                later[column.name] = rng.permutation(later[column.name].to_numpy())
        added = later.copy()
        added[t.key] = added[t.key].astype(str) + "-X"
        out = pd.concat([past, later, added], ignore_index=True)
        pq.write_table(pa.Table.from_pandas(out, schema=t.schema, preserve_index=False), path)


def test_the_future_does_not_move_a_single_feature(province, features, tmp_path):
    _, raw = province
    _mutate_future(raw, tmp_path / "raw", AS_OF, seed=1)
    mutated = build_profiles(tmp_path / "raw", AS_OF)
    for service_id in SERVICE_IDS:
        pd.testing.assert_frame_equal(
            features[service_id], build_features(mutated, service_id), obj=service_id
        )


def test_the_mutation_does_change_the_data(province, tmp_path):
    """Guard for the test above: the mutated copy really differs after the as-of date."""
    _, raw = province
    _mutate_future(raw, tmp_path / "raw", AS_OF, seed=1)
    before = pq.read_table(raw / "registry/people.parquet").to_pandas()
    after = pq.read_table(tmp_path / "raw/registry/people.parquet").to_pandas()
    assert not before.equals(after)
    assert after["record_id"].str.endswith("-X").sum() > 0
    later = build_profiles(tmp_path / "raw", dt.date(2025, 6, 30))
    original = build_profiles(raw, dt.date(2025, 6, 30))
    assert not build_features(later, "poor_household_confirmation").equals(
        build_features(original, "poor_household_confirmation")
    )


def test_shards_by_household_give_the_same_rows(profiles, features):
    households = sorted(
        set(profiles.households["household_id"]) | set(profiles.people["household_id"])
    )
    shards = [set(households[i::3]) for i in range(3)]
    for service_id in SERVICE_IDS:
        parts = [build_features(profiles.restrict(shard), service_id) for shard in shards]
        combined = pd.concat(parts).sort_values("subject_id", kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(combined, features[service_id], obj=service_id)


def test_labels_are_services_delivered_in_the_horizon(province, features):
    """A household's label reads the register's household number; a person's reads the
    register's rows linked to the registry on the data's end (as every extract is); both
    count every row the extract holds, however late it was recorded."""
    _, raw = province
    data_end = dt.date(2025, 12, 31)
    tx = pd.read_parquet(raw / "services/transactions.parquet")
    tx["delivered_on"] = pd.to_datetime(tx["delivered_on"])
    linked = linked_transactions(raw, data_end, recorded_by=dt.date(9999, 12, 31))
    start = pd.Timestamp(AS_OF)
    for service_id, frame, key in (
        ("poor_household_confirmation", tx, "subject_household_id"),
        ("birth_registration", linked, "linked_cccd"),
    ):
        months = service(service_id).horizon_months
        end = start + pd.offsets.MonthEnd(months)
        window = frame[
            (frame["service_id"] == service_id)
            & (frame["delivered_on"] > start)
            & (frame["delivered_on"] <= end)
        ]
        labelled = attach_labels(features[service_id], raw, service_id, AS_OF, data_end)
        expected = labelled["subject_id"].isin(set(window[key]))
        assert (labelled["label"] == expected.astype(float)).all()
        assert labelled["label"].sum() > 0
    late = attach_labels(
        features["school_admission"], raw, "school_admission", AS_OF, dt.date(2024, 3, 31)
    )
    assert late["label"].isna().all()  # the horizon runs past the data
    # With the data ending on the horizon's last day, a delivery recorded after it still
    # counts: the extract holds it (a cut there would drop the last weeks' deliveries).
    end = dt.date(2023, 11, 30)
    recorded = pd.to_datetime(tx["recorded_at"])
    window = tx[
        (tx["service_id"] == "birth_registration")
        & (tx["delivered_on"] > start)
        & (tx["delivered_on"] <= pd.Timestamp(end))
    ]
    assert (recorded[window.index] > pd.Timestamp(end)).sum() > 0
    linked = linked_transactions(raw, end, recorded_by=dt.date(9999, 12, 31))
    linked = linked[linked["transaction_id"].isin(set(window["transaction_id"]))]
    at_end = attach_labels(features["birth_registration"], raw, "birth_registration", AS_OF, end)
    expected = at_end["subject_id"].isin(set(linked["linked_cccd"]))
    assert (at_end["label"] == expected.astype(float)).all()


def test_person_labels_follow_the_link_not_the_written_cccd(province, features):
    """The register's rows carry the injected identity errors (a missing or mistyped CCCD):
    such a row still labels the person it links to, and the labels agree with the twin's
    truth except for the few rows the linker leaves unlinked or gets wrong."""
    _, raw = province
    service_id = "school_admission"
    labelled = attach_labels(
        features[service_id], raw, service_id, AS_OF, dt.date(2025, 12, 31)
    ).set_index("subject_id")
    tx = pd.read_parquet(raw / "services/transactions.parquet")
    truth = true_cccd_of_records(raw)
    true_cccd = truth[truth["source"] == "services/transactions"].set_index("record_id")[
        "true_cccd"
    ]
    tx["true_cccd"] = tx["transaction_id"].map(true_cccd)
    delivered = pd.to_datetime(tx["delivered_on"])
    end = pd.Timestamp(AS_OF) + pd.offsets.MonthEnd(service(service_id).horizon_months)
    window = tx[
        (tx["service_id"] == service_id) & (delivered > pd.Timestamp(AS_OF)) & (delivered <= end)
    ]
    window = window[window["true_cccd"].isin(labelled.index)]
    wrong_id = window["subject_cccd"].isna() | (window["subject_cccd"] != window["true_cccd"])
    assert wrong_id.sum() > 0  # the register really carries identity errors
    # Rows written without the right CCCD still label their person (most are relinked).
    assert labelled.loc[window.loc[wrong_id, "true_cccd"], "label"].mean() > 0.5
    true_label = labelled.index.isin(set(window["true_cccd"]))
    positive = labelled["label"].to_numpy() == 1
    # 3 % missing and 0.5 % mistyped CCCDs, nearly all relinked on name and birth date.
    assert (positive & true_label).sum() / true_label.sum() > 0.97
    assert (positive & true_label).sum() / positive.sum() > 0.99


def test_no_sensitive_attribute_is_a_feature(features):
    for f in FEATURES:
        assert not any(word in f.name for word in ("ethnic", "religion"))
    for service_id, frame in features.items():
        assert set(AUDIT_COLUMNS) <= set(frame.columns)
        model_inputs = features_for(service_id)
        assert not set(AUDIT_COLUMNS) & set(model_inputs)
        assert len(frame) > 0, service_id


def test_an_optional_feature_is_computed_for_the_service_but_is_no_default_input(features):
    """`household_poor_last_review`, a default for school admission, is optional for birth
    registration: in its table, by the same rule, for a data scientist to choose."""
    births, school = features["birth_registration"], features["school_admission"]
    assert "household_poor_last_review" not in features_for("birth_registration")
    assert "household_poor_last_review" in births.columns
    assert set(births["household_poor_last_review"].unique()) == {0.0, 1.0}
    both = births[["household_id", "household_poor_last_review"]].merge(
        school[["household_id", "household_poor_last_review"]].drop_duplicates(),
        on="household_id",
        suffixes=("_mother", "_child"),
    )
    assert len(both) > 50
    assert (
        both["household_poor_last_review_mother"] == both["household_poor_last_review_child"]
    ).all()


def test_rule_features_carry_signal(features):
    frame = features["school_admission"]
    assert 0 < frame["rule_turns_six"].mean() < 1


def test_committed_feature_docs_are_generated():
    committed = Path(__file__).parents[2] / "docs" / "features.md"
    assert committed.read_text(encoding="utf-8") == render_markdown()


def test_a_legal_change_announced_after_the_as_of_date_moves_no_feature(province, monkeypatch):
    """A new poverty line for the December 2025 review, announced on 2025-09-15: features on
    2025-06-30 must not see it; features on 2025-09-30 must."""
    from needs_model.catalogue import legal

    _, raw = province
    early, late = dt.date(2025, 6, 30), dt.date(2025, 9, 30)
    before = {
        d: build_features(build_profiles(raw, d), "poor_household_confirmation")
        for d in (early, late)
    }
    changed = []
    for p in legal.LEGAL_PARAMETERS:
        if p.name.startswith("poverty_income_line_") and p.is_valid_on(dt.date(2025, 12, 1)):
            old = replace(p, valid_to=dt.date(2025, 11, 1))
            new = replace(
                p,
                value=p.value * 1.5,
                valid_from=dt.date(2025, 11, 1),
                announced_on=dt.date(2025, 9, 15),
            )
            changed += [old, new]
        else:
            changed.append(p)
    monkeypatch.setattr(legal, "LEGAL_PARAMETERS", tuple(changed))
    after = {
        d: build_features(build_profiles(raw, d), "poor_household_confirmation")
        for d in (early, late)
    }
    pd.testing.assert_frame_equal(before[early], after[early])
    ratio = "last_income_to_line_ratio"
    moved = before[late][ratio].dropna() / after[late][ratio].dropna()
    assert np.allclose(moved, 1.5)


def test_snapshots_built_by_an_older_version_are_refused_by_name(snapshots, tmp_path):
    from needs_model.features.snapshots import load_service

    service_id = "medical_license_renewal"
    (tmp_path / service_id).mkdir()
    for path in sorted((snapshots / service_id).glob("*.parquet"))[:2]:
        old = pd.read_parquet(path).drop(columns=["commune_code"])
        old.to_parquet(tmp_path / service_id / path.name, index=False)
    with pytest.raises(ValueError, match=r"lack commune_code: .* rebuild them"):
        load_service(tmp_path, service_id)
