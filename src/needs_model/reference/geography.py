"""The real administrative units of Quang Nam, and their 2025 successors in Đà Nẵng.

Units, codes and coordinates come from the `vietnamadminunits` package (no network): the
17 district-level and 233 commune-level units before the 2025 reform, and the package's
converter for the commune each one became part of when Quang Nam merged into Đà Nẵng
(Res. 202/2025/QH15, in force 2025-07-01).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import pandas as pd

MERGER_DATE = dt.date(2025, 7, 1)
LEGACY_PROVINCE_CODE = "49"
MERGED_PROVINCE_CODE = "48"

# Western mountain districts (poverty, ethnic minorities, low density) — FACTS.md.
MOUNTAIN_DISTRICTS = frozenset(
    [
        "Tây Giang",
        "Đông Giang",
        "Nam Giang",
        "Phước Sơn",
        "Bắc Trà My",
        "Nam Trà My",
        "Hiệp Đức",
        "Tiên Phước",
    ]
)
# Communes of the former Nông Sơn district, merged into Quế Sơn (Res. 1241/NQ-UBTVQH15):
# mountainous like their western neighbours, so treated as mountain communes.
FORMER_NONG_SON_COMMUNES = frozenset(
    ["Thị trấn Trung Phước", "Xã Quế Lộc", "Xã Quế Lâm", "Xã Ninh Phước", "Xã Phước Ninh"]
)
# Coastal tourism districts where tour guides concentrate.
TOURISM_DISTRICTS = frozenset(["Hội An", "Điện Bàn", "Duy Xuyên", "Tam Kỳ", "Núi Thành"])

# District populations used as weights only (people, around the 2019 census). Verified
# figures are cited in FACTS.md; the others are estimates of the same period.
DISTRICT_POPULATION_WEIGHTS: dict[str, tuple[int, str]] = {
    "Tam Kỳ": (104_000, "FACTS.md [V-2nd]"),
    "Hội An": (91_000, "FACTS.md [V-2nd]"),
    "Tây Giang": (20_000, "estimate [U]"),
    "Đông Giang": (26_000, "estimate [U]"),
    "Đại Lộc": (141_851, "FACTS.md [V-2nd]"),
    "Điện Bàn": (195_000, "FACTS.md [V-2nd]"),
    "Duy Xuyên": (120_000, "estimate [U]"),
    "Quế Sơn": (110_000, "estimate [U], incl. former Nông Sơn"),
    "Nam Giang": (26_000, "estimate [U]"),
    "Phước Sơn": (25_000, "estimate [U]"),
    "Hiệp Đức": (38_000, "estimate [U]"),
    "Thăng Bình": (187_000, "FACTS.md [V-2nd]"),
    "Tiên Phước": (68_000, "estimate [U]"),
    "Bắc Trà My": (41_336, "FACTS.md [V-2nd]"),
    "Nam Trà My": (30_000, "estimate [U]"),
    "Núi Thành": (145_000, "estimate [U]"),
    "Phú Ninh": (80_000, "estimate [U]"),
}
# Within a district, an urban ward or township holds this many times a rural commune's people.
URBAN_COMMUNE_WEIGHT = 1.6


@lru_cache(maxsize=1)
def _load_units() -> pd.DataFrame:
    from vietnamadminunits.converter import convert_address_2025
    from vietnamadminunits.database import query

    rows = query(
        "SELECT district, districtShort, districtCode, ward, wardType, wardCode, wardLat, wardLon "
        f"FROM admin_units_legacy WHERE provinceCode = '{LEGACY_PROVINCE_CODE}'"
    )
    units = pd.DataFrame(rows).rename(
        columns={
            "district": "district_name",
            "districtShort": "district_short",
            "districtCode": "district_code",
            "ward": "commune_name",
            "wardType": "commune_type",
            "wardCode": "commune_code",
            "wardLat": "latitude",
            "wardLon": "longitude",
        }
    )
    new_units = [
        convert_address_2025(f"{r.commune_name}, {r.district_name}, Tỉnh Quảng Nam")
        for r in units.itertuples()
    ]
    units["commune_code_2025"] = [u.ward_code for u in new_units]
    units["commune_name_2025"] = [u.ward for u in new_units]
    units["province_code_2025"] = [u.province_code for u in new_units]
    return units.sort_values("commune_code", kind="stable").reset_index(drop=True)


def quang_nam_communes() -> pd.DataFrame:
    """One row per legacy commune-level unit, with area type, weights and the 2025 successor.

    Columns: commune_index, commune_code, commune_name, commune_type, district_code,
    district_name, latitude, longitude, is_urban, is_mountain, is_tourism,
    population_weight (sums to 1), commune_code_2025, commune_name_2025.
    """
    units = _load_units().copy()
    units["commune_index"] = range(len(units))
    units["is_urban"] = units["commune_type"].isin(["Phường", "Thị trấn"])
    units["is_mountain"] = units["district_short"].isin(MOUNTAIN_DISTRICTS) | units[
        "commune_name"
    ].isin(FORMER_NONG_SON_COMMUNES)
    units["is_tourism"] = units["district_short"].isin(TOURISM_DISTRICTS)
    raw_weight = units["is_urban"].map({True: URBAN_COMMUNE_WEIGHT, False: 1.0})
    district_share = units["district_short"].map(lambda d: DISTRICT_POPULATION_WEIGHTS[d][0]) / sum(
        w for w, _ in DISTRICT_POPULATION_WEIGHTS.values()
    )
    within = raw_weight / raw_weight.groupby(units["district_short"]).transform("sum")
    units["population_weight"] = district_share * within
    return units[
        [
            "commune_index",
            "commune_code",
            "commune_name",
            "commune_type",
            "district_code",
            "district_short",
            "latitude",
            "longitude",
            "is_urban",
            "is_mountain",
            "is_tourism",
            "population_weight",
            "commune_code_2025",
            "commune_name_2025",
        ]
    ].rename(columns={"district_short": "district_name"})
