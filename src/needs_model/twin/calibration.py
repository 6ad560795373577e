"""Simulated versus published figures, with sources and tolerances honest for the size."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.twin.world import World

FULL_PROVINCE_PEOPLE = 1_500_000


@dataclass(frozen=True)
class CalibrationRow:
    measure: str
    simulated: float
    published: float
    tolerance: float
    source: str

    @property
    def within(self) -> bool:
        return abs(self.simulated - self.published) <= self.tolerance


def _share_tolerance(share: float, n: int, floor: float) -> float:
    """Three standard errors of a share over n units, but never below `floor`."""
    return max(floor, 3 * math.sqrt(max(share * (1 - share), 1e-9) / max(n, 1)))


def calibration_table(w: World, scale: float) -> list[CalibrationRow]:
    """`scale` = simulated people / full-province people (1.5M)."""
    stats = pd.DataFrame(w.log.frame("truth_month_stats"))
    stats["year"] = stats["ym"] // 12
    year = 2023 if (stats["year"] == 2023).any() else int(stats["year"].max())
    in_year = stats[stats["year"] == year]
    end = in_year.iloc[-1]
    rows: list[CalibrationRow] = []
    population = float(end["population"]) / scale
    rows.append(
        CalibrationRow(
            f"population, end {year} (scaled to the full province)",
            population,
            1_500_000,
            1_500_000 * 0.05,
            "FACTS.md: ≈1.5 million [V]",
        )
    )
    households = float(end["households"]) / scale
    rows.append(
        CalibrationRow(
            f"households, end {year} (scaled)",
            households,
            442_673,
            442_673 * 0.06,
            "FACTS.md: 442,673 households end 2023 [V]",
        )
    )
    rows.append(
        CalibrationRow(
            f"people per household, end {year}",
            float(end["population"] / end["households"]),
            3.4,
            0.15,
            "FACTS.md: ≈3.4 [V]",
        )
    )
    births = pd.DataFrame(w.log.frame("truth_births"))
    people = w.people
    births["year"] = births["ym"] // 12
    births = births[births["year"] == year]
    mother_age = (births["ym"] - people["birth_ym"][births["mother"].to_numpy()]) // 12
    group = ((mother_age - 15) // 5).clip(0, 6)
    women_years = np.array([in_year[f"women_{15 + 5 * g}"].mean() for g in range(7)])
    per_group = np.bincount(group, minlength=7)[:7]
    tfr = float(5 * (per_group / np.maximum(women_years, 1)).sum())
    n_births = len(births)
    rows.append(
        CalibrationRow(
            f"total fertility rate, {year}",
            tfr,
            1.95,
            max(0.12, 3 * 1.95 / math.sqrt(max(n_births, 1))),
            "FACTS.md: national TFR 1.96 (2023), 1.91 (2024) [V]",
        )
    )
    cbr = 1000 * n_births / float(in_year["population"].mean())
    rows.append(
        CalibrationRow(
            f"crude birth rate per 1000, {year}",
            cbr,
            13.5,
            max(1.5, 3 * 1000 * math.sqrt(max(n_births, 1)) / float(in_year["population"].mean())),
            "FACTS.md: ≈13-14 ‰ estimate [U] (Bình Định 12.6-15.1 ‰)",
        )
    )
    surveys = pd.DataFrame(w.log.frame("household_surveys"))
    reviewed = surveys[surveys["survey_year"] == year]
    n_households = int(end["households"])
    poor = float((reviewed["result"] == "poor").sum()) / n_households
    near = float((reviewed["result"] == "near_poor").sum()) / n_households
    rows.append(
        CalibrationRow(
            f"poor households, review {year}",
            poor,
            0.0557,
            _share_tolerance(0.0557, n_households, 0.01),
            "FACTS.md: 5.57 % end 2023 [V]",
        )
    )
    rows.append(
        CalibrationRow(
            f"near-poor households, review {year}",
            near,
            0.019,
            _share_tolerance(0.019, n_households, 0.008),
            "FACTS.md: 1.90 % end 2023 [V]",
        )
    )
    mountain = w.communes["is_mountain"].to_numpy()[reviewed["commune"].to_numpy()]
    flagged = reviewed["result"].isin(["poor", "near_poor"]).to_numpy()
    mountain_share = float(mountain[flagged].mean()) if flagged.any() else 0.0
    rows.append(
        CalibrationRow(
            f"share of poor + near-poor households in mountain communes, {year}",
            mountain_share,
            0.6,
            _share_tolerance(0.6, int(flagged.sum()), 0.1),
            "FACTS.md: six mountain districts hold 20,916 of ≈37,800 (2022) [V]; "
            "all 8 + Nông Sơn ≈0.6",
        )
    )
    return rows


def write_calibration(rows: list[CalibrationRow], path: Path) -> None:
    payload = [asdict(r) | {"within_tolerance": r.within} for r in rows]
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
