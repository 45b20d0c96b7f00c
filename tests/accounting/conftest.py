"""Fixtures shared by the accounting tests: the reference data, a ledger deployment's settings,
a minimal settings file, and the demo city's ledgers imported into one."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounting.reference_data import ReferenceData
from jieneng.cli import main
from jieneng.settings import Settings
from tests.support.accounting import (
    MINIMAL_CONFIG,
    SAMPLE_DATA,
    SAMPLE_LEDGERS,
    default_reference,
    ledger_settings,
    write_text,
)


@pytest.fixture(scope="session")
def reference() -> ReferenceData:
    """The shipped reference data with default settings (shared: do not modify it)."""
    return default_reference()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """A deployment in ``tmp_path`` with a ledger file (``var/ledgers.sqlite``) and no meters."""
    return ledger_settings(tmp_path)


@pytest.fixture
def config_file(tmp_path) -> Path:
    """``tmp_path/jieneng.toml``: :data:`tests.support.accounting.MINIMAL_CONFIG`."""
    return write_text(tmp_path / "jieneng.toml", MINIMAL_CONFIG)


@pytest.fixture(scope="module")
def sample_city(tmp_path_factory) -> Path:
    """The settings file of a deployment without meters holding every ledger of ``sample_data/``
    (imported with ``jieneng import``): all its consumption comes from bills and fuel cards."""
    path = write_text(tmp_path_factory.mktemp("city") / "jieneng.toml", MINIMAL_CONFIG)
    for kind in SAMPLE_LEDGERS:
        assert main(["import", kind, str(SAMPLE_DATA / f"{kind}.csv"), "--config", str(path)]) == 0
    return path
