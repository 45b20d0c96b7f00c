"""The deployment's settings: one TOML file, validated with pydantic when it is loaded.

Every package reads its own section from :class:`Settings`; nothing else reads the TOML file.
Problems are collected, never raised one at a time: :func:`validate_file` returns every problem
it finds (file, key path such as ``meters[3].model``, the bad value and what was expected), so a
user fixes a file in one pass. Unknown keys are errors with a "did you mean" hint, because a typo
that silently falls back to a default is the worst kind of configuration bug.

Secrets never live in the file: it names the environment variables that hold them
(``password_env = "JIENENG_INFLUX_PASSWORD"``).
"""

from __future__ import annotations

import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

__all__ = [
    "Carrier",
    "ConfigError",
    "ConfigProblem",
    "Settings",
    "load_settings",
    "validate_file",
]


class ConfigError(Exception):
    """A settings file could not be loaded; ``problems`` lists every reason."""

    def __init__(self, path: Path, problems: list[ConfigProblem]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{path}: {len(problems)} problem(s) in the settings file:\n{lines}")


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in a settings file: where it is, what was found, what was expected."""

    file: str
    key_path: str
    value: Any
    expected: str

    def __str__(self) -> str:
        shown = "(missing)" if self.value is _MISSING else repr(self.value)
        return f"{self.file}: {self.key_path} = {shown}: {self.expected}"


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


class _Section(BaseModel):
    """Base of every section: unknown keys are errors, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False)


# ---------------------------------------------------------------------------------------------
# Vocabulary shared by the packages
# ---------------------------------------------------------------------------------------------


class Carrier(StrEnum):
    """Energy and resource carriers (能源/资源品种) a meter or a bill measures."""

    electricity = "electricity"
    water = "water"
    natural_gas = "natural_gas"
    heat = "heat"
    lpg = "lpg"
    coal = "coal"
    gasoline = "gasoline"
    diesel = "diesel"
    pv = "pv"


SUBITEM_CODES: dict[str, str] = {
    # 分项编码 of the public-building energy sub-metering guideline (国家机关办公建筑和大型公共建筑
    # 能耗监测系统 分项能耗数据采集技术导则): first-level electricity sub-items and common second level.
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


#: The counter point that measures a carrier's consumption, by carrier. Register maps name their
#: points with these names so that accounting finds consumption without knowing meter models.
CONSUMPTION_POINTS: dict[str, tuple[str, str]] = {
    # carrier: (point name, unit)
    "electricity": ("energy_import_kwh", "kWh"),
    "water": ("volume_m3", "m3"),
    "natural_gas": ("volume_m3", "m3"),
    "heat": ("heat_gj", "GJ"),
    "pv": ("energy_export_kwh", "kWh"),
}


# ---------------------------------------------------------------------------------------------
# Sections
# ---------------------------------------------------------------------------------------------


class SiteSettings(_Section):
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


class SqliteStorage(_Section):
    """``[storage.sqlite]``: the embedded store (the default)."""

    path: Path = Field(Path("var/jieneng.sqlite"), description="Database file; relative to the TOML.")


class InfluxStorage(_Section):
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
    batch_size: int = Field(5000, gt=0, le=100_000, description="Points per write request.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout. [s]")
    verify_tls: bool = True
    create_database: bool = Field(True, description="v1: CREATE DATABASE when it is missing.")
    gzip: bool = Field(True, description="v1: gzip write bodies (off saves CPU on loopback).")

    @field_validator("username_env", "password_env", "token_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if value and not value.replace("_", "").isalnum():
            raise ValueError("the NAME of an environment variable (letters, digits, _), not a secret")
        return value


class StorageSettings(_Section):
    """``[storage]``: where readings live."""

    backend: Literal["sqlite", "influxdb"] = "sqlite"
    retention_raw_days: int = Field(
        400, ge=1, description="Raw readings older than this are dropped; daily aggregates stay."
    )
    sqlite: SqliteStorage = SqliteStorage()
    influxdb: InfluxStorage | None = None


class TcpGateway(_Section):
    """A Modbus TCP gateway (or a meter with its own Ethernet port)."""

    id: str = Field(min_length=1)
    protocol: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(502, ge=1, le=65535)
    timeout_s: float = Field(1.0, gt=0, le=60, description="Response timeout per request. [s]")
    retries: int = Field(1, ge=0, le=10)


class RtuGateway(_Section):
    """A serial RS-485 bus (Modbus RTU)."""

    id: str = Field(min_length=1)
    protocol: Literal["rtu"]
    serial_port: str = Field(min_length=1, description="e.g. /dev/ttyUSB0")
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: float = Field(1.0, gt=0, le=60, description="Response timeout per request. [s]")
    retries: int = Field(1, ge=0, le=10)


Gateway = Annotated[TcpGateway | RtuGateway, Field(discriminator="protocol")]


class PointOverride(_Section):
    """Per-meter override of one point of its register map (firmware variants, other addresses)."""

    address: int | None = Field(None, ge=0, le=65535, description="0-based protocol address.")
    function: Literal["holding", "input", "coil", "discrete"] | None = None
    data_type: (
        Literal["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]
        | None
    ) = None
    word_order: Literal["ABCD", "CDAB", "BADC", "DCBA"] | None = None
    scale: float | None = None
    offset: float | None = None


class MeterSettings(_Section):
    """``[[meters]]``: one physical meter on a gateway."""

    id: str = Field(min_length=1, max_length=128)
    gateway: str = Field(min_length=1)
    device_id: int = Field(1, ge=1, le=247, description="Modbus unit / device id.")
    model: str = Field(min_length=1, description="Register-map name, e.g. chint_dtsu666.")
    institution: str = Field(min_length=1)
    building: str = Field(min_length=1)
    carrier: Carrier
    subitem: str = Field("01000", description="分项编码, e.g. 01A00 照明插座.")
    ct_ratio: float = Field(1.0, gt=0, le=100_000, description="Current-transformer ratio.")
    pt_ratio: float = Field(1.0, gt=0, le=100_000, description="Voltage-transformer ratio.")
    poll_interval_s: float = Field(60.0, gt=0, le=86_400, description="Poll period. [s]")
    overrides: dict[str, PointOverride] = Field(default_factory=dict)

    @field_validator("subitem")
    @classmethod
    def _known_subitem(cls, value: str) -> str:
        if value not in SUBITEM_CODES:
            raise ValueError(f"a sub-item code (分项编码), one of {', '.join(SUBITEM_CODES)}")
        return value


class CollectorSettings(_Section):
    """``[collector]``: polling and the store-and-forward spool."""

    spool_path: Path = Field(Path("var/spool.sqlite"), description="Durable local spool file.")
    spool_max_readings: int = Field(2_000_000, ge=1000, description="Spool bound. [readings]")
    spool_warn_fraction: float = Field(0.8, gt=0, le=1)
    max_gap_registers: int = Field(8, ge=0, le=124, description="Merge reads across small gaps.")
    register_map_dirs: list[Path] = Field(
        default_factory=list, description="Extra folders of register-map files (user models)."
    )
    health_interval_s: float = Field(60.0, gt=0)


class AccountingSettings(_Section):
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
        0.8, ge=0, le=1, description="Below this share of measured data a verdict is 'unknown'."
    )
    counter_max_rate_per_h: dict[str, float] = Field(
        default_factory=lambda: {
            "electricity": 10_000.0, "pv": 10_000.0, "water": 500.0,
            "natural_gas": 2_000.0, "heat": 50.0,
        },
        description="Spike ceiling per carrier: a counter rising faster than this is a bad "
        "reading, not consumption. Generous for one public building's meter. [unit/h]",
    )
    counter_gap_s: float = Field(
        3600.0, gt=0, description="A counter interval longer than this (or than twice the "
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


class DashboardUser(_Section):
    """``[[dashboard.users]]``: a person who may sign in."""

    name: str = Field(min_length=1)
    role: Literal["manager", "officer", "leader", "admin"]
    password_env: str = Field(min_length=1, description="Env variable holding the password.")


class DashboardSettings(_Section):
    """``[dashboard]``."""

    host: str = "127.0.0.1"
    port: int = Field(8050, ge=1, le=65535)
    language: Literal["zh", "en"] = "zh"
    users: list[DashboardUser] = Field(default_factory=list)


class Settings(_Section):
    """The whole settings file."""

    site: SiteSettings
    storage: StorageSettings = StorageSettings()
    collector: CollectorSettings = CollectorSettings()
    gateways: list[Gateway] = Field(default_factory=list)
    meters: list[MeterSettings] = Field(default_factory=list)
    accounting: AccountingSettings = AccountingSettings()
    dashboard: DashboardSettings = DashboardSettings()

    #: Folder of the TOML file; relative paths in the file are relative to it.
    base_dir: Path = Field(Path("."), exclude=True)
    #: The file this came from (for messages).
    source: Path | None = Field(None, exclude=True)

    def resolve(self, path: Path) -> Path:
        """An absolute path for a path written in the settings file."""
        return path if path.is_absolute() else (self.base_dir / path).resolve()

    def gateway(self, gateway_id: str) -> TcpGateway | RtuGateway:
        """The gateway with this id."""
        for gw in self.gateways:
            if gw.id == gateway_id:
                return gw
        raise KeyError(f"no gateway {gateway_id!r} in {self.source}")

    def meter(self, meter_id: str) -> MeterSettings:
        """The meter with this id."""
        for m in self.meters:
            if m.id == meter_id:
                return m
        raise KeyError(f"no meter {meter_id!r} in {self.source}")


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------


def load_settings(path: str | os.PathLike[str]) -> Settings:
    """Load and validate a settings file.

    Parameters
    ----------
    path
        The TOML file.

    Returns
    -------
    Settings

    Raises
    ------
    ConfigError
        With every problem found, each naming its key path, value and what was expected.
    """
    settings, problems = validate_file(path)
    if problems or settings is None:
        raise ConfigError(Path(path), problems)
    return settings


def validate_file(path: str | os.PathLike[str]) -> tuple[Settings | None, list[ConfigProblem]]:
    """Validate a settings file and return the settings (if valid) and every problem found."""
    path = Path(path)
    file = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, [ConfigProblem(file, "(file)", _MISSING, "an existing TOML file")]
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return None, [ConfigProblem(file, "(syntax)", _MISSING, f"valid TOML: {exc}")]

    problems: list[ConfigProblem] = []
    settings: Settings | None = None
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems_from_pydantic(file, raw, exc))
    problems.extend(_cross_reference_problems(file, raw, path.parent))
    if problems:
        return None, _unique(problems)
    assert settings is not None
    settings.base_dir = path.parent.resolve()
    settings.source = path
    return settings, []


def _unique(problems: list[ConfigProblem]) -> list[ConfigProblem]:
    seen: set[tuple[str, str]] = set()
    out = []
    for p in problems:
        key = (p.key_path, p.expected)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _lookup(raw: Any, loc: tuple[Any, ...]) -> Any:
    node = raw
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return node


def _model_at(raw: Any, loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model class that validates the table at ``loc`` of the raw data."""
    ann: Any = Settings
    node = raw
    for part in loc:
        ann = _unwrap(ann, node)
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            field = ann.model_fields.get(str(part))
            if field is None:
                return None
            ann = field.annotation
        else:
            origin = typing.get_origin(ann)
            args = typing.get_args(ann)
            if origin is list and args:
                ann = args[0]
            elif origin is dict and len(args) == 2:
                ann = args[1]
            else:
                return None
        node = node[part] if isinstance(node, dict | list) and _has(node, part) else None
    ann = _unwrap(ann, node)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _has(node: dict | list, part: Any) -> bool:
    if isinstance(node, dict):
        return part in node
    return isinstance(part, int) and 0 <= part < len(node)


def _unwrap(ann: Any, node: Any) -> Any:
    """Strip Annotated/Optional; pick a discriminated union member by its ``protocol`` tag."""
    while typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(ann) if a is not type(None)]
        tag = node.get("protocol") if isinstance(node, dict) else None
        for m in members:
            if isinstance(m, type) and issubclass(m, BaseModel):
                lit = m.model_fields.get("protocol")
                if lit is None or tag in typing.get_args(lit.annotation):
                    return m
        return members[0] if members else ann
    return ann


def _problems_from_pydantic(file: str, raw: dict, exc: ValidationError) -> list[ConfigProblem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # Discriminated unions put the tag into the location: gateways.0.tcp.port -> gateways[0].port
        loc = tuple(
            p for i, p in enumerate(loc)
            if not (i > 0 and isinstance(loc[i - 1], int) and p in ("tcp", "rtu"))
        )
        value = _lookup(raw, loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            model = _model_at(raw, loc[:-1])
            known = sorted(model.model_fields) if model else []
            known = [k for k in known if k not in ("base_dir", "source")]
            close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            expected = f"unknown key; {hint}known keys here: {', '.join(known)}"
        elif kind == "missing":
            expected = "a value (this key is required)"
        elif kind == "union_tag_invalid":
            expected = "protocol = 'tcp' (host, port) or 'rtu' (serial_port, baudrate, parity)"
            value = _lookup(raw, (*loc, "protocol"))
            loc = (*loc, "protocol")
        elif kind == "union_tag_not_found":
            expected = "a 'protocol' key: 'tcp' or 'rtu'"
            loc = (*loc, "protocol")
        else:
            msg = err["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
            expected = _expected_text(msg)
        problems.append(ConfigProblem(file, _format_loc(loc), value, expected))
    return problems


def _expected_text(msg: str) -> str:
    replacements = {
        "Input should be greater than": "expected a number greater than",
        "Input should be less than": "expected a number less than",
        "Input should be": "expected",
        "String should match pattern": "expected text matching",
        "String should have at least": "expected at least",
    }
    for old, new in replacements.items():
        if msg.startswith(old):
            return new + msg[len(old):]
    return "expected " + msg if not msg.startswith("expected") else msg


def _cross_reference_problems(file: str, raw: dict, base_dir: Path) -> list[ConfigProblem]:
    """Checks across sections, run on the raw data so they are reported beside field errors."""
    problems: list[ConfigProblem] = []
    gateways = raw.get("gateways", [])
    meters = raw.get("meters", [])
    gateways = gateways if isinstance(gateways, list) else []
    meters = meters if isinstance(meters, list) else []

    for section, items in (("gateways", gateways), ("meters", meters)):
        seen: dict[Any, int] = {}
        for i, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if ident is None:
                continue
            if ident in seen:
                problems.append(ConfigProblem(
                    file, f"{section}[{i}].id", ident,
                    f"a unique id; {section}[{seen[ident]}] already uses it",
                ))
            else:
                seen[ident] = i

    gateway_ids = [g.get("id") for g in gateways if isinstance(g, dict)]
    gateway_protocol = {g.get("id"): g.get("protocol") for g in gateways if isinstance(g, dict)}
    models = _available_models(raw, base_dir)
    rtu_addresses: dict[tuple[Any, Any], int] = {}
    for i, meter in enumerate(meters):
        if not isinstance(meter, dict):
            continue
        gw = meter.get("gateway")
        if gw is not None and gw not in gateway_ids:
            close = difflib.get_close_matches(str(gw), [str(g) for g in gateway_ids], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(ConfigProblem(
                file, f"meters[{i}].gateway", gw,
                f"the id of a [[gateways]] entry{hint}; "
                f"defined: {', '.join(map(str, gateway_ids)) or 'none'}",
            ))
        model = meter.get("model")
        if model is not None and models is not None and model not in models:
            close = difflib.get_close_matches(str(model), sorted(models), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(ConfigProblem(
                file, f"meters[{i}].model", model,
                f"a register map that exists{hint}; available: {', '.join(sorted(models))}",
            ))
        if gateway_protocol.get(gw) is not None:
            key = (gw, meter.get("device_id", 1))
            if key in rtu_addresses:
                problems.append(ConfigProblem(
                    file, f"meters[{i}].device_id", key[1],
                    f"a device id not used by another meter on gateway '{gw}' "
                    f"(meters[{rtu_addresses[key]}] uses it)",
                ))
            else:
                rtu_addresses[key] = i
    problems.extend(_reference_problems(file, raw, base_dir))
    return problems


def _reference_problems(file: str, raw: dict, base_dir: Path) -> list[ConfigProblem]:
    """``[accounting]`` names a reference-data set and quota tables that exist."""
    try:
        from accounting.reference_data import REFERENCE_ROOT, available_factor_sets
    except ImportError:  # pragma: no cover - the accounting package ships with jieneng
        return []
    section = raw.get("accounting", {})
    if not isinstance(section, dict):
        return []
    problems = []
    factor_set = section.get("factor_set", "default")
    sets = available_factor_sets()
    if isinstance(factor_set, str) and factor_set not in sets:
        problems.append(ConfigProblem(
            file, "accounting.factor_set", factor_set, f"a reference-data set; available: {', '.join(sets)}"
        ))
        factor_set = "default"
    dirs = section.get("reference_dirs", [])
    folders = [REFERENCE_ROOT / str(factor_set) / "quotas"] + [
        (Path(d) if Path(d).is_absolute() else base_dir / d) / "quotas"
        for d in (dirs if isinstance(dirs, list) else []) if isinstance(d, str)
    ]
    known = sorted({f.stem for folder in folders if folder.is_dir() for f in folder.glob("*.csv")})
    tables = section.get("quota_tables", [])
    for i, table in enumerate(tables if isinstance(tables, list) else []):
        if isinstance(table, str) and table not in known:
            close = difflib.get_close_matches(table, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(ConfigProblem(
                file, f"accounting.quota_tables[{i}]", table,
                f"a quota table{hint}; available: {', '.join(known)} "
                "(add your own as quotas/<table>.csv in a folder of accounting.reference_dirs)",
            ))
    return problems


def _available_models(raw: dict, base_dir: Path) -> set[str] | None:
    """Names of the register maps a meter may use: the built-in library plus the user's folders."""
    try:
        from collectors.registermap import available_models
    except ImportError:  # pragma: no cover - the collectors package ships with jieneng
        return None
    collector = raw.get("collector", {})
    dirs = collector.get("register_map_dirs", []) if isinstance(collector, dict) else []
    paths = [
        (Path(d) if Path(d).is_absolute() else base_dir / d)
        for d in (dirs if isinstance(dirs, list) else [])
        if isinstance(d, str)
    ]
    return set(available_models(paths))
