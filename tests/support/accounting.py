"""Helpers shared by the accounting tests (imported; the fixtures are in
``tests/accounting/conftest.py``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from accounting.reference_data import ReferenceData, load_reference
from jieneng.settings import AccountingSettings, Settings

ROOT = Path(__file__).resolve().parents[2]
#: The demo city's ledgers.
SAMPLE_DATA = ROOT / "sample_data"
#: Ledger kinds in the order they import (institutions first: the others refer to them).
SAMPLE_LEDGERS = ("institutions", "compounds", "compound_members", "buildings", "headcount",
                  "vehicles", "fuel", "charging", "facilities", "bills", "apportionment")
#: Small data files the tests read (each cited in ``tests/accounting/data/README.md``).
TEST_DATA = ROOT / "tests" / "accounting" / "data"

#: A minimal deployment's settings file: no meters, an SQLite store and a ledger file, both
#: beside the file.
MINIMAL_CONFIG = """
[site]
name = "test city"
timezone = "Asia/Shanghai"
province = "shandong"
region_code = "370100"

[storage.sqlite]
path = "store.sqlite"

[accounting]
ledger_path = "ledgers.sqlite"
"""


@cache
def default_reference() -> ReferenceData:
    """The shipped reference data with default settings, loaded once. Do not modify it."""
    return load_reference(AccountingSettings())


def ledger_settings(base_dir: Path, ledger_path: str = "var/ledgers.sqlite") -> Settings:
    """Settings of a deployment in ``base_dir`` with a ledger file and no meters."""
    settings = Settings.model_validate({
        "site": {"name": "test", "province": "shandong", "region_code": "370100"},
        "accounting": {"ledger_path": ledger_path},
    })
    settings.base_dir = base_dir
    return settings


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` and return the path."""
    path.write_text(text, encoding="utf-8")
    return path
