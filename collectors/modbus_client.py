"""One gateway's Modbus connection: a thin async wrapper around pymodbus 3.16.

A :class:`GatewayClient` owns one pymodbus client (TCP, or RTU on a serial port). It only reads:
function codes 01 (coils), 02 (discrete inputs), 03 (holding registers) and 04 (input registers) —
nothing here can write to a meter. pymodbus serialises requests on one client, so a serial bus
carries one request at a time.

Failures become :mod:`collectors.errors` exceptions that name the gateway, the device and the
request. Reconnection is done here, with exponential backoff: after a failed connect, the next
attempt waits ``reconnect_delay_s``, doubling up to ``reconnect_delay_max_s``; requests made while
waiting fail fast with :class:`~collectors.errors.GatewayUnavailable` instead of blocking other
devices.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pymodbus import FramerType
from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from collectors.errors import DeviceExceptionResponse, DeviceTimeout, GatewayUnavailable
from collectors.settings import RtuGateway, TcpGateway
from jieneng.vocabulary import Function

__all__ = ["READ_FUNCTIONS", "GatewayClient"]

log = logging.getLogger(__name__)

#: pymodbus client method that reads each data table.
_CLIENT_METHODS: dict[Function, str] = {
    Function.coil: "read_coils",
    Function.discrete: "read_discrete_inputs",
    Function.holding: "read_holding_registers",
    Function.input: "read_input_registers",
}
#: Register-map function name → (Modbus function code, pymodbus client method).
READ_FUNCTIONS: dict[str, tuple[int, str]] = {
    function.value: (function.code, method) for function, method in _CLIENT_METHODS.items()
}


class GatewayClient:
    """Read-only Modbus client for one gateway (TCP) or one RS-485 bus (RTU).

    Parameters
    ----------
    gateway
        The gateway's settings (host/port or serial port, timeout, retries).
    reconnect_delay_s
        First wait after a failed connect. [s]
    reconnect_delay_max_s
        Longest wait between connect attempts. [s]
    """

    def __init__(
        self,
        gateway: TcpGateway | RtuGateway,
        reconnect_delay_s: float = 0.5,
        reconnect_delay_max_s: float = 60.0,
    ):
        self.gateway = gateway
        self.reconnect_delay_s = reconnect_delay_s
        self.reconnect_delay_max_s = reconnect_delay_max_s
        #: Requests sent (successful or not) since this client was made.
        self.request_count = 0
        #: Requests the gateway answered (with data or an exception response). A request sent
        #: while this does not grow has gone unanswered: see :meth:`no_response`.
        self.answer_count = 0
        #: True when the last poll cycle found the gateway silent (set by the poller's
        #: ``SilentGateway``): the next cycle gives up on it after one timeout.
        self.silent = False
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None
        self._next_connect_at = 0.0  # time.monotonic() before which no connect is tried
        self._delay_s = 0.0

    @property
    def name(self) -> str:
        """The gateway id."""
        return self.gateway.id

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        gw = self.gateway
        # reconnect_delay=0 turns pymodbus's own background reconnect off: this class decides
        # when to reconnect, so a dead gateway costs one fast failure per request, not a hang.
        common: dict[str, Any] = {
            "timeout": gw.timeout_s, "retries": gw.retries, "reconnect_delay": 0,
        }
        if isinstance(gw, TcpGateway):
            return AsyncModbusTcpClient(gw.host, port=gw.port, **common)
        return AsyncModbusSerialClient(
            gw.serial_port, framer=FramerType.RTU, baudrate=gw.baudrate, bytesize=gw.bytesize,
            parity=gw.parity, stopbits=gw.stopbits, **common,
        )

    def no_response(self) -> str:
        """Return "no response from gateway 'G' (host:port) within T s": a gateway gone silent."""
        gw = self.gateway
        attempts = gw.retries + 1
        tries = f" ({attempts} attempts of {gw.timeout_s:g} s)" if attempts > 1 else ""
        return (f"no response from gateway {self.name!r} ({self._where()}) within "
                f"{gw.timeout_s * attempts:g} s{tries}")

    def _where(self) -> str:
        gw = self.gateway
        if isinstance(gw, TcpGateway):
            return f"{gw.host}:{gw.port}"
        return gw.serial_port

    async def _ensure_connected(self, device_id: int, what: str) -> AsyncModbusTcpClient | Any:
        if self._client is not None and self._client.connected:
            return self._client
        now = time.monotonic()
        if now < self._next_connect_at:
            raise GatewayUnavailable(
                self.name, device_id, what,
                f"not connected to {self._where()}; next connect attempt in "
                f"{self._next_connect_at - now:.1f} s",
            )
        if self._client is not None:
            self._client.close()
        self._client = self._make_client()
        ok = False
        try:
            ok = await self._client.connect()
        except (OSError, ModbusException) as exc:
            log.debug("connect to %s failed: %s", self._where(), exc)
        if not ok:
            self._delay_s = min(
                self.reconnect_delay_max_s, max(self.reconnect_delay_s, 2 * self._delay_s)
            )
            self._next_connect_at = time.monotonic() + self._delay_s
            self._client.close()
            self._client = None
            raise GatewayUnavailable(
                self.name, device_id, what,
                f"cannot connect to {self._where()}; retrying in {self._delay_s:.1f} s",
            )
        self._delay_s = 0.0
        self._next_connect_at = 0.0
        return self._client

    async def read(self, function: str, address: int, count: int, device_id: int) -> list[int]:
        """Read ``count`` registers (or bits) starting at the 0-based ``address``.

        Parameters
        ----------
        function
            ``"holding"`` (FC03), ``"input"`` (FC04), ``"coil"`` (FC01) or ``"discrete"`` (FC02).
        address
            0-based protocol address.
        count
            Number of registers (or bits).
        device_id
            Modbus unit / device id.

        Returns
        -------
        list[int]
            Register words (0..65535), or bits as 0/1, exactly ``count`` of them.

        Raises
        ------
        DeviceTimeout
            No valid answer (also garbled or CRC-bad RTU frames, which pymodbus discards).
        DeviceExceptionResponse
            The device answered with an exception code (2 = illegal data address).
        GatewayUnavailable
            The connection cannot be opened, or was lost during the request.
        """
        if function not in READ_FUNCTIONS:
            raise ValueError(
                f"function {function!r} is not a read function; expected one of "
                f"{', '.join(READ_FUNCTIONS)}"
            )
        code, method = READ_FUNCTIONS[function]
        what = f"FC{code:02d} {function} 0x{address:04X} count {count}"
        client = await self._ensure_connected(device_id, what)
        self.request_count += 1
        try:
            response = await getattr(client, method)(address, count=count, device_id=device_id)
        except ConnectionException as exc:
            client.close()
            raise GatewayUnavailable(self.name, device_id, what, f"connection lost: {exc}") from exc
        except ModbusIOException as exc:
            if not client.connected:
                raise GatewayUnavailable(
                    self.name, device_id, what, f"connection lost: {exc}"
                ) from exc
            raise DeviceTimeout(
                self.name, device_id, what,
                f"no valid answer within {self.gateway.timeout_s} s "
                f"({self.gateway.retries} retries)",
            ) from exc
        except ModbusException as exc:
            raise DeviceTimeout(self.name, device_id, what, str(exc)) from exc
        self.answer_count += 1
        if response.isError():
            raise DeviceExceptionResponse(
                self.name, device_id, what, int(getattr(response, "exception_code", 0))
            )
        if Function(function).is_bit:
            return [int(b) for b in response.bits[:count]]
        words = list(response.registers)
        if len(words) != count:
            raise DeviceTimeout(
                self.name, device_id, what, f"answer has {len(words)} registers, expected {count}"
            )
        return words

    def close(self) -> None:
        """Close the connection (a later :meth:`read` reconnects)."""
        if self._client is not None:
            self._client.close()
            self._client = None
