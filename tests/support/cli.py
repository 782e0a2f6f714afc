"""Running the real `llms-desktop` command line in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

COMMAND = (sys.executable, "-m", "llms_desktop")


def run_cli(
    *args: str | Path,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run one command to the end and capture its output."""
    return subprocess.run(
        [*COMMAND, *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def chat_args(base_url: str, *extra: str | Path) -> list[str]:
    """`chat` against a loopback server with a fixed model (no /models request)."""
    return ["chat", "--base-url", base_url, "--model", "m", *map(str, extra)]


def one_error_line(result: subprocess.CompletedProcess[Any]) -> str:
    """The single `llms-desktop: error: ...` line of a failed command (asserts there is one)."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("llms-desktop: error: "), lines[0]
    return str(lines[0])
