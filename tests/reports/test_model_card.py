"""The model card: what it is for and must never be for, every feature in plain words with
the sensitive attributes kept out, the metrics against the baselines, the gate it passed and
who promoted it, its monitoring, and images that are real pictures with their numbers
beside them. Self-contained: nothing in it points off the page but its own links."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil

import numpy as np
import pandas as pd
from PIL import Image

from needs_model.catalogue.features import AUDIT_COLUMNS
from needs_model.modelling.promotion import (
    REFERENCE_FILE,
    Gate,
    current_version,
    load_served,
    record_refusal,
)
from needs_model.reports.explanations import global_explanation, plain_name
from needs_model.reports.model_card import card_data, render_model_card
from tests.conftest import MONITORED, PROMOTER
from tests.conftest import REPORTED_SERVICE as SERVICE


def _card(settings) -> tuple[dict, str]:
    data = card_data(SERVICE, settings.models_dir, settings.reports_dir)
    return data, render_model_card(data)


def _images(html: str) -> list[Image.Image]:
    found = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(b))) for b in found]


def test_the_card_says_what_the_score_is_for_and_what_it_must_never_be_used_for(promoted):
    _, html = _card(promoted)
    assert "Never to deny or delay a service" in html
    assert "AI Law 134/2025/QH15, art. 27" in html
    assert "Không bao giờ dùng để từ chối" in html


def test_every_feature_is_named_in_plain_words_and_the_sensitive_ones_are_kept_out(promoted):
    data, html = _card(promoted)
    features = data["model"].features
    assert features
    for feature in features:
        assert plain_name(feature, "vi") in html and plain_name(feature, "en") in html
    assert not set(AUDIT_COLUMNS) & set(features)
    assert "Kept out of the model&#x27;s inputs, for fairness audits only" in html
    for words in ("ethnicity", "religion"):
        assert words in html


def test_metrics_stand_beside_the_baselines_and_the_oracle(promoted):
    data, html = _card(promoted)
    results = data["evaluation"]["results"]
    assert {"model", "rule", "logistic"} <= set(results)
    for label in ("served model", "rule baseline", "logistic baseline"):
        assert label in html
    assert f"{results['model']['auc']:,.4f}" in html
    if "oracle" in results:
        assert "the twin&#x27;s oracle" in html


def test_the_card_records_who_promoted_it_and_the_checks_it_passed(promoted):
    data, html = _card(promoted)
    assert PROMOTER in html
    assert data["metadata"]["gate"]["passed"]
    for check in data["metadata"]["gate"]["passed"]:
        assert check.replace("'", "&#x27;") in html
    # What the bundle says was the gate is the gate promote used (lenient here), not the
    # defaults: a card that reprinted Gate() would show 0.01.
    assert data["metadata"]["gate"]["thresholds"]["auc_tolerance"] == 1.0
    assert Gate().auc_tolerance != 1.0


def test_the_card_links_each_monitoring_run_and_its_report(promoted):
    _, html = _card(promoted)
    assert MONITORED.isoformat() in html
    href = f"../monitoring/{MONITORED.isoformat()}/{SERVICE}/report.html"
    assert href in html
    assert (promoted.reports_dir / "models" / href).resolve().exists()


def test_a_monitoring_run_that_cannot_be_read_is_named_on_the_card(promoted, tmp_path):
    reports = tmp_path / "reports"
    shutil.copytree(promoted.reports_dir / "monitoring", reports / "monitoring")
    (reports / "monitoring" / "2099-01-31").mkdir()
    (reports / "monitoring" / "2099-01-31" / "status.json").write_text("{")
    data = card_data(SERVICE, promoted.models_dir, reports)
    assert [m["as_of"] for m in data["monitoring"]] == [MONITORED.isoformat()]
    html = render_model_card(data)
    assert "A monitoring run could not be read: 2099-01-31: " in html
    assert "Không đọc được một lần giám sát: 2099-01-31: " in html


def test_every_image_is_a_picture_with_its_numbers_beside_it(promoted):
    _, html = _card(promoted)
    images = _images(html)
    # Calibration, fairness, importance, beeswarm and three dependence plots.
    assert len(images) >= 6
    for image in images:
        assert image.format == "PNG" and image.width >= 300 and image.height >= 150
        # Not blank: a drawn plot has many colours.
        assert len(image.convert("RGB").getcolors(maxcolors=1_000_000) or []) > 20
    # Every figure carries a table of its numbers.
    figures = re.findall(r"<figure>(.*?)</figure>", html, flags=re.S)
    assert len(figures) == len(images)
    assert all("<table>" in f for f in figures)


def test_nothing_on_the_card_is_fetched_from_elsewhere(promoted):
    _, html = _card(promoted)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "<script" not in html and "@import" not in html and "url(" not in html


def test_the_global_explanation_is_the_models_exact_contributions(promoted):
    model = load_served(promoted.models_dir, SERVICE)
    folder = promoted.models_dir / SERVICE / current_version(promoted.models_dir, SERVICE)
    reference = pd.read_parquet(folder / REFERENCE_FILE)
    explained = global_explanation(model, reference)
    # Exactness: for every explained row, the base value plus its contributions is the
    # model's margin for that row (in whatever order the card shows the features).
    sample = (
        reference.sample(n=explained.rows, random_state=0)
        if len(reference) > explained.rows
        else reference
    )
    margin = model.margin(sample)
    assert np.allclose(explained.contributions.sum(axis=1) + explained.bias, margin, atol=1e-6)
    # Ordered by mean |SHAP|, largest first, and each column's values are that feature's.
    assert np.all(np.diff(explained.mean_abs) <= 1e-12)
    first = explained.features[0]
    assert np.allclose(
        np.nan_to_num(explained.values[:, 0], nan=-1.0),
        np.nan_to_num(sample[first].to_numpy(dtype=float), nan=-1.0),
    )


def test_a_bundle_without_its_evaluation_still_gets_an_honest_card(served):
    # The served fixture's bundles hold a model and nothing else about it.
    service_id = "birth_registration"
    data = card_data(service_id, served.settings.models_dir, served.settings.reports_dir)
    html = render_model_card(data)
    assert "promoted before the gate&#x27;s checks were recorded" in html
    assert "Not monitored yet" in html
    assert json.loads(
        (served.settings.models_dir / service_id / "1" / "metadata.json").read_text()
    ) == {"test": True}


def test_a_validation_window_that_reached_back_is_explained(promoted):
    data, html = _card(promoted)
    # School's six months (two quarterly month ends on the small province) hold hundreds.
    assert "The validation window spans" not in html
    config = data["model"].params["config"]
    # The same card, had the window reached back a year and a half to hold its events.
    longer = pd.date_range("2023-08-31", "2025-01-31", freq="ME").date.astype(str).tolist()
    data["evaluation"]["windows"]["valid"] = longer
    html = render_model_card(data)
    assert (
        f"The validation window spans 18 months, not {config['valid_months']}: its "
        f"{config['valid_months']} months held fewer than {config['min_valid_events']} people"
    ) in html
    assert "Cửa sổ kiểm định trải 18 tháng" in html


def test_the_challengers_refused_while_a_version_was_served_are_on_its_card(promoted, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(promoted.models_dir, models, symlinks=True)
    served = current_version(models, SERVICE)
    refused = {
        "version": "7",
        "refused_at": "2027-06-30T08:00:00+00:00",
        "refused_by": "Trần Thị Bình <audit>",
        "champion": served,
        "failures": ["fairness: mountain=mountain calibration gap -0.0349 (95% CI ...)"],
        "test_window": ["2026-01-31", "2026-06-30"],
        "test_auc": 0.98158,
        "served_instead": None,
    }
    record_refusal(models, SERVICE, refused)
    # Refused while another version was the champion: not this version's record.
    other = {"version": "5", "champion": "999", "failures": ["champion: AUC 0.61 below 0.80"]}
    record_refusal(models, SERVICE, refused | other)
    data = card_data(SERVICE, models, promoted.reports_dir)
    assert [r["version"] for r in data["refusals"]] == ["7"]
    html = render_model_card(data)
    assert "Challengers the gate refused" in html and "Mô hình thách thức bị cổng từ chối" in html
    assert "fairness: mountain=mountain calibration gap -0.0349" in html
    assert "0.9816 (2026-01-31..2026-06-30)" in html
    assert "Trần Thị Bình &lt;audit&gt;" in html  # escaped, as every name on the card
    assert "champion: AUC 0.61 below 0.80" not in html
    # Refusals that cannot be read are named on the card, which is still written.
    (models / SERVICE / "refusals.json").write_text("[{")
    broken = render_model_card(card_data(SERVICE, models, promoted.reports_dir))
    assert (
        f"The gate&#x27;s refusals could not be read: {SERVICE}/refusals.json is not JSON" in broken
    )
    assert str(models) not in broken
    # So are the versions served: the card is still written, naming the file.
    (models / SERVICE / "history.json").write_bytes(b"\xff[")
    broken = render_model_card(card_data(SERVICE, models, promoted.reports_dir))
    assert f"The versions served could not be read: {SERVICE}/history.json is not UTF-8" in broken
    assert "Không đọc được các phiên bản đã phục vụ" in broken and str(models) not in broken
    # A card with no refusal says nothing of them.
    assert "Challengers the gate refused" not in render_model_card(
        card_data(SERVICE, promoted.models_dir, promoted.reports_dir)
    )
