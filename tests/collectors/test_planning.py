"""Request planning: fewest requests, gaps, limits, function codes, rejected addresses."""

from __future__ import annotations

import pytest

from collectors.planning import ReadRequest, plan_requests, split_request
from collectors.registermap import DataType, Function, Point, get_register_map


def _p(name: str, address: int, data_type: str = "float32", function: str = "holding") -> Point:
    return Point(name=name, function=Function(function), address=address,
                 data_type=DataType(data_type))


def _spans(requests: list[ReadRequest]) -> list[tuple[str, int, int]]:
    return [(str(r.function), r.address, r.count) for r in requests]


def test_contiguous_points_make_one_request():
    pts = [_p(f"p{i}", 0x2000 + 2 * i) for i in range(10)]
    assert _spans(plan_requests(pts)) == [("holding", 0x2000, 20)]


def test_gap_up_to_max_gap_is_merged_larger_is_not():
    pts = [_p("a", 0), _p("b", 2 + 8), _p("c", 12 + 9)]
    # a: 0-1; gap 8 → b: 10-11 merged; gap 9 → c separate
    assert _spans(plan_requests(pts, max_gap=8)) == [("holding", 0, 12), ("holding", 21, 2)]
    assert _spans(plan_requests(pts, max_gap=0)) == [
        ("holding", 0, 2), ("holding", 10, 2), ("holding", 21, 2)]
    assert _spans(plan_requests(pts, max_gap=9)) == [("holding", 0, 23)]


def test_never_more_than_125_registers():
    pts = [_p(f"p{i}", 2 * i) for i in range(100)]  # 200 registers
    reqs = plan_requests(pts)
    assert _spans(reqs) == [("holding", 0, 124), ("holding", 124, 76)]
    assert all(r.count <= 125 for r in reqs)
    # a float32 never straddles two requests
    assert sum(len(r.points) for r in reqs) == 100


def test_max_count_is_respected():
    pts = [_p(f"p{i}", 2 * i) for i in range(10)]
    assert [r.count for r in plan_requests(pts, max_count=8)] == [8, 8, 4]


def test_function_codes_are_never_merged():
    pts = [_p("h", 0), _p("i", 2, function="input"), _p("h2", 4)]
    assert _spans(plan_requests(pts)) == [("holding", 0, 6), ("input", 2, 2)]


def test_coils_use_the_2000_bit_limit():
    pts = [_p(f"c{i}", i * 100, function="coil") for i in range(30)]  # bits 0…2900
    reqs = plan_requests(pts, max_gap=100)
    assert _spans(reqs) == [("coil", 0, 1901), ("coil", 2000, 901)]


def test_rejected_address_is_never_spanned():
    pts = [_p("a", 0), _p("b", 4), _p("c", 8)]
    reqs = plan_requests(pts, rejected={(Function.holding, 2)})
    assert _spans(reqs) == [("holding", 0, 2), ("holding", 4, 6)]
    # a rejected address of another function changes nothing
    assert _spans(plan_requests(pts, rejected={(Function.input, 2)})) == [("holding", 0, 10)]


def test_point_at_a_rejected_address_is_read_alone():
    pts = [_p("a", 0), _p("b", 2), _p("c", 4)]
    reqs = plan_requests(pts, rejected={(Function.holding, 3)})
    assert _spans(reqs) == [("holding", 0, 2), ("holding", 2, 2), ("holding", 4, 2)]
    assert [p.name for p in reqs[1].points] == ["b"]


def test_oversized_point_is_an_error():
    with pytest.raises(ValueError, match="4 registers, more than one request may read"):
        plan_requests([_p("x", 0, "float64")], max_count=3)


def test_split_request_at_gaps_first_then_halves():
    pts = [_p("a", 0), _p("b", 4), _p("c", 6)]
    (req,) = plan_requests(pts)
    assert _spans(split_request(req)) == [("holding", 0, 2), ("holding", 4, 4)]
    (tight,) = plan_requests([_p("b", 4), _p("c", 6)])
    assert _spans(split_request(tight)) == [("holding", 4, 2), ("holding", 6, 2)]
    (single,) = plan_requests([_p("a", 0)])
    assert split_request(single) == [single]


def test_split_request_around_a_known_bad_address():
    pts = [_p("a", 0), _p("b", 4), _p("c", 6), _p("d", 10)]
    (req,) = plan_requests(pts)
    parts = split_request(req, bad_address=8)
    assert _spans(parts) == [("holding", 0, 8), ("holding", 10, 2)]
    parts = split_request(req, bad_address=5)
    assert _spans(parts) == [("holding", 0, 2), ("holding", 4, 2), ("holding", 6, 6)]
    assert sorted(p.name for r in parts for p in r.points) == ["a", "b", "c", "d"]


def test_words_for_slices_the_response():
    (req,) = plan_requests([_p("a", 10), _p("b", 14, "uint16")])
    words = [1, 2, 3, 4, 5]
    assert req.words_for(req.points[0], words) == [1, 2]
    assert req.words_for(req.points[1], words) == [5]


def test_dtsu666_is_read_in_few_requests():
    regmap = get_register_map("chint_dtsu666")
    reqs = plan_requests(regmap.points, max_gap=8)
    # 0x0006-0x0007 | 0x101E-0x1029 (gap of 8 merged) | 0x2000-0x201B | 0x202A-0x2031 | 0x2044
    assert _spans(reqs) == [
        ("holding", 0x0006, 2), ("holding", 0x101E, 12), ("holding", 0x2000, 28),
        ("holding", 0x202A, 8), ("holding", 0x2044, 2),
    ]
    # gap 0x201C…0x2029 is 14 registers, 0x2032…0x2043 is 18
    assert _spans(plan_requests(regmap.points, max_gap=14)) == [
        ("holding", 0x0006, 2), ("holding", 0x101E, 12), ("holding", 0x2000, 0x32),
        ("holding", 0x2044, 2),
    ]
