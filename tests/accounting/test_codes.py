"""The integer-code toolkit under the engine (accounting.codes): runs, codes, categoricals, sums.

Each helper is checked against the plain computation it replaces (a neighbour comparison value
by value, ``pandas.factorize`` of every row, a groupby sum).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accounting import codes
from accounting.codes import (
    categorical,
    combine_codes,
    differs_from_previous,
    run_codes,
    runs,
    sum_by,
    text_codes,
)
from accounting.errors import InputError


def _fresh(text: str) -> str:
    """An equal text in a new object (as texts made one by one, e.g. ids, are)."""
    return "".join(list(text))


def _plain_differs(values: list) -> list[bool]:
    return [a != b for a, b in zip(values[1:], values[:-1], strict=True)]


# Texts, each either the shared object or an equal copy: the identity shortcut must never
# change the answer.
texts = st.lists(st.tuples(st.sampled_from(["heat", "water", "pv"]), st.booleans()), max_size=60)


@settings(max_examples=200, deadline=None)
@given(texts, st.sampled_from([3, 4, 1 << 16]))
def test_differs_from_previous_is_the_plain_comparison(items, chunk_rows):
    shared = {t: _fresh(t) for t in ("heat", "water", "pv")}
    values = [shared[t] if share else _fresh(t) for t, share in items]
    array = np.array(values, dtype=object)  # the very objects, shared or not
    with pytest.MonkeyPatch.context() as patch:  # small chunks: many chunk boundaries
        patch.setattr(codes, "_CHUNK_ROWS", chunk_rows)
        assert differs_from_previous(array).tolist() == _plain_differs(values)


def test_equal_texts_in_distinct_objects_are_equal():
    # Mostly one shared object, a few equal copies: the copies are compared by value.
    values = np.array(["a"] * 100, dtype=object)
    values[[10, 50, 51]] = [_fresh("a"), _fresh("a"), "b"]
    differs = differs_from_previous(values)
    assert np.flatnonzero(differs).tolist() == [50, 51]  # row 51 ("b") and row 52 differ
    # Every object distinct (ids made one by one): compared value by value.
    ids = np.array([_fresh(f"inst{i // 3}") for i in range(30)], dtype=object)
    assert differs_from_previous(ids).tolist() == _plain_differs(list(ids))


def test_differs_from_previous_of_numbers_empty_and_single_row():
    assert differs_from_previous(np.array([1, 1, 2, 2, 1])).tolist() == [False, True, False, True]
    assert differs_from_previous(np.array([], dtype=object)).tolist() == []
    assert differs_from_previous(np.array(["x"], dtype=object)).tolist() == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["kWh", "m3"])), max_size=40),
       st.booleans())
def test_runs_and_run_codes_give_every_row_its_value(rows, as_category):
    frame = pd.DataFrame(rows, columns=["inst", "unit"])
    if as_category:
        frame = frame.astype("category")
    starts, lengths, new_value = runs(frame)
    assert lengths.sum() == len(frame)
    for column in frame.columns:
        coded = run_codes(frame[column], starts, new_value[column])
        # Each run's value, repeated over the run, is the column.
        assert np.repeat(coded.values(), lengths).tolist() == frame[column].astype(object).tolist()
        # Names in order of first appearance, each used.
        assert coded.names.tolist() == list(dict.fromkeys(frame[column].astype(object)))
    # Consecutive runs differ in some column (a run is as long as it can be).
    heads = frame.iloc[starts].astype(object).to_numpy()
    assert all((heads[i] != heads[i + 1]).any() for i in range(len(heads) - 1))


def test_text_codes_of_a_categorical_leave_out_unused_categories():
    column = pd.Series(pd.Categorical(["b", "d", "b"], categories=["a", "b", "c", "d"]), name="x")
    codes, names = text_codes(column)
    assert names.tolist() == ["b", "d"]
    assert names[codes].tolist() == ["b", "d", "b"]


@pytest.mark.parametrize("column", [
    pd.Series(["a", None, "b"], name="institution_id"),
    pd.Series(pd.Categorical(["a", None, "b"]), name="institution_id"),
])
def test_a_missing_value_is_refused_naming_the_column(column):
    with pytest.raises(InputError, match="institution_id is empty"):
        text_codes(column)
    starts, _, new_value = runs(column.to_frame())
    with pytest.raises(InputError, match="institution_id is empty"):
        run_codes(column, starts, new_value["institution_id"])


def test_categorical_sorts_its_categories_and_keeps_missing():
    result = categorical(np.array([0, 1, -1, 2, 0]), np.array(["water", "heat", "pv"],
                                                               dtype=object), sort=True)
    assert list(result.categories) == ["heat", "pv", "water"]
    assert result.astype(object).tolist()[:2] == ["water", "heat"]
    assert pd.isna(result[2])
    assert result[3] == "pv"
    # Values that cannot be ordered keep their order.
    mixed = categorical(np.array([1, 0]), np.array(["b", 1], dtype=object), sort=True)
    assert list(mixed.categories) == ["b", 1]
    assert mixed.astype(object).tolist() == [1, "b"]


def test_combine_codes_of_no_rows():
    line, columns = combine_codes([(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=object))])
    assert len(line) == 0
    assert len(columns[0].codes) == 0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(-1e3, 1e3)), min_size=1, max_size=30))
def test_sum_by_is_a_groupby_sum(rows):
    group = np.array([g for g, _ in rows])
    value = np.array([v for _, v in rows])
    present, sums = sum_by(group, 6, value=value)
    expected = pd.Series(value).groupby(group).sum()
    assert present.tolist() == expected.index.tolist()
    np.testing.assert_allclose(sums["value"], expected.to_numpy(), rtol=1e-12, atol=1e-9)
