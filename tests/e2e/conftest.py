"""The real app process on a private X display (Xvfb), driven with xdotool."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.xvfb import Desktop, missing_tools, xvfb_display


@pytest.fixture
def desktop() -> Iterator[Desktop]:
    missing = missing_tools()
    if missing:
        pytest.skip(f"needs {' and '.join(missing)} (scripts/test.sh installs them as root)")
    with xvfb_display() as display:
        yield Desktop(display)


class AppProcess:
    """`python -m llms_desktop --data-dir DIR` on the test's display; output kept in files."""

    def __init__(self, desktop: Desktop, data_dir: Path, logs: Path) -> None:
        env = {**os.environ, "DISPLAY": desktop.display, "QT_QPA_PLATFORM": "xcb"}
        self.out = logs / "stdout.txt"
        self.err = logs / "stderr.txt"
        logs.mkdir(parents=True, exist_ok=True)
        with self.out.open("ab") as out, self.err.open("ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "llms_desktop", "--data-dir", str(data_dir)],
                env=env,
                stdout=out,
                stderr=err,
            )

    def output(self) -> str:
        return f"stdout:\n{self.out.read_text()}\nstderr:\n{self.err.read_text()}"

    def wait(self, timeout: float = 30.0) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the app did not exit within {timeout} s\n{self.output()}"
            ) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def launch(desktop: Desktop, tmp_path: Path) -> Iterator[Callable[[Path], AppProcess]]:
    started: list[AppProcess] = []

    def start(data_dir: Path) -> AppProcess:
        app = AppProcess(desktop, data_dir, tmp_path / f"logs-{len(started)}")
        started.append(app)
        return app

    yield start
    for app in started:
        app.kill()


def poll(condition: Callable[[], bool], within: float = 30.0, what: str = "") -> None:
    """Wait (from the test process) until `condition()` holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)
