"""The project's vocabulary: the words every package shares, defined once.

This module sits at the bottom of the import graph (see ``docs/architecture.md``): it imports
nothing of the project, and every package imports its terms from here instead of repeating them.
It holds names and fixed facts of the domain only (carriers and their units and scopes, reading
and interval quality, point kinds, 分项 sub-item codes, ledger kinds, the consumption table's
columns, Modbus data types and read functions, the CLI's exit codes). Numbers that change with a
year, a region or a publication (conversion coefficients, emission factors, quotas) are reference
data in ``accounting/reference/``, never here.

Importing ``jieneng.vocabulary`` runs ``jieneng/__init__.py``, which therefore imports nothing.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

__all__ = [
    "CARRIERS",
    "CARRIER_INFO",
    "COMBUSTION_CARRIERS",
    "CONSUMPTION_COLUMNS",
    "CONSUMPTION_POINTS",
    "ELECTRICITY_CARRIERS",
    "ENERGY_CARRIERS",
    "METERED_CARRIERS",
    "SECONDARY_CARRIERS",
    "SUBITEM_CODES",
    "SUBITEM_GROUPS",
    "Carrier",
    "CarrierInfo",
    "DataType",
    "ExitCode",
    "Function",
    "HostName",
    "IntervalQuality",
    "LedgerKind",
    "PointKind",
    "Quality",
    "Scope",
    "SettingsSection",
    "check_host",
]


# ---------------------------------------------------------------------------------------------
# Carriers (能源/资源品种)
# ---------------------------------------------------------------------------------------------


class Carrier(StrEnum):
    """Energy and resource carriers (能源/资源品种) a meter, a bill or a fuel record measures."""

    electricity = "electricity"
    water = "water"
    natural_gas = "natural_gas"
    heat = "heat"
    lpg = "lpg"
    coal = "coal"
    gasoline = "gasoline"
    diesel = "diesel"
    pv = "pv"


class Scope(IntEnum):
    """Emission scope of a carrier's CO2 (GHG Protocol; 直接排放 / 间接排放)."""

    none = 0  #: no CO2 (water; on-site PV)
    direct = 1  #: scope 1, 直接排放: fuel burnt on site, vehicles included
    indirect = 2  #: scope 2, 间接排放: purchased electricity and heat


@dataclass(frozen=True)
class CarrierInfo:
    """Fixed facts of one carrier.

    Attributes
    ----------
    unit
        The canonical unit accounting works in (``kWh``, ``m3``, ``GJ``, ``kg``, ``L``).
    zh
        The carrier's name in the statistics forms (电, 水, 天然气, ...).
    is_energy
        True for energy carriers (counted in tce); water is a resource.
    scope
        The emission scope of its CO2 when it is used (PV and water emit none).
    """

    unit: str
    zh: str
    is_energy: bool
    scope: Scope


CARRIER_INFO: dict[Carrier, CarrierInfo] = {
    Carrier.electricity: CarrierInfo("kWh", "电", True, Scope.indirect),
    Carrier.water: CarrierInfo("m3", "水", False, Scope.none),
    Carrier.natural_gas: CarrierInfo("m3", "天然气", True, Scope.direct),
    Carrier.heat: CarrierInfo("GJ", "热力", True, Scope.indirect),
    Carrier.lpg: CarrierInfo("kg", "液化石油气", True, Scope.direct),
    Carrier.coal: CarrierInfo("kg", "煤炭", True, Scope.direct),
    Carrier.gasoline: CarrierInfo("L", "汽油", True, Scope.direct),
    Carrier.diesel: CarrierInfo("L", "柴油", True, Scope.direct),
    Carrier.pv: CarrierInfo("kWh", "光伏发电", True, Scope.none),
}

#: Every carrier, in the order of :class:`Carrier`.
CARRIERS: tuple[str, ...] = tuple(c.value for c in Carrier)
#: Carriers whose quantity is energy (water is a resource: no tce, no CO2).
ENERGY_CARRIERS: frozenset[str] = frozenset(
    c.value for c, i in CARRIER_INFO.items() if i.is_energy
)
#: Fuels burnt on site: their CO2 is scope 1 (直接排放).
COMBUSTION_CARRIERS: frozenset[str] = frozenset(
    c.value for c, i in CARRIER_INFO.items() if i.scope is Scope.direct
)
#: Energy bought as electricity or heat: its CO2 is scope 2 (间接排放).
SECONDARY_CARRIERS: frozenset[str] = frozenset(
    c.value for c, i in CARRIER_INFO.items() if i.scope is Scope.indirect
)
#: Carriers whose quantity counts as electricity use [kWh] (grid and on-site PV).
ELECTRICITY_CARRIERS: frozenset[str] = frozenset({Carrier.electricity.value, Carrier.pv.value})

#: The counter point that measures a carrier's consumption, by carrier: (point name, unit).
#: Register maps name their points with these names, so accounting finds consumption without
#: knowing meter models.
CONSUMPTION_POINTS: dict[str, tuple[str, str]] = {
    Carrier.electricity.value: ("energy_import_kwh", "kWh"),
    Carrier.water.value: ("volume_m3", "m3"),
    Carrier.natural_gas.value: ("volume_m3", "m3"),
    Carrier.heat.value: ("heat_gj", "GJ"),
    Carrier.pv.value: ("energy_export_kwh", "kWh"),
}
#: Carriers a meter may measure.
METERED_CARRIERS: frozenset[str] = frozenset(CONSUMPTION_POINTS)


# ---------------------------------------------------------------------------------------------
# Readings and counter intervals
# ---------------------------------------------------------------------------------------------


class PointKind(StrEnum):
    """What a register point measures."""

    counter = "counter"  #: cumulative (kWh, m³, GJ): consumption is a difference
    gauge = "gauge"  #: instantaneous (kW, V, A, PF, °C)


class Quality(StrEnum):
    """Quality of one stored reading.

    Only ``good`` readings carry a value that aggregates use; the others are kept so that a gap
    can be told from a meter that answered with "not available".
    """

    good = "good"  #: a decoded, plausible value
    invalid = "invalid"  #: the meter answered "not available" (NaN, 0xFFFF, ...): no value
    estimated = "estimated"  #: filled in by someone or something other than the meter
    unavailable = "unavailable"  #: the device did not answer: no value


class IntervalQuality(StrEnum):
    """Quality of one counter interval (the difference of two readings), see ``counters.py``."""

    good = "good"  #: a plain difference
    wrap = "wrap"  #: the register rolled over (2^16, 2^32, ...) and the difference was unwrapped
    reset = "reset"  #: the counter fell (reset or replacement): the new value counts from zero
    jitter = "jitter"  #: a tiny fall within the meter's resolution: counted as zero
    spike = "spike"  #: a rise faster than the carrier's rate limit: a bad reading
    spike_removed = "spike_removed"  #: a lone bad reading skipped: the interval bridges it
    missing = "missing"  #: nothing can be said about this interval
    gap = "gap"  #: an interval longer than the gap limit: its consumption is spread, estimated


# ---------------------------------------------------------------------------------------------
# 分项 sub-items
# ---------------------------------------------------------------------------------------------

#: 分项编码 of the public-building energy sub-metering guideline (国家机关办公建筑和大型公共建筑
#: 能耗监测系统 分项能耗数据采集技术导则, 住房和城乡建设部 2008): first-level electricity
#: sub-items and the common second level.
SUBITEM_CODES: dict[str, str] = {
    "01000": "电量 (total electricity)",
    "01A00": "照明插座用电 (lighting and sockets)",
    "01A10": "照明与插座 (lighting and sockets, room)",
    "01A20": "走廊与应急 (corridor and emergency lighting)",
    "01A30": "室外景观照明 (outdoor lighting)",
    "01B00": "空调用电 (HVAC)",
    "01B10": "冷热站 (chiller and heating plant)",
    "01B20": "空调末端 (HVAC terminals)",
    "01C00": "动力用电 (power: lifts, pumps, fans)",
    "01C10": "电梯 (lifts)",
    "01C20": "水泵 (pumps)",
    "01C30": "通风机 (fans)",
    "01D00": "特殊用电 (special: data centre, kitchen, ...)",
    "01D10": "信息中心 (data centre)",
    "01D20": "洗衣房 (laundry)",
    "01D30": "厨房餐厅 (kitchen and canteen)",
    "01D40": "游泳池 (swimming pool)",
    "01D50": "健身房 (gym)",
    "01D60": "其他 (other)",
    "02000": "水耗量 (water)",
    "03000": "燃气量 (natural gas)",
    "04000": "集中供热耗热量 (district heat)",
    "05000": "集中供冷耗冷量 (district cooling)",
    "06000": "其他能源 (other energy)",
}

#: First-level electricity sub-item (照明插座, 空调, 动力, 特殊) of each electricity code.
SUBITEM_GROUPS: dict[str, str] = {
    code: code[:3] + "00" for code in SUBITEM_CODES if code.startswith("01") and code != "01000"
}


# ---------------------------------------------------------------------------------------------
# Ledgers and the consumption table
# ---------------------------------------------------------------------------------------------


class LedgerKind(StrEnum):
    """Kinds of ledger an officer imports (``jieneng import KIND FILE``).

    In an order that imports cleanly: a ledger comes after the ledgers it refers to.
    """

    institutions = "institutions"
    compounds = "compounds"  # 集中办公区
    compound_members = "compound_members"
    buildings = "buildings"
    headcount = "headcount"
    vehicles = "vehicles"
    fuel = "fuel"
    charging = "charging"  # 新能源公务用车充电记录
    facilities = "facilities"
    bills = "bills"
    apportionment = "apportionment"  # 集中办公区分摊规则


#: Columns of the monthly consumption table that feeds the accounting engine: one row per
#: institution × month × carrier × unit × use × source; ``quantity`` in ``unit``; ``coverage``
#: and ``estimated_share`` in [0-1].
CONSUMPTION_COLUMNS: tuple[str, ...] = (
    "institution_id", "month", "carrier", "unit", "quantity", "use", "source", "coverage",
    "estimated_share",
)


# ---------------------------------------------------------------------------------------------
# Modbus
# ---------------------------------------------------------------------------------------------


class Function(StrEnum):
    """Modbus data table a point is read from; collectors use read function codes 01–04 only."""

    coil = "coil"
    discrete = "discrete"
    holding = "holding"
    input = "input"

    @property
    def code(self) -> int:
        """The Modbus read function code (Modbus Application Protocol v1.1b3, §6.1–6.4)."""
        return _FUNCTION_CODES[self]

    @property
    def is_bit(self) -> bool:
        """True for coils and discrete inputs (one bit per address)."""
        return self in (Function.coil, Function.discrete)


_FUNCTION_CODES = {Function.coil: 1, Function.discrete: 2, Function.holding: 3, Function.input: 4}


class DataType(StrEnum):
    """How a raw number is encoded in 16-bit registers."""

    int16 = "int16"
    uint16 = "uint16"
    int32 = "int32"
    uint32 = "uint32"
    int64 = "int64"
    uint64 = "uint64"
    float32 = "float32"
    float64 = "float64"

    @property
    def struct_code(self) -> str:
        """The :mod:`struct` format character of the type (``h``, ``I``, ``f``, ...)."""
        return _DATA_TYPES[self][0]

    @property
    def register_count(self) -> int:
        """Number of 16-bit registers the type occupies."""
        return _DATA_TYPES[self][1]

    @property
    def bits(self) -> int:
        """Width of the type [bit]."""
        return self.register_count * 16

    @property
    def is_signed(self) -> bool:
        """True for int16/int32/int64."""
        return self.value.startswith("int")

    @property
    def is_float(self) -> bool:
        """True for float32/float64."""
        return self.value.startswith("float")


#: data type → (struct code, register count)
_DATA_TYPES: dict[DataType, tuple[str, int]] = {
    DataType.int16: ("h", 1), DataType.uint16: ("H", 1),
    DataType.int32: ("i", 2), DataType.uint32: ("I", 2),
    DataType.int64: ("q", 4), DataType.uint64: ("Q", 4),
    DataType.float32: ("f", 2), DataType.float64: ("d", 4),
}


# ---------------------------------------------------------------------------------------------
# Exit codes of the ``jieneng`` command
# ---------------------------------------------------------------------------------------------


class ExitCode(IntEnum):
    """Exit codes of every ``jieneng`` subcommand, defined once (listed in the README)."""

    ok = 0  #: done
    failed = 1  #: the work ran but did not succeed (e.g. no meter answered a ``collect --once``)
    bad_input = 2  #: bad input: a settings file, an argument, a ledger or readings file
    not_built = 3  #: the subcommand's package is not built yet
    unavailable = 4  #: a service is unreachable (the store, a gateway)
    no_data = 5  #: nothing to work on (no data for the year asked)
    interrupted = 130  #: stopped by Ctrl-C (SIGINT)


# ---------------------------------------------------------------------------------------------
# Settings sections
# ---------------------------------------------------------------------------------------------


class SettingsSection(BaseModel):
    """Base of every settings section: unknown keys are errors, assignments are validated.

    Each package keeps its own section model beside its code (``storage/settings.py``, ...);
    ``jieneng/settings.py`` composes them into the settings file.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


#: One label of a host name (RFC 1123): letters, digits and inner hyphens, at most 63 characters.
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def check_host(value: str) -> str:
    """Return ``value`` when it is a host name or an IP address; raise ValueError otherwise.

    Parameters
    ----------
    value
        ``"127.0.0.1"``, ``"::1"``, ``"localhost"`` or ``"gw-01.example.gov.cn"``.

    Returns
    -------
    str
        ``value`` unchanged.

    Raises
    ------
    ValueError
        Saying what was expected, for a settings message.
    """
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    name = value[:-1] if value.endswith(".") else value
    labels = name.split(".")
    if (0 < len(name) <= 253 and all(_HOST_LABEL.match(label) for label in labels)
            and not labels[-1].isdigit()):
        return value
    raise ValueError(
        "a host name (letters, digits, hyphens and dots, e.g. gw-01.example.gov.cn) "
        "or an IP address (e.g. 192.168.1.20)"
    )


#: A settings value that names a host: a host name or an IP address (:func:`check_host`).
HostName = Annotated[str, AfterValidator(check_host)]
