"""Point-in-time features and labels per service, one row per eligible subject.

Features read only `Profiles` (records recorded on or before the as-of date); labels read
the services delivered in (as_of, as_of + horizon]. Everything is computed per household,
so `build_features(profiles.restrict(shard))` over shards gives the same rows as the
whole province (the scale-out work relies on it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.catalogue import rules
from needs_model.catalogue.features import AUDIT_COLUMNS, computed_for
from needs_model.catalogue.legal import legal_value
from needs_model.catalogue.services import LICENCES, service
from needs_model.extracts.sources import read_as_of
from needs_model.linking.link import linked_transactions
from needs_model.linking.profiles import Profiles

SUBJECT_KEY = {
    "person": "subject_cccd",
    "household": "subject_household_id",
    "business": "subject_business_id",
}


def is_month_end(day: dt.date) -> bool:
    return (day + dt.timedelta(days=1)).day == 1


def horizon_end(as_of: dt.date, months: int) -> dt.date:
    month = as_of.month - 1 + months + 1
    first_after = dt.date(as_of.year + month // 12, month % 12 + 1, 1)
    return first_after - dt.timedelta(days=1)


def _months(delta: pd.Series) -> pd.Series:
    return delta.dt.days / 30.4375


def _years_between(born: pd.Series, day: pd.Timestamp) -> pd.Series:
    years = day.year - born.dt.year
    before_birthday = (born.dt.month > day.month) | (
        (born.dt.month == day.month) & (born.dt.day > day.day)
    )
    return years - before_birthday.astype(int)


def latest_by(frame: pd.DataFrame, key: str, order: list[str]) -> pd.DataFrame:
    """Each key's last row in `order`, indexed by the key."""
    return frame.sort_values(order).groupby(key).tail(1).set_index(key)


def residents(p: Profiles) -> pd.DataFrame:
    """Resident people with the household attributes every person service uses (computed
    once per profiles: every service reads it)."""
    if "residents" not in p.cache:
        p.cache["residents"] = _residents(p)
    return p.cache["residents"]


def _residents(p: Profiles) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    people = p.people[p.people["status"] == "resident"].copy()
    people["age_years"] = _years_between(people["birth_date"], as_of)
    size = people.groupby("household_id").size()
    people["household_size"] = people["household_id"].map(size).astype(float)
    book = p.households.set_index("household_id")
    people["is_urban"] = people["household_id"].map(book["is_urban"]).fillna(False).astype(int)
    people["is_mountain"] = (
        people["household_id"].map(book["is_mountain"]).fillna(False).astype(int)
    )
    people["audit_ethnicity"] = people["ethnicity"]
    people["audit_religion"] = people["religion"]
    people["audit_sex"] = people["sex"]
    return people


def poor_at_last_review(p: Profiles, household_ids: pd.Series) -> pd.Series:
    """1 where the household's latest poverty review found it poor or near-poor (not an
    ever-poor flag), else 0."""
    last = p.surveys.sort_values("survey_year").groupby("household_id")["review_result"].last()
    result = household_ids.map(last)
    return result.isin(["poor", "near_poor"]).astype(int)


def birth_registration(p: Profiles) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    people = residents(p)
    women = people[(people["sex"] == "female") & people["age_years"].between(15, 49)].copy()
    women["is_married"] = women["marital_status"].eq("married").astype(int)
    pregnancies = p.records["health/pregnancies"].dropna(subset=["linked_cccd"])
    latest = (
        pregnancies.sort_values("visit_date").groupby("linked_cccd")["expected_due_date"].last()
    )
    due = women["cccd"].map(latest)
    open_record = due >= as_of - pd.Timedelta(days=60)
    women["days_to_expected_due_date"] = ((due - as_of).dt.days).where(open_record)
    tx = p.transactions[p.transactions["service_id"] == "birth_registration"]
    last_registration = tx.groupby("subject_cccd")["delivered_on"].max()
    unregistered = unregistered_births(p)
    born = women["cccd"].map(unregistered.groupby("linked_cccd")["child_birth_date"].max())
    women["days_since_unregistered_birth"] = (as_of - born).dt.days
    recent = tx[tx["delivered_on"] > as_of - pd.DateOffset(years=5)]
    women["births_registered_5y"] = (
        women["cccd"].map(recent.groupby("subject_cccd").size()).fillna(0)
    )
    last = women["cccd"].map(last_registration)
    months = _months(as_of - last)
    women["months_since_last_registered_birth"] = months.where(months <= 120)
    # Optional here (catalogue.features): computed, a model input only when chosen.
    women["household_poor_last_review"] = poor_at_last_review(p, women["household_id"])
    women["rule_birth_due"] = rules.birth_due(
        women["days_to_expected_due_date"],
        women["days_since_unregistered_birth"],
        int(service("birth_registration").horizon_months * 30.4375),
        p.as_of,
    ).astype(int)
    return women.rename(columns={"cccd": "subject_id"})


def unregistered_births(p: Profiles) -> pd.DataFrame:
    """Facility births of the past year to a linked mother with no birth registration by
    her since (the dossier's birth certificate comes from the same rows)."""
    as_of = pd.Timestamp(p.as_of)
    tx = p.transactions[p.transactions["service_id"] == "birth_registration"]
    last_registration = tx.groupby("subject_cccd")["delivered_on"].max()
    births = p.records["health/births"].dropna(subset=["linked_cccd"])
    births = births[births["child_birth_date"] >= as_of - pd.Timedelta(days=365)]
    registered_since = births["linked_cccd"].map(last_registration) >= births["child_birth_date"]
    return births[~registered_since.fillna(False)]


def next_august(as_of: pd.Timestamp) -> int:
    return as_of.year if as_of.month < 8 else as_of.year + 1


def school_admission(p: Profiles) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    people = residents(p)
    round_year = next_august(as_of)
    age_at_round = round_year - people["birth_date"].dt.year
    enrolled = set(p.records["education/enrolments"]["linked_cccd"].dropna())
    admitted = p.transactions.loc[
        p.transactions["service_id"] == "school_admission", "linked_cccd"
    ].dropna()
    children = people[
        age_at_round.between(4, 9) & ~people["cccd"].isin(enrolled | set(admitted))
    ].copy()
    children["age_in_years_at_next_round"] = age_at_round[children.index]
    children["months_to_next_round"] = (round_year - as_of.year) * 12 + 8 - as_of.month
    conditions = p.records["health/conditions"]
    disabled = set(conditions.loc[conditions["condition"] == "disability", "linked_cccd"].dropna())
    children["disability_recorded"] = children["cccd"].isin(disabled).astype(int)
    children["household_poor_last_review"] = poor_at_last_review(p, children["household_id"])
    children["rule_turns_six"] = rules.turns_six(
        children["age_in_years_at_next_round"], p.as_of
    ).astype(int)
    return children.rename(columns={"cccd": "subject_id"})


def licences_in_force(p: Profiles, service_id: str) -> pd.DataFrame:
    """Each holder's latest issue or renewal, unless a lapse came after it (the features
    and the dossier's licence read the same rows)."""
    rows = p.records[LICENCES[service_id].table].dropna(subset=["linked_cccd"])
    status_rows = rows[rows["event"].isin(["issued", "renewed", "lapsed", "reissued"])]
    latest = status_rows.sort_values(["event_date", "recorded_at"]).groupby("linked_cccd").tail(1)
    return latest[latest["event"] != "lapsed"]


def licence_renewal(p: Profiles, service_id: str) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    rows = p.records[LICENCES[service_id].table].dropna(subset=["linked_cccd"])
    latest = licences_in_force(p, service_id)
    people = residents(p).set_index("cccd")
    holders = latest[latest["linked_cccd"].isin(people.index)].drop(columns=["household_id"])
    holders = holders.join(people, on="linked_cccd", rsuffix="_registry")
    holders["days_to_expiry"] = (holders["expiry_date"] - as_of).dt.days
    holders["months_since_issue"] = _months(as_of - holders["issue_date"])
    renewed = rows[
        (rows["event"] == "renewed") & (rows["event_date"] > as_of - pd.DateOffset(years=10))
    ]
    holders["renewals_10y"] = (
        holders["linked_cccd"].map(renewed.groupby("linked_cccd").size()).fillna(0)
    )
    issue_of = holders.set_index("linked_cccd")["issue_date"]
    if service_id == "medical_license_renewal":
        courses = rows[rows["event"] == "cme_course"]
        courses = courses[courses["event_date"] >= courses["linked_cccd"].map(issue_of)]
        by_holder = courses.groupby("linked_cccd")["cme_hours"]
        hours = holders["linked_cccd"].map(by_holder.sum()).astype(float).fillna(0.0)
        validity = legal_value(LICENCES[service_id].validity_parameter, p.as_of) * 12
        required = legal_value("medical_cme_hours_per_cycle", p.as_of)
        holders["cme_hours_reported_since_issue"] = hours
        holders["cme_courses_reported_since_issue"] = (
            holders["linked_cccd"].map(by_holder.size()).fillna(0)
        )
        months = holders["months_since_issue"]
        holders["cme_hours_projected_at_expiry"] = (hours / months.where(months >= 6)) * validity
        holders["cme_hours_reported_short_of_requirement"] = np.maximum(required - hours, 0.0)
    if service_id == "tour_guide_card_renewal":
        courses = rows[rows["event"] == "refresher_course"]
        courses = courses[courses["event_date"] >= courses["linked_cccd"].map(issue_of)]
        holders["refresher_course_done"] = (
            holders["linked_cccd"].isin(set(courses["linked_cccd"])).astype(int)
        )
    holders["rule_licence_expiring"] = rules.licence_expiring(
        holders["days_to_expiry"], p.as_of
    ).astype(int)
    return holders.rename(columns={"linked_cccd": "subject_id"})


def next_review(as_of: dt.date) -> dt.date:
    """The December poverty review a month end's label is about: this year's until the
    December month end, then next year's."""
    return dt.date(as_of.year if as_of.month < 12 else as_of.year + 1, 12, 1)


def poor_household_confirmation(p: Profiles) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    households = p.households[p.households["status"] == "resident"].copy()
    review_year = next_review(p.as_of).year
    # Every review the household entered; income and deprivations only where it was
    # surveyed in full (most households never are: their income is unknown).
    reviews = p.surveys.sort_values(["survey_year", "recorded_at"])
    last = reviews.groupby("household_id").tail(1).set_index("household_id")
    surveyed = reviews.dropna(subset=["per_capita_income_vnd"])
    last_full = surveyed.groupby("household_id").tail(1).set_index("household_id")
    previous_full = surveyed.groupby("household_id").nth(-2).set_index("household_id")
    hid = households["household_id"]
    result = hid.map(last["review_result"])
    households["last_review_poor"] = result.eq("poor").astype(int)
    households["last_review_near_poor"] = result.eq("near_poor").astype(int)
    route = hid.map(last["entry_route"])
    households["last_review_entry_applied"] = route.eq("applied").astype(int)
    households["last_review_entry_proposed"] = route.eq("proposed").astype(int)
    households["last_scorecard_points"] = hid.map(last["scorecard_points"]).astype(float)
    # reindex, not map: pandas cannot map through an empty datetime series (no survey yet).
    last_full_survey = pd.Series(
        pd.to_datetime(last_full["survey_date"].reindex(hid.to_numpy())).to_numpy(),
        index=hid.index,
    )
    # Capped like every "months since" feature: a register's history has a start, and
    # beyond ten years the count would measure that start, not the household.
    months = _months(as_of - last_full_survey)
    households["months_since_last_full_survey"] = months.where(months <= 120)
    # The line of the next review, as announced by the as-of date (never a later decree).
    line = rules.income_line_vnd(households["is_urban"], next_review(p.as_of), p.as_of)
    income = hid.map(last_full["per_capita_income_vnd"]).astype(float)
    households["last_income_to_line_ratio"] = income / line
    households["income_change_ratio"] = income / hid.map(
        previous_full["per_capita_income_vnd"]
    ).astype(float)
    households["last_deprivation_count"] = hid.map(last_full["deprivation_count"]).astype(float)
    people = residents(p)
    households["household_size"] = hid.map(people.groupby("household_id").size()).fillna(0)
    households["children_under_16"] = hid.map(
        people[people["age_years"] < 16].groupby("household_id").size()
    ).fillna(0)
    households["members_over_60"] = hid.map(
        people[people["age_years"] >= 60].groupby("household_id").size()
    ).fillna(0)
    conditions = p.records["health/conditions"].dropna(subset=["household_id"])
    recent = conditions[conditions["diagnosis_date"] > as_of - pd.DateOffset(years=3)]
    households["members_with_conditions_3y"] = hid.map(
        recent.groupby("household_id")["linked_cccd"].nunique()
    ).fillna(0)
    year = conditions[conditions["diagnosis_date"] > as_of - pd.DateOffset(years=1)]
    households["conditions_12m"] = hid.map(year.groupby("household_id").size()).fillna(0)
    # The communes' storm-damage lists of the last 12 months: the household's own listing
    # (its income was cut), and its commune's (the review proposes households of a commune
    # a storm hit). A commune's list is read whole, so a partition gives the same value.
    damage = p.storm_damage[p.storm_damage["storm_date"] > as_of - pd.DateOffset(years=1)]
    households["storm_damage_12m"] = hid.isin(damage["household_id"]).astype(int)
    households["commune_storm_12m"] = (
        households["commune_key"].isin(damage["commune_key"]).astype(int)
    )
    households["months_to_next_review"] = (review_year - as_of.year) * 12 + 12 - as_of.month
    households["is_urban"] = households["is_urban"].astype(int)
    households["is_mountain"] = households["is_mountain"].astype(int)
    households["rule_income_below_line"] = rules.income_below_line(
        households["last_income_to_line_ratio"]
    ).astype(int)
    # A household's members' ethnicities for audits: that of its first resident member.
    first = (
        people[["cccd", "household_id", "ethnicity", "religion", "sex"]]
        .sort_values("cccd")
        .groupby("household_id")
        .first()
    )
    households["audit_ethnicity"] = hid.map(first["ethnicity"])
    households["audit_religion"] = hid.map(first["religion"])
    households["audit_sex"] = hid.map(first["sex"])
    households["subject_id"] = hid
    return households


def transport_business_license(p: Profiles) -> pd.DataFrame:
    as_of = pd.Timestamp(p.as_of)
    rows = p.records["transport/businesses"]
    latest = rows.sort_values(["event_date", "recorded_at"]).groupby("business_id").tail(1)
    businesses = latest[latest["event"] == "licensed"].copy()
    licensed_on = rows[rows["event"] == "licensed"].groupby("business_id")["event_date"].min()
    badges = p.badges.sort_values(["issue_date", "recorded_at"]).groupby("plate_no").tail(1)
    in_force = badges[(badges["issue_date"] <= as_of) & (badges["expiry_date"] >= as_of)].copy()
    in_force["days_left"] = (in_force["expiry_date"] - as_of).dt.days
    by_business = in_force.groupby("business_id")
    bid = businesses["business_id"]
    businesses["active_badges"] = bid.map(by_business.size()).fillna(0)
    businesses["days_to_nearest_badge_expiry"] = bid.map(by_business["days_left"].min())
    businesses["badges_expiring_90d"] = bid.map(
        in_force[in_force["days_left"] <= 90].groupby("business_id").size()
    ).fillna(0)
    businesses["months_since_last_badge"] = _months(
        as_of - bid.map(p.badges.groupby("business_id")["issue_date"].max())
    )
    businesses["business_age_months"] = _months(as_of - bid.map(licensed_on))
    fleet = fleet_in_force(in_force, p.as_of)
    by_business = fleet.groupby("business_id")
    businesses["passenger_vehicles"] = bid.map(
        fleet[fleet["vehicle_type"] == "passenger"].groupby("business_id").size()
    ).fillna(0)
    businesses["oldest_vehicle_age_years"] = as_of.year - bid.map(
        by_business["manufacture_year"].min()
    )
    businesses["months_to_nearest_service_life_end"] = bid.map(
        by_business["months_to_service_life_end"].min()
    )
    horizon = service("transport_business_license").horizon_months
    ending = fleet[fleet["months_to_service_life_end"] <= horizon]
    businesses["vehicles_reaching_service_life_in_horizon"] = bid.map(
        ending.groupby("business_id").size()
    ).fillna(0)
    end = pd.Timestamp(horizon_end(p.as_of, horizon))
    renewable = fleet[
        (fleet["expiry_date"] <= end) & (fleet["months_to_service_life_end"] > horizon)
    ]
    businesses["renewable_badges_expiring_in_horizon"] = bid.map(
        renewable.groupby("business_id").size()
    ).fillna(0)
    # Badges expired in the last two months on vehicles still within their service life:
    # the grace month in which a late renewal still comes.
    expired = badges[
        (badges["expiry_date"] < as_of) & (badges["expiry_date"] >= as_of - pd.DateOffset(months=2))
    ]
    expired = fleet_in_force(expired, p.as_of)
    expired = expired[expired["months_to_service_life_end"] > 0]
    businesses["badges_expired_last_2_months"] = bid.map(
        expired.groupby("business_id").size()
    ).fillna(0)
    first_badge = p.badges.groupby("plate_no")[["business_id", "issue_date"]].min()
    added = first_badge[first_badge["issue_date"] > as_of - pd.DateOffset(months=24)]
    businesses["vehicles_added_24m"] = bid.map(added.groupby("business_id").size()).fillna(0)
    people = residents(p).set_index("cccd")
    owner = businesses["linked_cccd"]
    businesses["owner_age_years"] = owner.map(people["age_years"])
    businesses["household_id"] = owner.map(people["household_id"])
    businesses["is_urban"] = owner.map(people["is_urban"]).fillna(0)
    businesses["is_mountain"] = owner.map(people["is_mountain"]).fillna(0)
    businesses["audit_ethnicity"] = owner.map(people["ethnicity"])
    businesses["audit_religion"] = owner.map(people["religion"])
    businesses["audit_sex"] = owner.map(people["sex"])
    businesses["rule_badge_expiring"] = rules.badge_expiring(
        businesses["days_to_nearest_badge_expiry"], p.as_of
    ).astype(int)
    return businesses.rename(columns={"business_id": "subject_id"})


def fleet_in_force(badges: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The vehicles whose badge is in force on `as_of` (one row each), with the whole months
    from the as-of month to the last month of the vehicle's service life (December of its
    year of manufacture plus 20 years passenger / 25 freight, as the law in force says)."""
    life = np.where(
        badges["vehicle_type"].eq("freight"),
        legal_value("vehicle_service_life_freight_years", as_of),
        legal_value("vehicle_service_life_passenger_years", as_of),
    )
    last_year = badges["manufacture_year"].astype(float) + life
    months = (last_year - as_of.year) * 12 + 12 - as_of.month
    return badges.assign(months_to_service_life_end=months)


def _licence_builder(service_id: str) -> Callable[[Profiles], pd.DataFrame]:
    def build(p: Profiles) -> pd.DataFrame:
        return licence_renewal(p, service_id)

    return build


BUILDERS: dict[str, Callable[[Profiles], pd.DataFrame]] = {
    "birth_registration": birth_registration,
    "school_admission": school_admission,
    "poor_household_confirmation": poor_household_confirmation,
    "transport_business_license": transport_business_license,
    **{s: _licence_builder(s) for s in LICENCES},
}


def build_features(p: Profiles, service_id: str) -> pd.DataFrame:
    """subject_id, household_id, commune_code (2025 unit of the household, for planning and
    evaluation by commune; never a model input), as_of, the service's features (its
    defaults, then its optional ones: `catalogue.features.computed_for`), audit columns."""
    frame = BUILDERS[service_id](p)
    columns = ["subject_id", "household_id", *computed_for(service_id), *AUDIT_COLUMNS]
    out = frame.reindex(columns=columns)
    for name in computed_for(service_id):
        out[name] = pd.to_numeric(out[name], errors="coerce").astype("float64")
    book = p.households.set_index("household_id")["commune_key"]
    out.insert(2, "commune_code", out["household_id"].map(book).astype("string"))
    out.insert(3, "as_of", pd.Timestamp(p.as_of))
    return out.sort_values("subject_id", kind="stable").reset_index(drop=True)


# Labels read every row of the extract, however late it was recorded (see attach_labels).
EXTRACT_HOLDS_ALL = dt.date(9999, 12, 31)


def register_deliveries(
    raw: Path, service_id: str, data_end: dt.date, recorded_by: dt.date = EXTRACT_HOLDS_ALL
) -> pd.DataFrame:
    """The service's deliveries as the register holds them (`subject`, `delivered_on`): the
    rows `attach_labels` counts, read once for any number of month ends.

    A person's services are found through the register's rows linked to the registry
    (`linking.link.linked_transactions` on `data_end`), never through the raw CCCD column:
    a transaction written without a CCCD, or with someone else's, counts for the person it
    links to, and one left unlinked (ambiguous) counts for nobody. Household and business
    services carry the register's own numbers. `recorded_by` keeps only the rows recorded
    by then."""
    entry = service(service_id)
    if entry.subject_kind == "person":
        rows = linked_transactions(raw, data_end, recorded_by=recorded_by).rename(
            columns={"linked_cccd": "subject"}
        )
    else:
        key = SUBJECT_KEY[entry.subject_kind]
        rows = read_as_of(
            raw, "services", "transactions", recorded_by, ["service_id", key, "delivered_on"]
        ).rename(columns={key: "subject"})
    rows = rows[rows["service_id"] == service_id]
    return rows[["subject", "delivered_on"]].reset_index(drop=True)


def attach_labels(
    features: pd.DataFrame,
    raw: Path,
    service_id: str,
    as_of: dt.date,
    data_end: dt.date,
    delivered: pd.DataFrame | None = None,
    recorded_by: dt.date = EXTRACT_HOLDS_ALL,
) -> pd.DataFrame:
    """label = the service was delivered to the subject in (as_of, as_of + horizon], as the
    extract of the service register holds it (`register_deliveries`, or `delivered` when
    the caller has read it); missing when the horizon runs past the data (`data_end`, the
    month of the last delivery).

    Every row the extract holds counts, whenever it was recorded: rows keep arriving for
    weeks after a delivery (a mountain commune's December may be entered in January), and
    cutting them at `data_end` would take a quarter of the last year's poverty
    confirmations, more in the mountains, out of the labels the latest models are tested on.
    `recorded_by` keeps only the register's rows recorded by then: the labels a monitor
    could read on that day (`monitoring.performance.labels_known_on`).
    """
    if delivered is None:
        delivered = register_deliveries(raw, service_id, data_end, recorded_by)
    end = horizon_end(as_of, service(service_id).horizon_months)
    inside = (delivered["delivered_on"] > pd.Timestamp(as_of)) & (
        delivered["delivered_on"] <= pd.Timestamp(end)
    )
    label = features["subject_id"].isin(set(delivered.loc[inside, "subject"].dropna()))
    out = features.copy()
    out["label"] = label.astype("float64") if end <= data_end else np.nan
    return out
