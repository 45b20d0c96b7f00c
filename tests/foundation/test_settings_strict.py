"""Strict settings: a number is a number, a flag is true/false, a host is a host.

TOML has types, so ``port = true`` or ``port = "15021"`` is a mistake in the file, never a value
to convert. :func:`test_every_number_and_flag_of_every_section_is_strict` walks every section
model reachable from :class:`jieneng.settings.Settings`, so a section added later is checked too.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, ValidationError

from jieneng.settings import Settings, validate_file
from jieneng.vocabulary import check_host

from .test_settings import MINIMAL, write


def _unwrap(ann: Any) -> Any:
    while typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def _members(ann: Any) -> list[Any]:
    ann = _unwrap(ann)
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return [_unwrap(a) for a in typing.get_args(ann) if a is not type(None)]
    return [ann]


def _models(model: type[BaseModel], seen: set[type] | None = None) -> Iterator[type[BaseModel]]:
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            ann = _unwrap(stack.pop())
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                yield from _models(ann, seen)
            else:
                stack.extend(typing.get_args(ann))


def _bad_values(ann: Any) -> list[Any]:
    """Values of the wrong TOML type for a field of this annotation (empty: not a scalar field)."""
    kinds = _members(ann)
    if all(k is bool for k in kinds):
        return [1, "true"]
    if all(k in (int, float) for k in kinds):
        return [True, "1"]
    if all(typing.get_origin(k) is Literal and all(
            isinstance(v, int) and not isinstance(v, bool) for v in typing.get_args(k))
           for k in kinds):
        return [True]
    if len(kinds) == 1 and typing.get_origin(kinds[0]) is dict:
        value = _bad_values(typing.get_args(kinds[0])[1])
        return [{"electricity": v} for v in value]
    return []


def _fields() -> list[tuple[str, str, list[Any]]]:
    out = []
    for model in _models(Settings):
        for name, field in model.model_fields.items():
            if field.exclude:
                continue
            bad = _bad_values(field.annotation)
            if bad:
                out.append((model.__name__, name, bad))
    return out


FIELDS = _fields()


def test_the_walk_finds_the_known_numbers():
    found = {(m, f) for m, f, _ in FIELDS}
    assert {("TcpGateway", "port"), ("TcpGateway", "timeout_s"), ("MeterSettings", "ct_ratio"),
            ("RtuGateway", "stopbits"), ("InfluxStorage", "verify_tls"),
            ("AccountingSettings", "counter_max_rate_per_h"), ("DashboardSettings", "port"),
            ("StorageSettings", "retention_raw_days")} <= found


@pytest.mark.parametrize(("model", "field", "bad"), FIELDS, ids=[f"{m}.{f}" for m, f, _ in FIELDS])
def test_every_number_and_flag_of_every_section_is_strict(model, field, bad):
    cls = next(c for c in _models(Settings) if c.__name__ == model)
    for value in bad:
        with pytest.raises(ValidationError) as info:
            cls.model_validate({field: value, "protocol": "tcp" if model == "TcpGateway" else "rtu"})
        locs = {e["loc"][0] for e in info.value.errors()}
        assert field in locs, f"{model}.{field} = {value!r} was accepted"


def test_an_int_is_a_float(tmp_path):
    settings, problems = validate_file(write(tmp_path, MINIMAL + "ct_ratio = 40\n"))
    assert problems == []
    assert settings.meters[0].ct_ratio == 40.0


@pytest.mark.parametrize(("text", "key", "expected"), [
    (MINIMAL.replace("port = 1502", "port = true"), "gateways[0].port",
     "gateways[0].port = true: a whole number without quotes"),
    (MINIMAL.replace("port = 1502", 'port = "15021"'), "gateways[0].port",
     "gateways[0].port = '15021': a whole number without quotes"),
    (MINIMAL.replace("port = 1502", "port = 1502\ntimeout_s = true"), "gateways[0].timeout_s",
     "gateways[0].timeout_s = true: a number without quotes"),
    (MINIMAL + 'ct_ratio = "40"\n', "meters[0].ct_ratio",
     "meters[0].ct_ratio = '40': a number without quotes"),
    (MINIMAL.replace('host = "127.0.0.1"', 'host = "not a host!!"'), "gateways[0].host",
     "gateways[0].host = 'not a host!!': expected a host name"),
    (MINIMAL + '\n[dashboard]\nhost = "0.0.0.0 "\n', "dashboard.host", "expected a host name"),
    (MINIMAL.replace("[[meters]]", "[meters]"), "meters",
     "meters = [meters] (a single table): a list of tables: write [[meters]], with two brackets, "
     "before each entry"),
    (MINIMAL.replace("[[gateways]]", "[gateways]"), "gateways", "write [[gateways]]"),
    (MINIMAL + '\n[dashboard.users]\nname = "a"\nrole = "admin"\npassword_env = "P"\n',
     "dashboard.users", "write [[dashboard.users]], with two brackets"),
    (MINIMAL + "\n[storage.influxdb]\nurl = \"http://h:8086\"\nverify_tls = \"yes\"\n",
     "storage.influxdb.verify_tls", "true or false (without quotes)"),
])
def test_strict_values_are_reported_with_their_key(text, key, expected, tmp_path):
    _, problems = validate_file(write(tmp_path, text))
    by_key = {p.key_path: str(p) for p in problems}
    assert key in by_key, problems
    assert expected in by_key[key]


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "gw-01.example.gov.cn",
                                  "0.0.0.0", "meter.local."])
def test_hosts_that_pass(host):
    assert check_host(host) == host


@pytest.mark.parametrize("host", ["not a host!!", "", "-gw", "gw..x", "1.2.3.999", "a_b",
                                  "x" * 64, "http://gw"])
def test_hosts_that_do_not(host):
    with pytest.raises(ValueError, match="a host name"):
        check_host(host)


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "is empty (no settings)"),
    (b"\n# only comments\n", "is empty (no settings)"),
    (MINIMAL.encode("utf-16"), "is UTF-16 or binary, not UTF-8 text: save it as UTF-8"),
    (MINIMAL.encode("gbk"), "(byte 17, line 3; GBK or another encoding?): save it as UTF-8"),
])
def test_empty_and_non_utf8_files(data, expected, tmp_path):
    path = tmp_path / "jieneng.toml"
    path.write_bytes(data)
    _, problems = validate_file(path)
    assert len(problems) == 1
    assert str(problems[0]) == f"{path}: {problems[0].expected}"
    assert expected in str(problems[0])


def test_a_utf8_byte_order_mark_is_fine(tmp_path):
    path = tmp_path / "jieneng.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    settings, problems = validate_file(path)
    assert problems == []
    assert settings.site.name == "测试局"


def test_a_folder_and_an_unreadable_file(tmp_path, monkeypatch):
    _, problems = validate_file(tmp_path)
    assert str(problems[0]) == (f"{tmp_path}: is a folder; expected a TOML settings file "
                                "(e.g. config/jieneng.toml)")
    path = write(tmp_path, MINIMAL)

    def refuse(self):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    _, problems = validate_file(path)
    assert str(problems[0]) == (f"{path}: cannot be read by this user (permission denied); "
                                "check its owner and mode")
