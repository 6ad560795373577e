"""Observation: recording lags with tails, batch uploads, errors in the service register."""

import numpy as np
import pandas as pd


def _transactions(world, raw):
    """The service register with each row's lag, and whether its commune is a mountain one
    (the writer numbers transactions in the order of the twin's log)."""
    tx = pd.read_parquet(raw / "services/transactions.parquet")
    log = pd.DataFrame(world.log.frame("transactions"))
    row = tx["transaction_id"].str[2:].astype(int).to_numpy() - 1
    commune = log["commune"].to_numpy()[row]
    tx["mountain"] = world.communes["is_mountain"].to_numpy(dtype=bool)[commune]
    tx["commune"] = commune
    tx["lag_days"] = (
        pd.to_datetime(tx["recorded_at"]) - pd.to_datetime(tx["delivered_on"])
    ).dt.days
    return tx


def test_recording_lags_are_skewed_with_a_month_long_tail(province):
    world, raw = province
    tx = _transactions(world, raw)
    lag = tx["lag_days"]
    assert (lag >= 0).all()
    assert lag.median() <= 7  # most rows arrive within a week
    assert 0.01 < (lag > 30).mean() < 0.15  # a tail arrives a month or more late
    assert lag.mean() > lag.median()  # right-skewed
    lowland = tx.loc[~tx["mountain"], "lag_days"]
    mountain = tx.loc[tx["mountain"], "lag_days"]
    assert len(mountain) > 100
    assert mountain.median() > lowland.median()


def test_some_communes_upload_a_month_at_once(province):
    """A batch: every row of a commune's month entered on one day early the next month.
    Four or more independent lags landing on one day of the next month almost never happen
    by chance (the lag's mode is a few days)."""
    world, raw = province
    tx = _transactions(world, raw)
    tx["month"] = pd.to_datetime(tx["delivered_on"]).dt.to_period("M")
    recorded = pd.to_datetime(tx["recorded_at"])
    tx["next_month_day"] = np.where(
        recorded.dt.to_period("M") == tx["month"] + 1, recorded.dt.day, 0
    )
    groups = tx.groupby(["commune", "month"]).agg(
        rows=("lag_days", "size"),
        days=("recorded_at", "nunique"),
        day=("next_month_day", "max"),
        mountain=("mountain", "first"),
    )
    big = groups[groups["rows"] >= 4]
    batch = (big["days"] == 1) & big["day"].between(1, 12)
    assert batch.sum() > 0
    assert batch.mean() < 0.5  # most communes record row by row
    assert batch[big["mountain"]].mean() > batch[~big["mountain"]].mean()


def test_the_service_register_carries_identity_errors(province):
    """Person subjects are written with CCCD, name and birth date, and the same injected
    errors as every other agency (logged in truth/errors.parquet)."""
    _, raw = province
    tx = pd.read_parquet(raw / "services/transactions.parquet")
    person = tx["subject_kind"] == "person"
    assert tx.loc[person, "subject_full_name"].notna().all()
    assert tx.loc[~person, ["subject_cccd", "subject_full_name"]].isna().all().all()
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    logged = errors[errors["table"] == "services/transactions"]
    kinds = set(logged["error_type"])
    assert {"missing_cccd", "name_misspelt", "birth_date_typo"} <= kinds, kinds
    missing = logged.loc[logged["error_type"] == "missing_cccd", "record_id"]
    assert tx.set_index("transaction_id").loc[missing, "subject_cccd"].isna().all()


def test_the_hard_cases_for_linking_are_injected(province):
    """Records with two errors at once, without a CCCD after a move, written before a
    registry correction; and namesakes as dense as in the full province's communes."""
    from needs_model.twin import names

    world, raw = province
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    agency = errors[errors["table"] != "registry/people"]
    second = agency[agency["note"] == "with_missing_cccd"]
    assert set(second["error_type"]) == {"name_misspelt", "birth_date_typo"}
    missing = set(agency.loc[agency["error_type"] == "missing_cccd", "record_id"])
    assert set(second["record_id"]) <= missing  # the second error comes with a missing CCCD
    # ~25 % of the records without a CCCD (some already had a second error on their own).
    assert 0.15 < len(second) / len(missing) < 0.3
    assert (agency["note"] == "after_move").sum() > 10
    corrected = errors[errors["error_type"] == "registry_correction"]
    assert len(corrected) > 10
    before = agency[agency["error_type"].str.endswith("_before_correction")]
    assert len(before) > 0
    # Agency records written before the correction carry the registry's old value.
    registry = pd.read_parquet(raw / "registry/people.parquet").set_index("record_id")
    # (duplicate rows, RD..., may have lost their diacritics on top)
    old = corrected[corrected["record_id"].str.startswith("RP")].set_index("record_id")
    column = old["column"].to_numpy()
    value = np.where(
        column == "full_name",
        registry.loc[old.index, "full_name"].astype(str).to_numpy(),
        pd.to_datetime(registry.loc[old.index, "birth_date"]).dt.date.astype(str).to_numpy(),
    )
    assert (value == old["recorded_value"].to_numpy()).all()
    people = pd.read_parquet(raw / "truth/people.parquet")
    households = pd.read_parquet(raw / "truth/households.parquet").set_index("household_id")
    year = pd.to_datetime(people["birth_date"]).dt.year.to_numpy()
    commune = people["household_id"].map(households["commune_code"]).to_numpy()
    share = names.namesake_share(people["full_name"].to_numpy(), year, commune)
    p = world.people
    drawn = names.full_names(p["family"], p["middle"], p["given"], p["sex"] == 1)
    # A small province has a few people per commune and year: namesakes are copied in, up
    # to the full province's share (groups of one person cannot get one).
    assert share > 2 * names.namesake_share(drawn, year, commune)
    assert share < 1.2 * names.full_scale_namesake_share()
