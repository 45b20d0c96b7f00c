"""The message catalog: every language has every key; missing keys are errors."""

from __future__ import annotations

import pytest

from jieneng import messages
from jieneng.vocabulary import CARRIERS


def test_every_language_has_the_same_keys() -> None:
    keys = {lang: set(messages.catalog(lang)) for lang in messages.LANGUAGES}
    reference = keys[messages.DEFAULT_LANGUAGE]
    for lang, found in keys.items():
        assert found == reference, (
            f"{lang}: missing {sorted(reference - found)}; extra {sorted(found - reference)}"
        )


def test_every_carrier_has_a_name_in_every_language() -> None:
    for lang in messages.LANGUAGES:
        for carrier in CARRIERS:
            assert messages.text(f"carrier.{carrier}", lang)
    assert messages.text("carrier.electricity") == "电"
    assert messages.text("carrier.electricity", "en") == "electricity"


def test_unknown_key_and_language_are_errors() -> None:
    with pytest.raises(messages.MessageError, match="not in the 'zh' catalog"):
        messages.text("no.such.key")
    with pytest.raises(messages.MessageError, match="expected one of zh, en"):
        messages.catalog("fr")
