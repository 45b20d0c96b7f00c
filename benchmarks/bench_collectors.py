"""Benchmark: one full poll cycle of 100 meters × 20 points over Modbus TCP on loopback.

Run: ``.venv/bin/python benchmarks/bench_collectors.py [--cycles 7]``

Setup: 10 pymodbus 3.16 TCP servers on 127.0.0.1 (one per gateway), each serving 10 device ids,
run in a child process (so the servers do not share the event loop or CPU core with the clients).
Every meter has the first 20 points of the shipped Eastron SDM630 map (input registers, float32),
with known values encoded by ``collectors.decode.encode_value``.

Three pollers read every meter once per cycle, gateways in parallel, one request at a time per
gateway (one TCP connection per gateway, like a real RS-485 gateway):

(a) the collector: ``collectors.service.Collector.poll_once`` (planning, decoding, health);
(b) naive: one pymodbus read per point, decoded with ``client.convert_from_registers``;
(c) hand-written minimal requests: a literal list of (address, count) reads for this map.

Two device behaviours, because "minimal" depends on what the device answers:

* ``answers-all``: the device answers any address in its range (unused registers read as 0). The
  minimum is 2 requests per meter; the collector runs with ``max_gap_registers = 124``.
* ``mapped-only``: the device answers only the registers of its points (exception 2 for a read
  that spans an unused register). The minimum is 6 requests per meter; the collector runs with the
  default ``max_gap_registers = 8`` and learns the rejected gaps in its first (warm-up) cycle.

The three run interleaved, one cycle each in turn, in a rotating order, so drift in the machine's
load hits them alike. Every poller's decoded values are checked against the encoded ones, so a fast
but wrong poller cannot win. Prints per scenario: median cycle time and requests per cycle for
(a), (b), (c), and the ratios (a)/(c) for time and requests, and the client process's CPU time
per cycle (the servers run in another process; CPU time is steadier than wall time on a busy
machine).
Goal: requests (a) == (c), time (a) ≤ 1.2 × (c).

It also times, on its own, the construction of one cycle's ``storage.base.Reading`` objects (their
``__post_init__`` validates every field): part of (a)'s time that (c), which keeps bare floats,
does not pay. The line "(a) − Reading" is (a)'s median minus that time, an estimate only.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pymodbus.client import AsyncModbusTcpClient

from collectors.decode import encode_value
from collectors.poller import DevicePoller
from collectors.registermap import RegisterMap, get_register_map
from collectors.service import Collector
from jieneng.settings import Settings
from storage.base import Reading

N_GATEWAYS = 10
METERS_PER_GATEWAY = 10
N_POINTS = 20
MODEL = "eastron_sdm630"

#: (c) The minimal reads for the first 20 points of the SDM630 map, written by hand from its
#: register table: (address, count) of input registers.
HAND_WRITTEN = {
    # points span 0x0000-0x004B and 0x0156-0x0163: two reads of at most 125 registers
    "answers-all": [(0x0000, 76), (0x0156, 14)],
    # contiguous runs of point registers only
    "mapped-only": [
        (0x0000, 18), (0x0034, 2), (0x003E, 2), (0x0046, 6), (0x0156, 2), (0x015A, 10),
    ],
}
MAX_GAP = {"answers-all": 124, "mapped-only": 8}


def bench_map() -> RegisterMap:
    """The SDM630 map cut to its first 20 points."""
    regmap = get_register_map(MODEL)
    return dataclasses.replace(regmap, points=regmap.points[:N_POINTS])


def expected_value(device_id: int, index: int) -> float:
    """The value a meter holds for its ``index``-th point (exactly representable in float32)."""
    return float(200 + 16 * device_id + index) + 0.5


# -- the servers (child process) ----------------------------------------------------------------


def _devices(mode: str):
    from pymodbus.simulator import DataType, SimData, SimDevice

    regmap = bench_map()
    devices = []
    for device_id in range(1, METERS_PER_GATEWAY + 1):
        words: dict[int, int] = {}
        for i, p in enumerate(regmap.points):
            for k, w in enumerate(encode_value(p, expected_value(device_id, i))):
                words[p.address + k] = w
        if mode == "answers-all":
            end = max(words) + 1
            blocks = [SimData(address=0, values=[words.get(a, 0) for a in range(end)],
                              datatype=DataType.REGISTERS)]
        else:
            blocks = [SimData(address=a, values=[w], datatype=DataType.REGISTERS)
                      for a, w in sorted(words.items())]
        devices.append(SimDevice(id=device_id, simdata=blocks))
    return devices


def serve(mode: str, ports: list[int], ready, stop) -> None:
    """Child process: serve the gateways until ``stop`` is set."""
    import logging

    from pymodbus.server import ModbusTcpServer

    logging.disable(logging.CRITICAL)

    async def main() -> None:
        servers = [ModbusTcpServer(_devices(mode), address=("127.0.0.1", port)) for port in ports]
        tasks = [asyncio.create_task(s.serve_forever()) for s in servers]
        await asyncio.sleep(0.5)
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for s in servers:
            await s.shutdown()
        for t in tasks:
            t.cancel()

    asyncio.run(main())


# -- the three pollers --------------------------------------------------------------------------


def make_settings(ports: list[int], max_gap: int) -> Settings:
    gateways = [
        {"id": f"gw{g}", "protocol": "tcp", "host": "127.0.0.1", "port": port, "timeout_s": 3}
        for g, port in enumerate(ports)
    ]
    meters = [
        {"id": f"gw{g}-m{d}", "gateway": f"gw{g}", "device_id": d, "model": MODEL,
         "institution": "bench", "building": "bench", "carrier": "electricity"}
        for g in range(len(ports)) for d in range(1, METERS_PER_GATEWAY + 1)
    ]
    return Settings.model_validate({
        "site": {"name": "bench", "province": "shandong", "region_code": "370100"},
        "collector": {"max_gap_registers": max_gap},
        "gateways": gateways,
        "meters": meters,
    })


class CollectorRun:
    """(a) the collector's own poll cycle."""

    def __init__(self, ports: list[int], max_gap: int):
        self.collector = Collector(make_settings(ports, max_gap))
        regmap = bench_map()
        self.index = {p.name: i for i, p in enumerate(regmap.points)}
        self.collector.pollers = [
            DevicePoller(p.meter, regmap, p.client, max_gap=max_gap)
            for p in self.collector.pollers
        ]

    def requests(self) -> int:
        return sum(c.request_count for c in self.collector.clients.values())

    async def cycle(self) -> tuple[int, list]:
        """One poll cycle: (requests sent, results); checking is left to :meth:`verify`."""
        before = self.requests()
        results = await self.collector.poll_once()
        return self.requests() - before, results

    def verify(self, results: list) -> None:
        n_values = 0
        for r in results:
            device_id = self.collector.settings.meter(r.meter).device_id
            for reading in r.readings:
                i = self.index[reading.point]
                if reading.value != expected_value(device_id, i):
                    raise SystemExit(f"(a) {r.meter} {reading.point} = {reading.value}")
                n_values += 1
        if n_values != N_POINTS * N_GATEWAYS * METERS_PER_GATEWAY:
            raise SystemExit(f"(a) read {n_values} values")

    def close(self) -> None:
        for c in self.collector.clients.values():
            c.close()


class PymodbusLoop:
    """(b) naive or (c) hand-written: plain pymodbus clients, one per gateway."""

    def __init__(self, ports: list[int], reads: list[tuple[int, int]] | None):
        self.ports = ports
        self.reads = reads  # None: one read per point
        self.points = bench_map().points
        self.clients: list[AsyncModbusTcpClient] = []

    async def connect(self) -> None:
        for port in self.ports:
            client = AsyncModbusTcpClient("127.0.0.1", port=port, timeout=3)
            await client.connect()
            self.clients.append(client)

    async def _gateway(self, client: AsyncModbusTcpClient) -> tuple[int, dict]:
        f32 = client.DATATYPE.FLOAT32
        values: dict[tuple[int, int], float] = {}
        n = 0
        for device_id in range(1, METERS_PER_GATEWAY + 1):
            if self.reads is None:
                for i, p in enumerate(self.points):
                    rr = await client.read_input_registers(p.address, count=2, device_id=device_id)
                    n += 1
                    if rr.isError():
                        raise SystemExit(f"naive read failed: {rr}")
                    values[(device_id, i)] = client.convert_from_registers(rr.registers, f32)
                continue
            for start, count in self.reads:
                rr = await client.read_input_registers(start, count=count, device_id=device_id)
                n += 1
                if rr.isError():
                    raise SystemExit(f"hand-written read failed: {rr}")
                for i, p in enumerate(self.points):
                    if start <= p.address < start + count:
                        k = p.address - start
                        values[(device_id, i)] = client.convert_from_registers(
                            rr.registers[k:k + 2], f32
                        )
        return n, values

    async def cycle(self) -> tuple[int, list]:
        """One poll cycle: (requests sent, values per gateway); see :meth:`verify`."""
        outcomes = await asyncio.gather(*(self._gateway(c) for c in self.clients))
        return sum(n for n, _ in outcomes), outcomes

    def verify(self, outcomes: list) -> None:
        for _, values in outcomes:
            if len(values) != N_POINTS * METERS_PER_GATEWAY:
                raise SystemExit(f"pymodbus loop read {len(values)} values per gateway")
            for (device_id, i), v in values.items():
                if v != expected_value(device_id, i):
                    raise SystemExit(f"pymodbus loop: device {device_id} point {i} = {v}")

    def close(self) -> None:
        for c in self.clients:
            c.close()


def reading_construction(results: list, repeats: int) -> tuple[float, int]:
    """Median time to build one cycle's ``Reading`` objects again, and how many there are. [s]"""
    fields = [
        (r.meter, r.point, r.time, r.value, r.quality) for res in results for r in res.readings
    ]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for meter, point, at, value, quality in fields:
            Reading(meter, point, at, value, quality)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(fields)


async def run_scenario(mode: str, ports: list[int], cycles: int) -> dict[str, tuple]:
    out = {}
    naive = PymodbusLoop(ports, None)
    hand = PymodbusLoop(ports, HAND_WRITTEN[mode])
    await naive.connect()
    await hand.connect()
    collector = CollectorRun(ports, MAX_GAP[mode])
    try:
        # interleave the three so drift in machine load hits all of them alike
        runners = (("a", collector), ("b", naive), ("c", hand))
        warmup = {}
        for label, runner in runners:
            warmup[label], output = await runner.cycle()
            runner.verify(output)
        samples: dict[str, list[tuple[float, float, int]]] = {label: [] for label, _ in runners}
        collector_output: list = []
        for k in range(cycles):
            # rotate the order (abc, bca, cab, ...) so none always follows the long naive run
            for label, runner in runners[k % 3:] + runners[:k % 3]:
                t0, cpu0 = time.perf_counter(), time.process_time()
                n, output = await runner.cycle()
                samples[label].append(
                    (time.perf_counter() - t0, time.process_time() - cpu0, n)
                )
                runner.verify(output)  # outside the timed part, for all three alike
                if label == "a":
                    collector_output = output
        for label, rows in samples.items():
            counts = {n for _, _, n in rows}
            if len(counts) != 1:
                raise SystemExit(f"({label}) request counts differ between cycles: {counts}")
            out[label] = (
                statistics.median(t for t, _, _ in rows),
                statistics.median(c for _, c, _ in rows),
                warmup[label],
                counts.pop(),
            )
        out["readings"] = reading_construction(collector_output, cycles)
    finally:
        collector.close()
        naive.close()
        hand.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=7, help="measured cycles per poller")
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    from tests.support.services import free_port

    n_meters = N_GATEWAYS * METERS_PER_GATEWAY
    print(f"{n_meters} meters × {N_POINTS} points ({MODEL}), {N_GATEWAYS} TCP gateways on "
          f"loopback, median of {args.cycles} cycles")
    ctx = mp.get_context("spawn")
    for mode in ("answers-all", "mapped-only"):
        ports = [free_port() for _ in range(N_GATEWAYS)]
        ready, stop = ctx.Event(), ctx.Event()
        server = ctx.Process(target=serve, args=(mode, ports, ready, stop), daemon=True)
        server.start()
        try:
            if not ready.wait(30):
                raise SystemExit("the Modbus servers did not start")
            out = asyncio.run(run_scenario(mode, ports, args.cycles))
        finally:
            stop.set()
            server.join(10)
            if server.is_alive():
                server.kill()
        print(f"\nscenario {mode} (collector max_gap_registers = {MAX_GAP[mode]})")
        names = {"a": "(a) collector", "b": "(b) naive, 1 read/point", "c": "(c) hand-written"}
        for label in ("a", "b", "c"):
            median_s, cpu_s, warmup, n = out[label]
            print(f"  {names[label]:26s} median {1000 * median_s:7.1f} ms/cycle "
                  f"(client CPU {1000 * cpu_s:6.1f} ms)  "
                  f"{n:5d} requests/cycle (warm-up cycle {warmup})")
        (ta, ca, _, na), (tb, _, _, nb), (tc, cc, _, nc) = out["a"], out["b"], out["c"]
        print(f"  ratio time (a)/(c) = {ta / tc:.2f}   requests (a)/(c) = {na / nc:.2f}   "
              f"client CPU (a)/(c) = {ca / cc:.2f}   "
              f"time (b)/(c) = {tb / tc:.2f}   requests (b)/(c) = {nb / nc:.2f}")
        reading_s, n_readings = out["readings"]
        print(f"  storage.base.Reading construction: {1000 * reading_s:.1f} ms/cycle for "
              f"{n_readings} readings ({1e6 * reading_s / n_readings:.2f} µs each) = "
              f"{reading_s / tc:.2f} × (c)'s time; estimate (a) − Reading: "
              f"{(ta - reading_s) / tc:.2f} × (c)")
        goal = na == nc and ta <= 1.2 * tc
        print(f"  goal (requests (a) == (c) and time (a) <= 1.2 × (c)): "
              f"{'met' if goal else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
