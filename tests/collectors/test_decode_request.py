"""Decoding a whole answer at once (``RequestDecoder``, the poller's hot path) gives exactly what
``decode_point`` gives for each point's own words: values, invalid flags and reasons."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.decode import RequestDecoder, decode_point
from collectors.registermap import DataType, Function, Point

WORD_ORDERS = ["ABCD", "CDAB", "BADC", "DCBA"]
#: words that hit the special cases: zero, all ones, signed minimum, NaN and inf patterns
SPECIAL_WORDS = [0x0000, 0xFFFF, 0x8000, 0x7FC0, 0x7F80, 0xFF80, 0x7FF8, 0x7FF0, 0x0001]


@st.composite
def answers(draw):
    """A read of 1–6 points of any type and word order, with gaps, and an answer for it."""
    points, address = [], 100
    for i in range(draw(st.integers(1, 6))):
        address += draw(st.integers(0, 3))
        data_type = draw(st.sampled_from(list(DataType)))
        points.append(Point(
            name=f"p{i}", function=Function.holding, address=address, data_type=data_type,
            word_order=draw(st.sampled_from(WORD_ORDERS)),
            scale=draw(st.sampled_from([1.0, 0.1, 0.001, -2.5, 1e300])),
            offset=draw(st.sampled_from([0.0, -40.0])),
            apply_ct=draw(st.booleans()), apply_pt=draw(st.booleans()),
            sentinels=draw(st.booleans()),
        ))
        address += data_type.register_count
    count = address - 100 + draw(st.integers(0, 2))
    word = st.one_of(st.sampled_from(SPECIAL_WORDS), st.integers(0, 0xFFFF))
    words = draw(st.lists(word, min_size=count, max_size=count))
    ratios = (draw(st.sampled_from([1.0, 5.0, 40])), draw(st.sampled_from([1.0, 10.0, 100])))
    return points, count, words, ratios


def _same(a: float | None, b: float | None) -> bool:
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def _expected(points, words, ratios, address=100):
    out = []
    for p in points:
        start = p.address - address
        decoded = decode_point(p, words[start:start + p.register_count], *ratios)
        out.append((p.name, decoded.value, "" if decoded.quality == "good" else decoded.reason))
    return out


@settings(max_examples=300, deadline=None)
@given(answer=answers())
def test_request_decoder_equals_decode_point_for_every_point(answer):
    points, count, words, ratios = answer
    got = RequestDecoder(100, count, points, *ratios).decode(words)
    want = _expected(points, words, ratios)
    assert [(p.name, reason) for p, _, reason in got] == [(n, r) for n, _, r in want]
    assert all(_same(v, w) for (_, v, _), (_, w, _) in zip(got, want, strict=True))


def test_request_decoder_literal_answer_with_mixed_word_orders():
    # 230.2 as float32 is 0x43663333; -30293 as int16 is 0x89AB
    points = [
        Point(name="v_abcd", function=Function.input, address=10, data_type=DataType.float32),
        Point(name="v_cdab", function=Function.input, address=12, data_type=DataType.float32,
              word_order="CDAB"),
        Point(name="t_badc", function=Function.input, address=16, data_type=DataType.int16,
              word_order="BADC", scale=0.1),
        Point(name="na", function=Function.input, address=17, data_type=DataType.uint16),
    ]
    words = [0x4366, 0x3333, 0x3333, 0x4366, 0, 0, 0xAB89, 0xFFFF]
    got = RequestDecoder(10, 8, points, ct_ratio=40).decode(words)
    assert [p for p, _, _ in got] == points
    assert all(g[0] is p for g, p in zip(got, points, strict=True))  # the request's own points
    assert got[0][1] == pytest.approx(230.2, rel=1e-6)
    assert got[0][2] == ""
    assert got[1][1] == pytest.approx(230.2, rel=1e-6)
    assert got[2][1] == pytest.approx(-3029.3)
    assert got[3][1] is None
    assert "all ones" in got[3][2]


def test_request_decoder_short_or_bad_answer_gives_the_reasons_of_decode_point():
    points = [
        Point(name="a", function=Function.holding, address=0, data_type=DataType.float32),
        Point(name="b", function=Function.holding, address=2, data_type=DataType.uint16),
    ]
    decoder = RequestDecoder(0, 3, points)
    short = decoder.decode([0x4366, 0x3333])
    assert short[0][1] == pytest.approx(230.2, rel=1e-6)
    assert short[1][1] is None
    assert "needs 1 register(s), got 0" in short[1][2]
    bad = decoder.decode([0x4366, 0x3333, 0x1_0000])
    assert bad[0][2] == ""
    assert bad[1][1] is None
    assert "not a 16-bit value" in bad[1][2]


def test_request_decoder_bits():
    coils = [Point(name=f"c{i}", function=Function.coil, address=i, data_type=DataType.uint16)
             for i in (0, 2)]
    got = RequestDecoder(0, 3, coils).decode([1, 0, 0])
    assert [(p.name, v, r) for p, v, r in got] == [("c0", 1.0, ""), ("c2", 0.0, "")]


def test_request_decoder_rejects_a_point_outside_the_read():
    p = Point(name="far", function=Function.holding, address=10, data_type=DataType.float32)
    with pytest.raises(ValueError, match=r"point far at 0x000A \(2 register\(s\)\) is outside"):
        RequestDecoder(0, 11, [p])
