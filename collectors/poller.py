"""Poll one device: run its planned requests, decode every point, apply CT/PT ratios.

A :class:`DevicePoller` reads a meter with the fewest requests
(:func:`collectors.planning.plan_requests`) and decodes each point in one place
(:class:`collectors.decode.RequestDecoder`, one per planned request, made when the plan is made, so
nothing about a point's format is worked out again on each cycle). A reading's time is when its
answer arrived (UTC).

Faults:

* exception 2 (illegal data address) for a merged request: the request is split
  (:func:`collectors.planning.split_request`) and retried until the rejected points are
  isolated; those addresses are remembered and the plan is rebuilt around them, so later polls
  do not hit them again. Each rejected point becomes a :class:`PointProblem`.
* other exception responses: that request's points are missing this poll; the others are read.
* timeout or lost connection: the device is not answering; the poll stops (the rest would only
  time out too and delay the other devices on the bus).

A gateway that answers nothing in a poll cycle is taken as silent (:class:`SilentGateway`): its
remaining meters are not polled in that cycle and are marked unavailable, so a dead gateway costs
one timeout per cycle (two in its first silent cycle), not one per meter.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from collectors.decode import RequestDecoder
from collectors.errors import (
    DeviceExceptionResponse,
    DeviceTimeout,
    GatewayUnavailable,
)
from collectors.modbus_client import GatewayClient
from collectors.planning import ReadRequest, plan_requests, split_request
from collectors.registermap import Point, RegisterMap
from collectors.settings import MeterSettings
from jieneng.vocabulary import Quality
from storage.base import Reading

__all__ = ["DevicePoller", "PointProblem", "PollResult", "SilentGateway"]

log = logging.getLogger(__name__)

ILLEGAL_DATA_ADDRESS = 2


@dataclass(frozen=True)
class PointProblem:
    """A data-quality finding about one point in one poll.

    Attributes
    ----------
    meter, point
        Where.
    what
        ``"rejected_address"``, ``"invalid_value"`` or ``"exception_response"``.
    detail
        The device's answer or the decoder's reason.
    """

    meter: str
    point: str
    what: str
    detail: str


@dataclass
class PollResult:
    """The outcome of polling one device once.

    Attributes
    ----------
    meter
        Meter id.
    readings
        One per point read (invalid values carry ``value=None, quality="invalid"``).
    ok
        True when at least one request was answered with data.
    error
        Why the poll failed or was partial (empty when every request succeeded).
    finished
        When the poll ended (UTC).
    response_time_s
        Duration of the whole poll. [s]
    requests
        Modbus requests sent. [requests]
    problems
        Data-quality findings of this poll.
    timed_out
        True when the poll stopped because a request went unanswered (a timeout).
    """

    meter: str
    readings: list[Reading]
    ok: bool
    error: str
    finished: datetime
    response_time_s: float
    requests: int
    problems: list[PointProblem] = field(default_factory=list)
    timed_out: bool = False


def _gap_addresses(request: ReadRequest) -> set[tuple[str, int]]:
    """Return (function, address) of the registers a request reads for none of its points."""
    used: set[int] = set()
    for p in request.points:
        used.update(range(p.address, p.address + p.register_count))
    return {
        (str(request.function), a)
        for a in range(request.address, request.address + request.count)
        if a not in used
    }


class DevicePoller:
    """Reads one meter through its gateway's client.

    Parameters
    ----------
    meter
        The meter's settings (id, device id, CT/PT ratios).
    regmap
        Its register map, with the meter's overrides already applied.
    client
        The gateway's client (shared by every meter on that gateway).
    max_gap
        Merge reads across gaps of at most this many registers.
    """

    def __init__(
        self,
        meter: MeterSettings,
        regmap: RegisterMap,
        client: GatewayClient,
        max_gap: int = 8,
    ):
        self.meter = meter
        self.regmap = regmap
        self.client = client
        self.max_gap = max_gap
        self.points: dict[str, Point] = {p.name: p for p in regmap.points}
        #: (function, address) pairs the device answered with "illegal data address", and unused
        #: registers inside merged reads it rejected: no later request spans them.
        self.rejected: set[tuple[str, int]] = set()
        self.requests: list[ReadRequest] = []
        #: (request, its function name for the client, its decoder) per planned request
        self._planned: list[tuple[ReadRequest, str, RequestDecoder]] = []
        self._set_plan(self._plan())

    def _prepare(self, request: ReadRequest) -> tuple[ReadRequest, str, RequestDecoder]:
        decoder = RequestDecoder(
            request.address, request.count, request.points,
            self.meter.ct_ratio, self.meter.pt_ratio,
        )
        return request, str(request.function), decoder

    def _set_plan(self, requests: list[ReadRequest]) -> None:
        self.requests = requests
        self._planned = [self._prepare(r) for r in requests]

    def _plan(self) -> list[ReadRequest]:
        points = [
            p for p in self.regmap.points if (str(p.function), p.address) not in self.rejected
        ]
        return plan_requests(
            points,
            max_gap=self.max_gap,
            max_count=self.regmap.max_registers_per_request,
            rejected=set(self.rejected),
        )

    def _decode(
        self,
        decoder: RequestDecoder,
        words: list[int],
        at: datetime,
        readings: list[Reading],
        problems: list[PointProblem],
    ) -> None:
        """Decode one answer into ``readings`` (and ``problems`` for invalid values)."""
        meter = self.meter.id
        for point, value, reason in decoder.decode(words):
            if not reason:
                readings.append(Reading(meter, point.name, at, value))
                continue
            readings.append(Reading(meter, point.name, at, None, Quality.invalid))
            problems.append(PointProblem(meter, point.name, "invalid_value", reason))

    async def poll(self) -> PollResult:
        """Read every point once."""
        started = time.monotonic()
        readings: list[Reading] = []
        problems: list[PointProblem] = []
        errors: list[str] = []
        answered = 0
        sent = 0
        replan = False
        timed_out = False
        device_id = self.meter.device_id
        queue = list(self._planned)
        while queue:
            request, function, decoder = queue.pop(0)
            sent += 1
            try:
                words = await self.client.read(function, request.address, request.count, device_id)
            except DeviceExceptionResponse as exc:
                if exc.exception_code != ILLEGAL_DATA_ADDRESS:
                    errors.append(str(exc))
                    problems.extend(
                        PointProblem(self.meter.id, p.name, "exception_response", exc.reason)
                        for p in request.points
                    )
                    continue
                replan = True
                if len(request.points) > 1:
                    # Unused registers inside a merged read are the usual culprit: never span
                    # them again. The parts are retried to find rejected points, if any.
                    self.rejected.update(_gap_addresses(request))
                    queue[0:0] = [self._prepare(r) for r in split_request(request)]
                else:
                    point = request.points[0]
                    self.rejected.add((str(point.function), point.address))
                    log.warning(
                        "meter %r rejects point %s at %s 0x%04X (illegal data address); "
                        "it is left out of later polls",
                        self.meter.id, point.name, point.function, point.address,
                    )
                    problems.append(
                        PointProblem(self.meter.id, point.name, "rejected_address", exc.reason)
                    )
                continue
            except (DeviceTimeout, GatewayUnavailable) as exc:
                errors.append(str(exc))
                timed_out = isinstance(exc, DeviceTimeout)
                break
            answered += 1
            self._decode(decoder, words, datetime.now(UTC), readings, problems)
        if replan:
            self._set_plan(self._plan())
        return PollResult(
            meter=self.meter.id,
            readings=readings,
            ok=answered > 0,
            error="; ".join(errors),
            finished=datetime.now(UTC),
            response_time_s=time.monotonic() - started,
            requests=sent,
            problems=problems,
            timed_out=timed_out,
        )


class SilentGateway:
    """One poll cycle on one gateway: once the gateway is found silent, skip its other meters.

    A gateway that accepts the connection but answers nothing would otherwise cost a full
    timeout for every meter behind it. It is silent in a cycle when, before it answered anything
    in that cycle, two meters timed out; or one, when it was already silent in the cycle before
    (``client.silent``). One timeout alone cannot tell a dead gateway from one dead device (a
    wrong device id) in front of live ones, which must still be read. A meter that timed out
    should go last in the next cycle, so that a dead device does not keep its neighbours from
    being polled.

    Parameters
    ----------
    client
        The gateway's client (shared by its meters); its ``silent`` flag carries the verdict
        from one cycle to the next.
    """

    def __init__(self, client: GatewayClient):
        self.client = client
        self._answers = client.answer_count
        self._timeouts_needed = 1 if client.silent else 2
        #: Why the rest of the cycle is skipped; empty while the gateway may be alive.
        self.reason = ""

    def check(self, result: PollResult) -> None:
        """Take a poll's result; silence the gateway when it has timed out enough, unanswered.

        The result that silences it says so ("no response from gateway 'G' (host:port) within
        T s").
        """
        if self.client.answer_count != self._answers:
            self.client.silent = False
            return
        if self.reason or not result.timed_out:
            return
        self._timeouts_needed -= 1
        if self._timeouts_needed > 0:
            return
        self.client.silent = True
        self.reason = self.client.no_response()
        log.debug("gateway %r is silent in this cycle: %s", self.client.name, result.error)
        result.error = f"{self.reason}; its other meters are not polled in this cycle"

    def skip(self, poller: DevicePoller) -> PollResult:
        """Return the result of a meter not polled because its gateway is silent."""
        return PollResult(
            meter=poller.meter.id,
            readings=[],
            ok=False,
            error=f"not polled in this cycle: {self.reason}",
            finished=datetime.now(UTC),
            response_time_s=0.0,
            requests=0,
        )
