"""Carriers and their units (能源品种与计量单位): which unit fits which carrier, and conversions.

Each carrier has one canonical unit in which accounting works (electricity kWh, water m3,
natural gas m3, LPG kg, coal kg, gasoline L, diesel L, heat GJ, PV kWh). Other units of the same
dimension are accepted and scaled (coal t → kg, heat MJ → GJ). A unit that does not fit its
carrier (electricity in m3) is a :class:`UnitError`. Conversions between dimensions that need a
density (gasoline L ↔ kg) are reference data and live in :mod:`accounting.reference_data`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from accounting.errors import UnitError
from jieneng.vocabulary import CARRIER_INFO, CARRIERS, Carrier

__all__ = [
    "CANONICAL_UNITS",
    "CARRIERS",
    "ENERGY_CARRIERS",
    "convert",
    "normalise_unit",
    "to_canonical",
    "to_canonical_frame",
    "unit_scale",
]

#: carrier → {accepted unit: how many canonical units one of it is}; the canonical unit (factor 1)
#: is the vocabulary's :attr:`~jieneng.vocabulary.CarrierInfo.unit`.
_UNITS: dict[str, dict[str, float]] = {
    "electricity": {"kWh": 1.0, "MWh": 1000.0},
    "water": {"m3": 1.0, "t": 1.0},  # water statistics count 1 t = 1 m3 (吨水)
    "natural_gas": {"m3": 1.0, "10^4 m3": 10_000.0},
    "lpg": {"kg": 1.0, "t": 1000.0},
    "coal": {"kg": 1.0, "t": 1000.0},
    "gasoline": {"L": 1.0},
    "diesel": {"L": 1.0},
    "heat": {"GJ": 1.0, "MJ": 0.001},
    "pv": {"kWh": 1.0, "MWh": 1000.0},
}

#: Carriers that count as energy (water is a resource, not energy), in the vocabulary's order.
ENERGY_CARRIERS: tuple[str, ...] = tuple(c for c in CARRIERS if CARRIER_INFO[Carrier(c)].is_energy)

#: The unit accounting works in, per carrier (the vocabulary's canonical unit).
CANONICAL_UNITS: dict[str, str] = {str(c): info.unit for c, info in CARRIER_INFO.items()}

#: Spellings an officer types, mapped to the unit symbol used here.
_ALIASES: dict[str, str] = {
    "kwh": "kWh", "千瓦时": "kWh", "度": "kWh", "kw·h": "kWh", "kw.h": "kWh",
    "mwh": "MWh", "兆瓦时": "MWh",
    "m3": "m3", "m³": "m3", "立方米": "m3", "方": "m3", "nm3": "m3",
    "万m3": "10^4 m3", "万立方米": "10^4 m3", "10^4 m3": "10^4 m3", "10^4m3": "10^4 m3",
    "t": "t", "吨": "t",
    "kg": "kg", "公斤": "kg", "千克": "kg",
    "l": "L", "升": "L", "litre": "L", "liter": "L",
    "gj": "GJ", "吉焦": "GJ", "mj": "MJ", "兆焦": "MJ",
}


if set(_UNITS) != set(CARRIERS) or any(
    _UNITS[c].get(info.unit) != 1.0 for c, info in CARRIER_INFO.items()
):  # pragma: no cover - a programming error caught at import
    raise ImportError("accounting.units._UNITS must list every carrier of the vocabulary "
                      "with its canonical unit at factor 1")


def _check_carrier(carrier: str) -> None:
    if carrier not in _UNITS:
        raise UnitError(f"unknown carrier {carrier!r}; expected one of {', '.join(CARRIERS)}")


def normalise_unit(carrier: str, unit: str) -> str:
    """The unit symbol used here for ``unit`` as typed, checked against the carrier.

    Raises
    ------
    UnitError
        When the carrier is unknown or the unit does not fit it.
    """
    _check_carrier(carrier)
    key = str(unit).strip()
    symbol = _ALIASES.get(key.lower().replace(" ", ""), _ALIASES.get(key.lower(), key))
    if symbol not in _UNITS[carrier]:
        raise UnitError(
            f"unit {unit!r} does not fit carrier {carrier!r}; expected one of "
            f"{', '.join(_UNITS[carrier])}"
        )
    return symbol


def unit_scale(carrier: str, unit: str) -> float:
    """How many canonical units of the carrier one ``unit`` is (coal t → 1000 [kg/t])."""
    return _UNITS[carrier][normalise_unit(carrier, unit)]


def convert(quantity: float, carrier: str, from_unit: str, to_unit: str) -> float:
    """Convert a quantity of one carrier between two units that both fit it."""
    return quantity * unit_scale(carrier, from_unit) / unit_scale(carrier, to_unit)


def to_canonical(quantity: float, carrier: str, unit: str) -> tuple[float, str]:
    """The quantity in the carrier's canonical unit, and that unit."""
    return quantity * unit_scale(carrier, unit), CANONICAL_UNITS[carrier]


def to_canonical_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a frame with ``carrier``, ``quantity`` and ``unit`` columns in canonical units.

    Raises
    ------
    UnitError
        Naming the first row whose unit does not fit its carrier.
    """
    out = frame.copy()
    if out.empty:
        return out
    pairs = out[["carrier", "unit"]].drop_duplicates()
    scales = {}
    for carrier, unit in pairs.itertuples(index=False):
        scales[(carrier, unit)] = unit_scale(carrier, unit)
    keys = list(zip(out["carrier"], out["unit"], strict=True))
    out["quantity"] = out["quantity"].to_numpy(dtype=float) * np.array([scales[k] for k in keys])
    out["unit"] = out["carrier"].map(CANONICAL_UNITS)
    return out
