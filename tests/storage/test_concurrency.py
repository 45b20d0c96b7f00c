"""Several processes on one store, and a store that goes away in the middle of a write."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import threading
import time
from datetime import timedelta

import pytest

from storage.base import Reading
from storage.errors import StoreUnavailable
from storage.influx_v1 import InfluxV1Store
from storage.sqlite import SqliteStore
from tests.storage.workers import FAR, T0, batch, endless_writer, reader, writer
from tests.support.services import free_port

CTX = multiprocessing.get_context("spawn")


def test_concurrent_writers_and_readers(store_spec) -> None:
    batches, size = 40, 250
    queue = CTX.Queue()
    procs = [CTX.Process(target=writer, args=(store_spec, f"w{i}", batches, size, queue))
             for i in range(2)]
    procs += [CTX.Process(target=reader, args=(store_spec, 4.0, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    messages = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [text for kind, text in messages if kind == "error"]
    assert not errors, errors[0]
    done = [n for kind, n in messages if kind == "done"]
    assert done == [batches * size] * 2
    for kind, seen in messages:
        if kind != "seen":
            continue
        assert seen, "a reader never finished a read"
        counts = [n for n, _ in seen]
        assert counts == sorted(counts), "a reader saw readings disappear"
        if store_spec["backend"] == "sqlite":
            # each write_readings call is one transaction: readers see whole batches only
            assert all(n % size == 0 for n in counts)
            assert all(daily_n >= n and daily_n % size == 0 for n, daily_n in seen)
    from tests.storage.conftest import open_spec

    store = open_spec(store_spec)
    assert len(store.read_readings(T0, FAR)) == 2 * batches * size
    assert int(store.daily_counters(T0, FAR)["n_readings"].sum()) == 2 * batches * size
    store.close()


@pytest.mark.influxdb
def test_influx_stopped_mid_write_then_rewrite(influxd, influx_database) -> None:
    store = InfluxV1Store(influxd.url, influx_database, batch_size=500, retries=1, timeout_s=5)
    readings = [r for k in range(400) for r in batch("m", k, 100)]  # 40 000 readings, 80 posts
    posted = threading.Event()
    original = store._post_lines

    def post_and_signal(lines):
        original(lines)
        if lines[0].startswith("readings,"):  # not the rollup marker of a fresh database
            posted.set()

    store._post_lines = post_and_signal
    stopper = threading.Thread(target=lambda: (posted.wait(10), influxd.stop()))
    stopper.start()
    try:
        with pytest.raises(StoreUnavailable, match="unreachable"):
            store.write_readings(readings)
    finally:
        stopper.join()
        influxd.start()
    assert posted.is_set()
    partial = store.read_readings(T0, FAR)
    assert 0 < len(partial) < len(readings)
    assert store.write_readings(readings) == len(readings)
    frame = store.read_readings(T0, FAR)
    assert len(frame) == len(readings)
    assert list(frame["value"]) == [r.value for r in readings]
    store.close()


def test_influx_unreachable_raises_store_unavailable() -> None:
    store = InfluxV1Store(f"http://127.0.0.1:{free_port()}", "jieneng", retries=1, timeout_s=2)
    reading = Reading("m", "p", T0, 1.0)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.write_readings([reading])
    with pytest.raises(StoreUnavailable):
        store.read_readings(T0, FAR)
    store.close()


def test_sqlite_writer_killed_mid_write_leaves_whole_transactions(tmp_path) -> None:
    spec = {"backend": "sqlite", "path": str(tmp_path / "store.sqlite")}
    size = 20_000
    proc = CTX.Process(target=endless_writer, args=(spec, size))
    proc.start()
    store = SqliteStore(spec["path"])
    deadline = time.monotonic() + 60
    while len(store.read_readings(T0, FAR, meters=["victim"])) < 2 * size:
        assert time.monotonic() < deadline
        assert proc.is_alive()
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    with sqlite3.connect(spec["path"]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    n = len(store.read_readings(T0, FAR))
    assert n % size == 0
    assert n >= 2 * size
    # the collector's replay: rewriting everything leaves exactly the expected readings
    replay = [r for k in range(n // size + 1) for r in batch("victim", k, size)]
    store.write_readings(replay)
    frame = store.read_readings(T0, FAR)
    assert len(frame) == len(replay)
    assert list(frame["value"]) == [r.value for r in replay]
    store.close()


def test_sqlite_locked_beyond_timeout_raises_store_unavailable(tmp_path) -> None:
    path = tmp_path / "store.sqlite"
    store = SqliteStore(path, busy_timeout_s=0.2)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.write_readings([Reading("m", "p", T0 + timedelta(seconds=1), 1.0)])
        assert store.read_readings(T0, FAR).empty  # readers are not blocked by a writer
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert store.write_readings([Reading("m", "p", T0, 1.0)]) == 1
    store.close()


def test_influx_v2_unreachable_raises_store_unavailable() -> None:
    from storage.influx_v2 import InfluxV2Store

    store = InfluxV2Store(f"http://127.0.0.1:{free_port()}", "org", "bucket", token="t",
                          timeout_s=2)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.write_readings([Reading("m", "p", T0, 1.0)])
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.read_readings(T0, FAR)
    store.close()
