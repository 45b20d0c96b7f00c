"""Day cuts: the SQL day number and the UTC-offset segments against zoneinfo, in many zones."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.periods import (
    day_start_utc,
    from_us,
    offset_segments,
    retention_cutoff,
    to_us,
)
from storage.sqlite import local_day_sql

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
         "Asia/Kolkata", "America/St_Johns", "UTC"]
DAY0 = date(1970, 1, 1)
instants = st.integers(min_value=to_us(datetime(1971, 1, 1, tzinfo=UTC)),
                       max_value=to_us(datetime(2037, 1, 1, tzinfo=UTC)))


@settings(max_examples=60, deadline=None)
@given(zone=st.sampled_from(ZONES), start_us=instants,
       offsets=st.lists(st.integers(0, 400 * 86_400_000_000), min_size=1, max_size=30))
def test_sql_day_number_is_the_local_date(zone: str, start_us: int, offsets: list[int]) -> None:
    tz = ZoneInfo(zone)
    end_us = start_us + max(offsets) + 1
    expr = local_day_sql(offset_segments(start_us, end_us, tz), column="x")
    conn = sqlite3.connect(":memory:")
    for off in offsets:
        t_us = start_us + off
        (day_number,) = conn.execute(f"SELECT {expr} FROM (SELECT ? AS x)", (t_us,)).fetchone()
        assert DAY0 + timedelta(days=day_number) == from_us(t_us).astimezone(tz).date()


@pytest.mark.parametrize("zone", ZONES)
def test_segments_cover_every_transition_of_2024(zone: str) -> None:
    tz = ZoneInfo(zone)
    start, end = datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC)
    segments = offset_segments(to_us(start), to_us(end), tz)
    # the offset changes exactly at each segment's end, and nowhere else (checked hourly)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    changes = [h for a, h in itertools.pairwise(hours)
               if a.astimezone(tz).utcoffset() != h.astimezone(tz).utcoffset()]
    assert len(segments) == len(changes) + 1
    for (until, offset), change in zip(segments, changes, strict=False):
        assert until is not None
        assert from_us(until) <= change
        assert from_us(until) > change - timedelta(hours=1)
        before = from_us(until - 1).astimezone(tz).utcoffset()
        assert offset == before // timedelta(microseconds=1)


def test_day_start_and_retention_cutoff() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert day_start_utc(date(2024, 3, 31), berlin) == datetime(2024, 3, 30, 23, tzinfo=UTC)
    assert day_start_utc(date(2024, 4, 1), berlin) == datetime(2024, 3, 31, 22, tzinfo=UTC)
    shanghai = ZoneInfo("Asia/Shanghai")
    now = datetime(2024, 6, 10, 17, 30, tzinfo=UTC)  # 2024-06-11 01:30 in Shanghai
    assert retention_cutoff(now, 10, shanghai) == datetime(2024, 6, 1, tzinfo=shanghai)
    with pytest.raises(ValueError, match="no time zone"):
        retention_cutoff(datetime(2024, 1, 1), 10, shanghai)
