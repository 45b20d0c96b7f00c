"""What the pages read: the store, the ledgers and the annual account, cached and scoped by role.

:class:`DataService` is shared by every user and callback of one dashboard process. The annual
account (and the year's monthly consumption table) is computed once per (year, ledger state,
store state) and reused; a lock per key makes concurrent callers wait for the one computation
instead of starting their own. Every method that returns institution data takes the
:class:`~dashboard.auth.User` and drops what that user may not see, so a callback cannot forget to.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from accounting.annual import compute_account
from accounting.compounds import COMPOUND_FIGURES
from accounting.engine import AnnualAccount
from accounting.evaluation import Evaluation, evaluate_account
from accounting.ledgers import LedgerStore
from accounting.verdicts.explain import explain
from accounting.verdicts.rules import DEFAULT_RULES
from dashboard.auth import User
from jieneng.vocabulary import CONSUMPTION_POINTS
from storage import open_store
from storage.base import DAILY_COUNTER_COLUMNS, LATEST_COLUMNS

__all__ = ["DataService", "YearData"]

log = logging.getLogger("dashboard.data")

#: The meter's columns added to its latest readings and to its daily counters.
LATEST_PLACE = ("institution_id", "building", "carrier", "unit")
DAILY_PLACE = ("institution_id", "carrier", "subitem")
#: Ledgers shown on the statistics page.
LEDGER_KINDS = ("institutions", "buildings", "headcount", "vehicles", "fuel", "facilities", "bills")


@dataclass
class YearData:
    """One year's account and the tables the pages draw from it.

    Attributes
    ----------
    year
        The accounting year.
    account
        ``AnnualAccount``: figures, carriers, factors, verdicts (reasons written), totals.
    monthly
        Monthly consumption per institution × carrier × use × source with ``kgce``, ``kgco2``
        and ``scope`` from the year's factors.
    findings
        Counter findings of the year (``accounting.metered.FINDING_COLUMNS``) with the meter's
        institution.
    key
        The (year, ledger state, store state) it was computed for.
    seconds
        How long it took to compute. [s]
    """

    year: int
    account: AnnualAccount
    monthly: pd.DataFrame
    findings: pd.DataFrame
    key: tuple
    seconds: float
    _derived: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def derived(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """A table derived from this year's data, computed once per ``key`` and shared by every
        user and callback.

        ``key`` names the table and whatever it depends on besides this year's data (the
        language of its labels, an indicator, ...), never the user: such tables hold every
        institution, and a callback narrows them to the user's scope on each request. They live
        as long as this object, i.e. until the ledgers or the store change.
        """
        with self._lock:
            if key not in self._derived:
                self._derived[key] = compute()
            return self._derived[key]

    def verdicts(self, lang: str) -> pd.DataFrame:
        """The verdict rows with their reasons written in ``lang`` (once per language)."""
        rules = self.account.rules or DEFAULT_RULES  # the rules the account was judged with
        return self.derived(("verdicts", lang),
                            lambda: explain(self.account.verdicts, rules, language=lang))

    def verdicts_of(self, kind: str, lang: str) -> pd.DataFrame:
        """The verdict rows of one ``kind`` (audit, quota, fyp14, certification, ...) in ``lang``,
        with ``institution_id``, ``kind``, ``subject`` and ``status`` as plain strings."""
        def compute() -> pd.DataFrame:
            v = self.verdicts(lang)
            rows = v[v["kind"].astype(str) == kind].copy()
            for column in ("institution_id", "kind", "subject", "status"):
                rows[column] = rows[column].astype(str)
            return rows.reset_index(drop=True)
        return self.derived(("verdicts_of", kind, lang), compute)

    def monthly_by_institution(self) -> pd.DataFrame:
        """Institution × carrier × unit with the quantity of each month (columns 1–12, NaN when
        nothing was measured or billed) and the mean ``coverage``; sorted by institution."""
        return self.derived(("monthly_by_institution",),
                            lambda: monthly_by_institution(self.monthly))

    def monthly_kg(self, by: str) -> pd.DataFrame:
        """kgce and kgCO2 per institution × month × ``by`` (``scope`` or ``carrier``): the
        monthly table summed once, so that a page only adds up its institutions' rows."""
        return self.derived(("monthly_kg", by), lambda: monthly_kg(self.monthly, by))


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    value: Any = None


class DataService:
    """Reads for the pages, shared across users and callbacks.

    Parameters
    ----------
    settings
        The composed settings.
    refresh_s
        The store's state counts in steps of this many seconds: a collector writing every 15 s
        does not recompute the account more often than this. [s]
    """

    def __init__(self, settings: Any, refresh_s: float = 300.0):
        self.settings = settings
        self.refresh_s = refresh_s
        self.tz = settings.site.tzinfo
        self._slots: dict[tuple, _Slot] = {}
        self._slots_lock = threading.Lock()
        self._prefetching: set[tuple] = set()
        self.meters = pd.DataFrame([{
            "meter": m.id, "gateway": m.gateway, "institution_id": m.institution,
            "building": m.building, "carrier": str(m.carrier), "subitem": m.subitem,
            "point": CONSUMPTION_POINTS.get(str(m.carrier), (None, None))[0],
            "unit": CONSUMPTION_POINTS.get(str(m.carrier), (None, None))[1],
        } for m in settings.meters], columns=["meter", "gateway", "institution_id", "building",
                                               "carrier", "subitem", "point", "unit"])
        self._meter_index: dict[str, dict[str, Any]] = {
            r["meter"]: r for r in self.meters.to_dict("records")}
        self._meters_by_unit = {unit: part for unit, part in
                                self.meters.groupby("institution_id", sort=False)}
        main = self.meters[self.meters["subitem"].astype(str).str.endswith("000")]
        #: (institution, carrier) → its main meters (sub-item code ending in 000).
        self._main_meters = {key: part for key, part in
                             main.groupby(["institution_id", "carrier"], sort=False)}
        #: Seconds spent in store/accounting calls by this thread's current callback.
        self._timing = threading.local()

    # -- timing of the bare calls (for the benchmark) ---------------------------------------------

    def reset_timing(self) -> None:
        """Start counting this thread's time in store and accounting calls (and its reads of
        the shared annual account)."""
        self._timing.seconds = 0.0
        self._timing.account_reads = 0

    def account_reads(self) -> int:
        """How often this thread read a year's shared account (:meth:`year_data`) since
        :meth:`reset_timing`: a callback that read it and no store is the dashboard's own work
        on the cached account."""
        return getattr(self._timing, "account_reads", 0)

    def bare_seconds(self) -> float:
        """Seconds this thread spent in store and accounting calls since :meth:`reset_timing`."""
        return getattr(self._timing, "seconds", 0.0)

    @contextlib.contextmanager
    def _timed(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self._timing.seconds = self.bare_seconds() + time.perf_counter() - started

    @contextlib.contextmanager
    def store(self) -> Iterator[Any]:
        """An open store (closed afterwards); the time spent inside counts as bare calls."""
        with self._timed():
            store = open_store(self.settings)
            try:
                yield store
            finally:
                store.close()

    # -- state and caching ---------------------------------------------------------------------

    def ledger_path(self) -> Path:
        """The ledger database file."""
        return self.settings.resolve(self.settings.accounting.ledger_path)

    def ledger_state(self) -> tuple[int, int]:
        """(modification time in ns, size) of the ledger database; changes with every import
        (an import commits and checkpoints its write-ahead log)."""
        try:
            stat = os.stat(self.ledger_path())
        except FileNotFoundError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)

    def store_state(self) -> int:
        """The store's latest change, in steps of ``refresh_s``.

        SQLite: the database file's modification time (the write-ahead log is left out: it comes
        and goes as connections close, while the main file only changes when data reaches it);
        InfluxDB: the newest reading's time.
        """
        if self.settings.storage.backend == "sqlite":
            path = self.settings.resolve(self.settings.storage.sqlite.path)
            try:
                newest = os.stat(path).st_mtime
            except FileNotFoundError:
                newest = 0.0
        else:
            with self.store() as store:
                latest = store.latest()
            newest = latest["time"].max().timestamp() if len(latest) else 0.0
        return int(newest // self.refresh_s)

    def _cached(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed once; concurrent callers wait for that computation."""
        with self._slots_lock:
            slot = self._slots.setdefault(key, _Slot())
        with slot.lock:
            if slot.value is None:
                slot.value = compute()
                with self._slots_lock:  # drop older states of the same kind and year
                    for old in [k for k in self._slots if k[:2] == key[:2] and k != key]:
                        del self._slots[old]
            return slot.value

    def _cached_or_stale(self, key: tuple, compute: Callable[[], Any], same: int) -> Any:
        """The value of ``key``; while it is not computed yet, the newest value of an older key
        that agrees with it in its first ``same`` parts, with ``key`` computed in the background.

        The store's state moves every ``refresh_s`` while collectors write; a city's account
        then takes seconds to recompute, and the figures of five minutes ago are a better answer
        than a page that waits. Without such a value (first start, a ledger import: the keys
        differ within ``same``), the caller waits for the computation.
        """
        with self._slots_lock:
            slot = self._slots.get(key)
            older = [] if slot is not None and slot.value is not None else [
                s.value for k, s in self._slots.items()
                if k != key and k[:same] == key[:same] and s.value is not None]
        if older:
            self._in_background(key, compute)
            return older[-1]
        return self._cached(key, compute)

    def _in_background(self, key: tuple, compute: Callable[[], Any]) -> None:
        """Compute ``key`` in a background thread, once per key."""
        with self._slots_lock:
            if key in self._prefetching:
                return
            self._prefetching.add(key)

        def run() -> None:
            try:
                self._cached(key, compute)
            except Exception:
                log.exception("computing %s in the background failed", key[:2])
            finally:
                with self._slots_lock:
                    self._prefetching.discard(key)

        threading.Thread(target=run, daemon=True, name=f"{key[0]}-{key[1]}").start()

    def year_data(self, year: int) -> YearData:
        """The year's account and monthly tables, computed once per (year, ledger, store) state.

        When only the store's state moved (collectors writing), the account of the previous
        store state is returned while the new one is computed in the background; after a ledger
        import the caller waits for the new account.
        """
        key = ("year", year, self.ledger_state(), self.store_state())
        self._timing.account_reads = self.account_reads() + 1
        value = self._cached_or_stale(key, lambda: self._compute_year(year, key), same=3)
        after = ("year", year, self.ledger_state(), self.store_state())
        if after != key and value.key == key:  # opening the ledgers may add a new ledger
            # kind's empty table: the same account serves the state it left behind
            with self._slots_lock:
                self._slots.setdefault(after, _Slot(value=value))
        return value

    def _compute_year(self, year: int, key: tuple) -> YearData:
        started = time.perf_counter()
        log.info("computing the %d account", year)
        with self.store() as store:
            account = compute_account(self.settings, year, store=store)
        inputs = account.inputs  # the year's inputs as the account read them (no second read)
        monthly = monthly_with_factors(inputs.consumption, account.carriers)
        findings = inputs.findings.merge(self.meters[["meter", "institution_id"]], on="meter",
                                         how="left")
        seconds = time.perf_counter() - started
        log.info("the %d account took %.1f s", year, seconds)
        return YearData(year, account, monthly, findings, key, seconds)

    def prefetch(self, year: int) -> None:
        """Compute the year's data in a background thread (once per state) unless cached."""
        key = ("year", year, self.ledger_state(), self.store_state())
        self._in_background(key, lambda: self._compute_year(year, key))

    def cached_year(self, year: int) -> YearData | None:
        """The year's data when it is already computed for the current state, else None."""
        key = ("year", year, self.ledger_state(), self.store_state())
        slot = self._slots.get(key)
        return slot.value if slot is not None else None

    # -- county league and compounds (from the shared account) ---------------------------------

    def evaluation(self, year: int) -> Evaluation:
        """The year's county evaluation (区县绩效评价), computed once per account state.

        County scores are aggregates over each county's institutions and name no single
        institution's figures, so every role (a manager too) reads the whole league: there is no
        user to narrow it by.
        """
        yd = self.year_data(year)
        key = ("evaluation", year, *yd.key[2:])
        return self._cached(key, lambda: evaluate_account(yd.account, self.settings))

    def compounds(self, year: int, user: User) -> pd.DataFrame:
        """The year's compounds (集中办公区, ``accounting.compounds.COMPOUND_FIGURES``) ``user``
        may see.

        Officers, leaders and admins see every compound with every member's share. A manager
        sees only the compounds where at least one of their institutions is a member, and there
        only the compound total and their own members' shares: ``members`` and
        ``member_shares`` are narrowed to their institutions (``n_members`` keeps the count).
        """
        bureau = self.year_data(year).account.bureau
        table = getattr(bureau, "compounds", None)
        if table is None or table.empty:
            return pd.DataFrame(columns=[*COMPOUND_FIGURES, "n_members"])
        table = table.copy()
        table["n_members"] = [len(m) for m in table["members"]]
        if user.institutions is None:
            return table.reset_index(drop=True)
        own = user.institutions
        mine = [bool(own & set(map(str, m))) for m in table["members"]]
        table = table[mine].copy()
        table["members"] = [[m for m in members if m in own] for members in table["members"]]
        table["member_shares"] = [{k: v for k, v in shares.items() if k in own}
                                  for shares in table["member_shares"]]
        return table.reset_index(drop=True)

    # -- institutions and scope ----------------------------------------------------------------

    def institutions(self) -> pd.DataFrame:
        """Every institution: id, name, category, level, climate zone (ledger and meters);
        read once per ledger state. A compound with meters of its own is listed by its id with
        the compound's name."""
        return self._cached(("institutions", 0, self.ledger_state()), self._read_institutions)

    def _read_institutions(self) -> pd.DataFrame:
        ledgers = LedgerStore(self.ledger_path())
        table = ledgers.table("institutions")
        cols = ["institution_id", "name", "category", "level", "climate_zone"]
        table = table[[c for c in cols if c in table.columns]].copy()
        extra = sorted(set(self.meters["institution_id"]) - set(table.get("institution_id", [])))
        if extra:
            compounds = ledgers.table("compounds")
            names = dict(zip(compounds.get("compound_id", []), compounds.get("name", []),
                             strict=True))
            table = pd.concat([table, pd.DataFrame({
                "institution_id": extra, "name": [names.get(i, np.nan) for i in extra]})],
                ignore_index=True)
        return table.reindex(columns=cols).sort_values("institution_id").reset_index(drop=True)

    def names(self) -> dict[str, str]:
        """Institution id → name (the id when the ledger has no name); once per ledger state."""
        def compute() -> dict[str, str]:
            table = self.institutions()
            return {i: n if isinstance(n, str) else i
                    for i, n in zip(table["institution_id"], table["name"], strict=True)}
        return self._cached(("names", 0, self.ledger_state()), compute)

    def compound_members(self) -> pd.DataFrame:
        """The ``compound_members`` ledger (compound_id, institution_id, from, until); once per
        ledger state."""
        def compute() -> pd.DataFrame:
            table = LedgerStore(self.ledger_path()).table("compound_members")
            return table.reindex(columns=["compound_id", "institution_id", "from", "until"])
        return self._cached(("compound_members", 0, self.ledger_state()), compute)

    def member_compounds(self, user: User, today: date | None = None) -> list[str]:
        """Compounds with meters of their own (``[[meters]] institution = "<compound id>"``)
        whose meters ``user`` may read as a member: for a manager, those where one of their
        institutions is a member on ``today`` (the site's date by default); every such compound
        for the other roles."""
        metered = self._meters_by_unit.keys()
        members = self.compound_members()
        compounds = sorted(set(members["compound_id"].astype(str)) & metered)
        if user.institutions is None or not compounds:
            return compounds
        today = today or datetime.now(self.tz).date()
        return sorted(current_compounds(members, user.institutions, today) & set(compounds))

    def visible_institutions(self, user: User) -> pd.DataFrame:
        """The institutions ``user`` may see."""
        table = self.institutions()
        if user.institutions is None:
            return table
        return table[table["institution_id"].isin(user.institutions)].reset_index(drop=True)

    def scope(self, user: User, institution: str | None) -> list[str]:
        """Institution ids a request may read: the one asked for if allowed, else every visible
        one (``institution`` None or ``"*"``); an id the user may not see gives []."""
        visible = list(self.visible_institutions(user)["institution_id"])
        if institution in (None, "", "*"):
            return visible
        return [institution] if institution in visible and user.sees(institution) else []

    def meter_scope(self, user: User, unit: str | None) -> list[str]:
        """The unit whose meters the Live page may show ``user``: ``[unit]`` when it is an
        institution they see or a compound they are a member of (:meth:`member_compounds`,
        read-only), else []."""
        if not unit or unit == "*":
            return []
        if self.scope(user, unit) == [unit]:
            return [unit]
        return [unit] if unit in self.member_compounds(user) else []

    def meter(self, meter: str | None) -> dict[str, Any] | None:
        """The configured meter's row (institution_id, carrier, point, unit, ...), or None."""
        return self._meter_index.get(meter) if meter else None

    def reads_meter(self, user: User, meter: str | None) -> bool:
        """True when ``user`` may read the meter's readings (:meth:`meter_scope` of its unit)."""
        row = self.meter(meter)
        return row is not None and bool(self.meter_scope(user, row["institution_id"]))

    # -- live ----------------------------------------------------------------------------------

    def meters_of(self, institutions: list[str]) -> pd.DataFrame:
        """The configured meters of ``institutions`` (ids of institutions or compounds)."""
        if len(institutions) == 1:
            return self._meters_by_unit.get(institutions[0], self.meters.iloc[0:0])
        return self.meters[self.meters["institution_id"].isin(institutions)]

    def _with_meter_columns(self, frame: pd.DataFrame,
                            columns: tuple[str, ...] | None = None) -> pd.DataFrame:
        """``frame`` (with ``meter`` and ``point`` columns) with the configured meter's
        ``columns`` (all by default) added, only the rows of the meter's consumption point: an
        inner join on meter and point, by dictionary look-up (a merge costs more than the reads
        of one institution)."""
        info = [self._meter_index.get(m) for m in frame["meter"].tolist()]
        keep = np.array([i is not None and i["point"] == p
                         for i, p in zip(info, frame["point"].tolist(), strict=True)], dtype=bool)
        out = frame.copy(deep=False) if keep.all() else frame[keep].reset_index(drop=True)
        kept = [i for i, k in zip(info, keep, strict=True) if k]
        for column in self.meters.columns if columns is None else columns:
            if column not in out.columns:
                out[column] = [i[column] for i in kept]
        return out

    def latest(self, institutions: list[str]) -> pd.DataFrame:
        """Latest reading of each meter of the institutions, with the meter's place
        (:data:`LATEST_PLACE`)."""
        meters = self.meters_of(institutions)
        if meters.empty:  # an institution without meters
            return self._with_meter_columns(pd.DataFrame(columns=LATEST_COLUMNS), LATEST_PLACE)
        with self.store() as store:
            latest = store.latest(meters=list(meters["meter"]),
                                  points=sorted(set(meters["point"].dropna())))
        return self._with_meter_columns(latest, LATEST_PLACE)

    def health(self, institutions: list[str] | None, since: datetime) -> pd.DataFrame:
        """The newest health record of each meter (of ``institutions``, or all) since ``since``:
        ``storage.base.HEALTH_COLUMNS``, one row per meter that has one."""
        meters = self.meters if institutions is None else self.meters_of(institutions)
        if meters.empty:
            return pd.DataFrame()
        with self.store() as store:
            newest_of = getattr(store, "latest_health", None)  # the rollups' one-row read
            health = newest_of(meters=list(meters["meter"])) if newest_of is not None else \
                store.read_health(since, None, meters=list(meters["meter"]))
        if health.empty or newest_of is not None:
            return health
        return health.sort_values("time", kind="stable").drop_duplicates("meter", keep="last")

    def hourly(self, institution: str, start: datetime, end: datetime,
               carrier: str = "electricity") -> pd.DataFrame:
        """Hourly consumption of one institution's main meters of ``carrier``: day, hour, quantity.

        Reads the store's hourly rollups (``hourly_counters``) when the store has them, else the
        raw counter readings of the (bounded) range.
        """
        meters = self._main_meters.get((institution, carrier), self.meters.iloc[0:0])
        if meters.empty:
            return pd.DataFrame(columns=["day", "hour", "quantity"])
        with self.store() as store:
            rollup = getattr(store, "hourly_counters", None)
            if rollup is None:
                raw = store.read_readings(start, end, meters=list(meters["meter"]),
                                          points=sorted(set(meters["point"].dropna())))
            else:
                hours = rollup(start, end, meters=list(meters["meter"]),
                               points=sorted(set(meters["point"].dropna())))
        if rollup is None:
            return hourly_table(raw[raw["quality"] == "good"], self.tz)
        return hourly_from_rollup(hours, self.tz)

    def daily(self, institutions: list[str], start: date, end: date) -> pd.DataFrame:
        """Daily counter aggregates of the institutions' meters in ``[start, end)`` (local days),
        with the meter's :data:`DAILY_PLACE`."""
        meters = self.meters_of(institutions)
        if meters.empty:  # an institution without meters
            return self._with_meter_columns(pd.DataFrame(columns=DAILY_COUNTER_COLUMNS),
                                            DAILY_PLACE)
        start_dt = datetime.combine(start, datetime.min.time(), self.tz)
        end_dt = datetime.combine(end, datetime.min.time(), self.tz)
        with self.store() as store:
            daily = store.daily_counters(start_dt, end_dt, meters=list(meters["meter"]),
                                         points=sorted(set(meters["point"].dropna())))
        return self._with_meter_columns(daily, DAILY_PLACE)

    def completeness(self, year: int, institutions: list[str]) -> pd.DataFrame:
        """Share of each institution's meters with readings, per day of ``year`` (cached)."""
        key = ("completeness", year, self.store_state())
        end = min(date(year + 1, 1, 1), datetime.now(self.tz).date() + timedelta(days=1))
        every = list(self.meters["institution_id"].unique())

        def compute() -> pd.DataFrame:
            daily = self.daily(every, date(year, 1, 1), end)
            return completeness_table(daily, self.meters, every, date(year, 1, 1), end)
        table = self._cached_or_stale(key, compute, same=2)
        return table[table.index.isin(institutions)]

    # -- ledgers and system ----------------------------------------------------------------------

    def ledger_table(self, kind: str) -> pd.DataFrame:
        """A whole ledger as stored, read once per ledger state (shared by every user: narrow it
        with :meth:`ledger`)."""
        return self._cached(("ledger", kind, self.ledger_state()),
                            lambda: LedgerStore(self.ledger_path()).table(kind))

    def ledger(self, kind: str, user: User) -> pd.DataFrame:
        """A ledger's rows that ``user`` may see (rows of other institutions are dropped)."""
        table = self.ledger_table(kind)
        if user.institutions is None:
            return table
        if "institution_id" in table.columns:
            return table[table["institution_id"].isin(user.institutions)]
        if kind == "fuel":  # fuel cards name a plate; the vehicles ledger names the institution
            vehicles = self.ledger_table("vehicles")
            plates = vehicles[vehicles["institution_id"].isin(user.institutions)]["plate"]
            return table[table["plate"].isin(plates)]
        return table.iloc[0:0]

    def system_status(self) -> dict[str, Any]:
        """Store, spool and collector figures for the system page."""
        status: dict[str, Any] = {"backend": self.settings.storage.backend,
                                  "meters": len(self.meters),
                                  "gateways": self.meters["gateway"].nunique()}
        if self.settings.storage.backend == "sqlite":
            path = self.settings.resolve(self.settings.storage.sqlite.path)
            status["store_path"] = str(path)
            status["store_bytes"] = sum(
                os.stat(str(path) + s).st_size for s in ("", "-wal")
                if os.path.exists(str(path) + s))
        spool = self.settings.resolve(self.settings.collector.spool_path)
        status["spool_path"] = str(spool)
        status["spool_bytes"] = spool.stat().st_size if spool.exists() else None
        status["spool_pending"] = spool_pending(spool)
        with self.store() as store:
            latest = store.latest()
        status["latest_write"] = latest["time"].max().to_pydatetime() if len(latest) else None
        status["series"] = len(latest)
        return status


def spool_pending(path: Path) -> int | None:
    """Readings waiting in the collector's spool (read-only), or None without a spool file."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")]
            table = next((t for t in tables if "reading" in t or "spool" in t), None)
            return int(conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]) if table \
                else None
        finally:
            conn.close()
    except sqlite3.Error:
        return None


def current_compounds(members: pd.DataFrame, institutions: frozenset[str] | set[str],
                      today: date) -> set[str]:
    """Compounds where one of ``institutions`` is a member on ``today`` (``from`` on or before
    it, ``until`` on or after it; a blank end is open)."""
    if members.empty:
        return set()
    day = pd.Timestamp(today)
    start = pd.to_datetime(members["from"], errors="coerce").dt.normalize()
    until = pd.to_datetime(members["until"], errors="coerce").dt.normalize()
    now = (start.isna() | (start <= day)) & (until.isna() | (until >= day))
    mine = members["institution_id"].astype(str).isin(institutions) & now
    return set(members.loc[mine, "compound_id"].astype(str))


def monthly_by_institution(monthly: pd.DataFrame) -> pd.DataFrame:
    """Institution × carrier × unit rows with the quantity of each month (columns 1–12; NaN when
    nothing was measured or billed) and the mean ``coverage`` of its months."""
    keys = ["institution_id", "carrier", "unit"]
    if monthly.empty:
        return pd.DataFrame(columns=[*keys, *range(1, 13), "coverage"])
    per_month = monthly.groupby([*keys, "month"])
    quantity = per_month["quantity"].sum(min_count=1).unstack("month") \
        .reindex(columns=range(1, 13))
    coverage = per_month["coverage"].mean().groupby(level=keys).mean()
    wide = quantity.assign(coverage=coverage).reset_index()
    wide.columns.name = None
    return wide.sort_values(keys, kind="stable").reset_index(drop=True)


def monthly_kg(monthly: pd.DataFrame, by: str) -> pd.DataFrame:
    """kgce and kgCO2 per institution × month × ``by`` (scope or carrier); NaN stays NaN."""
    keys = ["institution_id", "month", by]
    if monthly.empty:
        return pd.DataFrame(columns=[*keys, "kgce", "kgco2"])
    return monthly.groupby(keys, dropna=False)[["kgce", "kgco2"]].sum(min_count=1).reset_index()


def monthly_with_factors(consumption: pd.DataFrame, carriers: pd.DataFrame) -> pd.DataFrame:
    """The monthly consumption table with kgce, kgCO2 and scope from the year's factors."""
    keys = ["institution_id", "carrier", "unit", "use"]
    factors = carriers[[*keys, "kgce_per_unit", "kgco2_per_unit", "scope"]].copy()
    for key in keys:
        factors[key] = factors[key].astype(str)
    monthly = consumption.copy()
    for key in keys:
        monthly[key] = monthly[key].astype(str)
    monthly = monthly.merge(factors.drop_duplicates(keys), on=keys, how="left")
    monthly["quantity"] = pd.to_numeric(monthly["quantity"], errors="coerce")
    # a meter month with nothing measured is missing, not 0
    unmeasured = (monthly["source"].astype(str) == "meter") & \
        (pd.to_numeric(monthly["coverage"], errors="coerce").fillna(0) == 0) & \
        (monthly["quantity"].fillna(0) == 0)
    monthly.loc[unmeasured, "quantity"] = np.nan
    monthly["kgce"] = monthly["quantity"] * pd.to_numeric(monthly["kgce_per_unit"], errors="coerce")
    monthly["kgco2"] = monthly["quantity"] * pd.to_numeric(monthly["kgco2_per_unit"],
                                                           errors="coerce")
    if not pd.api.types.is_integer_dtype(monthly["month"]):
        monthly["month"] = pd.to_datetime(monthly["month"]).dt.month
    return monthly


def completeness_table(daily: pd.DataFrame, meters: pd.DataFrame, institutions: list[str],
                       start: date, end: date) -> pd.DataFrame:
    """Institution × day: the share of the institution's meters with at least one reading."""
    days = pd.date_range(start, end - timedelta(days=1), freq="D").date
    wanted = meters[meters["institution_id"].isin(institutions)]
    per_inst = wanted.groupby("institution_id")["meter"].nunique()
    if daily.empty or per_inst.empty:
        return pd.DataFrame(index=per_inst.index, columns=days, dtype=float)
    seen = daily[(daily["institution_id"].isin(institutions)) & (daily["n_readings"] > 0)]
    counts = seen.groupby(["institution_id", "day"])["meter"].nunique().unstack("day")
    counts = counts.reindex(index=per_inst.index, columns=days).fillna(0)
    return counts.div(per_inst, axis=0).astype(float)


def hourly_from_rollup(hours: pd.DataFrame, tz: Any) -> pd.DataFrame:
    """The store's hourly counter rollups (meter, point, hour, last_value, ...) as consumption
    per local day and hour summed over the meters.

    As :func:`hourly_table`: an hour's consumption is the rise of each meter's last reading from
    the hour before (so the step across the hour's start counts too); an hour without a
    reading, or after one, is missing.
    """
    if hours.empty:
        return pd.DataFrame(columns=["day", "hour", "quantity"])
    start = pd.DatetimeIndex(pd.to_datetime(hours["hour"]))
    start = start.tz_localize("UTC") if start.tz is None else start.tz_convert("UTC")
    hour_s = start.as_unit("s").asi8  # [s since 1970]
    value = pd.to_numeric(hours["last_value"], errors="coerce").to_numpy(dtype=float)
    meter = pd.factorize(hours["meter"])[0]
    known = ~np.isnan(value)
    hour_s, value, meter = hour_s[known], value[known], meter[known]
    order = np.lexsort((hour_s, meter))
    hour_s, value, meter = hour_s[order], value[order], meter[order]
    follows = (meter[1:] == meter[:-1]) & (np.diff(hour_s) == 3600)  # the hour before is known
    step = np.clip(np.diff(value), 0, None)[follows]
    bucket = hour_s[1:][follows]
    if not len(bucket):
        return pd.DataFrame(columns=["day", "hour", "quantity"])
    buckets, where = np.unique(bucket, return_inverse=True)
    quantity = np.bincount(where, weights=step)
    local = pd.DatetimeIndex(pd.to_datetime(buckets, unit="s", utc=True)).tz_convert(tz)
    return pd.DataFrame({"day": local.date, "hour": local.hour, "quantity": quantity})


def hourly_table(raw: pd.DataFrame, tz: Any) -> pd.DataFrame:
    """Consumption per local day and hour, summed over the meters: columns day, hour, quantity.

    Each hour's consumption is the rise of each meter's counter from its last reading of the
    hour before to its last reading in the hour (an hour without readings is missing, not 0).
    """
    if raw.empty:
        return pd.DataFrame(columns=["day", "hour", "quantity"])
    frame = pd.DataFrame({"meter": raw["meter"].to_numpy(), "time": raw["time"].to_numpy(),
                          "value": raw["value"].to_numpy(dtype=float),
                          "bucket": pd.DatetimeIndex(raw["time"]).tz_convert(tz).floor("h")})
    last = frame.sort_values("time").groupby(["meter", "bucket"])["value"].last().reset_index()
    last["step"] = last.groupby("meter")["value"].diff().clip(lower=0)
    last["gap"] = last.groupby("meter")["bucket"].diff()
    steps = last[(last["gap"] == pd.Timedelta(hours=1)) & last["step"].notna()]
    per_hour = steps.groupby("bucket")["step"].sum()
    index = pd.DatetimeIndex(per_hour.index)
    return pd.DataFrame({"day": index.date, "hour": index.hour,
                         "quantity": per_hour.to_numpy()})
