"""The small province keeps the shape of the real one (tolerances from its own size)."""

from needs_model.twin.calibration import calibration_table


def test_published_figures_are_met_at_small_scale(province):
    world, _ = province
    rows = calibration_table(world, 20_000 / 1_500_000)
    verified = [r for r in rows if "[U]" not in r.source]
    assert len(verified) >= 7
    failures = [
        (r.measure, round(r.simulated, 4), r.published, round(r.tolerance, 4))
        for r in verified
        if not r.within
    ]
    assert not failures, failures


def test_poverty_is_concentrated_in_the_mountains(province):
    world, _ = province
    row = next(r for r in calibration_table(world, 20_000 / 1_500_000) if "mountain" in r.measure)
    mountain_population_share = world.communes.loc[
        world.communes["is_mountain"], "population_weight"
    ].sum()
    assert row.simulated > 2 * mountain_population_share
