"""A null-modem cable made of two pseudo-terminals, for Modbus RTU without hardware.

Two ``os.openpty()`` pairs give two serial device paths (``/dev/pts/N``); a small thread copies the
bytes between the two master sides, as a crossed cable between two serial ports would. A Modbus RTU
server opens :attr:`NullModem.server_port`, a client opens :attr:`NullModem.client_port`.
"""

from __future__ import annotations

import os
import select
import threading
import tty

__all__ = ["NullModem"]


class NullModem:
    """Two connected pseudo-terminals; use as a context manager or call :meth:`close`."""

    def __init__(self) -> None:
        self._master_a, self._slave_a = os.openpty()
        self._master_b, self._slave_b = os.openpty()
        for fd in (self._slave_a, self._slave_b):
            tty.setraw(fd)  # no echo, no line editing before pyserial configures the port
        self.server_port = os.ttyname(self._slave_a)
        self.client_port = os.ttyname(self._slave_b)
        self._wake_r, self._wake_w = os.pipe()
        self.bytes_copied = 0
        self._thread: threading.Thread | None = threading.Thread(
            target=self._copy, name="null-modem", daemon=True
        )
        self._thread.start()

    def _copy(self) -> None:
        other = {self._master_a: self._master_b, self._master_b: self._master_a}
        while True:
            readable, _, _ = select.select([self._master_a, self._master_b, self._wake_r], [], [])
            if self._wake_r in readable:
                return
            for fd in readable:
                try:
                    data = os.read(fd, 4096)
                except OSError:  # the far side is not open at the moment
                    continue
                if data:
                    os.write(other[fd], data)
                    self.bytes_copied += len(data)

    def close(self) -> None:
        """Stop copying and close every file descriptor (idempotent)."""
        if self._thread is None:
            return
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        self._thread = None
        for fd in (self._master_a, self._slave_a, self._master_b, self._slave_b,
                   self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> NullModem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
