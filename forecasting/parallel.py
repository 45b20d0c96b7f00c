"""Run the series' tasks: serially, on a pool of processes, or on a Dask distributed cluster.

``[forecasting] executor``:

``processes`` (default)
    :class:`concurrent.futures.ProcessPoolExecutor` with ``workers`` processes (0 = one per
    core);
``serial``
    in this process (tests, debugging);
``dask``
    a ``distributed.Client`` on ``scheduler_address``, or on a ``LocalCluster`` of ``workers``
    single-threaded processes when the address is empty.

Results come back in the order of the tasks and are identical whichever executor ran them
(:mod:`forecasting.task`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from forecasting.task import SeriesOutput, SeriesTask, run_task

__all__ = ["Progress", "run_tasks"]

#: ``progress(done, total)``.
Progress = Callable[[int, int], None]


def _workers(workers: int) -> int:
    return workers if workers > 0 else (os.cpu_count() or 1)


def run_tasks(tasks: Sequence[SeriesTask], executor: str = "processes", workers: int = 0,
              scheduler_address: str = "", progress: Progress | None = None,
              client: Any = None) -> list[SeriesOutput]:
    """Run every task; outputs in the tasks' order.

    Parameters
    ----------
    executor
        "processes", "serial" or "dask".
    workers
        Processes (0: one per core).
    scheduler_address
        Dask scheduler (``tcp://host:8786``); empty: a local cluster.
    progress
        Called with (done, total) after each task.
    client
        An existing ``distributed.Client`` to use (executor "dask").
    """
    total = len(tasks)
    tick = progress or (lambda _done, _total: None)
    if total == 0:
        return []
    if executor == "serial" or (executor == "processes" and (_workers(workers) == 1
                                                             or total == 1)):
        outputs = []
        for i, task in enumerate(tasks, start=1):
            outputs.append(run_task(task))
            tick(i, total)
        return outputs
    if executor == "dask":
        return _run_dask(tasks, workers, scheduler_address, tick, client)
    results: list[SeriesOutput | None] = [None] * total
    with ProcessPoolExecutor(max_workers=min(_workers(workers), total)) as pool:
        futures = {pool.submit(run_task, task): i for i, task in enumerate(tasks)}
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            tick(done, total)
    return [r for r in results if r is not None]


def _run_dask(tasks: Sequence[SeriesTask], workers: int, address: str, tick: Progress,
              client: Any) -> list[SeriesOutput]:
    import distributed  # optional at import time: only the dask executor needs it

    own_client = client is None
    cluster = None
    if own_client:
        if address:
            client = distributed.Client(address)
        else:
            cluster = distributed.LocalCluster(n_workers=_workers(workers), threads_per_worker=1,
                                               processes=True, dashboard_address=None)
            client = distributed.Client(cluster)
    try:
        futures = client.map(run_task, list(tasks), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[SeriesOutput | None] = [None] * len(tasks)
        for done, future in enumerate(distributed.as_completed(futures), start=1):
            results[index[future.key]] = future.result()
            tick(done, len(tasks))
        return [r for r in results if r is not None]
    finally:
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
