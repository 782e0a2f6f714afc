"""`llms-desktop serve` as a real subprocess: start it, read where it listens, stop it."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.cli import COMMAND

LISTENING = re.compile(r"^Listening on (http://\S+/v1) \((\d+) providers?\)$")


class ServeProcess:
    """A running `serve`; `base_url` is what it printed, `lines` its later stdout lines."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str] | None = None,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,  # e.g. a lower open-file limit for the server alone
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.base_url = ""
        self.providers = 0
        self._stderr: str | None = None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put("")  # end of output

    def wait_listening(self, timeout: float = 30) -> ServeProcess:
        line = self._lines.get(timeout=timeout)
        match = LISTENING.match(line)
        assert match, (line, self.finish())
        self.base_url, self.providers = match.group(1), int(match.group(2))
        return self

    def finish(self) -> str:
        """Kill it if still running, close its pipes; returns what it wrote to stderr."""
        if self._stderr is not None:
            return self._stderr
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)
        assert self.process.stderr is not None
        assert self.process.stdout is not None
        err = self.process.stderr.read()
        self.process.stderr.close()
        self._reader.join(timeout=30)
        self.process.stdout.close()
        self._stderr = err
        return err


@contextmanager
def serve(*args: str | Path, env: dict[str, str] | None = None) -> Iterator[ServeProcess]:
    """A started `serve --port 0 ARGS`, killed at the end if still running."""
    server = ServeProcess([str(arg) for arg in args], env).wait_listening()
    try:
        yield server
    finally:
        server.finish()
