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


def test_capacity_is_counted_per_list_with_each_lists_own_quota():
    # Two communes' monthly lists: A has 4 subjects (quota ceil(0.5 x 4) = 2),
    # B has 3 (quota ceil(0.5 x 3) = 2). Worked by hand:
    # A contacts scores 0.9 (positive) and 0.8 (negative); B contacts 0.7 (negative) and
    # 0.6 (positive); the positives scored 0.2 (A) and 0.1 (B) are missed.
    y = np.array([1, 0, 0, 1, 0, 1, 1], dtype=float)
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.7, 0.6, 0.1])
    groups = np.array(["A", "A", "A", "A", "B", "B", "B"])
    result = metrics.at_capacity_per_group(y, p, groups, 0.5)
    assert result["contacted"] == 4 and result["hits"] == 2 and result["positives"] == 4
    assert result["precision"] == 0.5 and result["recall"] == 0.5
    # A province-wide top 4 would have taken 0.9, 0.8, 0.7, 0.6 too, but not with a 0.3 quota:
    small = metrics.at_capacity_per_group(y, p, groups, 0.3)  # quotas ceil(1.2)=2, ceil(0.9)=1
    assert small["contacted"] == 3 and small["hits"] == 1


def test_wilson_interval_matches_the_textbook_value():
    low, high = metrics.wilson_interval(5, 10)
    assert abs(low - 0.2366) < 1e-4 and abs(high - 0.7634) < 1e-4


def test_tail_reliability_reads_the_top_share():
    p = np.linspace(0, 1, 1000, endpoint=False)[::-1]  # 0.999, 0.998, ...
    y = np.zeros(1000)
    y[:5] = 1  # the five highest scores are positives
    top1, top01 = metrics.tail_reliability(y, p)
    assert top1["n"] == 10 and top1["observed"] == 0.5
    assert abs(top1["predicted"] - np.mean(p[:10])) < 1e-12
    assert top01["n"] == 1 and top01["observed"] == 1.0 and top01["max_predicted"] == p[0]
