"""Labels, numbers and dates in the reader's language (zh default, en).

Every label comes from the message catalog (:mod:`jieneng.messages`, ``locale/*/dashboard.toml``);
this module adds the formatting of numbers and dates per language. A missing number is shown as
``–`` (never 0).
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

from jieneng import messages

__all__ = ["LANGUAGES", "fmt_date", "fmt_datetime", "fmt_number", "fmt_pct", "month_label", "t"]

LANGUAGES = messages.LANGUAGES
MISSING = "–"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def t(key: str, lang: str, /, **fields: Any) -> str:
    """The dashboard label ``dashboard.<key>`` in ``lang`` (other domains when the key has a dot
    prefix of its own, e.g. ``carrier.electricity``)."""
    full = key if messages.has(key, lang) else f"dashboard.{key}"
    return messages.text(full, lang, **fields)


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA."""
    if value is None:
        return True
    try:
        return bool(math.isnan(float(value)))
    except (TypeError, ValueError):
        return False


def fmt_number(value: Any, lang: str, digits: int = 1) -> str:
    """``12,345.6`` (both languages group by thousands); ``1.23万`` style is not used so columns
    stay comparable. Missing → ``–``."""
    if is_missing(value):
        return MISSING
    return f"{float(value):,.{digits}f}"


def fmt_pct(value: Any, lang: str, digits: int = 0) -> str:
    """A share 0–1 as a percentage; missing → ``–``."""
    if is_missing(value):
        return MISSING
    return f"{100 * float(value):.{digits}f}%"


def fmt_date(value: date | datetime | None, lang: str) -> str:
    """``2026年12月7日`` or ``7 Dec 2026``."""
    if not isinstance(value, date):
        return MISSING
    if lang == "zh":
        return f"{value.year}年{value.month}月{value.day}日"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def fmt_datetime(value: datetime | None, lang: str) -> str:
    """Date and local time (``2026年12月7日 13:05`` / ``7 Dec 2026 13:05``)."""
    if value is None:
        return MISSING
    return f"{fmt_date(value, lang)} {value:%H:%M}"


def fmt_age(seconds: float | None, lang: str) -> str:
    """An age in s/min/h/d, in the language."""
    if seconds is None or is_missing(seconds):
        return MISSING
    units = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
    zh = {"d": "天", "h": "小时", "min": "分钟", "s": "秒"}
    for unit, size in units:
        if seconds >= size or unit == "s":
            n = int(seconds // size)
            return f"{n}{zh[unit]}前" if lang == "zh" else f"{n} {unit} ago"
    return MISSING


def month_label(month: int, lang: str) -> str:
    """``3月`` / ``Mar``."""
    return f"{month}月" if lang == "zh" else _MONTHS_EN[month - 1]


def plotly_separators(lang: str) -> str:
    """Plotly's ``layout.separators`` (decimal point, then thousands) for the language."""
    return ".,"
