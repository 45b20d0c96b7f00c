"""``jieneng dashboard`` (serve with waitress) and ``jieneng dashboard hash-password``."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from typing import Any

import waitress

from dashboard.app import create_app
from dashboard.auth import AuthError, hash_password
from jieneng.vocabulary import ExitCode

__all__ = ["dashboard_main", "hash_password_main"]

log = logging.getLogger("dashboard")


def hash_password_main(args: argparse.Namespace, settings: Any = None) -> int:
    """Read a password (twice, hidden; or one line from a pipe) and print its argon2 hash."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            first = getpass.getpass("password: ")
            if first != getpass.getpass("again: "):
                print("jieneng dashboard hash-password: the two passwords differ",
                      file=sys.stderr)
                return ExitCode.bad_input
        else:
            first = sys.stdin.readline().rstrip("\n") if sys.stdin is not None else ""
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        print(f"jieneng dashboard hash-password: cannot read a password from standard input: "
              f"{exc}", file=sys.stderr)
        return ExitCode.bad_input
    if not first:
        print("jieneng dashboard hash-password: empty password", file=sys.stderr)
        return ExitCode.bad_input
    print(hash_password(first))
    return 0


def dashboard_main(args: argparse.Namespace, settings: Any) -> int:
    """Serve the dashboard with waitress on ``[dashboard] host:port`` (or --host/--port)."""
    host = getattr(args, "host", None) or settings.dashboard.host
    port = getattr(args, "port", None) or settings.dashboard.port
    if not settings.dashboard.users:
        print(f"jieneng dashboard: {settings.source}: no [[dashboard.users]]; add at least one "
              "user (name, role, password_env)", file=sys.stderr)
        return ExitCode.bad_input
    try:
        app = create_app(settings)
    except AuthError as exc:
        print(f"jieneng dashboard: {exc}", file=sys.stderr)
        return ExitCode.bad_input
    log.info("dashboard on http://%s:%d (%d user(s))", host, port, len(settings.dashboard.users))
    print(f"dashboard: http://{host}:{port}", flush=True)
    waitress.serve(app.server, host=host, port=port, threads=8, ident="jieneng",
                   clear_untrusted_proxy_headers=True)
    return 0
