"""``jieneng store ACTION --config FILE``: maintenance of the time-series store.

``rebuild-rollups [--from DATE]`` recomputes the hourly and daily rollups from the raw readings
(:meth:`storage.base.TimeSeriesStore.rebuild_rollups`): once for a database written before
rollups existed (opening one says so), or after a fault left rollups behind their raw readings.

Exit status (:class:`jieneng.vocabulary.ExitCode`): 0 (``ok``) when rebuilt; 4 (``unavailable``)
when the store cannot be reached; 1 (``failed``) when the store refuses the work.
"""

from __future__ import annotations

import argparse
import sys

from jieneng.vocabulary import ExitCode
from storage import open_store
from storage.errors import StorageError, StoreUnavailable
from storage.settings import StorageConfig

__all__ = ["rebuild_rollups_main"]


def rebuild_rollups_main(args: argparse.Namespace, settings: StorageConfig) -> int:
    """Rebuild the rollups of the configured store from its raw readings.

    Parameters
    ----------
    args
        ``from_date``: the first local day to rebuild (a :class:`datetime.date`), or None for
        every day whose raw readings are kept.
    settings
        The ``[site]`` zone (which cuts hours and days) and the ``[storage]`` section.

    Returns
    -------
    int
        An :class:`~jieneng.vocabulary.ExitCode`, see this module's docstring.
    """
    since = getattr(args, "from_date", None)
    where = settings.source or "the settings"
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        print(f"{where}: cannot open the store: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    except StorageError as exc:
        print(f"{where}: cannot open the store: {exc}", file=sys.stderr)
        return ExitCode.failed
    try:
        days = store.rebuild_rollups(since)
    except StoreUnavailable as exc:
        print(f"{where}: rebuilding the rollups failed, the store is unavailable: {exc}\n"
              "Run the same command again once the store is back.", file=sys.stderr)
        return ExitCode.unavailable
    except StorageError as exc:
        print(f"{where}: rebuilding the rollups failed: {exc}", file=sys.stderr)
        return ExitCode.failed
    finally:
        store.close()
    start = f" from {since.isoformat()}" if since else ""
    print(f"{where}: rebuilt the rollups of the {settings.storage.backend} store{start}: "
          f"{days} meter-day(s)")
    return ExitCode.ok
