"""A gateway that accepts TCP but never answers costs one timeout per cycle, not one per meter.

In the first cycle that finds it silent it costs two: one timeout alone cannot tell a dead gateway
from one dead device (a wrong device id) in front of live ones, which are still read.

Real pymodbus servers answer for the live gateways; the dead one is a socket on 127.0.0.1 that
accepts and never sends a byte (``tests/support/modbus.py``: ``silent_tcp_gateway``), counting the
requests it receives. Times are bounded loosely: the counts are the assertions.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from collectors.poller import PollResult
from collectors.scheduler import GatewayScheduler
from collectors.service import Collector
from jieneng.cli import main
from jieneng.vocabulary import ExitCode
from tests.collectors.polling_support import (
    make_settings,
    model,
    register_blocks,
    sample_values,
    tcp_gateway,
)

pytestmark = pytest.mark.modbus

MODEL = "eastron_sdm120"
#: The dead gateway's response timeout (retries = 0): one request costs this long. [s]
DEAD_TIMEOUT_S = 1.0
METERS_PER_GATEWAY = 5


def served(device_ids) -> dict[int, dict[int, list[int]]]:
    regmap = model(MODEL)
    return {d: register_blocks(regmap, sample_values(regmap, base=10.0 * d)) for d in device_ids}


def _settings_toml(tmp_path, gateways: dict[str, int]) -> str:
    text = f"""
[site]
name = "t"
province = "shandong"
region_code = "370100"

[storage.sqlite]
path = "{tmp_path / 'store.sqlite'}"

[collector]
spool_path = "{tmp_path / 'spool.sqlite'}"
"""
    for gw, port in gateways.items():
        timeout = DEAD_TIMEOUT_S if gw == "dead" else 2.0
        text += (f'\n[[gateways]]\nid = "{gw}"\nprotocol = "tcp"\nhost = "127.0.0.1"\n'
                 f"port = {port}\ntimeout_s = {timeout}\nretries = 0\n")
        for d in range(1, METERS_PER_GATEWAY + 1):
            text += (f'\n[[meters]]\nid = "{gw}-{d}"\ngateway = "{gw}"\ndevice_id = {d}\n'
                     f'model = "{MODEL}"\ninstitution = "i"\nbuilding = "b"\n'
                     'carrier = "electricity"\n')
    return text


def test_collect_once_gives_up_on_a_dead_gateway(modbus_tcp_server, silent_tcp_gateway,
                                                 tmp_path, capsys):
    """20 meters on 4 gateways, one gateway dead: two timeouts, not five; 15 meters read."""
    devices = range(1, METERS_PER_GATEWAY + 1)
    live = {f"gw{i}": modbus_tcp_server(served(devices)).port for i in range(3)}
    dead = silent_tcp_gateway()
    config = tmp_path / "jieneng.toml"
    config.write_text(_settings_toml(tmp_path, {**live, "dead": dead.port}), encoding="utf-8")

    started = time.monotonic()
    code = main(["collect", "--once", "--format", "json", "--config", str(config)])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()

    assert code == ExitCode.ok, err
    assert dead.requests == 2, f"{dead.requests} requests to the dead gateway; stderr: {err}"
    read = {r["meter"] for r in json.loads(out)}
    assert read == {f"gw{i}-{d}" for i in range(3) for d in devices}
    where = f"gateway 'dead' (127.0.0.1:{dead.port}) within {DEAD_TIMEOUT_S:g} s"
    timed_out = re.findall(rf"^meter 'dead-\d': no response from {re.escape(where)}; its other "
                           r"meters are not polled in this cycle$", err, re.M)
    skipped = re.findall(rf"^meter 'dead-\d': not polled in this cycle: no response from "
                         rf"{re.escape(where)}$", err, re.M)
    assert (len(timed_out), len(skipped)) == (1, METERS_PER_GATEWAY - 2), err
    assert len(re.findall(r"^meter 'dead-\d': gateway 'dead' device \d: .*: no valid answer",
                          err, re.M)) == 1, err
    assert "No response received" not in err  # pymodbus's own text stays out
    # Before: one timeout per meter, 5 × DEAD_TIMEOUT_S. A loose bound, not a timing test.
    assert elapsed < METERS_PER_GATEWAY * DEAD_TIMEOUT_S, elapsed


def test_dead_devices_do_not_silence_their_neighbours(modbus_tcp_server, tmp_path):
    """Devices 1 and 2 do not answer (wrong ids) but the gateway does. The first cycle cannot
    tell them from a dead gateway and skips the rest; in the next, the skipped meters go first
    and the dead devices' timeouts no longer skip anyone."""
    server = modbus_tcp_server(served([3, 4, 5]))  # devices 1 and 2 are not served: no answer
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port, timeout_s=DEAD_TIMEOUT_S)],
        [{"id": f"m{d}", "gateway": "gw", "device_id": d, "model": MODEL} for d in (1, 2, 3, 4, 5)],
    )
    collector = Collector(settings)

    async def cycles(n: int):
        try:
            return [await collector.poll_once() for _ in range(n)]
        finally:
            for client in collector.clients.values():
                client.close()

    first, second, third = asyncio.run(cycles(3))
    assert [r.meter for r in first] == ["m1", "m2", "m3", "m4", "m5"]  # settings order
    assert [r.timed_out for r in first] == [True, True, False, False, False]
    assert first[1].error.startswith("no response from gateway 'gw'")
    assert all(r.error.startswith("not polled in this cycle: no response from gateway 'gw'")
               for r in first[2:])
    for cycle in (second, third):
        assert [r.ok for r in cycle] == [False, False, True, True, True], [r.error for r in cycle]
        assert all("no valid answer within" in r.error for r in cycle[:2])  # their own timeouts
    health = {h.meter: h for h in collector.health.snapshot()}
    assert not health["m1"].available
    assert all(health[m].available for m in ("m3", "m4", "m5"))


def test_one_dead_device_in_front_of_live_ones_is_read_around(modbus_tcp_server, tmp_path):
    """``collect --once`` on a bus whose first device does not answer still reads the rest."""
    server = modbus_tcp_server(served([2, 3]))
    settings = make_settings(
        tmp_path, [tcp_gateway("gw", server.port, timeout_s=DEAD_TIMEOUT_S)],
        [{"id": f"m{d}", "gateway": "gw", "device_id": d, "model": MODEL} for d in (1, 2, 3)],
    )
    collector = Collector(settings)

    async def once():
        try:
            return await collector.poll_once()
        finally:
            for client in collector.clients.values():
                client.close()

    assert [r.ok for r in asyncio.run(once())] == [False, True, True]


def test_the_scheduler_times_out_once_per_cycle(silent_tcp_gateway, tmp_path):
    """The running collector's scheduler does the same: in the first cycle two meters are
    tried, then one per cycle, and the meters skipped are tried first next time."""
    dead = silent_tcp_gateway()
    settings = make_settings(
        tmp_path, [tcp_gateway("dead", dead.port, timeout_s=0.3)],
        [{"id": f"m{d}", "gateway": "dead", "device_id": d, "model": MODEL} for d in (1, 2, 3, 4)],
    )
    collector = Collector(settings)
    scheduler = GatewayScheduler("dead", collector.pollers, lambda _: None)

    async def cycle() -> list[PollResult]:
        """One run of the scheduler until every meter has a result: one batch of all four."""
        stop = asyncio.Event()
        results: list[PollResult] = []

        def on_result(result: PollResult) -> None:
            results.append(result)
            if len(results) == len(collector.pollers):
                stop.set()

        scheduler.on_result = on_result
        await scheduler.run(stop)
        return results

    async def cycles(n: int) -> list[list[PollResult]]:
        try:
            return [await cycle() for _ in range(n)]
        finally:
            for client in collector.clients.values():
                client.close()

    first, second, third = asyncio.run(cycles(3))
    assert [(r.meter, r.timed_out) for r in first] == [
        ("m1", True), ("m2", True), ("m3", False), ("m4", False)]
    assert [(r.meter, r.timed_out) for r in second] == [
        ("m3", True), ("m4", False), ("m1", False), ("m2", False)]
    assert [(r.meter, r.timed_out) for r in third] == [
        ("m4", True), ("m1", False), ("m2", False), ("m3", False)]
    assert dead.requests == 4
    for results in (first, second, third):
        assert not any(r.ok for r in results)
        assert all(r.error.startswith("not polled in this cycle: no response from gateway "
                                      f"'dead' (127.0.0.1:{dead.port}) within 0.3 s")
                   for r in results if not r.timed_out)
