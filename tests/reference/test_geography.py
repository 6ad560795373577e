from needs_model.reference.geography import MOUNTAIN_DISTRICTS, quang_nam_communes


def test_real_units_of_quang_nam():
    communes = quang_nam_communes()
    assert len(communes) == 233
    assert communes["district_name"].nunique() == 17
    assert communes["commune_code"].is_unique
    assert abs(communes["population_weight"].sum() - 1) < 1e-9
    assert set(MOUNTAIN_DISTRICTS) <= set(communes["district_name"])
    assert communes.loc[communes["is_mountain"], "is_urban"].mean() < 0.2
    assert communes["latitude"].between(14.9, 16.2).all()


def test_every_commune_has_a_2025_successor_in_da_nang():
    communes = quang_nam_communes()
    assert communes["commune_code_2025"].notna().all()
    # The 233 legacy units became 78 of Đà Nẵng's 94 commune-level units.
    assert communes["commune_code_2025"].nunique() == 78
