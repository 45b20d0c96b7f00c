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

Speed: the poller decodes every point of every meter on every cycle, so everything that depends
only on the point (struct format, register count, word order, "not available" value, scale,
offset, CT × PT factor) is worked out once, in a :class:`PointDecoder`; a :class:`RequestDecoder`
holds the decoders of one planned read and unpacks the whole answer in one go. ``decode_point``
uses the same decoders (cached per point and ratios), so there is one decoding rule.

Word orders map onto plain ``struct`` byte orders once the words are packed into bytes: pack the
words big-endian and ABCD reads as ``>`` and DCBA as ``<``; pack them little-endian (each word's
bytes swapped) and BADC reads as ``>`` and CDAB as ``<`` (this holds for 1, 2 and 4 words).
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from collectors.registermap import Point
from jieneng.vocabulary import DataType, Quality

__all__ = [
    "Decoded",
    "PointDecoder",
    "RequestDecoder",
    "decode_point",
    "encode_value",
    "point_decoder",
    "raw_from_words",
    "words_from_raw",
]

@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded point: ``value`` in the point's unit, or ``None`` when ``quality`` is not good."""

    value: float | None
    quality: Quality = Quality.good
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
    """Return the raw number encoded in ``words`` (no scale, no sentinel check).

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
    return struct.unpack(">" + data_type.struct_code, data)[0]


def words_from_raw(raw: float, data_type: DataType, word_order: str = "ABCD") -> list[int]:
    """Return the register words that encode ``raw`` (an int for integer types).

    Raises
    ------
    ValueError
        When ``raw`` does not fit the data type.
    """
    code = data_type.struct_code
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


#: word order → (byte order to pack the words in, byte order to unpack the value with)
_BYTE_ORDERS = {"ABCD": (">", ">"), "DCBA": (">", "<"), "BADC": ("<", ">"), "CDAB": ("<", "<")}


class PointDecoder:
    """How to decode one point, worked out once (for one meter's CT and PT ratios).

    Parameters
    ----------
    point
        The point from the register map.
    ct_ratio, pt_ratio
        The meter's current- and voltage-transformer ratios, applied where the point says so.

    Attributes
    ----------
    point
        The point.
    is_bit
        True for coils and discrete inputs.
    little_endian_words
        True when the point's words must be packed little-endian (word orders BADC and CDAB).
    unpack_from
        ``unpack_from(data, byte_offset)`` → ``(raw,)``: the raw number from words packed in the
        byte order above.
    """

    __slots__ = (
        "_factor", "_invalid_raw", "_is_float", "_na_reason", "_offset", "_pack_words",
        "_scale", "is_bit", "little_endian_words", "point", "unpack_from",
    )

    def __init__(self, point: Point, ct_ratio: float = 1.0, pt_ratio: float = 1.0):
        self.point = point
        self.is_bit = point.function.is_bit
        data_type = point.data_type
        words_order, value_order = _BYTE_ORDERS.get(point.word_order, (">", ">"))
        self.little_endian_words = words_order == "<"
        self._pack_words = struct.Struct(f"{words_order}{data_type.register_count}H").pack
        self.unpack_from = struct.Struct(value_order + data_type.struct_code).unpack_from
        self._is_float = data_type.is_float
        #: the raw value meaning "not available" (None: no such value is checked)
        self._invalid_raw: int | None = None
        self._na_reason = ""
        if not data_type.is_float and point.sentinels:
            bits = data_type.bits
            self._invalid_raw = -(1 << (bits - 1)) if data_type.is_signed else (1 << bits) - 1
            self._na_reason = f"{point.name}: {_sentinel(self._invalid_raw, data_type)}"
        self._scale = point.scale
        self._offset = point.offset
        self._factor = _ratio(point, ct_ratio, pt_ratio)

    def value(self, raw: float) -> tuple[float | None, str]:
        """``(value, "")`` for a good raw number, ``(None, reason)`` for an invalid one."""
        if self._is_float:
            if not math.isfinite(raw):
                return None, f"{self.point.name}: {'NaN' if math.isnan(raw) else 'infinite'}"
        elif raw == self._invalid_raw:
            return None, self._na_reason
        value = (raw * self._scale + self._offset) * self._factor
        if not math.isfinite(value):
            return None, f"{self.point.name}: value {value} after scaling"
        return float(value), ""

    def decode(self, words: Sequence[int]) -> Decoded:
        """Decode the point's own words; the rules of :func:`decode_point`."""
        point = self.point
        if self.is_bit:
            if len(words) != 1:
                return Decoded(None, Quality.invalid, f"{point.function} {point.name} needs 1 bit, "
                                                f"got {len(words)}")
            return Decoded(1.0 if words[0] else 0.0)
        try:
            raw = self.unpack_from(self._pack_words(*words), 0)[0]
        except struct.error:
            # wrong number of words, or a word that is not 0…0xFFFF: the slow path says which
            try:
                raw = raw_from_words(words, point.data_type, point.word_order)
            except ValueError as exc:
                return Decoded(None, Quality.invalid, f"{point.name}: {exc}")
        value, reason = self.value(raw)
        if reason:
            return Decoded(None, Quality.invalid, reason)
        return Decoded(value)


@functools.lru_cache(maxsize=4096)
def point_decoder(point: Point, ct_ratio: float = 1.0, pt_ratio: float = 1.0) -> PointDecoder:
    """Return the (cached) :class:`PointDecoder` of ``point`` for these ratios."""
    return PointDecoder(point, ct_ratio, pt_ratio)


class RequestDecoder:
    """Decodes every point of one planned read from its answer, worked out once.

    The answer's words are packed into bytes once (big-endian, and little-endian if a point needs
    it); each point is then unpacked at its own offset.

    Parameters
    ----------
    address
        First address the read covers.
    count
        Registers (or bits) the read covers.
    points
        The points inside ``[address, address + count)``.
    ct_ratio, pt_ratio
        The meter's transformer ratios.
    """

    __slots__ = ("_each", "_fast", "_pack_big", "_pack_little", "count", "is_bit", "points")

    def __init__(
        self,
        address: int,
        count: int,
        points: Sequence[Point],
        ct_ratio: float = 1.0,
        pt_ratio: float = 1.0,
    ):
        self.count = count
        self.points = tuple(points)
        self.is_bit = any(p.function.is_bit for p in self.points)
        #: (point, decoder, first word, last word + 1) per point, for the general path
        self._each: list[tuple[Point, PointDecoder, int, int]] = []
        for p in self.points:
            start = p.address - address
            if start < 0 or start + p.register_count > count:
                raise ValueError(
                    f"point {p.name} at 0x{p.address:04X} ({p.register_count} register(s)) is "
                    f"outside the read 0x{address:04X} count {count}"
                )
            self._each.append((p, point_decoder(p, ct_ratio, pt_ratio), start,
                               start + p.register_count))
        #: (point, unpack_from, value, little-endian words?, byte offset) per point, for the
        #: fast path: everything the loop in :meth:`decode` needs, looked up once
        self._fast = [
            (p, d.unpack_from, d.value, d.little_endian_words, 2 * start)
            for p, d, start, _ in self._each
        ]
        self._pack_big = struct.Struct(f">{count}H").pack
        self._pack_little = (
            struct.Struct(f"<{count}H").pack
            if any(d.little_endian_words for _, d, _, _ in self._each) else None
        )

    def decode(self, words: Sequence[int]) -> list[tuple[Point, float | None, str]]:
        """Decode the answer to the read into ``(point, value, reason)`` for every point.

        ``reason`` is empty for a good value, ``value`` is None for an invalid one: the same
        values and reasons as :func:`decode_point`.
        """
        if self.is_bit or len(words) != self.count:
            return self._decode_each(words)
        try:
            big = self._pack_big(*words)
            little = self._pack_little(*words) if self._pack_little is not None else b""
        except struct.error:  # a word outside 0…0xFFFF: decode_point names it
            return self._decode_each(words)
        out = []
        for point, unpack_from, value, little_endian_words, offset in self._fast:
            out.append(
                (point, *value(unpack_from(little if little_endian_words else big, offset)[0]))
            )
        return out

    def _decode_each(self, words: Sequence[int]) -> list[tuple[Point, float | None, str]]:
        out = []
        for point, decoder, start, stop in self._each:
            decoded = decoder.decode(words[start:stop])
            reason = "" if decoded.quality == Quality.good else decoded.reason or decoded.quality
            out.append((point, decoded.value, reason))
        return out


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
    return point_decoder(point, ct_ratio, pt_ratio).decode(words)


def encode_value(
    point: Point, value: float, ct_ratio: float = 1.0, pt_ratio: float = 1.0
) -> list[int]:
    """Return the register words a meter holds when ``point`` reads ``value`` (inverse of decoding).

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
