"""Batch scoring: what is scored, what is explained, the snapshot is atomic and honest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from needs_model.cli.main import app as cli
from needs_model.scoring.batch import load_champions, predict
from needs_model.scoring.snapshot import latest_snapshot
from needs_model.settings import get_settings


def test_every_served_subject_is_scored_with_the_served_model(served, subjects):
    champions, missing = load_champions(served.settings.models_dir)
    assert set(missing) == {
        "transport_business_license",
        "tour_guide_card_renewal",
        "veterinary_certificate_renewal",
    }
    for service_id, frame in subjects.items():
        model = champions[service_id].model
        margin, probability = predict(model, model.matrix(frame))
        assert np.allclose(frame["probability"], probability)
        assert np.allclose(margin, model.booster.predict(model.matrix(frame), raw_score=True))
        # The documented thresholds (docs/api.md), not the scorer's own function.
        expected = np.select(
            [frame["probability"] >= 0.5, frame["probability"] >= 0.2], ["high", "medium"], "low"
        )
        assert (frame["band"].to_numpy() == expected).all()
        assert frame["subject_id"].is_unique
        assert frame["commune_code"].notna().all()
        assert not [c for c in frame.columns if c.startswith("audit_")]


def test_treeshap_is_spent_only_on_what_planners_see(served, subjects):
    for service_id, frame in subjects.items():
        shap = pd.read_parquet(served.snapshot / "contributions" / f"{service_id}.parquet")
        visible = frame[
            (frame["band"] != "low") | frame["rule_fires"] | (frame["rank_in_commune"] <= 5)
        ]
        assert set(shap["subject_id"]) == set(visible["subject_id"])
        assert len(shap) < len(frame) or len(frame) < 100
        merged = shap.merge(frame[["subject_id", "margin"]], on="subject_id")
        total = merged.filter(like="shap_").sum(axis=1)
        assert np.allclose(total, merged["margin"], atol=1e-9)


def test_manifest_names_models_sources_and_what_is_not_served(served):
    manifest = json.loads((served.snapshot / "manifest.json").read_text())
    assert manifest["as_of"] == "2025-12-31"
    assert set(manifest["models"]) == set(served.store.services)
    assert "transport_business_license" in manifest["not_served"]
    dates = [d for d in manifest["sources"].values() if d]
    assert dates and max(dates) <= "2025-12-31"


def test_a_killed_scoring_leaves_no_snapshot_the_api_would_load(served, tmp_path):
    (tmp_path / ".partial-2026-01-31-123" / "subjects").mkdir(parents=True)
    (tmp_path / ".partial-2026-01-31-123" / "_SUCCESS").touch()
    (tmp_path / "2026-02-28").mkdir()  # no _SUCCESS: incomplete
    assert latest_snapshot(tmp_path) is None
    assert latest_snapshot(served.snapshot.parent) == served.snapshot


def test_score_cli_writes_a_snapshot_and_refuses_without_models(served, tmp_path, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("NEEDS_MODELS_DIR", str(tmp_path / "no-models"))
    get_settings.cache_clear()
    try:
        refused = runner.invoke(cli, ["score", "--raw", str(served.raw), "--out", str(tmp_path)])
        assert refused.exit_code == 1
        assert "train and promote first" in refused.output
        monkeypatch.setenv("NEEDS_MODELS_DIR", str(served.settings.models_dir))
        get_settings.cache_clear()
        made = runner.invoke(
            cli,
            ["score", "--raw", str(served.raw), "--as-of", "2025-06-30", "--out", str(tmp_path)],
        )
        assert made.exit_code == 0, made.output
        assert (tmp_path / "2025-06-30" / "_SUCCESS").exists()
        assert "transport_business_license: not scored" in made.output
    finally:
        get_settings.cache_clear()


def test_bands_follow_the_documented_thresholds():
    from needs_model.scoring.bands import band, band_of

    probabilities = np.array([0.0, 0.1999, 0.2, 0.4999, 0.5, 1.0])
    expected = ["low", "low", "medium", "medium", "high", "high"]
    assert list(band_of(probabilities)) == expected
    assert [band(float(p)) for p in probabilities] == expected
