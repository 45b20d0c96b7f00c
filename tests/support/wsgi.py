"""A WSGI app served by waitress in a thread, stopped without racing its event loop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import waitress
from waitress import wasyncore

from tests.support.services import free_port


@contextmanager
def waitress_thread(app: Any, threads: int = 4) -> Iterator[tuple[str, Any]]:
    """Serve ``app`` on a free loopback port in a daemon thread; yields (url, server).

    On exit every socket of the server (the listener and each open connection, kept alive by a
    client's session) is closed *in the server's own event-loop thread*, through waitress's
    trigger, and the thread is joined. Closing them from the test's thread instead (as
    ``server.close()`` does for the listener alone) races the loop's ``select`` on a file
    descriptor just closed (``EBADF`` in the server thread) and leaves connection sockets for the
    garbage collector (``ResourceWarning``); with warnings as errors either fails a later test.
    """
    server = waitress.create_server(app, host="127.0.0.1", port=free_port(), threads=threads)
    thread = threading.Thread(target=server.run, daemon=True, name="waitress")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", server
    finally:
        server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
        thread.join(timeout=10)
        server.task_dispatcher.shutdown(timeout=10)
