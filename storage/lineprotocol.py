"""Names and values in InfluxDB line protocol, InfluxQL and Flux text: escaping and quoting.

Meter ids may be any Unicode text. Line protocol escapes commas, equals signs and spaces in tag
values with a backslash, but it cannot carry a newline, and a backslash at the end of a tag value
is ambiguous. Tag values are therefore stored *percent-encoded* for exactly these characters:
``%`` itself, ``\\`` and the control characters (U+0000–U+001F, U+007F) become ``%XX``. The
encoding is reversible and leaves every ordinary name (Chinese text, quotes, commas, spaces)
readable in other tools: ``a" OR 1=1`` is stored as ``a" OR 1=1``, ``line1\\nline2`` as
``line1%0Aline2``.

Query text never carries a raw name: InfluxQL string literals and Flux strings are quoted with
:func:`influxql_string` and :func:`flux_string`, identifiers with :func:`influxql_ident`.
"""

from __future__ import annotations

import re

__all__ = [
    "decode_tag",
    "encode_tag",
    "escape_tag",
    "field_string",
    "flux_string",
    "influxql_ident",
    "influxql_string",
]

_ENCODE = {c: f"%{c:02X}" for c in [*range(0x20), 0x7F, ord("%"), ord("\\")]}
_DECODE = re.compile(r"%([0-9A-F]{2})")
_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})


def encode_tag(name: str) -> str:
    """The stored form of a meter or point name: ``%``, ``\\`` and control characters as ``%XX``."""
    return name.translate(_ENCODE)


def decode_tag(stored: str) -> str:
    """The name back from its stored form (inverse of :func:`encode_tag`)."""
    if "%" not in stored:
        return stored
    return _DECODE.sub(lambda m: chr(int(m.group(1), 16)), stored)


def escape_tag(name: str) -> str:
    """A name as a tag value in line protocol: encoded, then commas, ``=`` and spaces escaped."""
    return name.translate(_ENCODE).translate(_TAG_ESCAPE)


def field_string(value: str) -> str:
    """A string field value in line protocol: double-quoted, ``\\`` and ``"`` escaped, no newline
    (newlines are percent-encoded like tag values)."""
    text = value.translate(_ENCODE).replace('"', '\\"')
    return f'"{text}"'


def influxql_string(name: str) -> str:
    """An InfluxQL string literal matching the stored form of ``name``."""
    text = encode_tag(name).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{text}'"


def influxql_ident(name: str) -> str:
    """An InfluxQL double-quoted identifier (database, retention policy, measurement)."""
    if any(ord(c) < 0x20 or c == "\x7f" for c in name):
        from storage.errors import InvalidName

        raise InvalidName(f"identifier {name!r} contains a control character")
    text = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def flux_string(name: str) -> str:
    """A Flux string literal matching the stored form of ``name`` (``${`` cannot interpolate)."""
    text = encode_tag(name).replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    return f'"{text}"'
