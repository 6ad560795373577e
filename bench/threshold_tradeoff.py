"""What each monitoring threshold trades: the stable twins' alarms against the scenarios'
detection, from the service-months the scenario table kept (no measuring again).

    python bench/threshold_tradeoff.py [--root data/scenarios] [--second data/scenarios-seed1]

For the default thresholds and for each variant below (one threshold moved, then all of
them together), every kept service-month of the scenario table's twins is decided again
(`scenario_table.restatus`, i.e. `monitoring.status.decide`) and the table's rows are
computed again (`scenario_table.table`): the stable twin's alarms (both draws; all
champions, and those the gate accepted) and the months to detection of each scenario's
targeted services. The variants are conventions one step looser than the defaults, not
values fitted to these twins. The matured checks (calibration month by month, fairness by
group) are the promotion gate's own (`promotion.Gate`) and are not monitoring thresholds:
the last column counts the stable alarms they raise alone, which no variant here changes.
Prints a Markdown table; writes it to bench/results/threshold-tradeoff.md.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path
from typing import Any

from needs_model.monitoring.thresholds import Thresholds
from scenario_table import SCENARIOS, restatus, table

NEVER = 1e9  # an effect no shift reaches: the rule is off
VARIANTS: dict[str, dict[str, float]] = {
    "defaults": {},
    "scores moved: PSI 0.25 (its 'significant shift')": {"prediction_drift": 0.25},
    "leaned-on feature: a large effect (d 0.8, w 0.5)": {
        "medium_effect_numeric": 0.8,
        "medium_effect_categorical": 0.5,
    },
    "feature the model hardly uses: never": {
        "large_effect_numeric": NEVER,
        "large_effect_categorical": NEVER,
    },
    "expected demand: 30 %": {"expected_demand_change": 0.3},
    "drifted share: 50 %": {"feature_drift_share": 0.5},
}
GATE_REASONS = ("calibration", "on matured labels", "matured AUC")
SHORT = {
    "birth_registration": "births",
    "poor_household_confirmation": "poverty",
    "school_admission": "school",
    "medical_license_renewal": "medical",
    "tour_guide_card_renewal": "tour guides",
    "veterinary_certificate_renewal": "vets",
}


def load(folder: Path) -> list[dict]:
    return json.loads((folder / "monitoring.json").read_text(encoding="utf-8"))


def stable_counts(rows: list[dict]) -> tuple[int, int, int, int]:
    """(alarms, service-months) over all champions and over those the gate accepted."""
    stable = [r for r in rows if r["scenario"] == "no change (2026)"]
    accepted = [r for r in stable if not r["shadow"]]
    return (
        sum(r["alarm_count"] for r in stable),
        sum(r["service_months"] for r in stable),
        sum(r["alarm_count"] for r in accepted),
        sum(r["service_months"] for r in accepted),
    )


def gate_only(rows: list[dict], records: list[dict]) -> int:
    """The stable twin's alarms, as the table counts its months (2026, and for the poverty
    model the months before the 2027 line acts: a row's first `service_months`), whose every
    reason is one of the gate's matured checks."""
    counted = set()
    for row in rows:
        if row["scenario"] == "no change (2026)":
            service_id = row["service"].split(" ")[0]
            months = sorted(r["as_of"] for r in records if r["service_id"] == service_id)
            counted |= {(service_id, m) for m in months[: row["service_months"]]}
    return sum(
        1
        for r in records
        if (r["service_id"], r["as_of"]) in counted
        and r["status"] != "ok"
        and all(x.startswith(GATE_REASONS) for x in r["reasons"])
    )


def evaluate(
    twins: dict[str, list[dict]],
    second: list[dict] | None,
    store: Path,
    second_store: Path | None,
    thresholds: Thresholds,
) -> dict[str, Any]:
    decided = {name: copy.deepcopy(records) for name, records in twins.items()}
    for records in decided.values():
        restatus(records, thresholds)
    rows = table({n: {"records": r} for n, r in decided.items()}, {}, store)
    result: dict[str, Any] = {"stable": stable_counts(rows)}
    result["gate_only"] = gate_only(rows, decided["no-change"])
    if second is not None and second_store is not None:
        other = copy.deepcopy(second)
        restatus(other, thresholds)
        second_rows = table({"no-change": {"records": other}}, {}, second_store)
        result["second"] = stable_counts(second_rows)
        result["second_gate_only"] = gate_only(second_rows, other)
    detection = {}
    for row in rows:
        name = row["scenario"]
        service_id = row["service"].split(" ")[0]
        if name in SCENARIOS and service_id in SCENARIOS[name][0]:
            detection[f"{name}: {SHORT[service_id]}"] = row["months_to_detection"]
        elif name.startswith("2027 poverty line"):
            detection["2027 poverty line"] = row["months_to_detection"]
    result["detection"] = detection
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/scenarios"))
    parser.add_argument("--second", type=Path, default=Path("data/scenarios-seed1"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/threshold-tradeoff.md"))
    args = parser.parse_args()
    twins = {name: load(args.root / name) for name in ["no-change", *SCENARIOS]}
    store = args.root / "base" / "store"
    second = load(args.second / "no-change") if (args.second / "no-change").exists() else None
    second_store = args.second / "base" / "store" if second is not None else None
    variants = dict(VARIANTS)
    variants["all of the above"] = {k: v for d in VARIANTS.values() for k, v in d.items()}
    results = {
        name: evaluate(twins, second, store, second_store, Thresholds(**values))
        for name, values in variants.items()
    }

    def rate(counts: tuple[int, int, int, int]) -> str:
        a, n, b, m = counts
        return f"{a}/{n} ({a / n:.0%}); accepted {b}/{m} ({b / m:.0%})"

    detections = list(results["defaults"]["detection"])
    head = ["thresholds", "stable, draw 1", "stable, draw 2", "gate's checks alone (1; 2)"]
    head += detections
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        cells = [
            name,
            rate(r["stable"]),
            rate(r["second"]) if "second" in r else "",
            f"{r['gate_only']}; {r.get('second_gate_only', '')}",
        ]
        cells += [
            "-" if r["detection"].get(d) is None else str(r["detection"][d]) for d in detections
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Stable: alarms over the stable twin's service-months (the table's counting); "
        "gate's checks alone: of those, the alarms raised only by the matured checks the "
        "promotion gate defines. Scenario columns: months from the scenario's start to its "
        "first alarm not raised by the stable twin that month (- : none).",
    ]
    text = "\n".join(lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
