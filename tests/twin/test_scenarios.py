"""Named scenarios: parsed with clear errors, recorded in the manifest, and they change the
province where and when they say."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from needs_model.cli.main import app
from needs_model.twin.params import TwinParameters
from needs_model.twin.scenarios import SCENARIOS, parse_scenario
from needs_model.twin.simulate import SimulationSpec, new_world, step_month


def test_a_scenario_runs_for_its_months_from_the_month_given():
    storm = parse_scenario("storm-season@2024-09")
    assert (storm.rate, storm.factor, storm.mountain_only) == ("storm", 4.0, True)
    assert (storm.start, storm.end) == (dt.date(2024, 9, 1), dt.date(2025, 2, 28))
    assert parse_scenario("out-migration-wave").start == dt.date(2025, 1, 1)
    # A bare storm season starts in time for the season (Sep-Nov) to fall in its months.
    assert parse_scenario("storm-season").start == dt.date(2025, 6, 1)


def test_a_scenario_that_could_change_nothing_is_refused():
    # Storms come only in Sep-Nov: six months from January hold none of them.
    with pytest.raises(ValueError, match=r"2026-01..2026-06 holds no month in which storm acts"):
        parse_scenario("storm-season@2026-01")
    assert parse_scenario("storm-season@2026-04").end == dt.date(2026, 9, 30)


@pytest.mark.parametrize(
    ("text", "message"),
    [("hurricane", "unknown scenario 'hurricane'; known: baby-boom"), ("baby-boom@May", "YYYY-MM")],
)
def test_a_bad_scenario_is_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_scenario(text)


def _mountain_storm_months(params: TwinParameters) -> int:
    spec = SimulationSpec(people=3000, seed=5, start="2021-01", end="2021-12")
    w = new_world(spec, params)
    mountain = w.communes["is_mountain"].to_numpy()
    hits = 0
    for ym in range(spec.start_ym, spec.end_ym + 1):
        w.ym = ym
        step_month(w, spec.people)
        hits += int(((w.latent["commune_storm_ym"] == ym) & mountain).sum())
    return hits


def test_a_storm_season_brings_more_storms_to_the_mountains():
    calm = _mountain_storm_months(TwinParameters())
    stormy = _mountain_storm_months(
        TwinParameters().with_scenarios(parse_scenario("storm-season@2021-08"))
    )
    # Mountain districts four times as likely, three storm months of the six: 58 -> 94 here.
    assert stormy >= 1.5 * max(calm, 1), (calm, stormy)


def test_simulate_records_its_scenarios_and_refuses_unknown_ones(tmp_path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["simulate", "--scenario", "hurricane", "--out", str(tmp_path / "x")]
    )
    assert result.exit_code == 2 and "unknown scenario" in result.output
    out = tmp_path / "raw"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--people",
            "1000",
            "--start",
            "2021-01",
            "--end",
            "2021-04",
            "--scenario",
            "baby-boom@2021-02",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (recorded,) = json.loads((out / "manifest.json").read_text())["scenarios"]
    assert recorded["name"] == "baby-boom" and recorded["start"] == "2021-02-01"
    assert set(SCENARIOS) >= {recorded["name"]}


def test_a_take_up_campaign_brings_renewals_before_expiry_forward():
    from needs_model.twin import careers

    spec = SimulationSpec(people=20_000, seed=5, start="2021-01", end="2021-01")
    campaign = TwinParameters().with_scenarios(parse_scenario("take-up-campaign@2021-01"))
    plain_world, campaign_world = new_world(spec, TwinParameters()), new_world(spec, campaign)
    for w in (plain_world, campaign_world):
        careers.draw_year_factors(w)
    active = np.flatnonzero(plain_world.licences["active"])
    ym = spec.start_ym
    plain = careers.licence_renewal_hazard(plain_world, active, ym)
    brought = careers.licence_renewal_hazard(campaign_world, active, ym)
    before_expiry = plain_world.licences["expiry_ym"][active] - ym >= 1
    due = before_expiry & (plain > 0)
    assert due.sum() > 10 and (~before_expiry & (plain > 0)).sum() > 0
    np.testing.assert_allclose(brought[due], np.minimum(2 * plain[due], 0.97))
    np.testing.assert_array_equal(brought[~before_expiry], plain[~before_expiry])


def test_a_scenario_changes_nothing_before_its_start():
    """The province is the same until the scenario starts (the monitoring proof trains once
    on the months before and compares every scenario with the same champions)."""
    from needs_model.twin.simulate import run

    spec = SimulationSpec(people=3000, seed=0, start="2021-01", end="2021-04")
    plain = run(spec, TwinParameters(), None)
    for name in SCENARIOS:
        changed = run(
            spec, TwinParameters().with_scenarios(parse_scenario(f"{name}@2021-05")), None
        )
        assert changed.people.n == plain.people.n, name
        np.testing.assert_array_equal(changed.people["alive"], plain.people["alive"])
        np.testing.assert_array_equal(
            changed.households["log_income"], plain.households["log_income"]
        )
        assert changed.rng.bit_generator.state == plain.rng.bit_generator.state, name
