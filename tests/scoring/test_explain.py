"""SHAP contributions checked against shap's own TreeSHAP, and the sentences built on them.

`shap.TreeExplainer(booster)` is no independent check for LightGBM: shap 0.51 hands the
work back to `booster.predict(pred_contrib=True)`. The reference here converts the
booster's JSON dump into shap's generic tree format instead, so shap's own path-dependent
algorithm (its C++ extension) computes the values from the trees alone.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from needs_model.catalogue.features import FEATURES, features_for
from needs_model.modelling.training import Calibrator, ServiceModel
from needs_model.scoring import explain

# Importing shap 0.51 runs its plot module, which calls colormap setters (set_bad, set_over)
# that matplotlib flags as pending deprecation: third-party noise this suite cannot fix.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", r"The set_\w+ function", PendingDeprecationWarning)
    import shap

SERVICE = "tour_guide_card_renewal"
FEATURE_NAMES = features_for(SERVICE)
NAN_IN_TRAINING = ("age_years", "months_since_issue", "refresher_course_done")
SHAP_TOLERANCE = 1e-6


def _synthetic_holders(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Tour-guide card holders: integer ages, counts and flags; ~10% gaps in three columns."""
    rng = np.random.default_rng(seed)
    days_to_expiry = rng.integers(-60, 900, rows).astype(float)
    columns = {
        "age_years": rng.integers(22, 70, rows).astype(float),
        "household_size": rng.integers(1, 9, rows).astype(float),
        "is_urban": rng.integers(0, 2, rows).astype(float),
        "is_mountain": rng.integers(0, 2, rows).astype(float),
        "days_to_expiry": days_to_expiry,
        "months_since_issue": rng.uniform(0, 120, rows),
        "renewals_10y": rng.integers(0, 4, rows).astype(float),
        "refresher_course_done": rng.integers(0, 2, rows).astype(float),
        "rule_licence_expiring": (days_to_expiry <= 90).astype(float),
    }
    matrix = np.column_stack([columns[name] for name in FEATURE_NAMES])
    logit = (
        -1.5
        + 2.5 * (days_to_expiry <= 120)
        - 1.5 * (days_to_expiry < -20)  # long expired: a new card, not a renewal
        + 0.8 * columns["refresher_course_done"]
        + 0.03 * (columns["age_years"] - 45)
        + 0.4 * columns["is_urban"] * columns["renewals_10y"]
        - 0.01 * columns["months_since_issue"]
    )
    label = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    for name in NAN_IN_TRAINING:
        column = FEATURE_NAMES.index(name)
        matrix[rng.random(rows) < 0.1, column] = np.nan
    # An unknown refresher course is itself informative, so the trees learn where NaN goes.
    label[np.isnan(matrix[:, FEATURE_NAMES.index("refresher_course_done")])] = 1
    return matrix, label


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    matrix, label = _synthetic_holders(4000, seed=0)
    params = {
        "objective": "binary",
        "max_depth": 5,
        "num_leaves": 15,
        "learning_rate": 0.1,
        "min_data_in_leaf": 20,
        "seed": 0,
        "deterministic": True,
        "num_threads": 2,
        "verbosity": -1,
    }
    booster = lgb.train(params, lgb.Dataset(matrix, label), num_boost_round=100)
    return ServiceModel(
        SERVICE, booster, Calibrator("platt", {"a": [1.0], "b": [0.0]}), FEATURE_NAMES, params
    )


def _walk(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes of a LightGBM JSON tree in pre-order."""
    if "leaf_value" in node:
        return [node]
    return [node, *_walk(node["left_child"]), *_walk(node["right_child"])]


@pytest.fixture(scope="module")
def explained_rows(model: ServiceModel) -> np.ndarray:
    """Fresh rows, gaps in every column, and rows sitting exactly on split thresholds."""
    matrix, _ = _synthetic_holders(400, seed=1)
    rng = np.random.default_rng(2)
    # Gaps also in columns that had none in training: those splits have missing_type None.
    matrix[rng.random(matrix.shape) < 0.1] = np.nan
    # x == threshold must go left ("<="); integer features never land there by themselves.
    ties = []
    for tree in model.booster.dump_model()["tree_info"]:
        for node in _walk(tree["tree_structure"])[:3]:
            if "split_feature" in node:
                row = matrix[len(ties) % len(matrix)].copy()
                row[node["split_feature"]] = node["threshold"]
                ties.append(row)
    return np.vstack([matrix, np.array(ties)])


def _shap_tree(structure: dict[str, Any]) -> dict[str, np.ndarray]:
    """One LightGBM tree in shap's generic `SingleTree` dict format.

    shap sends x to the left child when `x <= threshold` (threshold_types 0), matching
    LightGBM's "<=", and sends NaN to `children_default`. LightGBM's routing of NaN depends
    on the split's missing_type:
    - "NaN": NaN goes to the default child (default_left), as in shap;
    - "None": LightGBM replaces NaN by 0.0 and compares, so the default child is whichever
      side 0.0 falls on;
    - "Zero": LightGBM also sends ±0.0 to the default child, which shap's NaN-only missing
      flag cannot express; the models here never produce it (zero_as_missing is off).
    Cover is internal_count/leaf_count, the weights path-dependent SHAP averages with.
    Internal values are left at 0: shap's `SingleTree` recomputes them as cover-weighted
    means of the leaves (`compute_expectations`).
    """
    nodes = _walk(structure)
    position = {id(node): index for index, node in enumerate(nodes)}
    size = len(nodes)
    tree = {
        "children_left": np.full(size, -1, dtype=np.int32),
        "children_right": np.full(size, -1, dtype=np.int32),
        "children_default": np.full(size, -1, dtype=np.int32),
        "features": np.full(size, -1, dtype=np.int32),
        "thresholds": np.zeros(size),
        "values": np.zeros((size, 1)),
        "node_sample_weight": np.zeros(size),
    }
    for index, node in enumerate(nodes):
        if "leaf_value" in node:
            tree["values"][index, 0] = node["leaf_value"]
            tree["node_sample_weight"][index] = node.get("leaf_count", 1)  # a one-leaf tree
            continue
        assert node["decision_type"] == "<="
        left, right = position[id(node["left_child"])], position[id(node["right_child"])]
        if node["missing_type"] == "NaN":
            default = left if node["default_left"] else right
        elif node["missing_type"] == "None":
            default = left if node["threshold"] >= 0.0 else right
        else:
            raise ValueError(f"missing_type {node['missing_type']!r} has no shap equivalent")
        tree["children_left"][index] = left
        tree["children_right"][index] = right
        tree["children_default"][index] = default
        tree["features"][index] = node["split_feature"]
        tree["thresholds"][index] = node["threshold"]
        tree["node_sample_weight"][index] = node["internal_count"]
    return tree


def _shap_model(booster: lgb.Booster) -> dict[str, Any]:
    # Binary LightGBM folds the initial score into the first tree's leaves: no offset.
    trees = [_shap_tree(tree["tree_structure"]) for tree in booster.dump_model()["tree_info"]]
    return {"trees": trees, "base_offset": 0.0}


def _reference(shap_model: dict[str, Any], rows: np.ndarray) -> tuple[np.ndarray, float]:
    explainer = shap.TreeExplainer(shap_model, feature_perturbation="tree_path_dependent")
    return explainer.shap_values(rows), float(np.ravel(explainer.expected_value)[0])


def test_contributions_sum_to_the_raw_margin(model, explained_rows):
    values = explain.contributions(model, explained_rows)

    assert values.shape == (len(explained_rows), len(FEATURE_NAMES) + 1)
    margin = model.booster.predict(explained_rows, raw_score=True)
    np.testing.assert_allclose(values.sum(axis=1), margin, rtol=0, atol=1e-9)


def test_the_model_exercises_both_missing_value_routings(model):
    splits = [
        node
        for tree in model.booster.dump_model()["tree_info"]
        for node in _walk(tree["tree_structure"])
        if "split_feature" in node
    ]
    nan_routed = {FEATURE_NAMES[n["split_feature"]] for n in splits if n["missing_type"] == "NaN"}

    assert {n["missing_type"] for n in splits} == {"NaN", "None"}
    assert nan_routed <= set(NAN_IN_TRAINING)
    assert {n["default_left"] for n in splits if n["missing_type"] == "NaN"} == {True, False}
    # NaN at a "None" split is read as 0.0: it goes left at some splits and right at others.
    zero_goes_left = {n["threshold"] >= 0.0 for n in splits if n["missing_type"] == "None"}
    assert zero_goes_left == {True, False}


def test_contributions_match_shap_on_the_converted_trees(model, explained_rows):
    values = explain.contributions(model, explained_rows)
    reference, expected_value = _reference(_shap_model(model.booster), explained_rows)

    np.testing.assert_allclose(values[:, :-1], reference, rtol=0, atol=SHAP_TOLERANCE)
    np.testing.assert_allclose(values[:, -1], expected_value, rtol=0, atol=SHAP_TOLERANCE)


def _shift_a_leaf(tree: dict[str, np.ndarray]) -> None:
    tree["values"][np.flatnonzero(tree["children_left"] < 0)[0], 0] += 0.1


def _flip_nan_defaults(tree: dict[str, np.ndarray]) -> None:
    split = tree["children_left"] >= 0
    left, right = tree["children_left"][split], tree["children_right"][split]
    tree["children_default"][split] = np.where(tree["children_default"][split] == left, right, left)


def _strict_less_than(tree: dict[str, np.ndarray]) -> None:
    # shap only compares with "<="; x <= nextafter(t, -inf) is x < t.
    tree["thresholds"][:] = np.nextafter(tree["thresholds"], -np.inf)


@pytest.mark.parametrize("mutate", [_shift_a_leaf, _flip_nan_defaults, _strict_less_than])
def test_the_shap_comparison_detects_a_wrong_tree(
    model, explained_rows, mutate: Callable[[dict[str, np.ndarray]], None]
):
    values = explain.contributions(model, explained_rows)
    shap_model = _shap_model(model.booster)
    mutate(shap_model["trees"][0])
    reference, _ = _reference(shap_model, explained_rows)

    assert np.abs(values[:, :-1] - reference).max() > 100 * SHAP_TOLERANCE


def test_every_feature_has_a_reason_in_both_languages():
    assert {f.name for f in FEATURES} <= set(explain.REASONS)
    for feature in FEATURES:
        for value in (0.0, 1.0, 21.0, math.nan):
            for language in ("vi", "en"):
                text = explain.sentence(feature.name, value, SERVICE, language)
                assert text.strip(), (feature.name, value, language)


def test_sentences_name_the_licence_the_holder_knows():
    assert (
        explain.sentence("days_to_expiry", 21.0, SERVICE, "vi")
        == "Thẻ hướng dẫn viên hết hạn sau 21 ngày"
    )
    assert (
        explain.sentence("days_to_expiry", 21.0, SERVICE, "en")
        == "Tour-guide card expires in 21 days"
    )
    medical = "medical_license_renewal"
    assert (
        explain.sentence("days_to_expiry", 21.0, medical, "en")
        == "The practice licence expires in 21 days"
    )
    assert (
        explain.sentence("days_to_expiry", 21.0, medical, "vi")
        == "Giấy phép hành nghề hết hạn sau 21 ngày"
    )


@pytest.mark.parametrize("language", ["vi", "en"])
@pytest.mark.parametrize("feature", sorted(explain.SENSITIVE))
def test_sensitive_sentences_hide_the_value_from_outreach_roles(feature, language):
    hidden = explain.sentence(feature, 137.0, SERVICE, language, with_values=False)

    assert hidden.strip()
    assert not re.search(r"\d", hidden)


def test_redaction_is_what_removes_the_due_date():
    shown = explain.sentence("days_to_expected_due_date", 137.0, SERVICE, "en")
    hidden = explain.sentence("days_to_expected_due_date", 137.0, SERVICE, "en", with_values=False)

    assert "137" in shown
    assert "137" not in hidden


def test_top_reasons_orders_by_absolute_contribution_and_ignores_the_bias():
    names = ["age_years", "days_to_expiry", "is_urban", "renewals_10y"]
    values = np.array([40.0, 21.0, 1.0, 2.0])
    row = np.array([0.1, -0.9, 0.5, -0.3, 7.0])  # last: bias, largest but not a reason

    top = explain.top_reasons(names, values, row, SERVICE, "en", limit=3)

    assert [r.feature for r in top] == ["days_to_expiry", "is_urban", "renewals_10y"]
    assert [r.contribution for r in top] == [-0.9, 0.5, -0.3]
    assert top[0].text == "Tour-guide card expires in 21 days"
    assert len(explain.top_reasons(names, values, row, SERVICE, "en", limit=10)) == len(names)


def test_top_reasons_on_model_rows(model, explained_rows):
    values = explain.contributions(model, explained_rows[:50])
    for matrix_row, contribution_row in zip(explained_rows[:50], values, strict=True):
        top = explain.top_reasons(FEATURE_NAMES, matrix_row, contribution_row, SERVICE, "vi")
        magnitudes = [abs(r.contribution) for r in top]
        largest = np.sort(np.abs(contribution_row[:-1]))[::-1][:3]

        assert len(top) == 3
        assert magnitudes == sorted(magnitudes, reverse=True)
        np.testing.assert_array_equal(magnitudes, largest)


def test_top_reasons_without_values_hides_sensitive_values():
    names = ["days_to_expected_due_date", "age_years"]
    top = explain.top_reasons(
        names,
        np.array([137.0, 30.0]),
        np.array([0.8, 0.2, -1.0]),
        SERVICE,
        "vi",
        limit=2,
        with_values=False,
    )

    assert [(r.feature, r.value) for r in top] == [
        ("days_to_expected_due_date", None),
        ("age_years", 30.0),
    ]
    assert "137" not in top[0].text
