"""The engine's coded path: categorical results, and the same figures whatever the input's form.

``annual_quantities`` and ``apply_factors`` return their text columns as categoricals made from
integer codes, and each step reads the codes back instead of hashing the texts. These cases
check that the figures do not depend on how the input is laid out or typed (row order, several
rows a month, missing values, categorical or text columns, shared or distinct text objects), and
the edges: an institution missing from the profile, a profile institution without consumption,
an unknown province, a factor table with a gap or a duplicate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounting import engine
from accounting.errors import MissingReferenceData
from tests.support.accounting import default_reference

REFERENCE = default_reference()
YEAR = 2023
TEXT = ["institution_id", "carrier", "unit", "use", "source"]
LINES = [
    ("electricity", "kWh", "purchased", "meter"), ("water", "m3", "purchased", "bill"),
    ("natural_gas", "m3", "stationary", "bill"), ("heat", "GJ", "purchased", "bill"),
    ("gasoline", "L", "mobile", "fuel_card"), ("pv", "kWh", "generation", "meter"),
    ("electricity", "kWh", "green", "bill"),
]


def _profile(ids=("a", "b", "c"), provinces=("shandong", "beijing", "shaanxi")) -> pd.DataFrame:
    return pd.DataFrame({"institution_id": list(ids), "province": list(provinces),
                         "floor_area_m2": 1000.0, "occupants": 20.0})


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame([
        {"institution_id": inst, "month": month, "carrier": c, "unit": u, "use": use,
         "source": src, "quantity": q, "coverage": cov, "estimated_share": est}
        for inst, month, (c, u, use, src), q, cov, est in rows
    ])


def _fresh_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """The same table with every text in its own object (as ids made one by one are)."""
    out = frame.copy()
    for column in TEXT:
        out[column] = pd.Series(["".join(list(v)) for v in frame[column]], dtype=object)
    return out


def _figures(consumption: pd.DataFrame, profile: pd.DataFrame | None = None):
    profile = _profile() if profile is None else profile
    return engine.account_figures(consumption, profile, REFERENCE, YEAR)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as plain objects, rows in a fixed order: for comparing results."""
    out = frame.astype({c: object for c in frame.columns
                        if isinstance(frame[c].dtype, pd.CategoricalDtype)})
    keys = [c for c in ("institution_id", "carrier", "unit", "use", "province")
            if c in out.columns]
    return out.sort_values(keys).reset_index(drop=True)


row = st.tuples(st.sampled_from("abc"), st.integers(1, 12), st.sampled_from(LINES),
                st.one_of(st.floats(0.0, 1e5), st.just(float("nan"))),
                st.one_of(st.floats(0.0, 1.0), st.just(float("nan"))),
                st.one_of(st.floats(0.0, 1.0), st.just(float("nan"))))
FAST = settings(max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.lists(row, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_the_figures_do_not_depend_on_the_form_of_the_table(rows, random):
    table = _table(rows)
    factors, carriers, figures = _figures(table)
    order = list(range(len(table)))
    random.shuffle(order)
    forms = {
        "shuffled": table.iloc[order],
        "categorical": table.astype({c: "category" for c in TEXT}),
        "distinct objects": _fresh_objects(table),
    }
    for name, form in forms.items():
        f2, c2, g2 = _figures(form)
        pd.testing.assert_frame_equal(g2, figures, check_exact=False, rtol=1e-12, obj=name)
        pd.testing.assert_frame_equal(_as_text(c2), _as_text(carriers), check_exact=False,
                                      rtol=1e-12, obj=name)
        pd.testing.assert_frame_equal(_as_text(f2), _as_text(factors), obj=name)


def test_carriers_have_categorical_text_columns_that_sort_like_text():
    table = _table([("b", 1, LINES[1], 10.0, 1.0, 0.0), ("a", 1, LINES[0], 100.0, 1.0, 0.0),
                    ("b", 2, LINES[0], 50.0, 1.0, 0.0)])
    _, carriers, _ = _figures(table)
    for column in ("institution_id", "carrier", "unit", "use", "province"):
        assert isinstance(carriers[column].dtype, pd.CategoricalDtype), column
        categories = list(carriers[column].cat.categories)
        assert categories == sorted(categories), column
    ordered = carriers.sort_values(["institution_id", "carrier"])
    assert list(zip(ordered["institution_id"], ordered["carrier"], strict=True)) == [
        ("a", "electricity"), ("b", "electricity"), ("b", "water")]
    # Rows come carrier by carrier, each in order of first appearance.
    assert list(carriers["carrier"].astype(str)) == ["water", "electricity", "electricity"]


def test_several_rows_a_month_and_missing_values_hand_computed():
    rows = [
        # a, electricity (meter): January twice (coverage 1 and 0.5 → 0.75), February with an
        # unknown quantity (counts 0, coverage 0), March with an unknown coverage (0).
        ("a", 1, LINES[0], 100.0, 1.0, 0.0), ("a", 1, LINES[0], 50.0, 0.5, 0.2),
        ("a", 2, LINES[0], float("nan"), 1.0, 0.0), ("a", 3, LINES[0], 30.0, float("nan"),
                                                       float("nan")),
    ]
    _, carriers, figures = _figures(_table(rows), _profile(["a"], ["shandong"]))
    line = carriers.iloc[0]
    assert line["quantity"] == pytest.approx(180.0)
    # Meter: Σ monthly coverage ÷ 12 = (0.75 + 0 + 0) / 12.
    assert line["coverage"] == pytest.approx(0.75 / 12)
    # Estimated: 50 × 0.2 of 180 kWh (a missing share counts 0).
    assert line["estimated_share"] == pytest.approx(10.0 / 180.0)
    assert line["months"] == 3
    assert figures.loc[0, "energy_tce"] == pytest.approx(180.0 * 0.1229 / 1000)


def test_institutions_missing_from_the_profile_or_without_rows():
    rows = [("a", 1, LINES[0], 1000.0, 1.0, 0.0), ("stranger", 1, LINES[0], 5000.0, 1.0, 0.0),
            ("b", 1, LINES[1], 10.0, 1.0, 0.0)]
    factors, carriers, figures = _figures(_table(rows))
    # The stranger (not in the profile) is left out; c (no rows) has unknown energy, and so
    # has b (water only: no electricity data), never 0.
    assert set(carriers["institution_id"].astype(str)) == {"a", "b"}
    assert list(carriers["institution_id"].cat.categories) == ["a", "b"]
    f = figures.set_index("institution_id")
    assert f.loc["a", "energy_tce"] == pytest.approx(1000.0 * 0.1229 / 1000)
    assert np.isnan(f.loc["b", "energy_tce"])
    assert f.loc["b", "water_m3"] == pytest.approx(10.0)
    assert np.isnan(f.loc["c", "energy_tce"])
    assert np.isnan(f.loc["c", "electricity_coverage"])  # not measured, not "fully measured"
    assert f.loc["c", "energy_coverage"] == 0.0
    # Only the provinces of institutions with rows are looked up.
    assert set(factors["province"]) == {"shandong", "beijing"}


def test_an_institution_of_unknown_province_uses_the_national_grid_factor():
    table = _table([("a", 1, LINES[0], 1000.0, 1.0, 0.0)])
    provinces = pd.Series({"someone_else": "shandong"})
    factors = engine.build_factor_table(REFERENCE, YEAR, engine.distinct_keys(table, provinces))
    carriers = engine.carrier_totals(table, provinces, factors)
    assert carriers["province"].isna().all()
    national = REFERENCE.kgco2_per_unit("electricity", "kWh", YEAR, None).value
    assert carriers.loc[0, "kgco2_per_unit"] == pytest.approx(national)


def test_apply_factors_takes_plain_text_or_categorical_rows_alike():
    table = _table([("a", 1, LINES[0], 1000.0, 1.0, 0.0), ("b", 1, LINES[2], 10.0, 1.0, 0.0)])
    provinces = _profile().set_index("institution_id")["province"]
    annual = engine.annual_quantities(table)
    factors = engine.build_factor_table(REFERENCE, YEAR, engine.distinct_keys(annual, provinces))
    from_categorical = engine.apply_factors(annual, provinces, factors)
    from_text = engine.apply_factors(annual.astype({c: object for c in TEXT[:4]}), provinces,
                                     factors)
    pd.testing.assert_frame_equal(from_text, from_categorical)
    # A categorical with categories no row uses (a filtered table) gives the same rows.
    wider = annual.copy()
    wider["institution_id"] = wider["institution_id"].cat.add_categories(["zz"])
    pd.testing.assert_frame_equal(engine.apply_factors(wider, provinces, factors),
                                  from_categorical)
    figures = engine.institution_figures(
        from_categorical.assign(institution_id=wider["institution_id"]), _profile())
    # b burns gas but has no electricity data: its energy is unknown, its scope 1 known.
    assert figures.set_index("institution_id").loc["b", "scope1_co2_t"] == pytest.approx(
        10.0 * 2.1622 / 1000)
    # institution_figures likewise takes carriers with plain text columns.
    as_text = from_categorical.astype({c: object for c in [*TEXT[:4], "province"]})
    pd.testing.assert_frame_equal(engine.institution_figures(as_text, _profile()), figures)


def test_a_gap_or_a_duplicate_in_the_factor_table_is_refused():
    table = _table([("a", 1, LINES[0], 1000.0, 1.0, 0.0), ("b", 1, LINES[0], 10.0, 1.0, 0.0)])
    provinces = _profile().set_index("institution_id")["province"]
    factors = engine.build_factor_table(REFERENCE, YEAR, engine.distinct_keys(table, provinces))
    with pytest.raises(MissingReferenceData,
                       match=r"no factor for 1 carrier row.*'beijing'.*institution\(s\) b"):
        engine.carrier_totals(table, provinces, factors[factors["province"] != "beijing"])
    with pytest.raises(ValueError, match="two rows"):
        engine.carrier_totals(table, provinces, pd.concat([factors, factors.iloc[:1]]))


def test_distinct_keys_pair_each_line_with_each_province_in_order_of_appearance():
    table = _table([("c", 1, LINES[1], 1.0, 1.0, 0.0), ("a", 1, LINES[0], 1.0, 1.0, 0.0),
                    ("b", 1, LINES[1], 1.0, 1.0, 0.0)])
    provinces = _profile().set_index("institution_id")["province"]
    keys = engine.distinct_keys(engine.annual_quantities(table), provinces)
    # Institutions c, b, a in order of their first rows: provinces shaanxi, beijing, shandong.
    assert list(zip(keys["carrier"], keys["province"], strict=True)) == [
        ("water", "shaanxi"), ("water", "beijing"), ("water", "shandong"),
        ("electricity", "shaanxi"), ("electricity", "beijing"), ("electricity", "shandong")]


def test_a_profile_with_an_institution_twice_is_refused():
    table = _table([("a", 1, LINES[0], 1000.0, 1.0, 0.0)])
    with pytest.raises(ValueError, match=r"several rows for institution\(s\) \['a'\]"):
        _figures(table, _profile(["a", "b", "a"]))


def test_a_year_without_any_consumption_row_gives_unknown_energy():
    empty = pd.DataFrame(columns=list(engine.CONSUMPTION_COLUMNS))
    factors, carriers, figures = _figures(empty)
    assert factors.empty
    assert carriers.empty
    assert figures["energy_tce"].isna().all()     # missing is never zero
    assert list(figures["missing_carriers"]) == ["*", "*", "*"]
    assert all(np.isnan(v) for k, v in engine.totals(figures).items()
               if k in ("energy_tce", "co2_t", "electricity_kwh"))
    assert engine.totals(figures)["energy_tce_left_out"] == 3
    assert figures["electricity_coverage"].isna().all()
