"""A challenger beside its champion (notebook 02): both read from where the gate and the
card read them, on the same rows for the explanations."""

from __future__ import annotations

import json

import pytest

from needs_model.modelling.promotion import current_version
from needs_model.reports.compare import (
    calibration_curves,
    contenders,
    fairness_table,
    importance_table,
    metrics_table,
)
from tests.conftest import REPORTED_SERVICE as SERVICE


def test_the_champion_is_the_served_bundle_and_the_challenger_the_registrys(promoted):
    sides = contenders(SERVICE, promoted)
    assert [c.role for c in sides] == ["champion", "challenger"]
    served = current_version(promoted.models_dir, SERVICE)
    champion = sides[0]
    assert champion.version == served
    bundle = json.loads(
        (promoted.models_dir / SERVICE / served / "evaluation.json").read_text(encoding="utf-8")
    )
    table = metrics_table(sides)
    assert table.loc["AUC (all rows)", champion.label] == bundle["results"]["model"]["auc"]
    oracle = bundle["results"].get("oracle", {}).get("auc")
    if oracle is not None:
        assert table.loc["oracle AUC - AUC", champion.label] == pytest.approx(
            oracle - bundle["results"]["model"]["auc"]
        )
    assert set(calibration_curves(sides)) == {c.label for c in sides}
    fairness = fairness_table(sides)
    assert {f"{c.label} gap" for c in sides} <= set(fairness.columns)
    # The gap the gate judges, where it judges one, and nowhere else.
    for c in sides:
        judged = {
            (g["attribute"], g["group"])
            for g in c.evaluation["fairness"]
            if not g["too_small_to_judge"] and g.get("gap_beyond_rest") is not None
        }
        shown = fairness[f"{c.label} beyond the rest's (95% CI)"].dropna()
        assert set(shown.index) == judged


def test_importance_is_on_the_same_rows_for_both(promoted):
    sides = contenders(SERVICE, promoted)
    table = importance_table(sides)
    assert len(table) == len(sides[-1].model.features)
    # The same bundle on both sides (the registry's challenger is the served version here):
    # the same rows give the same importances.
    if sides[0].version == sides[1].version:
        assert (table[sides[0].label] - table[sides[1].label]).abs().max() < 1e-12


def test_without_a_challenger_the_cause_is_named(promoted, tmp_path):
    other = promoted.model_copy(
        update={
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'empty.db'}",
            "mlflow_artifact_root": tmp_path / "a",
        }
    )
    with pytest.raises(ValueError, match="no challenger in the registry"):
        contenders(SERVICE, other)
