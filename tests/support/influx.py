"""A real ``influxd`` (Debian's influxdb package, 1.x) for the tests.

The server runs on free loopback ports with a temporary config and data directory, is waited on
through ``/ping``, and is stopped and removed after the session. ``stop()`` and ``start()`` let a test
take the server away mid-write and bring it back with the same data.

Fixtures
--------
influxd
    Session-scoped :class:`InfluxServer` (``.url``, ``.port``, ``.data_dir``, ``.stop()``,
    ``.start()``, ``.query(q, db=None)``).
influx_database
    A fresh, uniquely named database on that server, dropped after the test.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support.services import free_port, require_program

CONFIG_TEMPLATE = """\
reporting-enabled = false
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root}/meta"
  logging-enabled = false

[data]
  dir = "{root}/data"
  wal-dir = "{root}/wal"
  query-log-enabled = false
  trace-logging-enabled = false

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  max-body-size = 0

[continuous_queries]
  enabled = false

[logging]
  level = "warn"
"""


class InfluxServer:
    """One ``influxd`` process with its own config, ports and data directory."""

    def __init__(self, binary: str, root: Path):
        self.binary = binary
        self.root = root
        self.port = free_port()
        self.rpc_port = free_port()
        self.data_dir = root
        self.config_path = root / "influxdb.conf"
        self.config_path.write_text(
            CONFIG_TEMPLATE.format(root=root, http_port=self.port, rpc_port=self.rpc_port)
        )
        self.log_path = root / "influxd.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        """Start the server and wait until ``/ping`` answers 204."""
        if self.process is not None and self.process.poll() is None:
            return
        with self.log_path.open("ab") as log:  # influxd keeps its own copy of the file
            self.process = subprocess.Popen(
                [self.binary, "run", "-config", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"influxd exited with {self.process.returncode}; log {self.log_path}:\n"
                    + self.log_path.read_text(errors="replace")[-2000:]
                )
            try:
                if requests.get(f"{self.url}/ping", timeout=0.5).status_code == 204:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"influxd did not answer /ping on {self.url} within {timeout_s} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s); the data directory stays."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self.process is not None and self.process.poll() is None

    def query(self, q: str, db: str | None = None) -> dict:
        """Run an InfluxQL statement through ``/query`` (POST) and return the JSON answer."""
        params = {"q": q}
        if db:
            params["db"] = db
        response = requests.post(f"{self.url}/query", params=params, timeout=10)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def influxd() -> Iterator[InfluxServer]:
    """A real influxd on a free loopback port, for the whole test session."""
    binary = require_program("influxd", "influxdb")
    with tempfile.TemporaryDirectory(prefix="jieneng-influxd-") as tmp:
        server = InfluxServer(binary, Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def influx_database(influxd: InfluxServer) -> Iterator[str]:
    """A fresh database name on the session's influxd; created, and dropped after the test."""
    influxd.start()  # a previous test may have stopped it
    name = f"test_{uuid.uuid4().hex[:12]}"
    influxd.query(f'CREATE DATABASE "{name}"')
    yield name
    if influxd.running:
        influxd.query(f'DROP DATABASE "{name}"')
