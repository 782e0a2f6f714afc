"""Quitting the real app right after it shows, on first run while it looks for local model
servers, exits cleanly: no traceback from the probes still in flight."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llms_desktop.providers.discovery import KNOWN_SERVERS


@pytest.fixture
def silent_local_server() -> Iterator[None]:
    """A server on one of the ports the welcome page probes that accepts and never answers,
    so a probe is surely in flight at quit (when every port is taken, refusals still race)."""
    listener = None
    for kind in KNOWN_SERVERS:
        candidate = socket.socket()
        try:
            candidate.bind(("127.0.0.1", kind.port))
        except OSError:
            candidate.close()
            continue
        candidate.listen(8)
        listener = candidate
        break
    yield
    if listener is not None:
        listener.close()


@pytest.mark.usefixtures("silent_local_server")
def test_quitting_during_the_first_run_probe_prints_no_traceback(tmp_path: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "LLMS_DESKTOP_", "AIR_"))
    }
    env.update(
        QT_QPA_PLATFORM="offscreen",
        LLMS_DESKTOP_QUIT_AFTER_SHOW="1",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "share"),
        HOME=str(tmp_path),
    )
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-m", "llms_desktop", "--data-dir", str(tmp_path / "data")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert "window shown in" in result.stdout
        noise = [
            line
            for line in result.stderr.splitlines()
            if "does not support propagateSizeHints" not in line
        ]
        assert noise == [], "\n".join(noise)
