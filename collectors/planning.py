"""Read planning: a device's points in the fewest Modbus requests.

Points of one function code are sorted by address and packed greedily into requests: the next point
joins the current request when the unread gap before it is at most ``max_gap`` registers and the
request stays within the Modbus limit (125 registers for holding/input registers, 2000 bits for
coils/discrete inputs). For points that must be read as contiguous runs of one function this greedy
packing gives the fewest requests. Different function codes are never merged.

Some devices answer an "illegal data address" exception (code 2) for any range that touches an
unmapped register. ``rejected`` lists such addresses: no request spans one unless a point itself
sits there (then that point is read alone, so the failure stays with it). ``split_request`` cuts a
rejected request into smaller ones so the poller can find the culprit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from collectors.registermap import MAX_BITS_PER_REQUEST, MAX_REGISTERS_PER_REQUEST, Point
from jieneng.vocabulary import Function

__all__ = ["ReadRequest", "plan_requests", "request_limit", "split_request"]


@dataclass(frozen=True)
class ReadRequest:
    """One Modbus read: ``count`` registers (or bits) from ``address`` covering ``points``."""

    function: Function
    address: int
    count: int
    points: tuple[Point, ...]

    @property
    def end(self) -> int:
        """Last address read (inclusive)."""
        return self.address + self.count - 1

    def words_for(self, point: Point, words: Sequence[int]) -> list[int]:
        """Return the slice of a response (``words`` of this request) that belongs to ``point``."""
        start = point.address - self.address
        return list(words[start:start + point.register_count])

    def __str__(self) -> str:
        return f"{self.function} 0x{self.address:04X} count {self.count}"


def request_limit(function: Function, max_count: int = MAX_REGISTERS_PER_REQUEST) -> int:
    """Largest count for one request of ``function`` (registers, or bits for coils)."""
    if function.is_bit:
        return MAX_BITS_PER_REQUEST if max_count == MAX_REGISTERS_PER_REQUEST else max_count
    return min(max_count, MAX_REGISTERS_PER_REQUEST)


def plan_requests(
    points: Iterable[Point],
    max_gap: int = 8,
    max_count: int = MAX_REGISTERS_PER_REQUEST,
    rejected: Collection[tuple[str, int]] = (),
) -> list[ReadRequest]:
    """Return the fewest read requests that cover ``points``.

    Parameters
    ----------
    points
        Points of one device.
    max_gap
        Largest number of unused registers (or bits) a request may read between two points.
    max_count
        Largest request for registers (≤ 125); coils and discrete inputs allow 2000 bits unless a
        smaller ``max_count`` is given.
    rejected
        ``(function, address)`` pairs the device refused (exception code 2); no merged request
        spans them.

    Returns
    -------
    list[ReadRequest]
        Sorted by function code, then address.

    Raises
    ------
    ValueError
        When one point alone is larger than ``max_count``.
    """
    if max_gap < 0:
        raise ValueError(f"max_gap = {max_gap}: expected 0 or more registers")
    by_function: dict[Function, list[Point]] = {}
    for p in points:
        by_function.setdefault(p.function, []).append(p)
    bad = {(Function(f), a) for f, a in rejected}
    requests: list[ReadRequest] = []
    for function in sorted(by_function, key=lambda f: f.code):
        limit = request_limit(function, max_count)
        pts = sorted(by_function[function], key=lambda p: (p.address, p.end, p.name))
        for p in pts:
            if p.register_count > limit:
                raise ValueError(
                    f"point {p.name} is {p.register_count} registers, more than one request "
                    f"may read ({limit})"
                )
        bad_here = sorted(a for f, a in bad if f == function)
        requests.extend(_pack(function, pts, max_gap, limit, bad_here))
    return requests


def _touches(start: int, end: int, bad: Sequence[int]) -> bool:
    return any(start <= a <= end for a in bad)


def _pack(
    function: Function, pts: list[Point], max_gap: int, limit: int, bad: Sequence[int]
) -> list[ReadRequest]:
    out: list[ReadRequest] = []
    group: list[Point] = []
    start = end = 0
    for p in pts:
        alone = _touches(p.address, p.end, bad)
        if group and not alone:
            new_end = max(end, p.end)
            gap = p.address - end - 1
            if (
                gap <= max_gap
                and new_end - start + 1 <= limit
                and not _touches(end + 1, p.address - 1, bad)
            ):
                group.append(p)
                end = new_end
                continue
        if group:
            out.append(ReadRequest(function, start, end - start + 1, tuple(group)))
            group = []
        if alone:
            out.append(ReadRequest(function, p.address, p.register_count, (p,)))
            continue
        group = [p]
        start, end = p.address, p.end
    if group:
        out.append(ReadRequest(function, start, end - start + 1, tuple(group)))
    return out


def split_request(request: ReadRequest, bad_address: int | None = None) -> list[ReadRequest]:
    """Cut a request the device rejected into smaller requests covering the same points.

    Parameters
    ----------
    request
        The rejected request.
    bad_address
        The address known to be refused, if any. Points that occupy it are read alone; the other
        points are packed into requests that do not span it.

    Returns
    -------
    list[ReadRequest]
        Without ``bad_address``: the contiguous runs of the request (gaps are the usual culprit),
        or, when the request has no gaps, its two halves. A one-point request is returned as is.
    """
    pts = sorted(request.points, key=lambda p: (p.address, p.end, p.name))
    limit = max(request.count, 1)
    if bad_address is not None:
        return _pack(request.function, pts, request.count, limit, [bad_address])
    if len(pts) <= 1:
        return [request]
    runs = _pack(request.function, pts, 0, limit, [])
    if len(runs) > 1:
        return runs
    half = len(pts) // 2
    return [
        *_pack(request.function, pts[:half], 0, limit, []),
        *_pack(request.function, pts[half:], 0, limit, []),
    ]
