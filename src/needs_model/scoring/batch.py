"""Batch scoring: every eligible subject, every service, with the served (champion) models.

`score` writes one scored snapshot, `<out>/<as_of>/`, in one atomic rename (its layout is
`scoring.snapshot`'s):

- `subjects/<service>.parquet`: subject, contact CCCD and how the contact is related to the
  subject (`scoring.contacts`), household, 2025 commune, legacy district, the model's
  features, margin, calibrated probability, band, whether the legal trigger fires, rank in
  the commune, model version;
- `contributions/<service>.parquet`: exact TreeSHAP values (`shap_<feature>`, `shap_bias`)
  for the subjects a planner will see — band medium or high, or in the top
  `top_per_commune` of their commune — not for everyone;
- `dossiers/<service>.parquet`: pre-filled dossier rows for the same subjects;
- `people.parquet` (contact details), `consistency.parquet` (flags for dossier fields),
  `forecast.parquet` (expected requests per commune and province with exact
  Poisson-binomial intervals), `index.parquet` (CCCD -> service, subject, and whether the
  CCCD is the subject's own or its contact's), and
  `manifest.json` (as-of date, model versions, sources with their as-of dates, counts).

A score never denies a service: bands order outreach, nothing else.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import SERVICE_IDS, SERVICE_SOURCES, service
from needs_model.features.build import build_features, horizon_end
from needs_model.linking.consistency import consistency_report
from needs_model.linking.profiles import Profiles, build_profiles
from needs_model.modelling.promotion import BundleError, current_version, load_served
from needs_model.modelling.training import ServiceModel
from needs_model.reference.geography import quang_nam_communes
from needs_model.scoring.bands import BANDS, LOW, band_of
from needs_model.scoring.contacts import ContactBook, contact_book, contacts
from needs_model.scoring.explain import contributions
from needs_model.scoring.prefill import build_dossiers
from needs_model.scoring.snapshot import publish, start_snapshot

FORECAST_LEVEL = 0.90


@dataclass(frozen=True)
class Champion:
    model: ServiceModel
    version: str


def load_champions(models_dir: Path) -> tuple[dict[str, Champion], dict[str, str]]:
    """The served model of every service, and why the others have none."""
    served: dict[str, Champion] = {}
    missing: dict[str, str] = {}
    for service_id in SERVICE_IDS:
        try:
            model = load_served(models_dir, service_id)
        except BundleError as error:
            missing[service_id] = str(error)
            continue
        served[service_id] = Champion(model, current_version(models_dir, service_id) or "")
    return served, missing


@lru_cache(maxsize=1)
def communes_2025() -> pd.DataFrame:
    """2025 commune code -> its name and the legacy district most of it came from."""
    units = quang_nam_communes()
    district = units.groupby("commune_code_2025")["district_code"].agg(
        lambda codes: codes.value_counts().index[0]
    )
    names = units.drop_duplicates("commune_code_2025").set_index("commune_code_2025")
    return pd.DataFrame(
        {"commune_name": names["commune_name_2025"], "district_code": district}
    ).sort_index()


def predict(model: ServiceModel, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw margin and calibrated probability for a feature matrix (the Booster, no pandas)."""
    margin = np.asarray(model.booster.predict(matrix, raw_score=True), dtype=np.float64)
    return margin, model.calibrator(margin)


def poisson_binomial(probabilities: np.ndarray) -> np.ndarray:
    """Exact distribution of a sum of independent Bernoullis (the count of requests).

    Uses the characteristic function on a support wide enough that the mass beyond it is
    negligible (mean + 12 sd + 20), grouping equal probabilities (isotonic calibration
    yields few distinct values), then an inverse DFT.
    """
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 0.0, 1.0)
    if len(p) == 0:
        return np.array([1.0])
    mean, sd = p.sum(), np.sqrt((p * (1 - p)).sum())
    size = int(min(len(p) + 1, np.ceil(mean + 12 * sd + 20)))
    values, counts = np.unique(p, return_counts=True)
    omega = 2 * np.pi * np.arange(size) / size
    terms = 1 - values[:, None] + values[:, None] * np.exp(1j * omega[None, :])
    log_cf = (counts[:, None] * np.log(terms)).sum(axis=0)
    pmf = np.real(np.fft.fft(np.exp(log_cf))) / size
    pmf = np.clip(pmf, 0.0, None)
    return pmf / pmf.sum()


def interval(pmf: np.ndarray, level: float = FORECAST_LEVEL) -> tuple[int, int]:
    """Equal-tailed interval of a count distribution."""
    cdf = np.cumsum(pmf)
    tail = (1 - level) / 2
    low = int(np.searchsorted(cdf, tail, side="left"))
    high = int(np.searchsorted(cdf, 1 - tail, side="left"))
    return low, min(high, len(pmf) - 1)


def forecast_table(subjects: dict[str, pd.DataFrame], as_of: dt.date) -> pd.DataFrame:
    rows = []
    for service_id, frame in subjects.items():
        start = as_of + dt.timedelta(days=1)
        end = horizon_end(as_of, service(service_id).horizon_months)
        pmfs = []
        for commune, group in frame.groupby("commune_code", sort=True):
            pmf = poisson_binomial(group["probability"].to_numpy())
            pmfs.append(pmf)
            rows.append((service_id, str(commune), start, end, group, pmf))
        province = np.array([1.0])
        for pmf in pmfs:
            province = np.convolve(province, pmf)
        rows.append((service_id, "province", start, end, frame, province))
    out = []
    for service_id, commune, start, end, group, pmf in rows:
        p = group["probability"].to_numpy()
        low, high = interval(pmf)
        out.append(
            {
                "service_id": service_id,
                "commune_code": commune,
                "window_start": start.isoformat(),
                "window_end": end.isoformat(),
                "subjects": len(group),
                "expected": float(p.sum()),
                "sd": float(np.sqrt((p * (1 - p)).sum())),
                "low": low,
                "high": high,
                "level": FORECAST_LEVEL,
                "rule_triggers": int(group["rule_fires"].sum()),
            }
        )
    return pd.DataFrame(out)


def _subjects(book: ContactBook, service_id: str, frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.concat([frame, contacts(book, service_id, frame)], axis=1)
    out["district_code"] = out["commune_code"].map(communes_2025()["district_code"])
    return out


def citizen_index(scored: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """CCCD -> (service, subject, role): the subject's own CCCD (role `subject`, person
    services) and the CCCD of whoever is contacted about it when that is someone else (role
    `contact`: a parent, a household's adult, a business's owner)."""
    parts = []
    for service_id, frame in scored.items():
        pairs = frame[["subject_id", "contact_cccd"]].astype(object).assign(service_id=service_id)
        if service(service_id).subject_kind == "person":
            parts.append(pairs.assign(cccd=pairs["subject_id"], role="subject"))
        other = pairs[
            pairs["contact_cccd"].notna() & (pairs["contact_cccd"] != pairs["subject_id"])
        ]
        parts.append(other.assign(cccd=other["contact_cccd"], role="contact"))
    columns = ["cccd", "service_id", "subject_id", "role"]
    index = pd.concat(parts, ignore_index=True)[columns]
    return index.sort_values(columns[:3], kind="stable").reset_index(drop=True)


def _sources(p: Profiles) -> dict[str, str | None]:
    tables = {
        "registry/people": p.links.registry.rows if p.links is not None else p.people,
        "registry/households": p.households,
        "welfare/household_surveys": p.surveys,
        "welfare/storm_damage": p.storm_damage,
        "transport/vehicle_badges": p.badges,
        "services/transactions": p.transactions,
        **p.records,
    }
    out: dict[str, str | None] = {}
    for name, frame in sorted(tables.items()):
        latest = frame["recorded_at"].max() if len(frame) else None
        out[name] = (
            None if latest is None or pd.isna(latest) else pd.Timestamp(latest).date().isoformat()
        )
    return out


def score(
    raw: Path,
    as_of: dt.date,
    models_dir: Path,
    out: Path,
    top_per_commune: int = 20,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Score every served service on `as_of`; returns the snapshot folder."""
    say = progress or (lambda _message: None)
    started = time.perf_counter()
    champions, missing = load_champions(models_dir)
    if not champions:
        raise BundleError(f"no model is served in {models_dir}: train and promote first")
    profiles = build_profiles(raw, as_of)
    book = contact_book(profiles)
    names = communes_2025()["commune_name"]
    partial = start_snapshot(out, as_of)
    timings: dict[str, float] = {}
    scored: dict[str, pd.DataFrame] = {}
    counts: dict[str, dict[str, int]] = {}
    for service_id, champion in champions.items():
        model = champion.model
        frame = _subjects(book, service_id, build_features(profiles, service_id))
        matrix = model.matrix(frame)
        tick = time.perf_counter()
        margin, probability = predict(model, matrix)
        timings[f"predict_{service_id}"] = time.perf_counter() - tick
        frame["margin"] = margin
        frame["probability"] = probability
        frame["band"] = band_of(probability)
        frame["rule_fires"] = frame[TRIGGERS[service_id].name].fillna(0).astype(bool)
        frame["rank_in_commune"] = (
            frame.sort_values(["probability", "subject_id"], ascending=[False, True])
            .groupby("commune_code")
            .cumcount()
            .reindex(frame.index)
            + 1
        )
        frame["model_version"] = champion.version
        frame = frame.drop(columns=[c for c in frame.columns if c.startswith("audit_")])
        selected = frame[
            (frame["band"] != LOW)
            | frame["rule_fires"]
            | (frame["rank_in_commune"] <= top_per_commune)
        ]
        tick = time.perf_counter()
        shap_values = contributions(model, matrix[selected.index.to_numpy()])
        timings[f"shap_{service_id}"] = time.perf_counter() - tick
        shap = pd.DataFrame(
            shap_values, columns=[*(f"shap_{f}" for f in model.features), "shap_bias"]
        )
        shap.insert(0, "subject_id", selected["subject_id"].to_numpy())
        partial.write(shap, "contributions", service_id)
        dossiers = build_dossiers(profiles, service_id, selected.reset_index(drop=True), names)
        partial.write(dossiers, "dossiers", service_id)
        partial.write(frame, "subjects", service_id)
        scored[service_id] = frame
        counts[service_id] = {
            "subjects": len(frame),
            "explained": len(selected),
            **{f"band_{b}": int((frame["band"] == b).sum()) for _t, b in BANDS},
            "rule_fires": int(frame["rule_fires"].sum()),
        }
        say(f"{service_id}: {len(frame):,} scored, {len(selected):,} explained")
    partial.write(citizen_index(scored), "index")
    people = profiles.people[
        ["cccd", "full_name", "birth_date", "sex", "household_id", "status"]
    ].copy()
    book = profiles.households.set_index("household_id")
    people["commune_code"] = people["household_id"].map(book["commune_key"]).astype("string")
    people["district_code"] = people["commune_code"].map(communes_2025()["district_code"])
    partial.write(people, "people")
    assert profiles.links is not None
    tick = time.perf_counter()
    partial.write(consistency_report(profiles.links, raw, as_of), "consistency")
    timings["consistency"] = time.perf_counter() - tick
    tick = time.perf_counter()
    partial.write(forecast_table(scored, as_of), "forecast")
    timings["forecast"] = time.perf_counter() - tick
    partial.write(communes_2025().reset_index(names="commune_code"), "communes")
    manifest = {
        "as_of": as_of.isoformat(),
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "raw": str(raw),
        "models": {s: c.version for s, c in champions.items()},
        "scorers": {s: c.model.scorer for s, c in champions.items()},
        "not_served": missing,
        "sources": _sources(profiles),
        "service_sources": SERVICE_SOURCES,
        "bands": {name: threshold for threshold, name in BANDS},
        "top_per_commune": top_per_commune,
        "counts": counts,
        "seconds": {k: round(v, 3) for k, v in timings.items()}
        | {"total": round(time.perf_counter() - started, 3)},
    }
    partial.write_manifest(manifest)
    return publish(partial, out, as_of).folder
