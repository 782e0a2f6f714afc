"""Settings read back validated: strings from INI files, garbage and out-of-range values."""

from __future__ import annotations

import pytest

from llms_desktop import settings as keys
from llms_desktop.settings import MemoryBackend, Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("false", False),
        ("False", False),
        ("0", False),
        ("true", True),
        ("1", True),
        (True, True),
        ("garbled", True),
        (None, True),
        ([1], True),
    ],
)
def test_booleans_read_back_from_strings(raw: object, expected: bool) -> None:
    settings = Settings(MemoryBackend({} if raw is None else {keys.STREAM.key: raw}))
    assert settings.stream is expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("30", 30), (45, 45), ("3601", 120), ("-5", 120), ("abc", 120), ("1e9", 120), (True, 120)],
)
def test_numbers_out_of_range_or_garbled_fall_back(raw: object, expected: int) -> None:
    assert Settings(MemoryBackend({keys.TIMEOUT.key: raw})).timeout == expected


def test_choices_fall_back_to_default() -> None:
    assert Settings(MemoryBackend({keys.THEME.key: "purple"})).theme == "system"
    assert Settings(MemoryBackend({keys.THEME.key: "dark"})).theme == "dark"


def test_set_validates_and_notifies_listeners() -> None:
    backend = MemoryBackend()
    settings = Settings(backend)
    changed: list[str] = []
    unsubscribe = settings.subscribe(changed.append)
    settings.set(keys.STREAM, False)
    settings.set(keys.STREAM, False)  # unchanged: no second notification
    assert changed == [keys.STREAM.key]
    with pytest.raises(ValueError, match="outside"):
        settings.set(keys.FONT_SIZE, 400)
    unsubscribe()
    settings.set(keys.FONT_SIZE, 14)
    assert changed == [keys.STREAM.key]
    assert settings.font_size == 14
