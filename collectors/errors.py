"""The collectors' exceptions: one small hierarchy under :class:`CollectorError`.

Polling errors say which gateway and device failed, what was asked (function, address, count) and
what happened (timeout, exception code, lost connection), so a log line or a health record is enough
to find the fault on site.
"""

from __future__ import annotations

__all__ = [
    "CollectorError",
    "DeviceError",
    "DeviceExceptionResponse",
    "DeviceTimeout",
    "GatewayUnavailable",
    "SpoolError",
    "SpoolFull",
]

#: Modbus exception codes (Modbus Application Protocol v1.1b3, §7) and their meaning.
EXCEPTION_CODES: dict[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class CollectorError(Exception):
    """Base of every error raised by the collectors package."""


class DeviceError(CollectorError):
    """A read from a field device failed.

    Parameters
    ----------
    gateway
        Gateway id from the settings.
    device_id
        Modbus unit / device id.
    what
        The request, e.g. ``"holding 0x2000 count 20"``.
    reason
        What happened.
    """

    def __init__(self, gateway: str, device_id: int, what: str, reason: str):
        self.gateway = gateway
        self.device_id = device_id
        self.what = what
        self.reason = reason
        super().__init__(f"gateway {gateway!r} device {device_id}: {what}: {reason}")


class DeviceTimeout(DeviceError):
    """No valid answer within the timeout (a dead device, a wrong id, or garbled/CRC-bad frames)."""


class DeviceExceptionResponse(DeviceError):
    """The device answered with a Modbus exception response."""

    def __init__(self, gateway: str, device_id: int, what: str, exception_code: int):
        self.exception_code = exception_code
        meaning = EXCEPTION_CODES.get(exception_code, "unknown exception code")
        super().__init__(
            gateway, device_id, what, f"exception response {exception_code} ({meaning})"
        )


class GatewayUnavailable(DeviceError):
    """The gateway (TCP connection or serial port) cannot be opened or was lost."""


class SpoolError(CollectorError):
    """The local store-and-forward spool cannot be used."""


class SpoolFull(SpoolError):
    """The spool holds ``[collector].spool_max_readings`` readings; new ones are refused."""
