"""Request planning, property-based: covers every point once, within limits, in the fewest requests."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.planning import plan_requests
from collectors.registermap import DataType, Function, Point

TYPES = [DataType.uint16, DataType.float32, DataType.float64]


@st.composite
def point_sets(draw):
    n = draw(st.integers(1, 25))
    points, address = [], draw(st.integers(0, 50))
    for i in range(n):
        data_type = draw(st.sampled_from(TYPES))
        function = draw(st.sampled_from([Function.holding, Function.input]))
        points.append(Point(name=f"p{i}", function=function, address=address, data_type=data_type))
        address += data_type.register_count + draw(st.integers(0, 40))
    return points


def _minimum(points: list[Point], max_gap: int, limit: int) -> int:
    """Fewest contiguous groups of the sorted points (dynamic programming, for comparison)."""
    pts = sorted(points, key=lambda p: p.address)
    best = [0] + [10**9] * len(pts)
    for j in range(1, len(pts) + 1):
        for i in range(j, 0, -1):  # group = pts[i-1:j]
            group = pts[i - 1:j]
            span = max(p.end for p in group) - group[0].address + 1
            gaps_ok = all(
                b.address - a.end - 1 <= max_gap for a, b in itertools.pairwise(group)
            )
            if span <= limit and gaps_ok:
                best[j] = min(best[j], best[i - 1] + 1)
    return best[-1]


@settings(max_examples=150, deadline=None)
@given(points=point_sets(), max_gap=st.integers(0, 30), limit=st.integers(4, 125))
def test_plan_is_complete_valid_and_minimal(points, max_gap, limit):
    requests = plan_requests(points, max_gap=max_gap, max_count=limit)
    covered = sorted(p.name for r in requests for p in r.points)
    assert covered == sorted(p.name for p in points)
    for r in requests:
        assert r.count <= limit
        assert all(p.function == r.function for p in r.points)
        assert all(r.address <= p.address and p.end <= r.end for p in r.points)
        assert r.address == min(p.address for p in r.points)
        assert r.end == max(p.end for p in r.points)
    for function in (Function.holding, Function.input):
        pts = [p for p in points if p.function == function]
        planned = [r for r in requests if r.function == function]
        assert len(planned) == (_minimum(pts, max_gap, limit) if pts else 0)


@settings(max_examples=100, deadline=None)
@given(points=point_sets(), bad=st.lists(st.integers(0, 600), max_size=5))
def test_rejected_addresses_are_only_read_by_the_point_that_sits_there(points, bad):
    rejected = {(f, a) for a in bad for f in (Function.holding, Function.input)}
    for r in plan_requests(points, max_gap=20, rejected=rejected):
        touched = [a for a in bad if r.address <= a <= r.end]
        if touched:
            assert len(r.points) == 1
            assert all(r.points[0].address <= a <= r.points[0].end for a in touched)
