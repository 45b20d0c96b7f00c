"""The ``[dashboard]`` settings section, owned by the dashboard package."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from jieneng.vocabulary import HostName, SettingsSection

__all__ = ["DashboardSettings", "DashboardUser"]


class DashboardUser(SettingsSection):
    """``[[dashboard.users]]``: a person who may sign in."""

    name: str = Field(min_length=1)
    role: Literal["manager", "officer", "leader", "admin"]
    password_env: str = Field(min_length=1, description="Env variable holding the password.")


class DashboardSettings(SettingsSection):
    """``[dashboard]``."""

    host: HostName = "127.0.0.1"
    port: int = Field(8050, strict=True, ge=1, le=65535)
    language: Literal["zh", "en"] = "zh"
    users: list[DashboardUser] = Field(default_factory=list)


