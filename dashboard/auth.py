"""Sign-in: users from ``[[dashboard.users]]``, argon2 passwords, a rate limit, and the guard.

Nothing but the sign-in page is served before sign-in: :func:`install_auth` registers a Flask
``before_request`` hook that answers 401 to Dash's own routes (``/_dash-layout``,
``/_dash-update-component``, ...) and to downloads, and redirects every other page to ``/login``.
The session cookie is signed, HttpOnly and SameSite=Lax; it holds the user's name and when they
signed in, and the user's role and institutions are read from the settings on every request, so a
role changed in the file applies at the next start.
"""

from __future__ import annotations

import html
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import flask
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from dashboard.i18n import t
from dashboard.settings import DashboardSettings

__all__ = [
    "AuthError",
    "RateLimiter",
    "User",
    "current_user",
    "hash_password",
    "install_auth",
    "load_users",
    "verify_password",
]

log = logging.getLogger("dashboard.auth")
_HASHER = PasswordHasher()
#: Paths served before sign-in: the sign-in page and its stylesheet.
PUBLIC_PATHS = ("/login", "/logout", "/assets/bootstrap.min.css", "/favicon.ico")


class AuthError(Exception):
    """A user's password cannot be loaded (one line: which user, which variable, why)."""


@dataclass(frozen=True)
class User:
    """A person who may sign in.

    Attributes
    ----------
    name, role
        As in the settings.
    institutions
        The institution ids a manager sees; None for every institution (the other roles).
    password_hash
        argon2 hash.
    """

    name: str
    role: str
    institutions: frozenset[str] | None
    password_hash: str

    @property
    def can_upload(self) -> bool:
        """Officers and admins import ledgers."""
        return self.role in ("officer", "admin")

    @property
    def can_download(self) -> bool:
        """Officers, leaders and admins download the workbook (it names every institution)."""
        return self.role in ("officer", "leader", "admin")

    def sees(self, institution: str) -> bool:
        """True when this user may see the institution's own figures."""
        return self.institutions is None or institution in self.institutions


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (to paste into the variable ``password_env`` names)."""
    if not password:
        raise ValueError("an empty password cannot be hashed")
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches the argon2 hash."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def load_users(settings: DashboardSettings, env: Mapping[str, str] | None = None) -> dict[str, User]:
    """The users of the settings with their hashes; plain passwords are hashed here.

    Raises
    ------
    AuthError
        A user's variable is unset or empty.
    """
    env = os.environ if env is None else env
    users = {}
    for entry in settings.users:
        secret = env.get(entry.password_env, "")
        if not secret:
            raise AuthError(f"[[dashboard.users]] {entry.name!r}: environment variable "
                            f"{entry.password_env} is unset or empty; set it to a password or "
                            "to the hash `jieneng dashboard hash-password` prints")
        hashed = secret if secret.startswith("$argon2") else hash_password(secret)
        institutions = frozenset(entry.institutions) if entry.role == "manager" else None
        users[entry.name] = User(entry.name, entry.role, institutions, hashed)
    return users


class RateLimiter:
    """At most ``max_failures`` failed sign-ins per key within ``window_s`` seconds.

    Keys are the client address and the (address, name) pair, so guessing one name's password
    and trying many names from one address are both slowed down.
    """

    def __init__(self, max_failures: int = 5, window_s: float = 300.0):
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> float:
        """Seconds until a key may try again; 0 when none is blocked."""
        now = time.monotonic()
        with self._lock:
            waits = [self.window_s - (now - times[0]) for key in keys
                     if len(times := self._recent(key, now)) >= self.max_failures]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        """Record a failed sign-in for each key."""
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of the keys (a successful sign-in)."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


def current_user() -> User | None:
    """The signed-in user of the current request, or None."""
    return flask.g.get("user")


def _login_page(lang: str, message: str = "", status: int = 200) -> flask.Response:
    other = "en" if lang == "zh" else "zh"
    body = f"""<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{html.escape(t('app.title', lang))}</title>
<link rel="stylesheet" href="/assets/bootstrap.min.css"></head>
<body class="bg-light"><main class="container" style="max-width:420px;margin-top:10vh">
<div class="card shadow-sm"><div class="card-body">
<h1 class="h4 mb-3" id="login-title">{html.escape(t('app.title', lang))}</h1>
<p class="text-muted">{html.escape(t('login.intro', lang))}</p>
{f'<div class="alert alert-danger" id="login-error">{html.escape(message)}</div>' if message else ''}
<form method="post" action="/login?lang={lang}">
<div class="mb-3"><label class="form-label" for="username">{html.escape(t('login.name', lang))}</label>
<input class="form-control" id="username" name="username" autocomplete="username" required></div>
<div class="mb-3"><label class="form-label" for="password">{html.escape(t('login.password', lang))}</label>
<input class="form-control" id="password" name="password" type="password"
 autocomplete="current-password" required></div>
<button class="btn btn-primary w-100" id="login-submit" type="submit">
{html.escape(t('login.submit', lang))}</button>
</form>
<p class="mt-3 mb-0 small"><a href="/login?lang={other}" id="login-lang">
{html.escape(t('lang.switch', lang))}</a></p>
</div></div></main></body></html>"""
    response = flask.make_response(body, status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def install_auth(server: flask.Flask, users: Mapping[str, User], settings: DashboardSettings,
                 limiter: RateLimiter | None = None, secret_key: str | None = None) -> None:
    """Guard ``server``: the sign-in routes, the session cookie and the before-request check.

    Parameters
    ----------
    server
        The Flask server of the Dash app.
    users
        :func:`load_users`.
    settings
        ``[dashboard]``: session lifetime, rate limit, default language, secret key variable.
    limiter
        The sign-in rate limit (one per server by default).
    secret_key
        The cookie signing key; from ``settings.secret_key_env`` or random when None.
    """
    limiter = limiter or RateLimiter(settings.max_failed_logins, settings.lockout_s)
    if secret_key is None:
        secret_key = os.environ.get(settings.secret_key_env or "", "")
        if not secret_key:
            secret_key = secrets.token_hex(32)
            log.warning("no secret key (%s unset): a random key was made; everyone is signed out "
                        "when the dashboard restarts", settings.secret_key_env or "secret_key_env")
    server.secret_key = secret_key
    server.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="jieneng_session",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings.session_lifetime_s),
    )
    default_lang = settings.language

    def lang_of_request() -> str:
        lang = flask.request.args.get("lang") or flask.request.cookies.get("jieneng_lang")
        return lang if lang in ("zh", "en") else default_lang

    @server.before_request
    def _guard() -> flask.Response | None:
        flask.g.user = None
        name = flask.session.get("user")
        started = flask.session.get("since", 0.0)
        if name in users and time.time() - float(started) <= settings.session_lifetime_s:
            flask.g.user = users[name]
            return None
        path = flask.request.path
        if path in PUBLIC_PATHS:
            return None
        if path.startswith("/_dash") or path.startswith("/download"):
            return flask.Response('{"error": "sign in first"}', 401,
                                  content_type="application/json")
        return flask.redirect("/login")

    @server.route("/login", methods=["GET", "POST"])
    def _login() -> flask.Response:
        lang = lang_of_request()
        if flask.request.method == "GET":
            return _login_page(lang)
        name = flask.request.form.get("username", "").strip()
        password = flask.request.form.get("password", "")
        address = flask.request.remote_addr or "?"
        keys = (f"addr:{address}", f"user:{address}:{name}")
        wait = limiter.blocked(*keys)
        if wait > 0:
            log.warning("sign-in refused for %r from %s: rate limited", name, address)
            return _login_page(lang, t("login.limited", lang, seconds=int(wait) + 1), 429)
        user = users.get(name)
        if user is None or not verify_password(user.password_hash, password):
            limiter.failed(*keys)
            log.info("failed sign-in for %r from %s", name, address)
            return _login_page(lang, t("login.failed", lang), 401)
        limiter.succeeded(keys[1])
        flask.session.clear()
        flask.session.permanent = True
        flask.session["user"] = user.name
        flask.session["since"] = time.time()
        log.info("%s (%s) signed in from %s", user.name, user.role, address)
        response = flask.redirect("/")
        response.set_cookie("jieneng_lang", lang, samesite="Lax", httponly=True,
                            max_age=settings.session_lifetime_s)
        return response

    @server.route("/logout")
    def _logout() -> flask.Response:
        flask.session.clear()
        return flask.redirect("/login")
