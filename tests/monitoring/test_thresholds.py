"""Thresholds a province sets in a file: what it names replaces the defaults, and a name,
a type or a range that cannot be used is refused by name."""

from __future__ import annotations

import json

import pytest

from needs_model.monitoring.thresholds import Thresholds, ThresholdsError, load_thresholds

T = Thresholds()


def test_thresholds_from_a_file_replace_only_the_defaults_they_name(tmp_path):
    path = tmp_path / "thresholds.json"
    path.write_text('{"expected_demand_change": 0.25, "auc_min_positives": 30}')
    chosen = load_thresholds(path)
    assert chosen.expected_demand_change == 0.25 and chosen.auc_min_positives == 30
    others = {
        k: v
        for k, v in chosen.as_dict().items()
        if k not in ("expected_demand_change", "auc_min_positives")
    }
    assert others == {k: v for k, v in T.as_dict().items() if k in others}
    # A kept summary's `thresholds` block is such a file: the same thresholds come back.
    path.write_text(json.dumps(Thresholds(prediction_drift=0.2).as_dict()))
    assert load_thresholds(path) == Thresholds(prediction_drift=0.2)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('{"expected_demand_chnge": 0.25}', "unknown threshold(s) expected_demand_chnge; known:"),
        ('{"prediction_drift": "0.1"}', "prediction_drift must be a number, not '0.1'"),
        ('{"prediction_drift": true}', "prediction_drift must be a number, not True"),
        ('{"auc_min_positives": 20.5}', "auc_min_positives must be a whole number, not 20.5"),
        ('{"auc_drop": -0.02}', "auc_drop must be 0 or more, not -0.02"),
        ('{"auc_drop": NaN}', "auc_drop must be 0 or more, not nan"),
        ('{"feature_drift_share": 30}', "feature_drift_share is a share, between 0 and 1, not 30"),
        ("[0.1]", "must hold a JSON object of threshold names and values, not list"),
        ('{"auc_drop": 0.02,}', "not JSON (line 1, column 19"),
    ],
)
def test_thresholds_that_cannot_be_used_are_refused_by_name(tmp_path, text, said):
    path = tmp_path / "thresholds.json"
    path.write_text(text)
    with pytest.raises(ThresholdsError) as caught:
        load_thresholds(path)
    assert said in str(caught.value) and str(path) in str(caught.value)


def test_a_missing_thresholds_file_is_named(tmp_path):
    with pytest.raises(ThresholdsError, match=r"nowhere\.json: no such file"):
        load_thresholds(tmp_path / "nowhere.json")
