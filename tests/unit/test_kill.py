"""SIGKILL mid-answer: on the next start the answer is `interrupted` and lost at most 250 ms."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from llms_desktop.store import Store
from tests.support.cli import COMMAND, chat_args
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk

TOKEN_GAP = 0.05
WINDOW = 0.25  # the promise: text received up to 250 ms before the kill is on disk


class StdoutLog:
    """Reads the child's stdout as it comes; `text_at(t)` is what had arrived by monotonic t.

    The child prints each delta as soon as its session has it, so a delta read here at time t
    reached the session no later than t: a sound (slightly late) record of when it arrived.
    """

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        self._fd = process.stdout.fileno()
        self.records: list[tuple[float, bytes]] = []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while data := os.read(self._fd, 65536):
            self.records.append((time.monotonic(), data))

    def text(self) -> str:
        return b"".join(data for _, data in self.records).decode()

    def text_at(self, moment: float) -> str:
        return b"".join(data for at, data in self.records if at <= moment).decode()

    def wait_for_tokens(self, count: int, timeout: float = 30) -> float:
        """Block until `count` tokens were printed; returns when the last of them was read."""
        deadline = time.monotonic() + timeout
        while len(self.text().split()) < count:
            assert time.monotonic() < deadline, f"only {self.text()!r} after {timeout} s"
            time.sleep(0.002)
        return self.records[-1][0]


def wait_for_checkpoint(db: Path, timeout: float = 30) -> float:
    """Watch the answer's stored text (as another reader); return when it next changes."""
    deadline = time.monotonic() + timeout
    with contextlib.closing(sqlite3.connect(db)) as watcher:
        query = "SELECT content FROM messages WHERE role = 'assistant'"
        first = watcher.execute(query).fetchone()
        while time.monotonic() < deadline:
            time.sleep(0.002)
            if watcher.execute(query).fetchone() != first:
                return time.monotonic()
    raise AssertionError("the answer was never checkpointed while streaming")


def test_sigkill_mid_stream_keeps_everything_but_the_last_250_ms(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    tokens = [f"t{i:03d} " for i in range(400)]
    pieces: list[bytes | Pause] = []
    for token in tokens:
        pieces += [f"data: {json.dumps(chunk(token))}\n\n".encode(), Pause(TOKEN_GAP)]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=pieces
    )
    data = tmp_path / "data"
    process = subprocess.Popen(
        [*COMMAND, "--data-dir", str(data), *chat_args(loopback.base_url, "tell me")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        log = StdoutLog(process)
        log.wait_for_tokens(10)
        # The hardest moment to be killed: just over 250 ms after a checkpoint, once more
        # tokens have arrived, so the promise needs the next checkpoint to have happened.
        checkpoint_seen = wait_for_checkpoint(data / "llms-desktop.db")
        time.sleep(max(0.0, checkpoint_seen + WINDOW + TOKEN_GAP * 1.2 - time.monotonic()))
        killed_at = time.monotonic()
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL

    must_have = log.text_at(killed_at - WINDOW)
    assert len(must_have.split()) >= 10
    with Store.open(data) as store:
        assert store.interrupted_on_open == 1
        (thread,) = store.list_threads()
        user, answer = store.messages(thread.id)
    assert (user.role, user.content, user.status) == ("user", "tell me", "complete")
    assert answer.status == "interrupted"
    assert "".join(tokens).startswith(answer.content)  # nothing invented, nothing reordered
    assert answer.content.startswith(must_have), (len(answer.content), len(must_have))
