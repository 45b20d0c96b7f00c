"""Data makers shared by the storage tests."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from storage.base import Reading


def counter_series(
    meter: str, point: str, start: datetime, n: int, step: timedelta, seed: int = 0,
    resets: bool = True, invalid_share: float = 0.05,
) -> list[Reading]:
    """A counter with random increments, occasional resets, gaps and invalid readings."""
    rng = random.Random(seed)
    value = rng.uniform(0, 1000)
    out = []
    t = start
    for _ in range(n):
        t += step * (rng.choice([1, 1, 1, 1, 3]))  # some gaps
        if resets and rng.random() < 0.01:
            value = rng.uniform(0, 5)  # meter reset / replacement
        value += rng.uniform(0, 2.5)
        if rng.random() < invalid_share:
            out.append(Reading(meter, point, t, None, "invalid"))
        else:
            out.append(Reading(meter, point, t, round(value, 3)))
    return out
