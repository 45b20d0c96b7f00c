"""``jieneng import readings FILE --config FILE``: backfill history from another platform.

It lives with the collectors because a file may only hold the points of each meter's register
map, which the collectors own; the parsing and checks of a row are storage's
(:mod:`storage.importer`).

Exit status (:class:`jieneng.vocabulary.ExitCode`): 0 (``ok``) when every reading was imported;
2 (``bad_input``) when the file has bad rows (all listed, nothing written) or a meter's register map
cannot be loaded; 4 (``unavailable``) when the store cannot be reached or fails part-way (the rows
written so far stay; running the same import again completes it, because writes are idempotent);
1 (``failed``) when the store cannot be opened for another reason or rejects the data.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from collectors.registermap import RegisterMapError, get_register_map
from collectors.settings import CollectorConfig
from jieneng.vocabulary import ExitCode, PointKind
from storage import open_store
from storage.errors import StorageError, StoreUnavailable
from storage.importer import iter_frames, validate_readings_file

__all__ = ["BrokenRegisterMap", "counters_lookup", "import_readings_main", "points_lookup"]

#: Rows per ``write_frame`` call. [readings]
BATCH = 20_000


class BrokenRegisterMap(Exception):
    """A configured meter's register map cannot be loaded, so its points cannot be checked.

    The message is one line: the settings file, the meter, the map (file or model) and every
    problem found in it.
    """


def points_lookup(settings: CollectorConfig) -> Callable[[str], frozenset[str]]:
    """Meter id → the point names of its register map, every map loaded (and checked) now.

    Parameters
    ----------
    settings
        The meters with their models, and ``[collector].register_map_dirs``.

    Returns
    -------
    Callable[[str], frozenset[str]]
        The lookup :func:`storage.importer.validate_readings_file` takes.

    Raises
    ------
    BrokenRegisterMap
        When a meter's map is missing or invalid (a user's map with a syntax error, overlapping
        points, ...): the import cannot check its points, so it must not go on without.
    """
    return _lookup(settings, counters=False)


def counters_lookup(settings: CollectorConfig) -> Callable[[str], frozenset[str]]:
    """Meter id → the names of its register map's counter points (``kind = "counter"``).

    Parameters
    ----------
    settings
        The meters with their models, and ``[collector].register_map_dirs``.

    Returns
    -------
    Callable[[str], frozenset[str]]
        The lookup :func:`storage.importer.validate_readings_file` takes as ``counters_of``.

    Raises
    ------
    BrokenRegisterMap
        When a meter's map is missing or invalid.
    """
    return _lookup(settings, counters=True)


def _lookup(settings: CollectorConfig, counters: bool) -> Callable[[str], frozenset[str]]:
    dirs = [settings.resolve(p) for p in settings.collector.register_map_dirs]
    by_model: dict[str, frozenset[str]] = {}
    by_meter: dict[str, frozenset[str]] = {}
    for meter in settings.meters:
        if meter.model not in by_model:
            try:
                regmap = get_register_map(meter.model, dirs)
            except (RegisterMapError, OSError) as exc:
                raise BrokenRegisterMap(_one_line(settings, meter.id, meter.model, exc)) from exc
            by_model[meter.model] = frozenset(
                p.name for p in regmap.points if not counters or p.kind == PointKind.counter)
        by_meter[meter.id] = by_model[meter.model]
    return by_meter.__getitem__


def _one_line(settings: CollectorConfig, meter: str, model: str, exc: Exception) -> str:
    """Return ``settings: meter 'm1': register map FILE: problem; problem`` on one line."""
    if isinstance(exc, RegisterMapError):
        where, problems = exc.where, exc.problems
    else:
        where, problems = f"register map {model!r}", [str(exc)]
    what = "; ".join(" ".join(p.split()) for p in problems)
    source = settings.source or "the settings"
    return f"{source}: meter {meter!r}: {where}: {what}"


def import_readings_main(args: argparse.Namespace, settings: CollectorConfig) -> int:
    """Validate the whole file, then write it in batches with progress on stderr.

    Parameters
    ----------
    args
        ``file``: the CSV file to import.
    settings
        The meters (and their register maps) and the store.

    Returns
    -------
    int
        An :class:`~jieneng.vocabulary.ExitCode`, see this module's docstring.
    """
    path = args.file
    meters = {m.id for m in settings.meters}
    try:
        points_of = points_lookup(settings)
        counters_of = counters_lookup(settings)
    except BrokenRegisterMap as exc:
        print(f"{path}: nothing was imported: {exc}", file=sys.stderr)
        return ExitCode.bad_input
    try:
        total, problems = validate_readings_file(path, meters, points_of, counters_of)
    except KeyboardInterrupt:
        print(f"{path}: interrupted (Ctrl-C) while checking the file; nothing was imported",
              file=sys.stderr)
        return ExitCode.interrupted
    if problems:
        print(f"{path}: {len(problems)} problem(s); nothing was imported", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return ExitCode.bad_input
    written = 0
    try:
        store = open_store(settings)
    except StoreUnavailable as exc:
        print(f"{path}: cannot open the store: {exc}", file=sys.stderr)
        return ExitCode.unavailable
    except StorageError as exc:  # [storage] that names no usable store, a refused database, ...
        print(f"{path}: cannot open the store: {exc}", file=sys.stderr)
        return ExitCode.failed
    try:
        for frame in iter_frames(path, meters, points_of, BATCH):
            written += store.write_frame(frame)
            print(f"imported {written}/{total} readings ({100 * written // max(total, 1)}%)",
                  file=sys.stderr, flush=True)
    except StoreUnavailable as exc:
        print(f"{path}: the store failed after {written} of {total} readings: {exc}\n"
              "Writes are idempotent: run the same import again to complete it.", file=sys.stderr)
        return ExitCode.unavailable
    except StorageError as exc:  # the store rejected the data itself
        print(f"{path}: the store rejected the readings after {written} of {total}: {exc}",
              file=sys.stderr)
        return ExitCode.failed
    except KeyboardInterrupt:
        what = ("nothing was imported" if written == 0 else
                f"{written} of {total} readings were imported")
        print(f"{path}: interrupted (Ctrl-C); {what}. Writes are idempotent: run the same "
              "import again to complete it.", file=sys.stderr)
        return ExitCode.interrupted
    finally:
        store.close()
    print(f"{path}: imported {written} readings into the {settings.storage.backend} store")
    return ExitCode.ok
