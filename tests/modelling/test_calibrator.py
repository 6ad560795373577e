"""The calibrator serves no probability more extreme than its evidence."""

from __future__ import annotations

import numpy as np

from needs_model.modelling.training import Calibrator


def _validation() -> tuple[np.ndarray, np.ndarray]:
    """1,000 rows: the 200 lowest margins are all negative, the 50 highest all positive,
    and in between the rate rises with the margin."""
    rng = np.random.default_rng(0)
    margin = np.sort(rng.normal(0, 1, 1000))
    y = (rng.random(1000) < np.linspace(0.2, 0.8, 1000)).astype(float)
    y[:200], y[-50:] = 0.0, 1.0
    return margin, y


def test_isotonic_blocks_are_shrunk_by_their_size():
    margin, y = _validation()
    calibrator = Calibrator.fit(margin, y)
    assert calibrator.kind == "isotonic"
    p = calibrator(margin)
    # The top block holds at least the 50 certain positives; all positive, it serves
    # (n + 1/2) / (n + 1), never 1.
    top = p[-1]
    n_top = int((p == top).sum())
    assert n_top >= 50 and y[p == top].all()
    assert top < 1.0 and np.isclose(top, (n_top + 0.5) / (n_top + 1))
    # The bottom block: at least 200 negatives, served (0 + 1/2) / (n + 1) > 0, not 0.
    bottom = p[0]
    n_bottom = int((p == bottom).sum())
    assert bottom > 0 and np.isclose(bottom, (y[p == bottom].sum() + 0.5) / (n_bottom + 1))
    grid = calibrator(np.linspace(-5, 5, 2001))
    assert (np.diff(grid) >= 0).all()


def test_platt_is_not_extrapolated_beyond_its_margins():
    rng = np.random.default_rng(1)
    margin = rng.normal(0, 1, 400)
    y = (rng.random(400) < 1 / (1 + np.exp(-2 * margin))).astype(float)
    calibrator = Calibrator.fit(margin, y)
    assert calibrator.kind == "platt"
    far = calibrator(np.array([margin.max() + 10, margin.min() - 10]))
    edge = calibrator(np.array([margin.max(), margin.min()]))
    assert np.allclose(far, edge) and 0 < far[1] < far[0] < 1
    # A calibrator saved before the bound existed still loads and extrapolates as it did.
    old = Calibrator("platt", {"a": calibrator.params["a"], "b": calibrator.params["b"]})
    assert old(np.array([margin.max() + 10]))[0] > far[0]


def test_a_few_rows_never_lift_thousands_when_shrinking_breaks_the_order():
    """Five rows below everything with no positive (shrunk to 0.5 / 6 = 0.083) sit under
    5,000 rows with 5 positives (0.0011): restoring the order pools them by their rows, so
    the probabilities keep the validation window's mean (before: every one of the 5,000 rows
    was served 0.083, and the calibrated mean rose from 0.084 to 0.153)."""
    margin = np.r_[np.full(5, -10.0), np.full(5_000, -5.0), np.full(1_000, 0.0)]
    y = np.r_[np.zeros(5), np.ones(5), np.zeros(4_995), np.ones(500), np.zeros(500)]
    calibrator = Calibrator.fit(margin, y)
    p = calibrator(margin)
    assert calibrator.kind == "isotonic"
    assert p[5] < 0.002  # the 5,000 rows keep about their own rate, 5 / 5,000
    assert abs(p.mean() - y.mean()) < 0.001
    assert (np.diff(calibrator(np.linspace(-12, 2, 500))) >= 0).all()
