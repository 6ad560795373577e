"""The temporal split: an embargo of one horizon between windows, and a validation window
long enough to calibrate on (`training.validation_start`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from needs_model.modelling.training import FAST, month_index, temporal_split

HORIZON = 3


def _months(first: str, count: int) -> pd.DatetimeIndex:
    return pd.date_range(first, periods=count, freq="ME")


def _frame(events_per_month: dict[pd.Timestamp, int], holders: int = 100) -> pd.DataFrame:
    """`holders` subjects at every month end; in each month, the given number of subjects
    (new ones each month: one event per subject) has a positive label."""
    rows, next_subject = [], holders
    for as_of, events in events_per_month.items():
        labels = np.zeros(holders)
        subjects = np.arange(holders)
        rows.append(pd.DataFrame({"subject_id": subjects, "as_of": as_of, "label": labels}))
        if events:
            new = np.arange(next_subject, next_subject + events)
            next_subject += events
            rows.append(pd.DataFrame({"subject_id": new, "as_of": as_of, "label": 1.0}))
    return pd.concat(rows, ignore_index=True)


def _valid_months(frame: pd.DataFrame, config=FAST) -> list[pd.Timestamp]:
    split = temporal_split(frame, HORIZON, config)
    return sorted(split.valid["as_of"].unique())


def test_a_validation_window_with_enough_events_keeps_its_length():
    frame = _frame({m: 5 for m in _months("2021-01", 48)})
    months = _valid_months(frame)
    assert len(months) == FAST.valid_months  # 30 events >= 20


def test_a_validation_window_with_few_events_reaches_back_until_it_holds_them():
    # One event a month: six months hold 6 events; 20 need 20 months.
    frame = _frame({m: 1 for m in _months("2019-01", 72)})
    split = temporal_split(frame, HORIZON, FAST)
    valid = split.valid
    assert valid.loc[valid["label"] == 1, "subject_id"].nunique() == FAST.min_valid_events
    assert valid["as_of"].nunique() == FAST.min_valid_events
    # The embargo still holds on both sides (a row's horizon ends by the next window's
    # first month end), and the test window is unchanged.
    month = month_index(split.train["as_of"]).max(), month_index(valid["as_of"])
    assert month[0] + HORIZON <= month[1].min()
    assert month[1].max() + HORIZON <= month_index(split.test["as_of"]).min()
    assert split.test["as_of"].nunique() == FAST.test_months


def test_events_are_people_not_rows():
    # The same two subjects positive at every month end (one future, seen monthly) are two
    # events however many month ends hold them: the window reaches back to its cap.
    months = _months("2019-01", 72)
    frame = pd.concat(
        [
            _frame({m: 0 for m in months}),
            pd.DataFrame(
                {"subject_id": np.tile([900, 901], len(months)), "as_of": np.repeat(months, 2)}
            ).assign(label=1.0),
        ],
        ignore_index=True,
    )
    assert len(_valid_months(frame)) == FAST.max_valid_months


def test_the_validation_window_stops_at_its_cap_and_leaves_the_training_window_its_months():
    rare = {m: int(i % 12 == 0) for i, m in enumerate(_months("2019-01", 72))}
    assert len(_valid_months(_frame(rare))) == FAST.max_valid_months
    # A short history: the training window keeps `min_train_months` from the first month.
    short = {m: 0 for m in _months("2022-01", 40)} | {pd.Timestamp("2023-06-30"): 1}
    short |= {pd.Timestamp("2024-06-30"): 1}
    split = temporal_split(_frame(short), HORIZON, FAST)
    train = month_index(split.train["as_of"])
    assert train.max() - train.min() + 1 == FAST.min_train_months


def test_without_the_rule_the_window_is_its_stated_length():
    frame = _frame({m: 1 for m in _months("2019-01", 72)})
    fixed = replace(FAST, min_valid_events=0)
    assert len(_valid_months(frame, fixed)) == FAST.valid_months


@pytest.mark.parametrize("events", [0, 1])
def test_a_history_too_short_for_any_training_window_is_refused_by_name(events):
    frame = _frame({m: events for m in _months("2024-01", 12)})
    with pytest.raises(ValueError, match="not enough history"):
        temporal_split(frame, HORIZON, FAST)
