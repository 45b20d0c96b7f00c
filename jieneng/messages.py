"""The message catalog: every label a person reads, in Chinese (default) and English.

One catalog serves the report, the CLI tables and the dashboard. Messages live in TOML files,
one folder per language and one file per domain (``jieneng/locale/zh/accounting.toml``,
``jieneng/locale/en/dashboard.toml``, ...), with dotted keys::

    [carrier]
    electricity = "电"

so ``text("carrier.electricity", "zh") == "电"``. Messages may hold ``{name}`` fields filled
from keyword arguments. Every language has the same keys (a test checks it); a key missing from
the catalog is an error, never a silent fall-back to the key itself.

Like :mod:`jieneng.vocabulary`, this module sits at the bottom of the import graph: it imports
nothing of the project, and every package may use it.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "LOCALE_DIR", "MessageError", "catalog", "has", "text"]

LOCALE_DIR = Path(__file__).with_name("locale")
#: Languages with a catalog; the first is the default.
LANGUAGES: tuple[str, ...] = ("zh", "en")
DEFAULT_LANGUAGE = LANGUAGES[0]


class MessageError(KeyError):
    """A message key or language that the catalog does not have."""

    def __str__(self) -> str:  # KeyError quotes its argument; a message reads better plain
        return str(self.args[0])


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, str], file: Path) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, name + ".", out, file)
        elif isinstance(value, str):
            if name in out:
                raise MessageError(f"{file}: message {name!r} is defined twice")
            out[name] = value
        else:
            raise MessageError(f"{file}: message {name!r} must be text, not {type(value).__name__}")


@functools.cache
def catalog(language: str = DEFAULT_LANGUAGE) -> Mapping[str, str]:
    """Every message of one language, by dotted key.

    Raises
    ------
    MessageError
        The language has no catalog, or a catalog file defines a key twice.
    """
    if language not in LANGUAGES:
        raise MessageError(f"no message catalog for language {language!r}; "
                           f"expected one of {', '.join(LANGUAGES)}")
    messages: dict[str, str] = {}
    for file in sorted((LOCALE_DIR / language).glob("*.toml")):
        _flatten(tomllib.loads(file.read_text(encoding="utf-8")), "", messages, file)
    return messages


def has(key: str, language: str = DEFAULT_LANGUAGE) -> bool:
    """True when the catalog of ``language`` has ``key``."""
    return key in catalog(language)


def text(key: str, language: str = DEFAULT_LANGUAGE, /, **fields: Any) -> str:
    """The message ``key`` in ``language``, with ``{name}`` fields filled from ``fields``.

    Raises
    ------
    MessageError
        The key is not in the catalog (a programming error: add it to every language's file).
    """
    try:
        message = catalog(language)[key]
    except KeyError:
        raise MessageError(f"message {key!r} is not in the {language!r} catalog "
                           f"({LOCALE_DIR / language}/*.toml)") from None
    return message.format(**fields) if fields else message
