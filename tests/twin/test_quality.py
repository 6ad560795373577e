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
