"""The monitor's statuses against the twin's truth: which alarms the truth backs, which it
does not (crying wolf), and which months the truth says need one and got none.

    python bench/alarms_vs_truth.py [--root data/scenarios] [--second data/scenarios-seed1]

The scenario table (`bench/scenario_table.py`) counts every alarm on the stable twin as a
false one. But the twin's "no change" is not a frozen province: a profession's renewal
propensity and a school round's take-up are drawn each year, and no extract records them
(docs/twin.md). The twin's oracle (`twin.quality.oracle_for_rows`: the true probability of
each row, given the true state) says whether the served model is off its truth, with no
outcome drawn. So each kept service-month (decided again by the current rule,
`scenario_table.restatus`) is set beside the truth, on two sets of rows:

- the month's own rows (what the drift, scores and demand checks look at), and
- the matured window the monitor judged that month (`matured_dates`: what the checks on
  matured labels look at; none in the first months).

On a set of rows the truth says **act** when one of these holds, each the monitor's or the
gate's own tolerance applied to the truth instead of a sample (fixed before the counts
were seen, not fitted to them):
- **ranking**: the AUC against the truth (each row a positive with weight P, a negative
  with weight 1 - P) more than `Thresholds.auc_drop` (0.02) below the same AUC on the
  champion's test window;
- **level**: the expected demand (mean served probability) off the true demand (mean P)
  by `Thresholds.expected_demand_change` (20 %) or more of the true demand: what a planner
  would plan wrong;
- **group**: a judged group (200 rows and 20 expected events or more, the groups training
  judges: `evaluate.group_columns`) whose gap to the truth (mean served - mean P) is
  beyond `Gate.max_group_gap` (0.02) and beyond the rest's gap by as much.

An alarm is **backed** when the truth says act on either set of rows; an `ok` month is
**missed** when the truth says act on its own rows. Prints a Markdown table per twin and
service, and the stable twins' alarms split by backing; writes
bench/results/alarms-vs-truth.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from needs_model.features.snapshots import read_snapshot
from needs_model.modelling.evaluate import MIN_GROUP_POSITIVES, MIN_GROUP_ROWS, group_columns
from needs_model.modelling.promotion import Gate, load_served
from needs_model.monitoring.thresholds import Thresholds
from needs_model.twin.quality import oracle_for_rows
from scenario_table import SCENARIOS, STABLE_MONTHS, line_acts, month_end, restatus

OUT = Path(__file__).parent / "results" / "alarms-vs-truth.md"
BASE_UNTIL = dt.date(2025, 1, 31)  # the twins' first snapshot (MONITOR_SNAPSHOTS)


class Truth:
    """The served model's probabilities and the oracle's, per month end of one twin and
    service (computed once each)."""

    def __init__(self, twin: Path, service_id: str) -> None:
        # The twin's snapshots start in 2025-01; a champion's test window may be older
        # (a 12-month service's: 2024-07..12), and is read from the base twin the champions
        # were trained on, the same world until the scenarios start (2026-01).
        self.twin, self.base, self.service_id = twin, twin.parent / "base", service_id
        self.model = load_served(twin / "store" / "models", service_id)
        self._months: dict[str, pd.DataFrame] = {}

    def rows(self, dates: list[str]) -> pd.DataFrame:
        for day in dates:
            if day not in self._months:
                as_of = dt.date.fromisoformat(day)
                root = self.twin if as_of >= BASE_UNTIL else self.base
                frame = read_snapshot(root / "features", self.service_id, as_of)
                frame = frame.reset_index(drop=True)
                frame["served_p"] = self.model.predict(frame)
                frame["true_p"] = oracle_for_rows(root / "raw", self.service_id, frame).to_numpy()
                self._months[day] = frame
        return pd.concat([self._months[d] for d in dates], ignore_index=True)


def truth_auc(served: np.ndarray, true: np.ndarray) -> float | None:
    """The AUC the served scores would have in expectation over the outcomes the truth
    draws: every row once as a positive (weight P) and once as a negative (weight 1 - P)."""
    if true.sum() <= 0 or (1 - true).sum() <= 0:
        return None
    labels = np.r_[np.ones(len(true)), np.zeros(len(true))]
    return float(roc_auc_score(labels, np.r_[served, served], sample_weight=np.r_[true, 1 - true]))


def group_gaps(frame: pd.DataFrame) -> list[tuple[str, float, float]]:
    """(attribute=group, gap to the truth, gap beyond the rest's) for each judged group."""
    out = []
    gap = frame["served_p"] - frame["true_p"]
    for attribute, values in group_columns(frame).items():
        values = pd.Series(np.asarray(values), index=frame.index)
        for value in values.unique():
            mask = (values == value).to_numpy()
            if mask.sum() < MIN_GROUP_ROWS or frame["true_p"][mask].sum() < MIN_GROUP_POSITIVES:
                continue
            if mask.all():
                continue
            own, rest = float(gap[mask].mean()), float(gap[~mask].mean())
            out.append((f"{attribute}={value}", own, own - rest))
    return out


def verdict(frame: pd.DataFrame, test_auc: float | None, tolerances: dict[str, float]) -> list[str]:
    """What the truth says to act on for these rows ([] when nothing)."""
    served, true = frame["served_p"].to_numpy(), frame["true_p"].to_numpy()
    found = []
    auc = truth_auc(served, true)
    if auc is not None and test_auc is not None and auc < test_auc - tolerances["auc_drop"]:
        found.append(f"ranking {auc:.3f} < {test_auc:.3f} - {tolerances['auc_drop']}")
    if true.mean() > 0:
        off = served.mean() / true.mean() - 1
        if abs(off) >= tolerances["demand"]:
            # In people too: on a service of a few dozen holders 20 % is under one person.
            found.append(
                f"level {off:+.0%} of the true demand ({served.sum() - true.sum():+.1f} people "
                f"of {true.sum():.1f} over {frame['as_of'].nunique()} month ends)"
            )
    for group, own, beyond in group_gaps(frame):
        if abs(own) > tolerances["group"] and abs(beyond) > tolerances["group"]:
            found.append(f"group {group} {own:+.3f} ({beyond:+.3f} beyond the rest)")
    return found


POVERTY = "poor_household_confirmation"


def stable_months(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The service-months the scenario table counts for the stable twin: 2026's, and the
    poverty model's before the 2027 line reaches its features (`line_acts`)."""
    last = month_end(STABLE_MONTHS[-1]).isoformat()
    line = month_end(line_acts(STABLE_MONTHS)).isoformat()
    return [
        r
        for r in records
        if r["as_of"] <= last and not (r["service_id"] == POVERTY and r["as_of"] >= line)
    ]


def judge_twin(root: Path, name: str, tolerances: dict[str, float]) -> list[dict[str, Any]]:
    """Each kept service-month of one twin with its status and the truth's verdicts (the
    stable twin: the months the scenario table counts)."""
    records = json.loads((root / name / "monitoring.json").read_text(encoding="utf-8"))
    restatus(records)
    if name == "no-change":
        records = stable_months(records)
    truths: dict[str, Truth] = {}
    test_aucs: dict[str, float | None] = {}
    out = []
    for record in records:
        service_id = record["service_id"]
        if service_id not in truths:
            truths[service_id] = Truth(root / name, service_id)
            test = truths[service_id].rows(record["champion"]["test_window"])
            test_aucs[service_id] = truth_auc(
                test["served_p"].to_numpy(), test["true_p"].to_numpy()
            )
        truth = truths[service_id]
        now = verdict(truth.rows([record["as_of"]]), test_aucs[service_id], tolerances)
        matured = (
            verdict(truth.rows(record["matured_dates"]), test_aucs[service_id], tolerances)
            if record["matured_dates"]
            else []
        )
        out.append(
            {
                "twin": name,
                "service_id": service_id,
                "as_of": record["as_of"],
                "alarm": record["status"] != "ok",
                "status": record["status"],
                "reasons": record["reasons"],
                "truth_now": now,
                "truth_matured": matured,
            }
        )
    return out


def tally(rows: list[dict[str, Any]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for r in rows:
        act = bool(r["truth_now"] or r["truth_matured"])
        if r["alarm"]:
            counts["backed" if act else "not backed"] += 1
        elif r["truth_now"]:
            counts["missed"] += 1
        else:
            counts["quiet"] += 1
        counts["truth acts now"] += bool(r["truth_now"])
    return counts


def markdown(judged: dict[str, list[dict[str, Any]]]) -> str:
    lines = [
        "| twin | service | service-months | alarms backed by the truth | alarms not backed "
        "| ok, truth says act (missed) | months the truth says act (own rows) |",
        "|---|---|---|---|---|---|---|",
    ]
    for twin, rows in judged.items():
        for service_id in sorted({r["service_id"] for r in rows}):
            mine = [r for r in rows if r["service_id"] == service_id]
            c = tally(mine)
            lines.append(
                f"| {twin} | {service_id} | {len(mine)} | {c['backed']} | {c['not backed']} | "
                f"{c['missed']} | {c['truth acts now']} |"
            )
    lines.append("")
    for twin, rows in judged.items():
        c = tally(rows)
        alarms = c["backed"] + c["not backed"]
        lines.append("")
        lines.append(
            f"{twin}: {alarms} alarms on {len(rows)} service-months; {c['backed']} backed by "
            f"the truth, {c['not backed']} not ({c['not backed'] / len(rows):.0%} of the "
            f"service-months); {c['missed']} ok months the truth says act on."
        )
        for r in rows:
            if r["alarm"] or r["truth_now"]:
                why = "; ".join(r["truth_now"] + [f"matured: {v}" for v in r["truth_matured"]])
                said = f"{r['status']} ({'; '.join(x[:70] for x in r['reasons'])})"
                lines.append(
                    f"- {r['as_of']} {r['service_id']} "
                    f"{said if r['alarm'] else 'ok'}: truth: {why or 'nothing'}"
                )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/scenarios"))
    parser.add_argument("--second", type=Path, default=Path("data/scenarios-seed1"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    thresholds, gate = Thresholds(), Gate()
    tolerances = {
        "auc_drop": thresholds.auc_drop,
        "demand": thresholds.expected_demand_change,
        "group": gate.max_group_gap,
    }
    judged = {}
    for name in ("no-change", *SCENARIOS):
        if (args.root / name / "monitoring.json").exists():
            judged[name] = judge_twin(args.root, name, tolerances)
            print(f"{name}: {dict(tally(judged[name]))}", flush=True)
    if (args.second / "no-change" / "monitoring.json").exists():
        judged["no-change (second draw)"] = judge_twin(args.second, "no-change", tolerances)
    text = markdown(judged)
    print(text.split("\n\n")[0])
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
