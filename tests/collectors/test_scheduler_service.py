"""The running collector: wall-clock aligned polls, gateways in parallel, readings and health in a
real SQLite store, clean stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from collectors.poller import PollResult
from collectors.service import Collector
from collectors.spool import ForwardResult
from storage import open_store
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    sample_values,
    tcp_gateway,
)

pytestmark = pytest.mark.modbus

MODEL = "eastron_sdm120"


#: Longest a test waits for the polls it needs (a busy machine makes them late). [s]
WAIT_S = 60.0


def run_until(
    collector: Collector, done: Callable[[list[PollResult]], bool], what: str
) -> tuple[ForwardResult, list[PollResult]]:
    """Run the collector until ``done(results so far)`` holds, then stop it (flush, clean exit).

    Waits for the condition, not for a fixed time, so a slow machine only makes the test slower.
    """
    results: list[PollResult] = []
    collector.on_result = results.append

    async def main() -> ForwardResult:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        async def watch() -> None:
            deadline = loop.time() + WAIT_S
            while not done(results) and loop.time() < deadline:
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
        final = await collector.run(stop)
        await watcher
        return final

    final = asyncio.run(main())
    if not done(results):
        pytest.fail(f"waited {WAIT_S:.0f} s for {what}; got {len(results)} poll results")
    return final, results


def _of(results: list[PollResult], meter: str) -> list[PollResult]:
    return [r for r in results if r.meter == meter]


def test_dead_gateway_never_delays_the_other_and_polls_are_aligned(modbus_tcp_server, tmp_path):
    regmap = model(MODEL)
    good = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    dead = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    dead.faults.set(1, "timeout")
    stuck_timeout_s = 3.0
    settings = make_settings(
        tmp_path,
        [tcp_gateway("good", good.port), tcp_gateway("dead", dead.port, timeout_s=stuck_timeout_s)],
        [
            {"id": "fast", "gateway": "good", "model": MODEL, "poll_interval_s": 1},
            {"id": "stuck", "gateway": "dead", "model": MODEL, "poll_interval_s": 1},
        ],
    )
    started = datetime.now(UTC)
    final, results = run_until(
        Collector(settings),
        lambda rs: len(_of(rs, "fast")) >= 4 and len(_of(rs, "stuck")) >= 1,
        "4 polls of 'fast' and one failed poll of 'stuck'",
    )
    assert final.pending == 0
    assert final.store_available

    fast, stuck = _of(results, "fast"), _of(results, "stuck")
    assert all(r.ok and len(r.readings) == len(regmap.points) for r in fast)
    assert not any(r.ok for r in stuck)
    # The dead device holds its gateway for at least stuck_timeout_s per poll (a timeout is a lower
    # bound, not a speed). Polled one after the other, 'fast' would get at most its start-up poll
    # done in that time; on its own gateway it is polled every second meanwhile.
    first_stuck_done = stuck[0].finished
    assert first_stuck_done - started >= timedelta(seconds=stuck_timeout_s)
    assert sum(r.finished < first_stuck_done for r in fast) >= 2, (
        [r.finished for r in fast], first_stuck_done)

    # Aligned to the wall clock: after the start-up poll, polls start at whole seconds (their
    # readings fall in successive seconds) - the exact lateness depends on the machine's load, so
    # only the median is bounded, and loosely.
    firsts = [min(x.time for x in r.readings) for r in fast[1:]]
    seconds = [t.replace(microsecond=0) for t in firsts]
    assert all(b > a for a, b in pairwise(seconds)), seconds
    lateness_s = sorted((t - s).total_seconds() for t, s in zip(firsts, seconds, strict=True))
    assert lateness_s[len(lateness_s) // 2] < 0.5, lateness_s

    store = open_store(settings)
    try:
        frame = store.read_readings(started - timedelta(seconds=1), datetime.now(UTC))
        health = store.read_health()
    finally:
        store.close()
    stored_fast = frame[frame["meter"] == "fast"]
    assert len(stored_fast) == sum(len(r.readings) for r in fast)
    assert set(stored_fast["point"]) == {p.name for p in regmap.points}
    assert frame[frame["meter"] == "stuck"].empty
    stuck_health = health[health["meter"] == "stuck"]
    assert not stuck_health.empty
    assert not stuck_health["available"].astype(bool).any()
    assert health[health["meter"] == "fast"]["available"].astype(bool).all()


def test_stop_flushes_and_a_restart_forwards_the_spool(modbus_tcp_server, tmp_path):
    regmap = model(MODEL)
    server = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m", "gateway": "gw", "model": MODEL, "poll_interval_s": 1}],
    )
    final, results = run_until(Collector(settings), lambda rs: len(rs) >= 2, "2 polls")
    assert final.pending == 0
    spool_file = settings.resolve(settings.collector.spool_path)
    assert spool_file.exists()
    store = open_store(settings)
    try:
        frame = store.read_readings(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
    finally:
        store.close()
    assert len(frame) == sum(len(r.readings) for r in results) >= 2 * len(regmap.points)
    assert frame.groupby(["meter", "point", "time"]).size().max() == 1
