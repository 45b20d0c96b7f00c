"""Settings sections owned by the collectors: ``[[gateways]]``, ``[[meters]]`` and ``[collector]``.

``jieneng/settings.py`` composes them with the other packages' sections into the settings file
and checks what spans sections (a meter's gateway and register map exist, device ids are unique
on a bus).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import Field, field_validator

from jieneng.vocabulary import (
    SUBITEM_CODES,
    Carrier,
    DataType,
    Function,
    HostName,
    SettingsSection,
)
from storage.settings import StorageConfig

__all__ = [
    "CollectorConfig",
    "CollectorSettings",
    "Gateway",
    "MeterSettings",
    "PointOverride",
    "RtuGateway",
    "TcpGateway",
]


class TcpGateway(SettingsSection):
    """A Modbus TCP gateway (or a meter with its own Ethernet port)."""

    id: str = Field(min_length=1)
    protocol: Literal["tcp"]
    host: HostName = Field(min_length=1, description="Host name or IP address.")
    port: int = Field(502, strict=True, ge=1, le=65535)
    timeout_s: float = Field(1.0, strict=True, gt=0, le=60,
                             description="Response timeout per request. [s]")
    retries: int = Field(1, strict=True, ge=0, le=10)


class RtuGateway(SettingsSection):
    """A serial RS-485 bus (Modbus RTU)."""

    id: str = Field(min_length=1)
    protocol: Literal["rtu"]
    serial_port: str = Field(min_length=1, description="e.g. /dev/ttyUSB0")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(1.0, strict=True, gt=0, le=60,
                             description="Response timeout per request. [s]")
    retries: int = Field(1, strict=True, ge=0, le=10)

    @field_validator("baudrate", "stopbits", "bytesize", mode="before")
    @classmethod
    def _number_not_bool(cls, value: object) -> object:
        if isinstance(value, bool):  # Literal[1, 2] would take true as 1
            raise ValueError("a number, not true or false")
        return value


Gateway = Annotated[TcpGateway | RtuGateway, Field(discriminator="protocol")]


class PointOverride(SettingsSection):
    """Per-meter override of one point of its register map (firmware variants, other addresses)."""

    address: int | None = Field(None, strict=True, ge=0, le=65535, description="0-based protocol address.")
    function: Function | None = None
    data_type: DataType | None = None
    word_order: Literal["ABCD", "CDAB", "BADC", "DCBA"] | None = None
    scale: float | None = Field(None, strict=True)
    offset: float | None = Field(None, strict=True)


class MeterSettings(SettingsSection):
    """``[[meters]]``: one physical meter on a gateway."""

    id: str = Field(min_length=1, max_length=128)
    gateway: str = Field(min_length=1)
    device_id: int = Field(1, strict=True, ge=1, le=247, description="Modbus unit / device id.")
    model: str = Field(min_length=1, description="Register-map name, e.g. chint_dtsu666.")
    institution: str = Field(
        min_length=1, description="Institution id, or a 集中办公区 compound id for a meter the "
        "compound's members share (apportioned to them by accounting).")
    building: str = Field(min_length=1)
    carrier: Carrier
    subitem: str = Field("01000", description="分项编码, e.g. 01A00 照明插座.")
    ct_ratio: float = Field(1.0, strict=True, gt=0, le=100_000, description="Current-transformer ratio.")
    pt_ratio: float = Field(1.0, strict=True, gt=0, le=100_000, description="Voltage-transformer ratio.")
    poll_interval_s: float = Field(60.0, strict=True, gt=0, le=86_400, description="Poll period. [s]")
    overrides: dict[str, PointOverride] = Field(default_factory=dict)

    @field_validator("subitem")
    @classmethod
    def _known_subitem(cls, value: str) -> str:
        if value not in SUBITEM_CODES:
            raise ValueError(f"a sub-item code (分项编码), one of {', '.join(SUBITEM_CODES)}")
        return value


class CollectorSettings(SettingsSection):
    """``[collector]``: polling and the store-and-forward spool."""

    spool_path: Path = Field(Path("var/spool.sqlite"), description="Durable local spool file.")
    spool_max_readings: int = Field(2_000_000, strict=True, ge=1000, description="Spool bound. [readings]")
    spool_warn_fraction: float = Field(0.8, strict=True, gt=0, le=1)
    max_gap_registers: int = Field(8, strict=True, ge=0, le=124, description="Merge reads across small gaps.")
    register_map_dirs: list[Path] = Field(
        default_factory=list, description="Extra folders of register-map files (user models)."
    )
    health_interval_s: float = Field(60.0, strict=True, gt=0)



class CollectorConfig(StorageConfig, Protocol):
    """What the collector service reads of the composed settings (and what the store needs)."""

    @property
    def collector(self) -> CollectorSettings:
        """The ``[collector]`` section."""

    @property
    def gateways(self) -> Sequence[TcpGateway | RtuGateway]:
        """The ``[[gateways]]``."""

    @property
    def meters(self) -> Sequence[MeterSettings]:
        """The ``[[meters]]``."""
