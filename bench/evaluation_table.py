"""The README's evaluation table from a folder of evaluation reports.

Usage: python bench/evaluation_table.py reports/ [--fairness | --planning]
Prints, per service: AUC, PR-AUC, Brier, ECE of the model, the rule baseline, the logistic
regression and the oracle, and checks the [models] targets (AUC within 0.02 of the oracle,
ECE <= 0.02, PR-AUC above the rule baseline where the rule does not match the oracle).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from needs_model.catalogue.services import SERVICE_IDS


def main() -> None:
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "reports")
    print("| service | test rows (positives) | scored by | AUC | PR-AUC | Brier | ECE |")
    print("|---|---:|---|---:|---:|---:|---:|")
    checks = []
    for service_id in SERVICE_IDS:
        path = folder / service_id / "evaluation.json"
        if not path.exists():
            continue
        evaluation = json.loads(path.read_text())
        results = evaluation["results"]
        m = results["model"]
        size = f"{int(m['rows']):,} ({int(m['positives']):,})"
        for scorer in ("model", "rule", "logistic", "oracle"):
            if scorer in results:
                r = results[scorer]
                first = scorer == "model"
                # Reports written before the scorer choice do not name one: gbm then.
                label = f"model ({evaluation.get('scorer', 'gbm')})" if first else scorer
                print(
                    f"| {service_id if first else ''} | {size if first else ''} | {label} "
                    f"| {r['auc']:.4f} | {r['pr_auc']:.4f} | {r['brier']:.5f} | {r['ece']:.4f} |"
                )
        if "oracle" in results:
            o, rule = results["oracle"], results["rule"]
            rule_matches_oracle = abs(rule["auc"] - o["auc"]) <= 0.005
            checks.append(
                (
                    service_id,
                    o["auc"] - m["auc"],
                    m["ece"],
                    m["pr_auc"] > rule["pr_auc"] or rule_matches_oracle,
                )
            )
    if checks:
        print()
        print(
            "| service | oracle AUC - model AUC (target ≤ 0.02) | ECE (target ≤ 0.02) "
            "| PR-AUC above rule |"
        )
        print("|---|---:|---:|---|")
        for service_id, gap, ece, better in checks:
            print(
                f"| {service_id} | {gap:.4f} {'✓' if gap <= 0.02 else '✗'} | "
                f"{ece:.4f} {'✓' if ece <= 0.02 else '✗'} | {'✓' if better else '✗'} |"
            )


def _pair(block: dict, key: str) -> str:
    """The model's value, and the oracle's when there is one."""
    mine = f"{block['model'][key]:.3f}"
    return f"{mine} / {block['oracle'][key]:.3f}" if "oracle" in block else mine


def planning_table(folder: Path) -> None:
    """Per service: what a planner can act on ([realism] targets: capture ratio >= 0.90 and
    ECE <= 0.02 within the eligible rows)."""
    print(
        "| service | capacity | base rate | eligible rows (positives; positives outside) "
        "| AUC eligible "
        "model / oracle | PR-AUC eligible model / oracle | recall at capacity model / rule / "
        "logistic / oracle | precision at capacity model / oracle | capture ratio | "
        "ECE eligible | top 0.1 %: predicted vs observed (95 % CI) |"
    )
    print("|---|---:|---:|---|---|---|---|---|---:|---:|---|")
    for service_id in SERVICE_IDS:
        path = folder / service_id / "evaluation.json"
        if not path.exists():
            continue
        evaluation = json.loads(path.read_text())
        plan = evaluation.get("planning")
        rate = evaluation["results"]["model"]["observed_rate"]
        if plan is None:
            print(f"| {service_id} | (report predates the planning metrics) |")
            continue
        e, c = plan["eligible"], plan["at_capacity"]

        recall = " / ".join(
            format(c[s]["recall"], ".3f") for s in ("model", "rule", "logistic", "oracle") if s in c
        )
        capture = plan["capture_ratio"]
        ece = e["model"]["ece"]
        tail = plan["tail"][-1]
        print(
            f"| {service_id} | {plan['outreach_share']:.0%} | {rate:.1%} | "
            f"{plan['eligible_rows']:,} "
            f"({plan['eligible_positives']:,}; {plan['positives_outside_eligible']:,}) | "
            f"{_pair(e, 'auc')} | {_pair(e, 'pr_auc')} | {recall} | {_pair(c, 'precision')} | "
            f"{'-' if capture is None else f'{capture:.3f}'}"
            f"{'' if capture is None else (' ✓' if capture >= 0.90 else ' ✗')} | "
            f"{ece:.4f} {'✓' if ece <= 0.02 else '✗'} | {tail['predicted']:.3f} vs "
            f"{tail['observed']:.3f} ({tail['observed_low']:.3f}-{tail['observed_high']:.3f}) |"
        )


def fairness_table(folder: Path) -> None:
    """Per service and group: rows, AUC (95% CI), observed vs predicted rate, selection."""
    print("| service | group | rows | AUC (95% CI) | observed | predicted | selected in top 10 % |")
    print("|---|---|---:|---|---:|---:|---:|")
    for service_id in SERVICE_IDS:
        path = folder / service_id / "evaluation.json"
        if not path.exists():
            continue
        for g in json.loads(path.read_text())["fairness"]:
            if g["too_small_to_judge"]:
                auc = "too small to judge"
            else:
                lo, hi = g["auc_ci"]
                auc = f"{g['auc']:.3f} ({lo:.3f}-{hi:.3f})"
            print(
                f"| {service_id} | {g['attribute']}={g['group']} | {g['rows']:,} | {auc} | "
                f"{g['observed_rate']:.4f} | {g['mean_predicted']:.4f} | "
                f"{g['selection_rate_top10pct']:.3f} |"
            )


if __name__ == "__main__":
    if "--fairness" in sys.argv:
        fairness_table(Path(sys.argv[1]))
    elif "--planning" in sys.argv:
        planning_table(Path(sys.argv[1]))
    else:
        main()
