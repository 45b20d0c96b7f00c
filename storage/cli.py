"""``jieneng import readings FILE --config FILE``: backfill history from another platform."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from functools import cache

from collectors.settings import CollectorConfig
from storage import open_store
from storage.errors import StorageError, StoreUnavailable
from storage.importer import iter_readings, validate_readings_file

__all__ = ["EXIT_BAD_INPUT", "EXIT_STORE", "import_readings_main"]

EXIT_BAD_INPUT = 1
EXIT_STORE = 4
BATCH = 20_000


def _points_lookup(settings: CollectorConfig) -> Callable[[str], frozenset[str] | None]:
    """meter id -> point names of its register map, or None when the map cannot be loaded."""
    models = {m.id: m.model for m in settings.meters}
    dirs = [settings.resolve(p) for p in settings.collector.register_map_dirs]

    @cache
    def points_of_model(model: str) -> frozenset[str] | None:
        try:
            from collectors.registermap import get_register_map

            return frozenset(p.name for p in get_register_map(model, dirs).points)
        except Exception:  # the map library is another package's; without it, accept any point
            return None

    return lambda meter: points_of_model(models[meter])


def import_readings_main(args: argparse.Namespace, settings: CollectorConfig) -> int:
    """Validate the whole file, then write it in batches with progress on stderr.

    Returns 0 on success, 1 when the file has bad rows (all listed, nothing written), 4 when the
    store fails part-way (the rows written so far stay; running the same import again completes
    it, because writes are idempotent).
    """
    path = args.file
    meters = {m.id for m in settings.meters}
    points_of = _points_lookup(settings)
    total, problems = validate_readings_file(path, meters, points_of)
    if problems:
        print(f"{path}: {len(problems)} problem(s); nothing was imported", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    written = 0
    try:
        store = open_store(settings)
    except StorageError as exc:
        print(f"{path}: cannot open the store: {exc}", file=sys.stderr)
        return EXIT_STORE
    try:
        readings = iter_readings(path, meters, points_of)
        while batch := list(itertools.islice(readings, BATCH)):
            written += store.write_readings(batch)
            print(f"imported {written}/{total} readings ({100 * written // max(total, 1)}%)",
                  file=sys.stderr, flush=True)
    except StoreUnavailable as exc:
        print(f"{path}: the store failed after {written} of {total} readings: {exc}\n"
              "Writes are idempotent: run the same import again to complete it.", file=sys.stderr)
        return EXIT_STORE
    finally:
        store.close()
    print(f"{path}: imported {written} readings into the {settings.storage.backend} store")
    return 0
