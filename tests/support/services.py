"""How a test reacts to a missing external program: skip locally, fail in CI."""

from __future__ import annotations

import os
import shutil
import socket

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_program(name: str, package: str) -> str:
    """Path of ``name``; skip the test when it is missing, or fail when running in CI."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: install Debian's {package} (./run test does so as root)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
