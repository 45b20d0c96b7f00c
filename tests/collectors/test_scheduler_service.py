"""The running collector: wall-clock aligned polls, gateways in parallel, readings and health in a
real SQLite store, clean stop."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from collectors.service import Collector
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


def run_for(collector: Collector, seconds: float):
    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await collector.run(stop)

    return asyncio.run(main())


def test_dead_gateway_never_delays_the_other_and_polls_are_aligned(modbus_tcp_server, tmp_path):
    regmap = model(MODEL)
    good = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    dead = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    dead.faults.set(1, "timeout")
    settings = make_settings(
        tmp_path,
        [tcp_gateway("good", good.port), tcp_gateway("dead", dead.port, timeout_s=1.5)],
        [
            {"id": "fast", "gateway": "good", "model": MODEL, "poll_interval_s": 1},
            {"id": "stuck", "gateway": "dead", "model": MODEL, "poll_interval_s": 1},
        ],
    )
    started = datetime.now(UTC)
    final = run_for(Collector(settings), 4.6)
    assert final.pending == 0
    assert final.store_available

    store = open_store(settings)
    try:
        frame = store.read_readings(started - timedelta(seconds=1), datetime.now(UTC))
        health = store.read_health()
    finally:
        store.close()
    fast = frame[frame["meter"] == "fast"]
    assert set(fast["point"]) == {p.name for p in regmap.points}
    # each reading carries the time its answer arrived; one poll's readings share the second
    polls = fast.groupby(fast["time"].dt.floor("s"))
    assert len(polls) >= 4, list(polls.groups)  # start-up poll + one per second
    assert (polls.size() == len(regmap.points)).all()
    # after the start-up poll every read happens just after a whole second, although the other
    # gateway's device takes 1.5 s to time out on each of its polls
    seconds = sorted(polls.groups)
    assert all(b - a == timedelta(seconds=1) for a, b in pairwise(seconds[1:])), seconds
    for second, group in list(polls)[1:]:
        late = (group["time"] - second).max()
        assert late < timedelta(milliseconds=400), f"poll at {second} is {late} late"
    assert frame[frame["meter"] == "stuck"].empty
    stuck = health[health["meter"] == "stuck"]
    assert not stuck.empty
    assert not stuck["available"].astype(bool).any()
    assert health[health["meter"] == "fast"]["available"].astype(bool).all()


def test_stop_flushes_and_a_restart_forwards_the_spool(modbus_tcp_server, tmp_path):
    regmap = model(MODEL)
    server = modbus_tcp_server({1: register_blocks(regmap, sample_values(regmap))})
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port)],
        [{"id": "m", "gateway": "gw", "model": MODEL, "poll_interval_s": 1}],
    )
    final = run_for(Collector(settings), 1.5)
    assert final.pending == 0
    spool_file = settings.resolve(settings.collector.spool_path)
    assert spool_file.exists()
    store = open_store(settings)
    try:
        frame = store.read_readings(datetime(2020, 1, 1, tzinfo=UTC), datetime.now(UTC))
    finally:
        store.close()
    assert len(frame) >= 2 * len(regmap.points)
    assert frame.groupby(["meter", "point", "time"]).size().max() == 1
