"""A disk cache of fitted series, keyed by a hash of the series' inputs and settings.

The key (:func:`task_key`) hashes everything a :class:`~forecasting.task.SeriesTask` holds (the
values, the regressors, the days predicted, the samples, the backtest settings) and the versions of
this package's model code and of Prophet, so an unchanged series is read back instead of refitted
and a changed one (a new day of data, a setting) is fitted again. Entries are pickles written
atomically (a temporary file renamed).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import pickle
import tempfile
from pathlib import Path

import pandas as pd

from forecasting.task import SeriesOutput, SeriesTask

__all__ = ["CACHE_VERSION", "ForecastCache", "task_key"]

#: Bumped when the model code changes what a task returns.
CACHE_VERSION = "1"


def _prophet_version() -> str:
    try:
        return importlib.metadata.version("prophet")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover
        return "?"


def task_key(task: SeriesTask) -> str:
    """SHA-256 of the task's inputs and settings (hex)."""
    h = hashlib.sha256()
    h.update(f"{CACHE_VERSION}|{_prophet_version()}|{task.key}|{task.frequency}|"
             f"{task.regressors}|{task.samples}|{task.min_history_days}|{task.horizons}|"
             f"{task.cutoffs}|{task.changepoint_prior_scale}|{task.min_ratio_sigma}".encode())
    h.update(pd.util.hash_pandas_object(task.frame, index=False).to_numpy().tobytes())
    for index in (task.display, task.predict):
        h.update(index.asi8.tobytes())
    for array in (task.previous, task.current):
        if array is not None:
            h.update(array.tobytes())
    return h.hexdigest()


class ForecastCache:
    """Fitted series on disk.

    Parameters
    ----------
    folder
        Where the entries live (created when needed); None: a cache that keeps nothing.
    """

    def __init__(self, folder: Path | None):
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def path(self, key: str) -> Path | None:
        """The entry's file (None without a folder)."""
        return None if self.folder is None else self.folder / f"{key[:2]}" / f"{key}.pkl"

    def get(self, key: str) -> SeriesOutput | None:
        """The cached output, or None (a missing or unreadable entry is a miss)."""
        path = self.path(key)
        if path is None or not path.is_file():
            self.misses += 1
            return None
        try:
            with path.open("rb") as fh:
                out = pickle.load(fh)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        return out if isinstance(out, SeriesOutput) else None

    def put(self, key: str, output: SeriesOutput) -> None:
        """Store an output (atomically)."""
        path = self.path(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(output, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
