"""The deployment's settings: one TOML file, validated with pydantic when it is loaded.

Each package owns its section's model (``storage/settings.py`` for ``[site]`` and ``[storage]``,
``collectors/settings.py`` for ``[[gateways]]``, ``[[meters]]`` and ``[collector]``,
``accounting/settings.py``, ``dashboard/settings.py``); this module composes them into
:class:`Settings`, runs the checks that span sections, and is the only reader of the TOML file.
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
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError

from accounting.reference_data import REFERENCE_ROOT, available_factor_sets
from accounting.settings import AccountingSettings
from collectors.registermap import available_models
from collectors.settings import (
    CollectorSettings,
    Gateway,
    MeterSettings,
    PointOverride,
    RtuGateway,
    TcpGateway,
)
from dashboard.settings import DashboardSettings, DashboardUser
from forecasting.settings import ForecastingSettings
from jieneng.vocabulary import CONSUMPTION_POINTS, SUBITEM_CODES, Carrier, SettingsSection
from storage.settings import InfluxStorage, SiteSettings, SqliteStorage, StorageSettings

__all__ = [
    "CONSUMPTION_POINTS",
    "SUBITEM_CODES",
    "AccountingSettings",
    "Carrier",
    "CollectorSettings",
    "ConfigError",
    "ConfigProblem",
    "DashboardSettings",
    "DashboardUser",
    "Gateway",
    "InfluxStorage",
    "MeterSettings",
    "PointOverride",
    "RtuGateway",
    "Settings",
    "SiteSettings",
    "SqliteStorage",
    "StorageSettings",
    "TcpGateway",
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
        if self.key_path == "(file)":  # the file itself: "jieneng.toml: is empty (...)"
            return f"{self.file}: {self.expected}"
        if self.value is _MISSING:
            shown = "(missing)"
        elif isinstance(self.value, bool):
            shown = "true" if self.value else "false"  # as written in TOML
        else:
            shown = repr(self.value)
        return f"{self.file}: {self.key_path} = {shown}: {self.expected}"


class _Text(str):
    """A value shown as it is, without quotes (``[meters] (a single table)``)."""

    def __repr__(self) -> str:
        return str(self)


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING: Any = _Missing()


class Settings(SettingsSection):
    """The whole settings file."""

    site: SiteSettings
    storage: StorageSettings = StorageSettings()
    collector: CollectorSettings = CollectorSettings()
    gateways: list[Gateway] = Field(default_factory=list)
    meters: list[MeterSettings] = Field(default_factory=list)
    accounting: AccountingSettings = AccountingSettings()
    forecasting: ForecastingSettings = ForecastingSettings()
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
    text, problem = _read_text(path)
    if problem is not None:
        return None, [ConfigProblem(file, "(file)", _MISSING, problem)]
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return None, [ConfigProblem(file, "(syntax)", _MISSING, f"valid TOML: {exc}")]
    if not raw:
        return None, [ConfigProblem(
            file, "(file)", _MISSING,
            "is empty (no settings); start from config/jieneng.example.toml",
        )]

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


def _read_text(path: Path) -> tuple[str, str | None]:
    """The file's text (UTF-8, a byte-order mark allowed), or what is wrong with the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "", "no such file; expected a TOML settings file (e.g. config/jieneng.toml)"
    except IsADirectoryError:
        return "", "is a folder; expected a TOML settings file (e.g. config/jieneng.toml)"
    except PermissionError:
        return "", "cannot be read by this user (permission denied); check its owner and mode"
    except OSError as exc:
        return "", f"cannot be read ({exc.strerror or exc}); expected a readable TOML file"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        return "", "is UTF-16 or binary, not UTF-8 text: save it as UTF-8"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return "", (f"is not UTF-8 text (byte {exc.start + 1}, line {line}; GBK or another "
                    "encoding?): save it as UTF-8")


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
        elif kind == "list_type" and isinstance(value, dict) and _is_table_list(raw, loc):
            name = _format_loc(loc)
            value = _Text(f"[{name}] (a single table)")
            expected = f"a list of tables: write [[{name}]], with two brackets, before each entry"
        elif kind in _TYPE_EXPECTED:
            expected = _TYPE_EXPECTED[kind]
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


#: What a strict type expects, in a settings file's words (TOML values, no quotes around numbers).
_TYPE_EXPECTED = {
    "int_type": "a whole number without quotes (not true/false, not text)",
    "int_from_float": "a whole number without quotes (not true/false, not text)",
    "float_type": "a number without quotes (not true/false, not text)",
    "bool_type": "true or false (without quotes)",
    "string_type": "text in quotes",
    "model_type": "a table: a [section] header with its keys under it",
    "dict_type": "a table: a [section] header with its keys under it",
}


def _is_table_list(raw: dict, loc: tuple[Any, ...]) -> bool:
    """True when the field at ``loc`` is a list of tables (``[[gateways]]``, ``[[meters]]``)."""
    model = _model_at(raw, loc[:-1])
    field = model.model_fields.get(str(loc[-1])) if model is not None and loc else None
    if field is None:
        return False
    ann = _unwrap(field.annotation, None)
    args = typing.get_args(ann)
    if typing.get_origin(ann) is not list or not args:
        return False
    item = _unwrap(args[0], None)
    return isinstance(item, type) and issubclass(item, BaseModel)


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
    collector = raw.get("collector", {})
    dirs = collector.get("register_map_dirs", []) if isinstance(collector, dict) else []
    paths = [
        (Path(d) if Path(d).is_absolute() else base_dir / d)
        for d in (dirs if isinstance(dirs, list) else [])
        if isinstance(d, str)
    ]
    return set(available_models(paths))
