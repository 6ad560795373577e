import numpy as np
import pytest

from needs_model.modelling import metrics


def test_bootstrap_auc_matches_sklearn_on_each_resample():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.2).astype(float)
    p = np.round(rng.random(500) * 0.5 + 0.3 * y, 2)  # ties on purpose
    draws = [rng.integers(0, 500, 500) for _ in range(20)]
    fast = metrics.bootstrap_auc(y, p, draws)
    slow = [metrics.auc(y[d], p[d]) for d in draws]
    assert fast == pytest.approx(slow, abs=1e-12)


def test_ece_is_zero_only_when_calibrated_and_capacity_metrics():
    y = np.array([0, 0, 0, 1] * 25, dtype=float)
    assert metrics.expected_calibration_error(y, np.full(100, 0.25), bins=1) == pytest.approx(0)
    assert metrics.expected_calibration_error(y, np.full(100, 0.5), bins=1) == pytest.approx(0.25)
    p = np.linspace(0, 1, 100)
    y = (p > 0.95).astype(float)
    cap = metrics.at_capacity(y, p, 0.05)
    assert cap == {"precision": 1.0, "recall": 1.0}
