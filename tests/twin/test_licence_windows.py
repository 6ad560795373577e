"""Licences outside the renewal window: early renewals, lapses followed by a new licence,
and the profession's renewal factor for the year, which the oracle knows only once drawn."""

import copy
from dataclasses import replace

import numpy as np
import pandas as pd

from needs_model.twin import careers, oracle
from needs_model.twin.params import RENEWAL_WINDOW

EARLIEST_RENEWAL_MONTHS = 12  # early renewals from 12 months before expiry [U]


def _licence_log(world) -> pd.DataFrame:
    log = pd.DataFrame(world.log.frame("licences"))
    log["ym"] = log["event_date"].to_numpy().astype("datetime64[M]").astype(int) + 1970 * 12
    return log


def test_renewals_come_early_but_never_before_twelve_months(licence_province):
    """Renewals from 12 to 7 months before expiry exist (the early window) and none earlier.
    A renewal row carries the new licence: the months to the old expiry are read from the
    licence's previous issue or renewal row."""
    world, _ = licence_province
    log = _licence_log(world).sort_values(["licence", "event_date"], kind="stable")
    log["old_expiry"] = log.groupby("licence")["expiry_ym"].shift()
    renewed = log[(log["event"] == "renewed") & log["old_expiry"].notna()]
    months_before = renewed["old_expiry"] - renewed["ym"]
    assert len(renewed) > 300
    assert max(RENEWAL_WINDOW) == EARLIEST_RENEWAL_MONTHS
    assert months_before.max() <= EARLIEST_RENEWAL_MONTHS
    assert months_before.between(7, 12).sum() >= 2  # none at all without the early window


def test_a_lapsed_holder_may_get_a_new_licence_which_is_not_a_renewal(licence_province):
    """Each "reissued" licence follows a recorded lapse of the same licence within the window,
    and no renewal transaction is written for it (re-application is not the renewal label)."""
    world, _ = licence_province
    log = _licence_log(world).sort_values(["licence", "event_date"], kind="stable")
    previous = log.groupby("licence")["event"].shift()
    lapsed_at = log["ym"].where(log["event"] == "lapsed").groupby(log["licence"]).ffill()
    lapsed_at = lapsed_at.groupby(log["licence"]).shift()
    reissued = log["event"] == "reissued"
    assert reissued.sum() >= 5
    assert (previous[reissued] == "lapsed").all()
    within = (log["ym"] - lapsed_at)[reissued]
    assert within.between(1, 36).all()
    tx = pd.DataFrame(world.log.frame("transactions"))
    tx = tx[tx["service"].isin([pr.service_id for pr in careers.PROFESSIONS])]
    month = pd.to_datetime(tx["date"]).dt.to_period("M")
    tx_keys = set(zip(tx["subject"].tolist(), month, strict=True))
    rows = log[reissued]
    month = pd.to_datetime(rows["event_date"]).dt.to_period("M")
    keys = zip(rows["person"].tolist(), month, strict=True)
    assert not any(key in tx_keys for key in keys)


def test_the_oracle_integrates_over_a_year_factor_not_drawn_yet(licence_province):
    """At a month end whose horizon runs into next year, the oracle is the mixture over next
    year's factor of the oracles with that factor known; the factor drawn for the current year
    is used as drawn."""
    world, _ = licence_province
    w = copy.deepcopy(world)
    assert w.ym % 12 == 11  # December: the whole horizon lies in a year not drawn yet
    factors = w.params.careers.renewal_year_factors
    _, mixed = oracle.licence_renewal(w, 1, 3)
    parts = []
    for value, _ in factors:
        w.params = replace(
            w.params, careers=replace(w.params.careers, renewal_year_factors=((value, 1.0),))
        )
        parts.append(oracle.licence_renewal(w, 1, 3)[1])
    weights = np.array([weight for _, weight in factors])
    np.testing.assert_allclose(mixed, np.tensordot(weights, np.array(parts), axes=1), rtol=1e-12)
    assert np.ptp(np.array(parts), axis=0).max() > 0.01  # the factor does move the oracle
    # Two months back (October), the first two months take the current year's factor as drawn.
    w.params = world.params
    w.ym -= 2
    drawn = w.latent[careers.YEAR_FACTOR].copy()
    _, before = oracle.licence_renewal(w, 1, 3)
    w.latent[careers.YEAR_FACTOR] = np.concatenate(([drawn[0]], drawn[1:] * 1.2))
    _, scaled = oracle.licence_renewal(w, 1, 3)
    assert (scaled >= before).all() and (scaled > before + 1e-3).any()
