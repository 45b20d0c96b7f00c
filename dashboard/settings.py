"""The ``[dashboard]`` settings section, owned by the dashboard package.

Passwords never live in the file: each user names the environment variable that holds either an
argon2 hash (``jieneng dashboard hash-password`` prints one) or a plain password, which is hashed
when the dashboard starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from jieneng.vocabulary import HostName, SettingsSection

__all__ = ["ROLES", "DashboardSettings", "DashboardUser", "Role"]

#: Who may sign in: building manager, energy officer, leader, administrator.
Role = Literal["manager", "officer", "leader", "admin"]
ROLES: tuple[str, ...] = ("manager", "officer", "leader", "admin")


class DashboardUser(SettingsSection):
    """``[[dashboard.users]]``: a person who may sign in.

    Attributes
    ----------
    name
        The sign-in name.
    role
        ``manager`` (only ``institutions``), ``officer`` (every institution, uploads ledgers and
        downloads the workbook), ``leader`` (every institution, read only), ``admin`` (everything
        and the system page).
    institutions
        Institution ids a manager sees (required for a manager, ignored for the other roles).
    password_env
        Environment variable holding an argon2 hash (``$argon2id$...``) or a plain password.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.@-]+$")
    role: Role
    institutions: list[str] = Field(default_factory=list)
    password_env: str = Field(min_length=1, description="Env variable holding the password.")

    @model_validator(mode="after")
    def _manager_has_institutions(self) -> DashboardUser:
        if self.role == "manager" and not self.institutions:
            raise ValueError(f"user {self.name!r} is a manager: list the institution ids they "
                             "manage in institutions = [...]")
        return self


class DashboardSettings(SettingsSection):
    """``[dashboard]``.

    Attributes
    ----------
    host, port
        Where waitress listens (127.0.0.1 unless configured).
    language
        The default language of the pages (``zh`` or ``en``); each person can switch.
    session_lifetime_s
        How long a sign-in lasts. [s]
    secret_key_env
        Environment variable holding the key that signs the session cookie; when unset a random
        key is made at each start (which signs everyone out on restart).
    max_failed_logins
        Failed sign-ins allowed per address and name within ``lockout_s`` before refusing.
    lockout_s
        The window of the sign-in rate limit. [s]
    users
        Who may sign in.
    """

    host: HostName = "127.0.0.1"
    port: int = Field(8050, strict=True, ge=1, le=65535)
    language: Literal["zh", "en"] = "zh"
    session_lifetime_s: int = Field(8 * 3600, strict=True, ge=60)
    secret_key_env: str | None = None
    max_failed_logins: int = Field(5, strict=True, ge=1)
    lockout_s: float = Field(300.0, strict=True, gt=0)
    users: list[DashboardUser] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> DashboardSettings:
        names = [u.name for u in self.users]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"user names must be unique; defined twice: {', '.join(twice)}")
        return self
