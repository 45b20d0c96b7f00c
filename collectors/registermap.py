"""Register-map library: one TOML data file per meter model.

A register map says where a meter keeps each quantity (function code, 0-based protocol address),
how it is encoded (data type, word order) and how to turn the raw number into a value with a unit
(``value = (raw × scale + offset) × CT × PT``). The built-in maps live in ``collectors/maps/``;
users add a model by dropping a file into a folder listed in ``[collector].register_map_dirs``.
The file stem is the model name used in ``[[meters]].model``.

File format (see any file in ``collectors/maps/``)::

    [meter]
    model = "chint_dtsu666"            # must equal the file stem
    manufacturer = "CHINT (正泰)"
    description = "..."
    source = "vendor manual ...; volkszaehler/mbmd@fb8f9c2 meters/rs485/dtsu666.go"
    confidence = "high"                # high | medium | medium-low | low
    address_base_note = "manual addresses are 0-based hex protocol addresses; used as printed"
    carriers = ["electricity"]         # what the meter measures; the carrier's counter must exist
    default_baudrate = 9600
    default_parity = "N"
    default_stopbits = 1

    [defaults]                         # optional: applied to every point that omits the key
    function = "holding"
    data_type = "float32"
    word_order = "ABCD"

    [[points]]
    name = "voltage_l1_v"
    address = 0x2006                   # 0-based protocol address
    scale = 0.1
    unit = "V"
    kind = "gauge"                     # counter (cumulative kWh, m³, GJ) or gauge
    apply_pt = true
    description = "Phase voltage L1-N (Ua)"

Maps are validated when loaded: every problem in a file is collected and reported together in one
:class:`RegisterMapError`, with the arithmetic (``point power_w at 0x2012 is float32 = 2 registers,
ends at 0x2013, overlaps voltage_l3_v at 0x2013``).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from collectors.errors import CollectorError
from jieneng.vocabulary import CONSUMPTION_POINTS, DataType, Function, PointKind

__all__ = [
    "BUILTIN_DIR",
    "DataType",
    "Function",
    "Point",
    "RegisterMap",
    "RegisterMapError",
    "apply_overrides",
    "available_models",
    "get_register_map",
    "load_register_map",
    "meter_register_map",
]

BUILTIN_DIR = Path(__file__).parent / "maps"

#: Modbus limits per request (Modbus Application Protocol v1.1b3, §6.1–6.4).
MAX_REGISTERS_PER_REQUEST = 125
MAX_BITS_PER_REQUEST = 2000


class RegisterMapError(CollectorError):
    """A register map file is invalid or a model/point does not exist.

    ``problems`` lists every problem found, each a full sentence naming the file and the point.
    """

    def __init__(self, where: str, problems: Sequence[str]):
        self.where = where
        self.problems = list(problems)
        listing = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}: {len(self.problems)} problem(s):\n{listing}")


WORD_ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")
KINDS = tuple(PointKind)
CONFIDENCES = ("high", "medium", "medium-low", "low")
PARITIES = ("N", "E", "O")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Point:
    """One quantity of a meter.

    Attributes
    ----------
    name
        Point name with its unit, e.g. ``energy_import_kwh``, ``power_w``.
    function
        Data table (holding/input registers, coils, discrete inputs).
    address
        0-based protocol address of the first register (or bit).
    data_type
        Encoding of the raw number; ignored for coils/discrete inputs (one bit).
    word_order
        ``ABCD`` big-endian; ``CDAB`` words swapped; ``BADC`` bytes swapped in each word;
        ``DCBA`` fully little-endian.
    scale, offset
        ``value = raw × scale + offset`` (secondary side, before CT/PT).
    unit
        Unit of the decoded value, e.g. ``kWh``, ``W``, ``m3``.
    kind
        ``counter`` (cumulative) or ``gauge`` (instantaneous).
    apply_ct, apply_pt
        Multiply by the meter's current-/voltage-transformer ratio.
    description
        What the point is, in the manual's words.
    sentinels
        Treat all-ones (unsigned) and minimum (signed) raw values as "not available".
    """

    name: str
    function: Function
    address: int
    data_type: DataType
    word_order: str = "ABCD"
    scale: float = 1.0
    offset: float = 0.0
    unit: str = ""
    kind: PointKind = PointKind.gauge
    apply_ct: bool = False
    apply_pt: bool = False
    description: str = ""
    sentinels: bool = True

    @property
    def register_count(self) -> int:
        """Registers (or bits, for coils/discrete inputs) the point occupies."""
        return 1 if self.function.is_bit else self.data_type.register_count

    @property
    def end(self) -> int:
        """Last address the point occupies (inclusive)."""
        return self.address + self.register_count - 1


@dataclass(frozen=True)
class RegisterMap:
    """A meter model's register layout and its provenance."""

    model: str
    manufacturer: str
    description: str
    points: tuple[Point, ...]
    source: str
    confidence: str
    address_base_note: str
    carriers: tuple[str, ...] = ()
    default_baudrate: int = 9600
    default_parity: str = "N"
    default_stopbits: int = 1
    default_device_id: int = 1
    max_registers_per_request: int = MAX_REGISTERS_PER_REQUEST
    path: Path | None = None

    def point(self, name: str) -> Point:
        """Return the point called ``name``; :class:`RegisterMapError` names the known points."""
        for p in self.points:
            if p.name == name:
                return p
        known = ", ".join(p.name for p in self.points)
        raise RegisterMapError(
            f"register map {self.model!r}", [f"no point {name!r}; the map has: {known}"]
        )


# ---------------------------------------------------------------------------------------------
# Finding and loading maps
# ---------------------------------------------------------------------------------------------


def available_models(extra_dirs: list[Path] | None = None) -> dict[str, Path]:
    """Model name → file for every register map in the built-in library and ``extra_dirs``.

    A user's file with the same stem as a built-in map replaces it (later folders win).
    """
    found: dict[str, Path] = {}
    for folder in [BUILTIN_DIR, *(extra_dirs or [])]:
        folder = Path(folder)
        if folder.is_dir():
            for f in sorted(folder.glob("*.toml")):
                found[f.stem] = f
    return found


def get_register_map(model: str, extra_dirs: Iterable[Path] = ()) -> RegisterMap:
    """Load the register map of ``model`` from the built-in library or ``extra_dirs``."""
    models = available_models(list(extra_dirs))
    if model not in models:
        raise RegisterMapError(
            f"register map {model!r}",
            [f"no such model; available: {', '.join(sorted(models)) or 'none'}"],
        )
    return load_register_map(models[model])


def meter_register_map(meter: Any, extra_dirs: Iterable[Path] = ()) -> RegisterMap:
    """Return the register map of a ``[[meters]]`` entry with its ``overrides`` applied."""
    return apply_overrides(get_register_map(meter.model, extra_dirs), meter.overrides)


_META_KEYS = {
    "model", "manufacturer", "description", "source", "confidence", "address_base_note",
    "carriers", "default_baudrate", "default_parity", "default_stopbits", "default_device_id",
    "max_registers_per_request",
}
_REQUIRED_META = ("model", "manufacturer", "description", "source", "confidence",
                  "address_base_note")
_POINT_KEYS = {f.name for f in dataclasses.fields(Point)} | {"count"}
_DEFAULT_KEYS = {"function", "data_type", "word_order", "scale", "offset", "apply_ct",
                 "apply_pt", "kind", "sentinels"}


def load_register_map(path: str | Path) -> RegisterMap:
    """Read and validate one register-map file.

    Parameters
    ----------
    path
        A TOML file in the format described in this module's docstring.

    Returns
    -------
    RegisterMap

    Raises
    ------
    RegisterMapError
        With every problem in the file (unknown keys, bad types, overlapping points, ...).
    """
    path = Path(path)
    where = str(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RegisterMapError(where, ["file not found"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RegisterMapError(where, [f"not valid TOML: {exc}"]) from None

    problems: list[str] = []
    for key in sorted(set(raw) - {"meter", "defaults", "points"}):
        problems.append(
            f"unknown top-level table [{key}]; expected [meter], [defaults], [[points]]"
        )
    meta = raw.get("meter")
    if not isinstance(meta, dict):
        raise RegisterMapError(where, [*problems, "missing the [meter] table"])
    for key in sorted(set(meta) - _META_KEYS):
        problems.append(
            f"[meter] has unknown key {key!r}; known keys: {', '.join(sorted(_META_KEYS))}"
        )
    for key in _REQUIRED_META:
        if not isinstance(meta.get(key), str) or not meta.get(key):
            problems.append(f"[meter].{key} is required (a non-empty string)")
    if meta.get("model") and meta.get("model") != path.stem:
        problems.append(
            f"[meter].model = {meta.get('model')!r} differs from the file name {path.stem!r}; "
            "the file stem is the model name"
        )
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append("[defaults] must be a table")
        defaults = {}
    for key in sorted(set(defaults) - _DEFAULT_KEYS):
        problems.append(
            f"[defaults] has unknown key {key!r}; allowed: {', '.join(sorted(_DEFAULT_KEYS))}"
        )

    raw_points = raw.get("points", [])
    if not isinstance(raw_points, list) or not raw_points:
        problems.append("no [[points]]: a map needs at least one point")
        raw_points = []
    points: list[Point] = []
    for i, rp in enumerate(raw_points):
        point = _parse_point(i, rp, defaults, problems)
        if point is not None:
            points.append(point)

    regmap = RegisterMap(
        model=str(meta.get("model", path.stem)),
        manufacturer=str(meta.get("manufacturer", "")),
        description=str(meta.get("description", "")),
        points=tuple(points),
        source=str(meta.get("source", "")),
        confidence=str(meta.get("confidence", "")),
        address_base_note=str(meta.get("address_base_note", "")),
        carriers=tuple(meta.get("carriers", ()) or ()),
        default_baudrate=_int_or(meta.get("default_baudrate", 9600), 9600, "default_baudrate",
                                 problems),
        default_parity=str(meta.get("default_parity", "N")),
        default_stopbits=_int_or(meta.get("default_stopbits", 1), 1, "default_stopbits", problems),
        default_device_id=_int_or(meta.get("default_device_id", 1), 1, "default_device_id",
                                  problems),
        max_registers_per_request=_int_or(
            meta.get("max_registers_per_request", MAX_REGISTERS_PER_REQUEST),
            MAX_REGISTERS_PER_REQUEST, "max_registers_per_request", problems,
        ),
        path=path,
    )
    problems.extend(validate_register_map(regmap))
    if problems:
        raise RegisterMapError(where, problems)
    return regmap


def _int_or(value: Any, fallback: int, key: str, problems: list[str]) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    problems.append(f"[meter].{key} = {value!r}: expected an integer")
    return fallback


def _parse_point(
    index: int, rp: Any, defaults: Mapping[str, Any], problems: list[str]
) -> Point | None:
    """One ``[[points]]`` entry → :class:`Point`, or ``None`` with the reasons in ``problems``."""
    if not isinstance(rp, dict):
        problems.append(f"points[{index}] must be a table")
        return None
    name = rp.get("name")
    label = f"points[{index}] ({name})" if isinstance(name, str) else f"points[{index}]"
    before = len(problems)
    for key in sorted(set(rp) - _POINT_KEYS):
        problems.append(
            f"{label} has unknown key {key!r}; known keys: {', '.join(sorted(_POINT_KEYS))}"
        )
    merged = {**defaults, **rp}

    if not isinstance(name, str) or not _NAME_RE.match(name):
        problems.append(
            f"{label}: name = {name!r}: expected lower-case letters, digits and _ ending in the "
            "unit, e.g. 'energy_import_kwh'"
        )
    function = _enum(Function, merged.get("function"), f"{label}: function", problems)
    default_type = "uint16" if function is not None and function.is_bit else None
    data_type = _enum(DataType, merged.get("data_type", default_type), f"{label}: data_type",
                      problems)
    word_order = merged.get("word_order", "ABCD")
    if word_order not in WORD_ORDERS:
        problems.append(
            f"{label}: word_order = {word_order!r}: expected one of {', '.join(WORD_ORDERS)}"
        )
    address = merged.get("address")
    if not isinstance(address, int) or isinstance(address, bool) or not 0 <= address <= 65535:
        problems.append(
            f"{label}: address = {address!r}: expected a 0-based protocol address 0…65535 "
            "(0x0000…0xFFFF); a manual's 1-based register number N is address N − 1"
        )
    kind = _enum(PointKind, merged.get("kind", PointKind.gauge), f"{label}: kind", problems)
    numbers = {}
    for key, default in (("scale", 1.0), ("offset", 0.0)):
        value = merged.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            problems.append(f"{label}: {key} = {value!r}: expected a number")
            value = default
        numbers[key] = float(value)
    if numbers["scale"] == 0:
        problems.append(f"{label}: scale = 0 would make every value equal to the offset")
    flags = {}
    for key in ("apply_ct", "apply_pt", "sentinels"):
        value = merged.get(key, key == "sentinels")
        if not isinstance(value, bool):
            problems.append(f"{label}: {key} = {value!r}: expected true or false")
            value = False
        flags[key] = value
    for key in ("unit", "description"):
        if not isinstance(merged.get(key, ""), str):
            problems.append(f"{label}: {key} must be a string")
    if len(problems) > before:
        return None
    assert function is not None
    assert data_type is not None
    assert isinstance(name, str)
    assert isinstance(address, int)
    point = Point(
        name=name, function=function, address=address, data_type=data_type,
        word_order=word_order, scale=numbers["scale"], offset=numbers["offset"],
        unit=merged.get("unit", ""), kind=kind, apply_ct=flags["apply_ct"],
        apply_pt=flags["apply_pt"], description=merged.get("description", ""),
        sentinels=flags["sentinels"],
    )
    count = rp.get("count")
    if count is not None and count != point.register_count:
        what = "bit" if function.is_bit else f"{data_type} = {point.register_count} register(s)"
        problems.append(
            f"{label}: count = {count!r} but {what}; remove count or fix data_type"
        )
    return point


def _enum(enum: type[StrEnum], value: Any, label: str, problems: list[str]) -> Any:
    try:
        return enum(value)
    except ValueError:
        problems.append(f"{label} = {value!r}: expected one of {', '.join(e.value for e in enum)}")
        return None


def validate_register_map(regmap: RegisterMap) -> list[str]:
    """Every problem of a map that is about the map as a whole (overlaps, limits, carriers)."""
    problems: list[str] = []
    seen: set[str] = set()
    for p in regmap.points:
        if p.name in seen:
            problems.append(f"point name {p.name!r} is used twice")
        seen.add(p.name)
        if p.end > 65535:
            problems.append(
                f"point {p.name} at {_hex(p.address)} is {p.data_type} = {p.register_count} "
                f"registers, ends at {_hex(p.end)}, beyond the last address 0xFFFF"
            )
        if p.function.is_bit and (p.scale != 1.0 or p.offset != 0.0 or p.word_order != "ABCD"):
            problems.append(f"point {p.name}: a {p.function} is one bit; scale, offset and "
                            "word_order do not apply")
    by_function: dict[Function, list[Point]] = {}
    for p in regmap.points:
        by_function.setdefault(p.function, []).append(p)
    for function, pts in by_function.items():
        pts = sorted(pts, key=lambda p: (p.address, p.name))
        for prev, cur in itertools.pairwise(pts):
            if cur.address <= prev.end:
                unit = (
                    "bit" if function.is_bit
                    else f"{prev.data_type} = {prev.register_count} registers"
                )
                problems.append(
                    f"point {prev.name} at {_hex(prev.address)} is {unit}, ends at "
                    f"{_hex(prev.end)}, overlaps {cur.name} at {_hex(cur.address)} ({function})"
                )
    if regmap.confidence and regmap.confidence not in CONFIDENCES:
        problems.append(f"[meter].confidence = {regmap.confidence!r}: expected one of "
                        f"{', '.join(CONFIDENCES)}")
    if regmap.default_parity not in PARITIES:
        problems.append(f"[meter].default_parity = {regmap.default_parity!r}: expected N, E or O")
    if not 1 <= regmap.max_registers_per_request <= MAX_REGISTERS_PER_REQUEST:
        problems.append(f"[meter].max_registers_per_request = {regmap.max_registers_per_request}: "
                        f"expected 1…{MAX_REGISTERS_PER_REQUEST} (the Modbus limit)")
    for carrier in regmap.carriers:
        if carrier not in CONSUMPTION_POINTS:
            problems.append(f"[meter].carriers has {carrier!r}; expected some of "
                            f"{', '.join(CONSUMPTION_POINTS)}")
            continue
        name, unit = CONSUMPTION_POINTS[carrier]
        point = next((p for p in regmap.points if p.name == name), None)
        if point is None:
            problems.append(f"a {carrier} meter must provide the counter point {name!r} [{unit}]")
        elif point.kind != PointKind.counter or point.unit != unit:
            problems.append(f"point {name} must be kind = 'counter' with unit = {unit!r} "
                            f"(found kind = {str(point.kind)!r}, unit = {point.unit!r})")
    return problems


def _hex(address: int) -> str:
    return f"0x{address:04X}"


def apply_overrides(regmap: RegisterMap, overrides: Mapping[str, Any]) -> RegisterMap:
    """Return a copy of ``regmap`` with per-meter point overrides applied and validated again.

    Parameters
    ----------
    regmap
        The model's map.
    overrides
        Point name → an object with optional ``address``, ``function``, ``data_type``,
        ``word_order``, ``scale``, ``offset`` attributes (``collectors.settings.PointOverride``);
        ``None`` keeps the map's value.

    Raises
    ------
    RegisterMapError
        When a point does not exist or the result overlaps another point.
    """
    if not overrides:
        return regmap
    names = {p.name for p in regmap.points}
    problems = [
        f"override of unknown point {name!r}; the map has: {', '.join(sorted(names))}"
        for name in overrides if name not in names
    ]
    if problems:
        raise RegisterMapError(f"register map {regmap.model!r}", problems)
    points = []
    for p in regmap.points:
        ov = overrides.get(p.name)
        if ov is None:
            points.append(p)
            continue
        changes: dict[str, Any] = {}
        for key in ("address", "function", "data_type", "word_order", "scale", "offset"):
            value = ov.get(key) if isinstance(ov, Mapping) else getattr(ov, key, None)
            if value is not None:
                changes[key] = value
        if "function" in changes:
            changes["function"] = Function(changes["function"])
        if "data_type" in changes:
            changes["data_type"] = DataType(changes["data_type"])
        if "scale" in changes:
            changes["scale"] = float(changes["scale"])
        if "offset" in changes:
            changes["offset"] = float(changes["offset"])
        points.append(dataclasses.replace(p, **changes))
    result = dataclasses.replace(regmap, points=tuple(points))
    problems = validate_register_map(result)
    if problems:
        raise RegisterMapError(f"register map {regmap.model!r} with overrides", problems)
    return result
