"""Wall-clock alignment and backoff of the scheduler (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collectors.scheduler import MAX_BACKOFF_S, backoff_delay_s, next_slot


def test_next_slot_is_the_next_minute_boundary():
    now = datetime(2026, 3, 2, 8, 0, 17, 250_000, tzinfo=UTC).timestamp()
    slot = datetime.fromtimestamp(next_slot(now, 60), UTC)
    assert slot == datetime(2026, 3, 2, 8, 1, 0, tzinfo=UTC)


def test_next_slot_on_a_boundary_is_the_following_one():
    now = datetime(2026, 3, 2, 8, 15, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(next_slot(now, 900), UTC) == datetime(
        2026, 3, 2, 8, 30, tzinfo=UTC
    )


def test_next_slot_rejects_a_non_positive_interval():
    with pytest.raises(ValueError, match="interval_s = 0"):
        next_slot(1000.0, 0)


@settings(deadline=None)  # no per-example time limit: the machine's speed is not under test
@given(
    now=st.floats(min_value=1.6e9, max_value=2.0e9, allow_nan=False),
    interval=st.sampled_from([1, 5, 10, 15, 30, 60, 300, 900, 3600]),
)
def test_next_slot_is_aligned_and_within_one_interval(now, interval):
    slot = next_slot(now, interval)
    assert now < slot <= now + interval
    assert slot % interval == 0


def test_backoff_grows_and_is_capped():
    delays = [backoff_delay_s(10, k) for k in range(0, 10)]
    assert delays[:5] == [0.0, 0.0, 10.0, 30.0, 70.0]
    assert delays == sorted(delays)
    assert max(delays) == MAX_BACKOFF_S
