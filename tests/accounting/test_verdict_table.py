"""The verdict table's building blocks: categorical text columns and the column-wise concat.

Each is checked against the plain pandas/numpy operation it replaces.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting import verdict_table as vt
from accounting.verdicts.peers import _ranks


def plain(column) -> list:
    """A column's values as Python objects, NaN as None."""
    return [None if (isinstance(x, float) and np.isnan(x)) else x
            for x in pd.Series(column).astype(object).tolist()]


def test_select_text_is_np_select_on_strings():
    rng = np.random.default_rng(0)
    a, b = rng.random(500) < 0.3, rng.random(500) < 0.5
    per_row = np.asarray([f"row {i % 7}" for i in range(500)], dtype=object)
    got = vt.select_text([a, b], ["first", per_row], default="other")
    expected = np.select([a, b], [np.asarray("first", dtype=object), per_row],
                         default=np.asarray("other", dtype=object))
    assert isinstance(got, pd.Categorical)
    assert plain(got) == list(expected)


def test_select_text_shares_one_category_per_text():
    got = vt.select_text([np.array([True, False, False]), np.array([False, True, False])],
                         ["same", "same"], default="")
    assert list(got.categories) == ["", "same"]
    assert plain(got) == ["same", "same", ""]


def test_where_text_keeps_missing_values_missing():
    column = pd.Categorical(["a", None, "b"])
    got = vt.where_text(np.array([False, False, True]), "yes", column)
    assert plain(got) == ["a", None, "yes"]


def test_blocks_repeat_labels_by_block():
    got = vt.blocks(["kWh/m2", "kgce/m2", "kWh/m2"], np.repeat(np.arange(3), 2))
    assert plain(got) == ["kWh/m2", "kWh/m2", "kgce/m2", "kgce/m2", "kWh/m2", "kWh/m2"]
    assert len(got.categories) == 2


def test_is_value_by_code_and_by_text():
    column = pd.Series(pd.Categorical(["ok", "flag", None, "ok"]))
    assert vt.is_value(column, "ok").tolist() == [True, False, False, True]
    assert vt.is_value(column, "absent").tolist() == [False] * 4
    assert vt.is_value(np.array(["ok", "x"], dtype=object), "ok").tolist() == [True, False]


def test_concat_frames_matches_pd_concat():
    one = pd.DataFrame({"institution_id": ["a", "b"], "status": ["ok", "flag"],
                        "value": [1.0, 2.0], "guide": [5.0, np.nan]})
    two = {"institution_id": vt.text(np.array(["c"], dtype=object)),
           "status": vt.constant("unknown", 1), "value": np.array([3.0]),
           "rank": np.array([1.0]), "table": vt.constant("t", 1)}
    got = vt.concat_frames([one, two], ["institution_id", "status", "value"])
    expected = pd.concat([one, pd.DataFrame({k: np.asarray(v) for k, v in two.items()})],
                         ignore_index=True)
    assert list(got.columns) == ["institution_id", "status", "value", "guide", "rank", "table"]
    for column in expected.columns:
        assert plain(got[column]) == plain(expected[column]), column
    assert isinstance(got["status"].dtype, pd.CategoricalDtype)
    assert got["value"].dtype == float


def test_concat_frames_unites_different_categories():
    left = pd.Categorical.from_codes([0, 1, 0], categories=["x", "y"])
    right = pd.Categorical.from_codes([1, 0, -1], categories=["z", "x"])
    got = vt.union([vt.text(left), vt.text(right)])
    assert plain(got) == ["x", "y", "x", "x", "z", None]


def test_text_needs_a_length_for_one_string():
    with pytest.raises(ValueError, match="needs the number of rows"):
        vt.text("ok")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=60))
def test_ranks_match_pandas_group_rank(rows):
    group = np.array([g for g, _ in rows])
    value = np.array([float(v) for _, v in rows])  # small integers: many ties
    lowest, highest = _ranks(group, value)
    series = pd.Series(value).groupby(group)
    assert lowest.tolist() == series.rank(method="min").tolist()
    assert highest.tolist() == series.rank(method="max").tolist()
