"""Helpers for the polling tests: register contents for a meter model, and settings for a test.

Register words always come from :func:`collectors.decode.encode_value` (the simulator's encoder) or
from literals in the tests; the servers are the real pymodbus servers of ``tests/support/modbus.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from collectors.decode import encode_value
from collectors.registermap import RegisterMap, get_register_map
from jieneng.settings import Settings


def sample_values(regmap: RegisterMap, base: float = 100.0) -> dict[str, float]:
    """A distinct value for every point of a map (in the point's unit), exactly encodable."""
    values = {}
    for i, p in enumerate(regmap.points):
        if p.data_type.is_float:
            values[p.name] = base + 10.0 * i + 0.5
        else:  # a small whole number of raw steps fits every integer type
            values[p.name] = (7 * (i + 1)) * p.scale + p.offset
    return values


def register_blocks(
    regmap: RegisterMap,
    values: Mapping[str, float],
    ct_ratio: float = 1.0,
    pt_ratio: float = 1.0,
) -> dict[int, list[int]]:
    """``{first address: words}`` holding ``values``; adjacent points share one block.

    Unused registers between points are not served (exception 2), like a meter that rejects reads
    of unmapped registers.
    """
    words: dict[int, int] = {}
    for p in regmap.points:
        if p.name in values:
            for k, w in enumerate(encode_value(p, values[p.name], ct_ratio, pt_ratio)):
                words[p.address + k] = w
    blocks: dict[int, list[int]] = {}
    start = prev = None
    for address in sorted(words):
        if prev is None or address != prev + 1:
            start = address
            blocks[start] = []
        blocks[start].append(words[address])
        prev = address
    return blocks


def model(name: str) -> RegisterMap:
    """A shipped register map."""
    return get_register_map(name)


def make_settings(
    tmp_path: Path,
    gateways: list[dict[str, Any]],
    meters: list[dict[str, Any]],
    collector: dict[str, Any] | None = None,
    storage: dict[str, Any] | None = None,
) -> Settings:
    """Validated settings with the store and the spool in ``tmp_path``."""
    full_meters = [
        {"institution": "inst1", "building": "b1", "carrier": "electricity", **m} for m in meters
    ]
    settings = Settings.model_validate({
        "site": {"name": "test", "province": "shandong", "region_code": "370100"},
        "storage": storage or {"backend": "sqlite", "sqlite": {"path": str(tmp_path / "s.sqlite")}},
        "collector": {"spool_path": str(tmp_path / "spool.sqlite"), **(collector or {})},
        "gateways": gateways,
        "meters": full_meters,
    })
    settings.base_dir = tmp_path
    return settings


#: Response timeout for devices that are meant to answer. Generous: on a busy machine (the whole
#: suite on two cores) a loopback answer can take far longer than usual, and a test must not fail
#: for that. Tests of timeouts pass their own, shorter value. [s]
ANSWER_TIMEOUT_S = 2.0


def tcp_gateway(
    gateway_id: str, port: int, timeout_s: float = ANSWER_TIMEOUT_S, retries: int = 0
) -> dict:
    """A ``[[gateways]]`` entry for a loopback TCP server."""
    return {"id": gateway_id, "protocol": "tcp", "host": "127.0.0.1", "port": port,
            "timeout_s": timeout_s, "retries": retries}


def rtu_gateway(gateway_id: str, serial_port: str, baudrate: int = 38400,
                timeout_s: float = ANSWER_TIMEOUT_S, retries: int = 0) -> dict:
    """A ``[[gateways]]`` entry for a serial bus."""
    return {"id": gateway_id, "protocol": "rtu", "serial_port": serial_port,
            "baudrate": baudrate, "timeout_s": timeout_s, "retries": retries}
