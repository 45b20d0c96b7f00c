"""Decoding: every type × word order with literal register words, scaling, CT/PT, invalid values."""

from __future__ import annotations

import math

import pytest

from collectors.decode import Decoded, decode_point, encode_value, raw_from_words, words_from_raw
from collectors.registermap import DataType, Function, Point


def _point(data_type: str, word_order: str = "ABCD", **kw) -> Point:
    return Point(name="x", function=Function.holding, address=0, data_type=DataType(data_type),
                 word_order=word_order, **kw)


# Literal words: value 0x89ABCDEF (int32) on the wire in each order; HA's test uses the ABCD case.
LITERALS = [
    # data_type, word_order, words, expected raw
    ("int32", "ABCD", [0x89AB, 0xCDEF], -1985229329),
    ("int32", "CDAB", [0xCDEF, 0x89AB], -1985229329),
    ("int32", "BADC", [0xAB89, 0xEFCD], -1985229329),
    ("int32", "DCBA", [0xEFCD, 0xAB89], -1985229329),
    ("uint32", "ABCD", [0x89AB, 0xCDEF], 2309737967),
    ("uint32", "CDAB", [0xCDEF, 0x89AB], 2309737967),
    ("uint32", "BADC", [0xAB89, 0xEFCD], 2309737967),
    ("uint32", "DCBA", [0xEFCD, 0xAB89], 2309737967),
    ("int16", "ABCD", [0x89AB], -30293),
    ("int16", "CDAB", [0x89AB], -30293),
    ("int16", "BADC", [0xAB89], -30293),
    ("int16", "DCBA", [0xAB89], -30293),
    ("uint16", "ABCD", [0x89AB], 35243),
    ("uint16", "BADC", [0xAB89], 35243),
    ("uint16", "CDAB", [0x89AB], 35243),
    ("uint16", "DCBA", [0xAB89], 35243),
    ("int64", "ABCD", [0x0123, 0x4567, 0x89AB, 0xCDEF], 0x0123456789ABCDEF),
    ("int64", "CDAB", [0xCDEF, 0x89AB, 0x4567, 0x0123], 0x0123456789ABCDEF),
    ("int64", "BADC", [0x2301, 0x6745, 0xAB89, 0xEFCD], 0x0123456789ABCDEF),
    ("int64", "DCBA", [0xEFCD, 0xAB89, 0x6745, 0x2301], 0x0123456789ABCDEF),
    ("int64", "ABCD", [0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE], -2),
    ("uint64", "ABCD", [0x89AB, 0xCDEF, 0x0123, 0x4567], 0x89ABCDEF01234567),
    ("uint64", "DCBA", [0x6745, 0x2301, 0xEFCD, 0xAB89], 0x89ABCDEF01234567),
    # 230.2 V as float32 is 0x43663333 (pymodbus SimData FLOAT32 stores ABCD 0x4366,0x3333)
    ("float32", "ABCD", [0x4366, 0x3333], 230.2),
    ("float32", "CDAB", [0x3333, 0x4366], 230.2),
    ("float32", "BADC", [0x6643, 0x3333], 230.2),
    ("float32", "DCBA", [0x3333, 0x6643], 230.2),
    # 12345.678 as float64 = 0x40C81CD6_C8B43958 (float.hex: 0x1.81cd6c8b43958p+13)
    ("float64", "ABCD", [0x40C8, 0x1CD6, 0xC8B4, 0x3958], 12345.678),
    ("float64", "CDAB", [0x3958, 0xC8B4, 0x1CD6, 0x40C8], 12345.678),
    ("float64", "BADC", [0xC840, 0xD61C, 0xB4C8, 0x5839], 12345.678),
    ("float64", "DCBA", [0x5839, 0xB4C8, 0xD61C, 0xC840], 12345.678),
]


@pytest.mark.parametrize(("data_type", "word_order", "words", "expected"), LITERALS)
def test_decode_literal_words(data_type, word_order, words, expected):
    decoded = decode_point(_point(data_type, word_order), words)
    assert decoded.quality == "good"
    assert decoded.value == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(("data_type", "word_order", "words", "expected"), LITERALS)
def test_encode_is_inverse_of_decode(data_type, word_order, words, expected):
    assert words_from_raw(expected, DataType(data_type), word_order) == words


def test_float32_is_not_rounded_to_float32_precision_twice():
    assert raw_from_words([0x4366, 0x3333], DataType.float32) == pytest.approx(230.2, abs=1e-5)


def test_scale_and_offset():
    # DTSU666 Ua: register holds 0.1 V steps: 2302.0 → 230.2 V
    p = _point("float32", scale=0.1)
    assert decode_point(p, [0x450F, 0xE000]).value == pytest.approx(230.2)
    # a temperature as int16 tenths with -40 °C offset: raw 650 → 25.0 °C
    t = _point("int16", scale=0.1, offset=-40.0)
    assert decode_point(t, [650]).value == pytest.approx(25.0)


def test_ct_pt_only_where_the_point_says_so():
    energy = _point("float32", apply_ct=True, apply_pt=True)
    words = [0x447A, 0x0000]  # 1000.0
    assert decode_point(energy, words, ct_ratio=40, pt_ratio=100).value == pytest.approx(4_000_000)
    current = _point("float32", apply_ct=True)
    assert decode_point(current, words, ct_ratio=40, pt_ratio=100).value == pytest.approx(40_000)
    pf = _point("float32")
    assert decode_point(pf, words, ct_ratio=40, pt_ratio=100).value == pytest.approx(1000)


@pytest.mark.parametrize(
    ("data_type", "words", "reason"),
    [
        ("float32", [0x7FC0, 0x0000], "NaN"),
        ("float32", [0xFFC0, 0x0000], "NaN"),
        ("float32", [0x7F80, 0x0000], "infinite"),
        ("float32", [0xFF80, 0x0000], "infinite"),
        ("float64", [0x7FF8, 0, 0, 0], "NaN"),
        ("uint16", [0xFFFF], "all ones"),
        ("uint32", [0xFFFF, 0xFFFF], "all ones"),
        ("uint64", [0xFFFF] * 4, "all ones"),
        ("int16", [0x8000], "minimum"),
        ("int32", [0x8000, 0x0000], "minimum"),
        ("int64", [0x8000, 0, 0, 0], "minimum"),
    ],
)
def test_invalid_values_are_never_numbers(data_type, words, reason):
    decoded = decode_point(_point(data_type, scale=0.1), words, ct_ratio=5)
    assert decoded.value is None
    assert decoded.quality == "invalid"
    assert reason in decoded.reason


def test_sentinels_can_be_switched_off_for_a_point():
    p = _point("uint16", sentinels=False)
    assert decode_point(p, [0xFFFF]) == Decoded(65535.0)
    # NaN is never a number, whatever the point says
    assert decode_point(_point("float32", sentinels=False), [0x7FC0, 0]).value is None


def test_word_order_of_sentinel_is_applied_first():
    # 0x80000000 sent CDAB is [0x0000, 0x8000]
    assert decode_point(_point("int32", "CDAB"), [0x0000, 0x8000]).quality == "invalid"
    # [0x8000, 0x0000] in CDAB is 0x00008000 = 32768, a good value
    assert decode_point(_point("int32", "CDAB"), [0x8000, 0x0000]).value == 32768


def test_wrong_number_of_words_is_invalid_not_an_exception():
    decoded = decode_point(_point("float32"), [0x4366])
    assert decoded.quality == "invalid"
    assert "needs 2 register(s), got 1" in decoded.reason


def test_bits():
    coil = Point(name="breaker_closed", function=Function.coil, address=3,
                 data_type=DataType.uint16)
    assert decode_point(coil, [True]).value == 1.0
    assert decode_point(coil, [False]).value == 0.0
    assert encode_value(coil, 1.0) == [1]


@pytest.mark.parametrize("data_type", [t.value for t in DataType])
@pytest.mark.parametrize("word_order", ["ABCD", "CDAB", "BADC", "DCBA"])
def test_encode_value_round_trips_with_scale_and_ratios(data_type, word_order):
    p = _point(data_type, word_order, scale=0.01, offset=1.0, apply_ct=True, apply_pt=True)
    value = 123.45 * 40 * 10  # raw = (123.45 - 1) / 0.01 = 12245 fits every type
    words = encode_value(p, value, ct_ratio=40, pt_ratio=10)
    assert len(words) == p.register_count
    decoded = decode_point(p, words, ct_ratio=40, pt_ratio=10)
    tolerance = 0.01 * 40 * 10 / 2 + 1e-9 if not data_type.startswith("float") else value * 1e-6
    assert decoded.value == pytest.approx(value, abs=tolerance)


def test_encode_out_of_range_raises():
    with pytest.raises(ValueError, match=r"does not fit uint16 \(0…65535\)"):
        encode_value(_point("uint16"), 70000)
    with pytest.raises(ValueError, match="does not fit"):
        encode_value(_point("int16"), -40000)
    with pytest.raises(ValueError, match="does not fit float32"):
        encode_value(_point("float32"), 1e40)


def test_raw_from_words_rejects_non_16_bit_words():
    with pytest.raises(ValueError, match="not a 16-bit value"):
        raw_from_words([0x1_0000], DataType.uint16)
    assert math.isnan(raw_from_words([0x7FC0, 0], DataType.float32))
