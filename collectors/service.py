"""The collector: poll every configured meter, spool, forward to the store, track health.

:class:`Collector` wires the pieces together: one :class:`~collectors.modbus_client.GatewayClient`
per gateway, one :class:`~collectors.poller.DevicePoller` per meter, one
:class:`~collectors.scheduler.GatewayScheduler` task per gateway, a
:class:`~collectors.health.HealthTracker`, and a :class:`ReadingSink` that appends every poll's
readings to the durable spool and forwards the spool to the store.

The sink (spool file and store connection) lives in one worker thread, so the event loop never
waits on a disk sync or a slow store, and a store backend bound to the thread that opened it works.
:func:`run_collector` runs until SIGTERM or Ctrl-C, then finishes the poll under way, flushes and
returns 0.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from collectors.errors import CollectorError
from collectors.health import HealthTracker
from collectors.modbus_client import GatewayClient
from collectors.poller import DevicePoller, PollResult, SilentGateway
from collectors.registermap import meter_register_map
from collectors.scheduler import GatewayScheduler
from collectors.settings import CollectorConfig
from collectors.spool import ForwardResult, Spool
from storage import open_store
from storage.base import DeviceHealth, Reading, RetentionResult, TimeSeriesStore
from storage.errors import RollupsMissing, StorageError, StoreUnavailable

__all__ = ["Collector", "ReadingSink", "build_pollers", "run_collector"]

log = logging.getLogger(__name__)

#: Wait before the store is tried again after it was unavailable (doubles up to the max). [s]
STORE_RETRY_S = 1.0
STORE_RETRY_MAX_S = 30.0
#: How often the collector applies the store's retention (drops raw readings past
#: ``[storage] retention_raw_days`` after archiving their daily aggregates). [s]
RETENTION_INTERVAL_S = 24 * 3600.0
#: What each job of the sink thread does, for its log line when it fails.
_SINK_STEPS = {
    "_drain": "writing readings",
    "flush": "forwarding the spool to the store",
    "write_health": "writing device health",
    "apply_retention": "applying the store's retention",
}


def build_pollers(
    settings: CollectorConfig, clients: dict[str, GatewayClient]
) -> list[DevicePoller]:
    """One poller per ``[[meters]]`` entry, with the meter's overrides applied to its map."""
    extra_dirs = [settings.resolve(d) for d in settings.collector.register_map_dirs]
    return [
        DevicePoller(
            meter,
            meter_register_map(meter, extra_dirs),
            clients[meter.gateway],
            max_gap=settings.collector.max_gap_registers,
        )
        for meter in settings.meters
    ]


class ReadingSink:
    """Spool first, then forward to the store. Not thread-safe: use it from one thread.

    Parameters
    ----------
    settings
        Spool path and bound from ``[collector]``; the store from ``[storage]``.
    """

    def __init__(self, settings: CollectorConfig):
        self.settings = settings
        cfg = settings.collector
        self.spool = Spool(
            settings.resolve(cfg.spool_path), cfg.spool_max_readings, cfg.spool_warn_fraction
        )
        self._store: TimeSeriesStore | None = None
        self._store_ok = True
        self._retry_at = 0.0
        self._retry_s = STORE_RETRY_S

    @property
    def retry_in_s(self) -> float:
        """Wait before :meth:`flush` tries the store again (0 when it is not waiting) [s]."""
        if self._store_ok:
            return 0.0
        return max(0.0, self._retry_at - time.monotonic())

    def _get_store(self) -> TimeSeriesStore | None:
        if self._store is None:
            try:
                self._store = open_store(self.settings)
            except StoreUnavailable as exc:
                self._mark_unavailable(str(exc))
                return None
        return self._store

    def _mark_unavailable(self, error: str) -> None:
        if self._store_ok:
            log.error(
                "the store is unavailable (%s); readings are kept in the spool %s",
                error, self.spool.path,
            )
        self._store_ok = False
        self._retry_at = time.monotonic() + self._retry_s
        self._retry_s = min(STORE_RETRY_MAX_S, 2 * self._retry_s)

    def put(self, readings: Sequence[Reading]) -> ForwardResult:
        """Append readings to the spool (durably), then forward what the store will take."""
        self.spool.append(readings)
        return self.flush()

    def flush(self, force: bool = False) -> ForwardResult:
        """Forward the spool to the store, unless the store failed recently (or ``force``)."""
        if not self._store_ok and not force and time.monotonic() < self._retry_at:
            return ForwardResult(0, self.spool.pending, False, "waiting before retrying the store")
        store = self._get_store()
        if store is None:
            return ForwardResult(0, self.spool.pending, False, "the store cannot be opened")
        result = self.spool.forward(store)
        if not result.store_available:
            self._mark_unavailable(result.error)
        elif not self._store_ok:
            log.warning(
                "the store is available again; %d spooled readings forwarded, %d pending",
                result.forwarded, result.pending,
            )
            self._store_ok = True
            self._retry_s = STORE_RETRY_S
        return result

    def write_health(self, records: Iterable[DeviceHealth]) -> bool:
        """Write health records; False (and nothing kept) when the store is unavailable."""
        records = list(records)
        if not records or not self._store_ok:
            return False
        store = self._get_store()
        if store is None:
            return False
        try:
            store.write_health(records)
        except StoreUnavailable as exc:
            log.debug("health records not written: %s", exc)
            return False
        return True

    def apply_retention(self) -> RetentionResult | None:
        """Apply the store's retention; None when the store is unavailable."""
        store = self._get_store() if self._store_ok else None
        if store is None:
            return None
        try:
            result = store.apply_retention()
        except StoreUnavailable as exc:
            log.warning("retention not applied, the store is unavailable: %s", exc)
            return None
        except RollupsMissing as exc:  # raw readings stay until the rollups are rebuilt
            log.warning("retention not applied: %s", exc)
            return None
        log.info(
            "retention: raw readings before %s dropped (%s), %d daily rollups kept",
            result.cutoff.isoformat(), result.readings_dropped, result.days_archived,
        )
        return result

    def close(self) -> ForwardResult:
        """Last forward attempt, then close the store and the spool."""
        result = self.flush(force=True)
        if result.pending:
            log.warning(
                "%d readings stay in the spool %s; they are forwarded at the next start",
                result.pending, self.spool.path,
            )
        if self._store is not None:
            self._store.close()
            self._store = None
        self.spool.close()
        return result


class Collector:
    """Every configured meter, its gateway client, health and the reading sink.

    Parameters
    ----------
    settings
        Gateways, meters, spool and store.
    on_result
        Called in the event loop with every :class:`PollResult` of :meth:`run`, after the
        readings were handed to the sink (for monitoring, or a test that waits for polls).
    """

    def __init__(
        self,
        settings: CollectorConfig,
        on_result: Callable[[PollResult], None] | None = None,
    ):
        self.settings = settings
        self.on_result = on_result
        self.clients = {gw.id: GatewayClient(gw) for gw in settings.gateways}
        self.pollers = build_pollers(settings, self.clients)
        self.health = HealthTracker()
        self._executor: ThreadPoolExecutor | None = None
        self._sink: ReadingSink | None = None
        self._buffer: list[Reading] = []
        self._buffer_lock = threading.Lock()
        self._drain_pending = False
        #: Meters whose last :meth:`poll_once` timed out: they are polled last in the next one.
        self._timed_out: set[str] = set()

    def by_gateway(self) -> dict[str, list[DevicePoller]]:
        """Return the pollers grouped by gateway id, in settings order."""
        groups: dict[str, list[DevicePoller]] = {}
        for poller in self.pollers:
            groups.setdefault(poller.meter.gateway, []).append(poller)
        return groups

    def record_health(self, result: PollResult) -> tuple[DeviceHealth, bool]:
        """Update health from a poll; also say whether availability changed."""
        before = self.health.is_available(result.meter)
        record = self.health.record(
            result.meter, result.finished, result.ok, result.response_time_s, result.error
        )
        return record, before != record.available

    async def poll_once(self) -> list[PollResult]:
        """Poll every meter once (gateways in parallel, one request at a time per gateway).

        A gateway found silent is given up for the rest of the cycle
        (:class:`~collectors.poller.SilentGateway`); meters that timed out in the last cycle go
        last. Results are in the settings' order.
        """

        async def one_gateway(pollers: list[DevicePoller]) -> list[PollResult]:
            silent = SilentGateway(pollers[0].client)
            results: dict[str, PollResult] = {}
            for p in sorted(pollers, key=lambda p: p.meter.id in self._timed_out):
                if silent.reason:
                    results[p.meter.id] = silent.skip(p)
                    continue
                result = results[p.meter.id] = await p.poll()
                silent.check(result)
                if result.timed_out:
                    self._timed_out.add(p.meter.id)
                else:
                    self._timed_out.discard(p.meter.id)
            return [results[p.meter.id] for p in pollers]

        groups = await asyncio.gather(*(one_gateway(ps) for ps in self.by_gateway().values()))
        results = [r for group in groups for r in group]
        for result in results:
            self.record_health(result)
        return results

    # -- the long-running service ------------------------------------------------------------

    def _submit(self, fn, *args) -> None:
        assert self._executor is not None
        step = _SINK_STEPS.get(getattr(fn, "__name__", ""), "a job of the sink")
        self._executor.submit(fn, *args).add_done_callback(lambda f: self._done(f, step))

    @staticmethod
    def _done(future: Future, step: str = "a job of the sink") -> None:
        """Log a failed sink job: one line naming its step (the traceback only at DEBUG)."""
        exc = future.exception()
        if exc is None:
            return
        known = isinstance(exc, StorageError | CollectorError)
        log.error("%s failed: %s", step, " ".join(str(exc).split()) if known
                  else f"{type(exc).__name__}: {exc}")
        log.debug("%s failed", step, exc_info=exc)

    def _on_result(self, result: PollResult) -> None:
        record, changed = self.record_health(result)
        if result.readings:
            with self._buffer_lock:
                self._buffer.extend(result.readings)
                start_drain = not self._drain_pending
                self._drain_pending = True
            if start_drain:
                self._submit(self._drain)
        if changed:
            assert self._sink is not None
            self._submit(self._sink.write_health, [record])
        if self.on_result is not None:
            self.on_result(result)

    def _drain(self) -> None:
        """In the sink thread: spool and forward everything polled since the last drain.

        While the sink is busy (a disk sync, a slow store) new results gather in the buffer and
        go in the next drain as one transaction, so the sink keeps up with many meters.
        """
        assert self._sink is not None
        with self._buffer_lock:
            batch, self._buffer = self._buffer, []
            self._drain_pending = False
        if batch:
            self._sink.put(batch)

    async def _housekeeping(self, stop: asyncio.Event) -> None:
        """Write health, retry the spool and apply retention, each on its own schedule.

        Every device's health is written each ``health_interval_s``; the store's retention is
        applied at start and then daily.
        """
        assert self._sink is not None
        interval = self.settings.collector.health_interval_s
        next_health = time.monotonic() + interval
        self._submit(self._sink.apply_retention)
        next_retention = time.monotonic() + RETENTION_INTERVAL_S
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=min(5.0, interval))
            except TimeoutError:
                pass
            if self._sink.spool.pending:
                self._submit(self._sink.flush)
            if time.monotonic() >= next_health:
                self._submit(self._sink.write_health, self.health.snapshot())
                next_health = time.monotonic() + interval
            if time.monotonic() >= next_retention:
                self._submit(self._sink.apply_retention)
                next_retention = time.monotonic() + RETENTION_INTERVAL_S

    async def run(self, stop: asyncio.Event) -> ForwardResult:
        """Poll until ``stop`` is set, then flush; returns the last forward's result."""
        loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="jieneng-sink")
        try:
            self._sink = await loop.run_in_executor(self._executor, ReadingSink, self.settings)
            leftover = self._sink.spool.pending
            if leftover:
                log.info("forwarding %d readings left in the spool by an earlier run", leftover)
            self._submit(self._sink.flush, True)
            schedulers = [
                GatewayScheduler(gateway, pollers, self._on_result)
                for gateway, pollers in self.by_gateway().items()
            ]
            await asyncio.gather(
                *(s.run(stop) for s in schedulers), self._housekeeping(stop)
            )
            final = await loop.run_in_executor(self._executor, self._sink.close)
            log.info(
                "collector stopped: %d readings forwarded at shutdown, %d left in the spool",
                final.forwarded, final.pending,
            )
            return final
        finally:
            self._executor.shutdown(wait=True)
            for client in self.clients.values():
                client.close()


def run_collector(settings: CollectorConfig) -> int:
    """Run the collector until SIGTERM or Ctrl-C; flush and return 0."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info(
            "collecting from %d meter(s) on %d gateway(s)",
            len(settings.meters), len(settings.gateways),
        )
        await Collector(settings).run(stop)

    asyncio.run(main())
    return 0
