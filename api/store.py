"""The scored snapshot in memory: what the API reads on every request.

Loaded once at start-up from the newest complete folder under NEEDS_SCORES_DIR and the
model bundles whose versions its manifest names (so scores, reasons and live predictions
come from the same models). Lookups are dictionaries and NumPy rows: the hot path never
touches pandas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.dossiers import DOSSIERS
from needs_model.catalogue.rules import TRIGGERS
from needs_model.modelling.promotion import verify_bundle
from needs_model.modelling.training import ServiceModel
from needs_model.scoring.explain import contributions
from needs_model.scoring.prefill import flags_index
from needs_model.scoring.snapshot import ScoredSnapshot, plain


class StoreError(RuntimeError):
    pass


@dataclass
class ServiceTable:
    """One service's scored subjects."""

    service_id: str
    model: ServiceModel
    version: str
    matrix: np.ndarray  # features in model order, C-contiguous float64
    subject_ids: np.ndarray
    contact: np.ndarray
    contact_relation: np.ndarray  # how the contact is related to the subject (None: no contact)
    commune: np.ndarray
    district: np.ndarray
    probability: np.ndarray
    band: np.ndarray
    rule_fires: np.ndarray
    rule_index: int  # position of the service's legal trigger among the model's features
    row_of: dict[str, int]
    order: np.ndarray  # rows by probability desc, then subject id
    shap_rows: dict[str, np.ndarray]
    dossiers: dict[str, dict[str, Any]]

    def explain_row(self, row: int) -> np.ndarray:
        """Exact contributions for a row (precomputed when the batch explained it)."""
        stored = self.shap_rows.get(str(self.subject_ids[row]))
        if stored is not None:
            return stored
        return contributions(self.model, self.matrix[row : row + 1])[0]


class People:
    """Contact details by CCCD: one dict of row numbers and column arrays (a dict per
    person would cost gigabytes on the full province)."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.columns = {c: frame[c].astype(object).to_numpy() for c in frame.columns}
        self.row_of = {str(c): i for i, c in enumerate(self.columns["cccd"])}

    def get(self, cccd: str) -> dict[str, Any] | None:
        row = self.row_of.get(cccd)
        if row is None:
            return None
        return {name: plain(values[row]) for name, values in self.columns.items()}

    def __iter__(self) -> Iterator[str]:
        return iter(self.row_of)

    def __len__(self) -> int:
        return len(self.row_of)


@dataclass
class Store:
    folder: Path
    manifest: dict[str, Any]
    services: dict[str, ServiceTable]
    people: People
    by_cccd: dict[str, list[tuple[str, str]]]
    flags_by_record: dict[str, list[dict[str, Any]]]
    flags_by_cccd: dict[str, list[dict[str, Any]]]
    forecast: pd.DataFrame
    communes: pd.DataFrame
    commune_codes: set[str] = field(default_factory=set)
    district_codes: set[str] = field(default_factory=set)

    @property
    def as_of(self) -> str:
        return str(self.manifest["as_of"])

    def live(self, service_id: str, matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, contributions) for inline feature rows."""
        table = self.services[service_id]
        shap_values = contributions(table.model, matrix)
        margin = shap_values.sum(axis=1)
        return table.model.calibrator(margin), shap_values


def _codes(column: pd.Series) -> np.ndarray:
    """Codes as Python strings, None where missing (a subject with no recorded commune):
    pandas' NA cannot be compared with a scope's code or searched by `np.isin`."""
    return np.array([None if pd.isna(v) else str(v) for v in column], dtype=object)


def _load_service(
    snapshot: ScoredSnapshot, models_dir: Path, service_id: str, version: str
) -> ServiceTable:
    bundle = models_dir / service_id / version
    verify_bundle(bundle)
    model = ServiceModel.load(bundle, service_id)
    frame = snapshot.read("subjects", service_id)
    if "contact_relation" not in frame:
        raise StoreError(
            f"{snapshot.folder}: {service_id} was scored before contacts carried their relation "
            "to the subject (a child's parent, a household's adult); run needs-model score again"
        )
    matrix = np.ascontiguousarray(model.matrix(frame))
    probability = frame["probability"].to_numpy(dtype=np.float64)
    subject_ids = frame["subject_id"].astype(str).to_numpy()
    order = np.lexsort((subject_ids, -probability))
    shap = snapshot.read("contributions", service_id)
    values = shap.drop(columns=["subject_id"]).to_numpy(dtype=np.float64)
    shap_rows = dict(zip(shap["subject_id"].astype(str), values, strict=True))
    dossier_frame = snapshot.read("dossiers", service_id)
    dossiers = {
        str(record["subject_id"]): {k: plain(v) for k, v in record.items()}
        for record in dossier_frame.to_dict("records")
    }
    return ServiceTable(
        service_id=service_id,
        model=model,
        version=version,
        matrix=matrix,
        subject_ids=subject_ids,
        contact=_codes(frame["contact_cccd"]),
        contact_relation=_codes(frame["contact_relation"]),
        commune=_codes(frame["commune_code"]),
        district=_codes(frame["district_code"]),
        probability=probability,
        band=frame["band"].astype(object).to_numpy(),
        rule_fires=frame["rule_fires"].to_numpy(dtype=bool),
        rule_index=model.features.index(TRIGGERS[service_id].name),
        row_of={s: i for i, s in enumerate(subject_ids)},
        order=order,
        shap_rows=shap_rows,
        dossiers=dossiers,
    )


def load_store(folder: Path, models_dir: Path) -> Store:
    snapshot = ScoredSnapshot(folder)
    if not snapshot.complete:
        raise StoreError(f"{folder} is not a complete scored snapshot (run needs-model score)")
    manifest = snapshot.manifest()
    services = {
        service_id: _load_service(snapshot, models_dir, service_id, version)
        for service_id, version in manifest["models"].items()
    }
    for service_id in services:
        if service_id not in DOSSIERS:
            raise StoreError(f"no dossier is declared for {service_id}")
    people_frame = snapshot.read("people")
    people_frame["birth_date"] = people_frame["birth_date"].dt.strftime("%Y-%m-%d")
    people = People(people_frame)
    index = snapshot.read("index")
    by_cccd: dict[str, list[tuple[str, str]]] = {}
    for cccd, service_id, subject_id in index[["cccd", "service_id", "subject_id"]].itertuples(
        index=False
    ):
        by_cccd.setdefault(str(cccd), []).append((str(service_id), str(subject_id)))
    consistency = snapshot.read("consistency")
    communes = snapshot.read("communes")
    return Store(
        folder=folder,
        manifest=manifest,
        services=services,
        people=people,
        by_cccd=by_cccd,
        flags_by_record=flags_index(consistency, "record_id"),
        flags_by_cccd=flags_index(consistency, "cccd"),
        forecast=snapshot.read("forecast"),
        communes=communes,
        commune_codes=set(communes["commune_code"].astype(str)),
        district_codes=set(communes["district_code"].astype(str)),
    )
