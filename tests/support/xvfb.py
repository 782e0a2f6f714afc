"""A private X display (Xvfb) and xdotool, to drive the real app process as a user would."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

TOOLS = ("Xvfb", "xdotool")


def missing_tools() -> list[str]:
    """The X tools this machine lacks (scripts/test.sh installs them when run as root)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@contextmanager
def xvfb_display(size: str = "1280x800x24") -> Iterator[str]:
    """Start Xvfb on a free display number and yield it (":N"); stop it afterwards."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        # Xvfb writes the display number it chose once it accepts connections.
        with os.fdopen(read_fd, "rb") as pipe:
            number = pipe.readline().strip().decode()
        if not number:
            raise RuntimeError("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


class Desktop:
    """xdotool against one display: find windows, give them focus, type and press keys."""

    def __init__(self, display: str) -> None:
        self.display = display

    def run(self, *args: str, timeout: float = 20.0) -> str:
        result = subprocess.run(
            ["xdotool", *args],
            env={**os.environ, "DISPLAY": self.display},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
        return result.stdout.strip()

    def wait_for_window(self, title: str, timeout: float = 30.0) -> str:
        """The id of a visible window whose title matches `title` (a regex), once one exists."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                found = self.run("search", "--onlyvisible", "--name", title, timeout=5)
            except subprocess.CalledProcessError:
                found = ""  # xdotool exits 1 while nothing matches
            if found:
                return found.splitlines()[-1]
            time.sleep(0.1)
        raise AssertionError(f"no window titled {title!r} appeared within {timeout} s")

    def focus(self, window: str) -> None:
        # No window manager runs: windowactivate would fail, windowfocus sets the X focus.
        self.run("windowfocus", "--sync", window)

    def key(self, *keys: str) -> None:
        self.run("key", "--delay", "60", *keys)

    def type(self, text: str) -> None:
        self.run("type", "--delay", "30", text)
