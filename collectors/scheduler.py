"""When to poll: per-meter intervals aligned to the wall clock, one task per gateway.

A meter with ``poll_interval_s = 60`` is polled at :00 of every minute (UTC epoch multiples of the
interval), so meters with the same interval are read at the same instants and readings line up
across meters. The first poll happens at start-up.

Every gateway gets its own asyncio task (:class:`GatewayScheduler`): a serial bus (and a TCP
gateway's single connection) carries one request at a time, while different gateways are polled in
parallel — a slow or dead device only delays the meters on its own gateway. A device that keeps
failing is retried with exponential backoff (:func:`backoff_delay_s`), so it stops stealing bus
time from its neighbours.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import time
from collections.abc import Awaitable, Callable, Sequence

from collectors.poller import DevicePoller, PollResult, SilentGateway

__all__ = ["GatewayScheduler", "backoff_delay_s", "next_slot"]

#: Longest wait before a failing device is tried again (unless its interval is longer). [s]
MAX_BACKOFF_S = 300.0


def next_slot(now_s: float, interval_s: float) -> float:
    """Return the first multiple of ``interval_s`` strictly after ``now_s``.

    Parameters
    ----------
    now_s
        Current time, seconds since the Unix epoch. [s]
    interval_s
        Poll interval. [s]

    Returns
    -------
    float
        Epoch time of the next aligned slot. [s]
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s = {interval_s}: expected a positive number of seconds")
    return (math.floor(now_s / interval_s) + 1) * interval_s


def backoff_delay_s(
    interval_s: float, consecutive_failures: int, max_backoff_s: float = MAX_BACKOFF_S
) -> float:
    """Extra wait before polling a device that failed ``consecutive_failures`` times in a row.

    0 after the first failure (the next slot), then 1, 3, 7, ... intervals, capped at
    ``max_backoff_s`` (but never less than zero).
    """
    if consecutive_failures <= 1:
        return 0.0
    return min(interval_s * (2 ** (consecutive_failures - 1) - 1), max_backoff_s)


class GatewayScheduler:
    """Polls the meters of one gateway, one request at a time, each at its own interval.

    Parameters
    ----------
    name
        Gateway id (for task names and logs).
    pollers
        The gateway's meters.
    on_result
        Called (or awaited) with every :class:`PollResult`.
    clock
        Epoch seconds; ``time.time`` unless a test wants otherwise.
    """

    def __init__(
        self,
        name: str,
        pollers: Sequence[DevicePoller],
        on_result: Callable[[PollResult], Awaitable[None] | None],
        clock: Callable[[], float] = time.time,
    ):
        self.name = name
        self.pollers = list(pollers)
        self.on_result = on_result
        self.clock = clock
        self._failures = [0] * len(self.pollers)
        self._timed_out = [False] * len(self.pollers)

    async def _skip(self, index: int, silent: SilentGateway) -> float:
        """Hand over a "not polled" result (its gateway is silent); return when it is due next.

        A skipped meter was not tried, so it gets no backoff and goes first next time.
        """
        poller = self.pollers[index]
        outcome = self.on_result(silent.skip(poller))
        if inspect.isawaitable(outcome):
            await outcome
        return next_slot(self.clock(), poller.meter.poll_interval_s)

    async def _poll(self, index: int, silent: SilentGateway | None = None) -> float:
        """Poll one device, hand over its result, return when it is due next (epoch s)."""
        poller = self.pollers[index]
        result = await poller.poll()
        self._failures[index] = 0 if result.ok else self._failures[index] + 1
        self._timed_out[index] = result.timed_out
        if silent is not None:
            silent.check(result)
        outcome = self.on_result(result)
        if inspect.isawaitable(outcome):
            await outcome
        interval = poller.meter.poll_interval_s
        delay = backoff_delay_s(interval, self._failures[index])
        return next_slot(self.clock() + delay, interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; a poll already under way is finished first."""
        due = [self.clock()] * len(self.pollers)
        while not stop.is_set() and self.pollers:
            now = self.clock()
            # meters that timed out last time go last: a dead device must not silence the rest
            ready = sorted((self._timed_out[i], t, i) for i, t in enumerate(due) if t <= now)
            if not ready:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=min(due) - now)
                except TimeoutError:
                    pass
                continue
            silent = SilentGateway(self.pollers[0].client)
            for _, _, index in ready:
                if stop.is_set():
                    break
                if silent.reason:
                    due[index] = await self._skip(index, silent)
                else:
                    due[index] = await self._poll(index, silent)
