"""Register words → values, in one place.

``decode_point`` turns the 16-bit words read for a :class:`~collectors.registermap.Point` into a
value in the point's unit: it reorders the words and bytes (``word_order``), unpacks the data type,
rejects "not available" values, then applies ``raw × scale + offset`` and, where the point says so,
the meter's CT and PT ratios. ``encode_value`` is the exact inverse, used by the simulator and
tests.

Word orders, with A the most significant byte of the value:

======  ===============================  ===========================
order   words on the wire (32-bit)       meaning
======  ===============================  ===========================
ABCD    ``[AB, CD]``                     big-endian (Modbus default)
CDAB    ``[CD, AB]``                     words swapped (low word first)
BADC    ``[BA, DC]``                     bytes swapped in each word
DCBA    ``[DC, BA]``                     fully little-endian
======  ===============================  ===========================

For 16-bit types only the byte swap matters (ABCD = CDAB, BADC = DCBA); for 64-bit types the same
rules apply to four words.

Invalid values never become numbers: NaN and ±inf floats, and (unless the point sets
``sentinels = false``) the all-ones value of unsigned types (0xFFFF, 0xFFFFFFFF, ...) and the
minimum of signed types (0x8000, 0x80000000, ...) that meters use for "not available" give
``Decoded(value=None, quality="invalid", reason=...)``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.registermap import DataType, Point

__all__ = ["Decoded", "decode_point", "encode_value", "raw_from_words", "words_from_raw"]

_STRUCT = {
    DataType.int16: "h", DataType.uint16: "H",
    DataType.int32: "i", DataType.uint32: "I",
    DataType.int64: "q", DataType.uint64: "Q",
    DataType.float32: "f", DataType.float64: "d",
}


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded point: ``value`` in the point's unit, or ``None`` when ``quality`` is not good."""

    value: float | None
    quality: str = "good"
    reason: str = ""


def _to_wire_order(words: Sequence[int], word_order: str) -> list[int]:
    """Reorder big-endian words into ``word_order`` (the operation is its own inverse)."""
    out = list(words)
    if word_order in ("BADC", "DCBA"):
        out = [((w & 0xFF) << 8) | (w >> 8) for w in out]
    if word_order in ("CDAB", "DCBA"):
        out.reverse()
    return out


def raw_from_words(words: Sequence[int], data_type: DataType, word_order: str = "ABCD") -> float:
    """The raw number encoded in ``words`` (no scale, no sentinel check).

    Raises
    ------
    ValueError
        When the number of words does not fit the data type or a word is not 0…0xFFFF.
    """
    need = data_type.register_count
    if len(words) != need:
        raise ValueError(f"{data_type} needs {need} register(s), got {len(words)}: {list(words)}")
    for w in words:
        if not isinstance(w, int) or not 0 <= w <= 0xFFFF:
            raise ValueError(f"register word {w!r} is not a 16-bit value 0…0xFFFF")
    big_endian = _to_wire_order(words, word_order)
    data = b"".join(w.to_bytes(2, "big") for w in big_endian)
    return struct.unpack(">" + _STRUCT[data_type], data)[0]


def words_from_raw(raw: float, data_type: DataType, word_order: str = "ABCD") -> list[int]:
    """The register words that encode ``raw`` (an int for integer types).

    Raises
    ------
    ValueError
        When ``raw`` does not fit the data type.
    """
    code = _STRUCT[data_type]
    if not data_type.is_float:
        raw = int(raw)
        lo = -(1 << (data_type.bits - 1)) if data_type.is_signed else 0
        hi = (1 << (data_type.bits - 1)) - 1 if data_type.is_signed else (1 << data_type.bits) - 1
        if not lo <= raw <= hi:
            raise ValueError(f"raw value {raw} does not fit {data_type} ({lo}…{hi})")
    try:
        data = struct.pack(">" + code, raw)
    except (struct.error, OverflowError) as exc:
        raise ValueError(f"raw value {raw} does not fit {data_type}: {exc}") from None
    words = [int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2)]
    return _to_wire_order(words, word_order)


def _sentinel(raw: float, data_type: DataType) -> str:
    """Why ``raw`` means "not available", or an empty string."""
    if data_type.is_float:
        if math.isnan(raw):
            return "NaN"
        if math.isinf(raw):
            return "infinite"
        return ""
    if data_type.is_signed and raw == -(1 << (data_type.bits - 1)):
        return f"{data_type} minimum 0x8{'0' * (data_type.bits // 4 - 1)} (not available)"
    if not data_type.is_signed and raw == (1 << data_type.bits) - 1:
        return f"{data_type} all ones 0x{'F' * (data_type.bits // 4)} (not available)"
    return ""


def _ratio(point: Point, ct_ratio: float, pt_ratio: float) -> float:
    return (ct_ratio if point.apply_ct else 1.0) * (pt_ratio if point.apply_pt else 1.0)


def decode_point(
    point: Point, words: Sequence[int], ct_ratio: float = 1.0, pt_ratio: float = 1.0
) -> Decoded:
    """Decode the words read for ``point``.

    Parameters
    ----------
    point
        The point from the register map.
    words
        The point's register words as read (``point.register_count`` of them); for coils and
        discrete inputs one bool or 0/1.
    ct_ratio, pt_ratio
        The meter's current- and voltage-transformer ratios, applied where the point says so.

    Returns
    -------
    Decoded
        ``value = (raw × scale + offset) × CT × PT`` in ``point.unit``, or ``value=None`` with
        ``quality="invalid"`` and the reason (NaN, inf, sentinel, wrong word count).
    """
    if point.function.is_bit:
        if len(words) != 1:
            return Decoded(None, "invalid", f"{point.function} {point.name} needs 1 bit, "
                                            f"got {len(words)}")
        return Decoded(1.0 if words[0] else 0.0)
    try:
        raw = raw_from_words(words, point.data_type, point.word_order)
    except ValueError as exc:
        return Decoded(None, "invalid", f"{point.name}: {exc}")
    reason = _sentinel(raw, point.data_type)
    if reason and (point.data_type.is_float or point.sentinels):
        return Decoded(None, "invalid", f"{point.name}: {reason}")
    value = (raw * point.scale + point.offset) * _ratio(point, ct_ratio, pt_ratio)
    if not math.isfinite(value):
        return Decoded(None, "invalid", f"{point.name}: value {value} after scaling")
    return Decoded(float(value))


def encode_value(
    point: Point, value: float, ct_ratio: float = 1.0, pt_ratio: float = 1.0
) -> list[int]:
    """The register words a meter holds when ``point`` reads ``value`` (inverse of decoding).

    Integer types are rounded to the nearest raw step, so ``decode_point(encode_value(v))``
    equals ``v`` within ``scale × CT × PT / 2``.

    Raises
    ------
    ValueError
        When the raw value does not fit the point's data type.
    """
    if point.function.is_bit:
        return [1 if value else 0]
    raw = (value / _ratio(point, ct_ratio, pt_ratio) - point.offset) / point.scale
    if not point.data_type.is_float:
        raw = round(raw)
    return words_from_raw(raw, point.data_type, point.word_order)
