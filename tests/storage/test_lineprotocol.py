"""Escaping of names in line protocol, InfluxQL and Flux (pure functions)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.base import Reading
from storage.errors import InvalidName
from storage.lineprotocol import (
    decode_tag,
    encode_tag,
    escape_tag,
    flux_string,
    influxql_ident,
    influxql_string,
    reading_line,
)

names = st.text(min_size=1, max_size=40)


@given(names)
def test_encoding_is_reversible(name: str) -> None:
    assert decode_tag(encode_tag(name)) == name


@given(names)
def test_escaped_tag_has_no_raw_separator(name: str) -> None:
    escaped = escape_tag(name)
    assert "\n" not in escaped
    assert "\r" not in escaped
    # every comma, space and = is preceded by a backslash (and no other backslash exists)
    assert re.search(r"(?<!\\)[, =]", escaped) is None
    assert escaped.count("\\") == sum(escaped.count(c) for c in ", =")
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert decode_tag(unescaped) == name


@given(names)
def test_influxql_literal_cannot_be_closed_early(name: str) -> None:
    literal = influxql_string(name)
    inner = literal[1:-1]
    assert literal[0] == literal[-1] == "'"
    # every quote inside is escaped; no raw newline
    assert re.search(r"(?<!\\)'", inner) is None
    assert "\n" not in literal


@given(names)
def test_flux_literal_cannot_be_closed_or_interpolate(name: str) -> None:
    literal = flux_string(name)
    inner = literal[1:-1]
    assert re.search(r'(?<!\\)"', inner) is None
    assert re.search(r"(?<!\\)\$\{", inner) is None


def test_ordinary_names_stay_readable() -> None:
    assert encode_tag('a" OR 1=1') == 'a" OR 1=1'
    assert encode_tag("电表 #3 (一楼)") == "电表 #3 (一楼)"
    assert encode_tag("line1\nline2") == "line1%0Aline2"
    assert encode_tag("50%") == "50%25"
    assert encode_tag("back\\slash") == "back%5Cslash"


def test_identifier_quoting() -> None:
    assert influxql_ident('my"db') == '"my\\"db"'
    with pytest.raises(InvalidName, match="control character"):
        influxql_ident("bad\nname")


def test_reading_line_layout() -> None:
    t = datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    line = reading_line(Reading("m 1,a=b", "energy_import_kwh", t, 12.5))
    assert line == ('readings,meter=m\\ 1\\,a\\=b,point=energy_import_kwh '
                    'value=12.5,quality="good",t_us=1704067200123456i 1704067200123456')
    invalid = reading_line(Reading("m", "p", t, None, "in\"valid"))
    assert invalid == 'readings,meter=m,point=p quality="in\\"valid",t_us=1704067200123456i ' \
                      "1704067200123456"
