"""The vehicle register in the badge extract: what it says is what the twin's vehicles are."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from needs_model.extracts import contract
from needs_model.features.build import fleet_in_force


def _badges(raw) -> pd.DataFrame:
    return pq.read_table(raw / "transport/vehicle_badges.parquet").to_pandas()


def test_the_year_of_manufacture_gives_the_twins_end_of_service_life(province):
    """December of (year of manufacture + 20 passenger / 25 freight years) is the month the
    twin retires the vehicle: a model reading the register can know it exactly."""
    w, raw = province
    badges = _badges(raw)
    assert len(badges) > 50
    vehicle = np.searchsorted(w.vehicles["number"], badges["plate_no"].str[4:].astype(int))
    assert (w.vehicles["number"][vehicle] == badges["plate_no"].str[4:].astype(int)).all()
    life = np.where(badges["vehicle_type"] == "freight", 25, 20)
    last_month = (badges["manufacture_year"].to_numpy() + life) * 12 + 11
    np.testing.assert_array_equal(last_month, w.vehicles["end_ym"][vehicle])


def test_no_badge_runs_past_the_vehicles_service_life(province):
    _, raw = province
    badges = _badges(raw)
    life = np.where(badges["vehicle_type"] == "freight", 25, 20)
    last_day = pd.to_datetime((badges["manufacture_year"] + life).astype(str) + "-12-31")
    assert (pd.to_datetime(badges["expiry_date"]) <= last_day).all()
    assert (pd.to_datetime(badges["issue_date"]).dt.year >= badges["manufacture_year"]).all()


def test_capacity_classes_follow_the_vehicle_use_and_stay_with_the_vehicle(province):
    _, raw = province
    badges = _badges(raw)
    for use, classes in contract.CAPACITY_CLASSES.items():
        assert badges.loc[badges["vehicle_type"] == use, "capacity_class"].isin(classes).all()
    assert (badges.groupby("plate_no")["capacity_class"].nunique() == 1).all()
    assert badges["capacity_class"].nunique() >= 4


def test_months_to_the_end_of_service_life_from_the_register():
    """Inline values: a 2004 passenger vehicle runs to December 2024; a 2004 truck to 2029."""
    badges = pd.DataFrame(
        {
            "vehicle_type": ["passenger", "freight", "passenger"],
            "manufacture_year": [2004, 2004, 2005],
        }
    )
    fleet = fleet_in_force(badges, dt.date(2024, 9, 30))
    assert fleet["months_to_service_life_end"].tolist() == [3, 63, 15]
