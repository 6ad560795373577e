"""The planners' section of the evaluation, on a hand-made test window."""

from __future__ import annotations

import numpy as np
import pandas as pd

from needs_model.catalogue.services import service
from needs_model.modelling.evaluate import planning

SERVICE = "medical_license_renewal"  # outreach share 5 %: ceil(0.05 x 10) = 1 per list


def test_capture_ratio_is_model_recall_over_oracle_recall_at_the_same_capacity():
    assert service(SERVICE).outreach_share == 0.05
    # Two communes x two months, 10 subjects per list; 2 positives per list.
    rows = []
    for as_of in ("2025-05-31", "2025-06-30"):
        for commune in ("20001", "20002"):
            for i in range(10):
                rows.append((as_of, commune, float(i in (0, 1)), float(i < 3)))
    test = pd.DataFrame(rows, columns=["as_of", "commune_code", "label", "rule_licence_expiring"])
    y = test["label"].to_numpy()
    # The oracle puts a positive first in every list; the model in two of the four lists.
    oracle = np.where(test.index % 10 == 0, 0.9, 0.1)
    model = np.where((test.index % 10 == 0) & (test.index < 20), 0.8, 0.2)
    model = np.where((test.index % 10 == 5) & (test.index >= 20), 0.8, model)
    plan = planning(test, y, {"model": model, "oracle": oracle}, SERVICE)
    # One contact per list, four lists, eight positives.
    assert plan["at_capacity"]["oracle"] == {
        "contacted": 4.0,
        "hits": 4.0,
        "positives": 8.0,
        "precision": 1.0,
        "recall": 0.5,
    }
    assert plan["at_capacity"]["model"]["hits"] == 2.0
    assert plan["capture_ratio"] == 0.25 / 0.5
    # The trigger fires on three rows of each list: 12 eligible rows hold all 8 positives.
    assert plan["eligible_rows"] == 12 and plan["eligible_positives"] == 8
    assert plan["positives_outside_eligible"] == 0
