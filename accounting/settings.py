"""The ``[accounting]`` settings section, and what accounting reads of the rest of the settings.

Accounting needs the meter inventory (which meter measures what for whom) but must not import the
collectors: :class:`MeterInfo` names the attributes it reads of a configured meter.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal, Protocol

from pydantic import Field, Strict, field_validator

from jieneng.vocabulary import Carrier, SettingsSection
from storage.settings import StorageConfig

__all__ = ["AccountingConfig", "AccountingSettings", "MeterInfo"]


class AccountingSettings(SettingsSection):
    """``[accounting]``: reference data choices and ledgers."""

    factor_set: str = Field("default", min_length=1, description="Reference-data set name.")
    reference_dirs: list[Path] = Field(
        default_factory=list, description="Extra folders of reference data (your own quota tables)."
    )
    electricity_tce_basis: Literal["equivalent", "equal_value"] = Field(
        "equivalent", description="当量值 (equivalent) or 等价值 (equal_value) for electricity."
    )
    natural_gas_kgce_per_m3: Literal["standard", "statistics_platform"] = "standard"
    emission_factor_policy: Literal["province", "national"] = Field(
        "province", description="Grid factor of the institution's province, or the national one."
    )
    quota_tables: list[str] = Field(
        default_factory=lambda: ["shandong_db37_t_2672_2019"],
        description="Quota tables (约束值/基准值/引导值) to judge against.",
    )
    ledger_path: Path = Field(Path("var/ledgers.sqlite"), description="Ledger database file.")
    min_coverage: float = Field(
        0.8, strict=True, ge=0, le=1, description="Below this share of measured data a verdict is 'unknown'."
    )
    counter_max_rate_per_h: dict[str, Annotated[float, Strict()]] = Field(
        default_factory=lambda: {
            "electricity": 10_000.0, "pv": 10_000.0, "water": 500.0,
            "natural_gas": 2_000.0, "heat": 50.0,
        },
        description="Spike ceiling per carrier: a counter rising faster than this is a bad "
        "reading, not consumption. Generous for one public building's meter. [unit/h]",
    )
    counter_gap_s: float = Field(
        3600.0, strict=True, gt=0, description="A counter interval longer than this (or than twice the "
        "meter's poll interval) is a gap: its consumption is spread over it, marked "
        "estimated. [s]",
    )

    @field_validator("counter_max_rate_per_h")
    @classmethod
    def _rate_per_carrier(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = [k for k in value if k not in Carrier.__members__]
        if unknown:
            raise ValueError(f"carrier names ({', '.join(Carrier)}); unknown: {', '.join(unknown)}")
        if any(v <= 0 for v in value.values()):
            raise ValueError("positive rates [unit/h]")
        return value



class MeterInfo(Protocol):
    """What accounting reads of a configured meter (``[[meters]]``)."""

    @property
    def id(self) -> str:
        """The meter's id."""

    @property
    def institution(self) -> str:
        """The institution the meter belongs to."""

    @property
    def building(self) -> str:
        """The building the meter is in."""

    @property
    def carrier(self) -> str:
        """What the meter measures."""

    @property
    def subitem(self) -> str:
        """The 分项 sub-item code (01000 = total electricity)."""

    @property
    def poll_interval_s(self) -> float:
        """The meter's poll period. [s]"""


class AccountingConfig(StorageConfig, Protocol):
    """What accounting reads of the composed settings (and what the store needs)."""

    @property
    def accounting(self) -> AccountingSettings:
        """The ``[accounting]`` section."""

    @property
    def meters(self) -> Sequence[MeterInfo]:
        """The ``[[meters]]``."""

    @property
    def base_dir(self) -> Path:
        """The folder of the settings file."""
