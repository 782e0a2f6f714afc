"""Shared fixtures: a loopback server, and an isolated home so no test touches the real one."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.loopback import LoopbackServer


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every data path and provider variable away from the real user's."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LLMS_DESKTOP_HOME", str(home / "data"))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "AIREFINERY_", "AIR_")) or name == "LLMS_DESKTOP_MODEL":
            monkeypatch.delenv(name)
    # Never the real keychain: no backend here means the 0600 key file, under the temp HOME.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("AIR_SILENT", "1")
    monkeypatch.setenv("AIR_CACHE_DIR", str(home / "air-cache"))
    return home


@pytest.fixture
def loopback() -> Iterator[LoopbackServer]:
    """A running loopback server; set `.handler` to script its replies."""
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()
