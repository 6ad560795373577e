"""Evaluate a service model on its test window: against the rule baseline, a logistic
regression and (when the data come from the twin) the oracle; calibration; fairness."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import service
from needs_model.modelling import metrics
from needs_model.modelling.training import ServiceModel, Split

MIN_GROUP_ROWS = 200
MIN_GROUP_POSITIVES = 20
BOOTSTRAP = 200
OracleFn = Callable[[pd.DataFrame], pd.Series]


def rule_baseline(split: Split, service_id: str) -> Callable[[pd.DataFrame], np.ndarray]:
    """P(label | the legal trigger fires or not), estimated on the training window."""
    rule = TRIGGERS[service_id].name
    rates = split.train.groupby(split.train[rule].fillna(0))["label"].mean()
    overall = float(split.train["label"].mean())
    return lambda frame: frame[rule].fillna(0).map(rates).fillna(overall).to_numpy(dtype=float)


def logistic_baseline(
    split: Split, features: list[str], seed: int
) -> Callable[[pd.DataFrame], np.ndarray]:
    """A logistic regression on the same inputs as the model it is a baseline for."""
    model = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )
    model.fit(split.train[features].to_numpy(dtype=float), split.train["label"].to_numpy())
    return lambda frame: model.predict_proba(frame[features].to_numpy(dtype=float))[:, 1]


def group_columns(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """Audit groups: sex, ethnic minority, urban/rural, mountain, age band."""
    groups: dict[str, pd.Series] = {}
    if frame["audit_sex"].notna().any():
        groups["sex"] = frame["audit_sex"].fillna("unknown")
    groups["ethnicity"] = np.where(frame["audit_ethnicity"].eq("Kinh"), "Kinh", "minority")
    groups["area"] = np.where(frame["is_urban"] == 1, "urban", "rural")
    groups["mountain"] = np.where(frame["is_mountain"] == 1, "mountain", "lowland")
    age = frame["age_years"] if "age_years" in frame else frame.get("owner_age_years")
    if age is not None and age.notna().any():
        band = pd.cut(
            age, [-1, 9, 29, 44, 59, 200], labels=["0-9", "10-29", "30-44", "45-59", "60+"]
        )
        # An unknown age is a group of its own (pandas 3 keeps NaN through astype(str)).
        groups["age_band"] = band.astype(object).where(band.notna(), "unknown").astype(str)
    return {k: pd.Series(v, index=frame.index) for k, v in groups.items()}


def fairness(
    frame: pd.DataFrame, y: np.ndarray, p: np.ndarray, seed: int
) -> list[dict[str, object]]:
    """Per audit group: its rates, AUC, selection in the top tenth, its calibration gap
    (mean predicted - observed) and that gap beyond the rest of the population's
    (`gap_beyond_rest`: the group's gap minus the other groups' of the same attribute),
    each with a 95 % interval that resamples subjects.

    The gap beyond the rest tells a group's own gap from one every group shares, the
    model's calibration (a year whose take-up no record foretold moves every group at once;
    `promotion.fairness_failures`). Its interval combines each group's resamples (a
    bootstrap stratified by group), so the rest needs no resampling of its own."""
    threshold = np.quantile(p, 0.9) if len(p) else 1.0
    rng = np.random.default_rng(seed)
    subjects = metrics.subjects(frame)
    rows: list[dict[str, object]] = []
    for attribute, values in group_columns(frame).items():
        judged: list[tuple[dict[str, object], np.ndarray]] = []
        total = np.zeros((BOOTSTRAP, 3))  # per resample: sums of p, y and rows, all groups
        for value in sorted(values.unique()):
            mask = (values == value).to_numpy()
            yg, pg = y[mask], p[mask]
            small = mask.sum() < MIN_GROUP_ROWS or yg.sum() < MIN_GROUP_POSITIVES
            row: dict[str, object] = {
                "attribute": attribute,
                "group": value,
                "rows": int(mask.sum()),
                "positives": int(yg.sum()),
                "too_small_to_judge": bool(small),
                "observed_rate": float(yg.mean()) if mask.any() else None,
                "mean_predicted": float(pg.mean()) if mask.any() else None,
                "selection_rate_top10pct": float((pg >= threshold).mean()) if mask.any() else None,
                "auc": metrics.auc(yg, pg),
                "brier": metrics.brier(yg, pg),
            }
            draws = metrics.subject_bootstrap_draws(subjects[mask], BOOTSTRAP, rng)
            own = np.array([[pg[d].sum(), yg[d].sum(), len(d)] for d in draws])
            total += own
            if not small:
                aucs = metrics.bootstrap_auc(yg, pg, draws)
                gaps = (own[:, 0] - own[:, 1]) / own[:, 2]
                sel = [float((pg[d] >= threshold).mean()) for d in draws]
                row["auc_ci"] = [
                    float(np.nanpercentile(aucs, 2.5)),
                    float(np.nanpercentile(aucs, 97.5)),
                ]
                row["calibration_gap_ci"] = [
                    float(np.percentile(gaps, 2.5)),
                    float(np.percentile(gaps, 97.5)),
                ]
                row["selection_rate_ci"] = [
                    float(np.percentile(sel, 2.5)),
                    float(np.percentile(sel, 97.5)),
                ]
                judged.append((row, own))
            rows.append(row)
        for row, own in judged:
            row.update(_gap_beyond_rest(row, own, total - own, p.sum() - y.sum(), len(p)))
    return rows


def _gap_beyond_rest(
    row: dict[str, Any], own: np.ndarray, rest: np.ndarray, excess: float, n: int
) -> dict[str, object]:
    """A judged group's calibration gap minus the rest's, with the 95 % interval of the
    resamples' (`own`, `rest`: per resample, the sums of p, y and rows; `excess`: predicted
    minus observed over all `n` rows). None for an attribute's only group: there is no rest
    to be unlike."""
    rows = int(row["rows"])
    if rows == n:
        return {"gap_beyond_rest": None, "gap_beyond_rest_ci": None}
    gap = float(row["mean_predicted"]) - float(row["observed_rate"])
    with np.errstate(divide="ignore", invalid="ignore"):  # a resample may draw no rest
        beyond = (own[:, 0] - own[:, 1]) / own[:, 2] - (rest[:, 0] - rest[:, 1]) / rest[:, 2]
    return {
        "gap_beyond_rest": gap - (excess - gap * rows) / (n - rows),
        "gap_beyond_rest_ci": [
            float(np.nanpercentile(beyond, 2.5)),
            float(np.nanpercentile(beyond, 97.5)),
        ],
    }


def outreach_lists(rows: pd.DataFrame) -> np.ndarray:
    """The list each row is on: its commune's monthly list (as_of / commune code)."""
    return (
        rows["as_of"].astype(str) + "/" + rows["commune_code"].astype(str).fillna("unknown")
    ).to_numpy()


def planning(
    test: pd.DataFrame, y: np.ndarray, scores: dict[str, np.ndarray], service_id: str
) -> dict[str, Any]:
    """What a planner can act on, for every scorer: the metrics on the rule-eligible rows
    (the legal trigger fires: the window), precision and recall when each commune's
    monthly list is contacted up to the service's capacity, the capture ratio (model
    recall at capacity / oracle recall at capacity) and calibration in the top 1 % and
    0.1 % of the model's scores."""
    share = service(service_id).outreach_share
    eligible = test[TRIGGERS[service_id].name].fillna(0).to_numpy() == 1
    lists = outreach_lists(test)
    at_capacity = {
        name: metrics.at_capacity_per_group(y, p, lists, share) for name, p in scores.items()
    }
    capture = None
    if "oracle" in at_capacity and at_capacity["oracle"]["recall"] > 0:
        capture = at_capacity["model"]["recall"] / at_capacity["oracle"]["recall"]
    return {
        "outreach_share": share,
        "eligible_rows": int(eligible.sum()),
        "eligible_positives": int(y[eligible].sum()),
        "positives_outside_eligible": int(y[~eligible].sum()),
        "eligible": {name: metrics.summary(y[eligible], p[eligible]) for name, p in scores.items()},
        "at_capacity": at_capacity,
        "capture_ratio": capture,
        "tail": metrics.tail_reliability(y, scores["model"]),
    }


@dataclass
class Evaluation:
    service_id: str
    windows: dict[str, list[str]]
    results: dict[str, dict[str, float]]  # model / rule / logistic / oracle -> metrics
    calibration_curve: list[dict[str, float]]
    fairness: list[dict[str, object]]
    oracle_coverage: float | None
    planning: dict[str, Any]
    # The baselines' scores on the test rows (logged with them, for the promotion gate).
    baseline_scores: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    scorer: str = "gbm"  # which scorer the model is (training.SCORERS)

    @property
    def model(self) -> dict[str, float]:
        return self.results["model"]

    def to_dict(self) -> dict[str, object]:
        return {
            "service_id": self.service_id,
            "windows": self.windows,
            "results": self.results,
            "calibration_curve": self.calibration_curve,
            "fairness": self.fairness,
            "oracle_coverage": self.oracle_coverage,
            "planning": self.planning,
            "scorer": self.scorer,
        }


def evaluate(
    model: ServiceModel, split: Split, oracle: OracleFn | None, seed: int = 0
) -> Evaluation:
    test = split.test
    y = test["label"].to_numpy(dtype=float)
    p = model.predict(test)
    scores = {
        "model": p,
        "rule": rule_baseline(split, model.service_id)(test),
        "logistic": logistic_baseline(split, model.features, seed)(test),
    }
    coverage = None
    if oracle is not None:
        truth = oracle(test).to_numpy(dtype=float)
        coverage = float(np.isfinite(truth).mean())
        scores["oracle"] = np.nan_to_num(truth)
    return Evaluation(
        model.service_id,
        split.windows,
        {name: metrics.summary(y, s) for name, s in scores.items()},
        metrics.calibration_curve(y, p),
        fairness(test, y, p, seed),
        coverage,
        planning(test, y, scores, model.service_id),
        {f"baseline_{name}": scores[name] for name in ("rule", "logistic")},
        model.scorer,
    )


def planning_lines(plan: dict[str, Any]) -> list[str]:
    """The planning section of a service's report (Markdown)."""
    share = plan["outreach_share"]
    lines = [
        "",
        f"## For planners: eligible rows and capacity ({share:.0%} of each commune's monthly list)",
        "",
        f"{plan['eligible_rows']:,} rows are eligible (the legal trigger fires) with "
        f"{plan['eligible_positives']:,} positives; {plan['positives_outside_eligible']:,} "
        "positives fall outside them.",
        "",
        "| scored by | AUC (eligible) | PR-AUC (eligible) | ECE (eligible) | precision at capacity "
        "| recall at capacity |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, m in plan["eligible"].items():
        c = plan["at_capacity"][name]
        lines.append(
            f"| {name} | {m['auc']:.4f} | {m['pr_auc']:.4f} | {m['ece']:.4f} | "
            f"{c['precision']:.3f} | {c['recall']:.3f} |"
        )
    if plan["capture_ratio"] is not None:
        lines += [
            "",
            f"Capture ratio (model recall / oracle recall at capacity): "
            f"{plan['capture_ratio']:.3f}.",
        ]
    lines += [
        "",
        "Calibration in the tail (the model's highest scores):",
        "",
        "| top | rows | mean predicted | highest predicted | observed (95 % interval) |",
        "|---|---:|---:|---:|---|",
    ]
    for t in plan["tail"]:
        lines.append(
            f"| {t['share']:.1%} | {int(t['n']):,} | {t['predicted']:.4f} | "
            f"{t['max_predicted']:.6f} | {t['observed']:.4f} "
            f"({t['observed_low']:.4f}-{t['observed_high']:.4f}) |"
        )
    return lines


def write_report(evaluation: Evaluation, folder: Path) -> list[Path]:
    """evaluation.json, evaluation.md and calibration.png for one service."""
    # Matplotlib's object interface: no global backend is switched (a notebook that trains
    # keeps showing its own plots).
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "evaluation.json").write_text(
        json.dumps(evaluation.to_dict(), indent=2, default=float)
    )
    lines = [
        f"# {evaluation.service_id}",
        "",
        f"Test window: {evaluation.windows['test'][0]} to {evaluation.windows['test'][-1]}. "
        f"Scorer chosen on the validation window: {evaluation.scorer}.",
        "",
        "| scored by | AUC | PR-AUC | Brier | ECE | precision@5% | recall@5% |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in evaluation.results.items():
        lines.append(
            f"| {name} | {m['auc']:.4f} | {m['pr_auc']:.4f} | {m['brier']:.5f} | "
            f"{m['ece']:.4f} | {m['precision_at_5pct']:.3f} | {m['recall_at_5pct']:.3f} |"
        )
    lines += planning_lines(evaluation.planning)
    lines += [
        "",
        "## Fairness (test window)",
        "",
        "| attribute | group | rows | positives | AUC | observed | predicted | selected@10% "
        "| note |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in evaluation.fairness:
        lines.append(
            f"| {r['attribute']} | {r['group']} | {r['rows']:,} | {r['positives']:,} | "
            f"{r['auc']:.3f} | {r['observed_rate']:.4f} | {r['mean_predicted']:.4f} | "
            f"{r['selection_rate_top10pct']:.3f} | "
            f"{'too small to judge' if r['too_small_to_judge'] else ''} |"
        )
    (folder / "evaluation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    fig = Figure(figsize=(4, 4))
    ax = fig.add_subplot()
    curve = evaluation.calibration_curve
    ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
    ax.plot([b["predicted"] for b in curve], [b["observed"] for b in curve], marker="o")
    top = max([b["predicted"] for b in curve] + [b["observed"] for b in curve] + [0.01])
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(0, top * 1.05)
    ax.set_xlabel("predicted")
    ax.set_ylabel("observed")
    ax.set_title(evaluation.service_id, fontsize=9)
    fig.tight_layout()
    fig.savefig(folder / "calibration.png", dpi=100)
    return [folder / "evaluation.json", folder / "evaluation.md", folder / "calibration.png"]
