"""Settings sections owned by storage: ``[site]`` (the time zone that cuts days) and ``[storage]``.

``jieneng/settings.py`` composes these sections with the other packages' into the settings file.
``[site]`` lives here because storage is the lowest package that needs it: days and months are
cut in the site's time zone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from jieneng.vocabulary import SettingsSection

__all__ = ["InfluxStorage", "SiteSettings", "SqliteStorage", "StorageConfig", "StorageSettings"]


class SiteSettings(SettingsSection):
    """``[site]``: who runs this deployment and where."""

    name: str = Field(min_length=1, description="Deployment name, e.g. the bureau's name.")
    timezone: str = Field("Asia/Shanghai", description="IANA zone in which days/months are cut.")
    province: str = Field(min_length=1, description="Province in pinyin, lower case: shandong.")
    region_code: str = Field(
        pattern=r"^\d{6}$", description="Administrative division code (行政区划代码), 6 digits."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"an IANA time zone such as 'Asia/Shanghai' ({exc})") from None
        return value

    @field_validator("province")
    @classmethod
    def _lower_pinyin(cls, value: str) -> str:
        if not value.isascii() or not value.replace("_", "").isalpha() or value != value.lower():
            raise ValueError("a province name in lower-case pinyin, e.g. 'shandong'")
        return value

    @property
    def tzinfo(self) -> ZoneInfo:
        """The deployment's time zone."""
        return ZoneInfo(self.timezone)


class SqliteStorage(SettingsSection):
    """``[storage.sqlite]``: the embedded store (the default)."""

    path: Path = Field(Path("var/jieneng.sqlite"), description="Database file; relative to the TOML.")


class InfluxStorage(SettingsSection):
    """``[storage.influxdb]``: InfluxDB through its v1 (InfluxQL) or v2 (Flux) API."""

    url: str = Field(pattern=r"^https?://", description="Base URL, e.g. http://127.0.0.1:8086.")
    api: Literal["v1", "v2"] = "v1"
    database: str = Field("jieneng", min_length=1, description="v1: database name.")
    retention_policy: str = Field("", description="v1: retention policy; empty = the default one.")
    org: str = Field("", description="v2: organisation.")
    bucket: str = Field("", description="v2: bucket.")
    username_env: str = Field("", description="v1: env variable holding the user name.")
    password_env: str = Field("", description="v1: env variable holding the password.")
    token_env: str = Field("", description="v2 (or v1 compat): env variable holding the token.")
    batch_size: int = Field(5000, strict=True, gt=0, le=100_000, description="Points per write request.")
    timeout_s: float = Field(10.0, strict=True, gt=0, description="HTTP timeout. [s]")
    verify_tls: bool = Field(True, strict=True)
    create_database: bool = Field(True, strict=True, description="v1: CREATE DATABASE when it is missing.")
    gzip: bool = Field(True, strict=True, description="v1: gzip write bodies (off saves CPU on loopback).")

    @field_validator("username_env", "password_env", "token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not value.replace("_", "").isalnum():
            raise ValueError("the NAME of an environment variable (letters, digits, _), not a secret")
        return value


class StorageSettings(SettingsSection):
    """``[storage]``: where readings live."""

    backend: Literal["sqlite", "influxdb"] = "sqlite"
    retention_raw_days: int = Field(
        400, strict=True, ge=1, description="Raw readings older than this are dropped; daily aggregates stay."
    )
    sqlite: SqliteStorage = SqliteStorage()
    influxdb: InfluxStorage | None = None



class StorageConfig(Protocol):
    """What :func:`storage.open_store` reads of the composed settings."""

    @property
    def site(self) -> SiteSettings:
        """The ``[site]`` section (time zone, province)."""

    @property
    def storage(self) -> StorageSettings:
        """The ``[storage]`` section."""

    @property
    def source(self) -> Path | None:
        """The settings file these came from (for messages), or None."""

    def resolve(self, path: Path) -> Path:
        """Return an absolute path for a path written in the settings file."""
