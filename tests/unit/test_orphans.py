"""Answers left streaming by a process that died are interrupted, even with others running."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llms_desktop.store import Store

# Another process: open the store, start an answer, say its id, then wait to be killed.
STREAMER = """
import sys, time
from pathlib import Path
from llms_desktop.store import Store
store = Store.open(Path(sys.argv[1]))
thread = store.create_thread("t")
store.add_message(thread.id, "user", "q")
answer = store.add_message(thread.id, "assistant", "partial", status="streaming")
print(thread.id, answer.id, flush=True)
time.sleep(120)
"""


class Streamer:
    """A real process streaming an answer into the database (as a window or the CLI would)."""

    def __init__(self, data: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", STREAMER, str(data)], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.thread_id, self.answer_id = self.process.stdout.readline().split()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def streamers(tmp_path: Path) -> Iterator[list[Streamer]]:
    started: list[Streamer] = []
    yield started
    for streamer in started:
        streamer.close()


def status(store: Store, message_id: str) -> str:
    message = store.get_message(message_id)
    assert message is not None
    return message.status


def test_only_the_dead_processes_answers_are_interrupted_while_others_keep_it_open(
    tmp_path: Path, streamers: list[Streamer]
) -> None:
    data = tmp_path / "data"
    with Store.open(data):  # created, so both processes open an existing database
        pass
    dead, alive = Streamer(data), Streamer(data)
    streamers += [dead, alive]
    dead.kill()
    # `alive` keeps the database open: this opener is not alone, yet knows whose is whose.
    with Store.open(data) as store:
        assert store.interrupted_on_open == 1
        assert status(store, dead.answer_id) == "interrupted"
        assert status(store, alive.answer_id) == "streaming"
        kept = store.get_message(dead.answer_id)
        assert kept is not None
        assert kept.content == "partial"
        # A process that dies while this one runs: found when its thread is looked at.
        assert store.interrupt_orphans(alive.thread_id) == 0
        alive.kill()
        assert store.interrupt_orphans(alive.thread_id) == 1
        assert status(store, alive.answer_id) == "interrupted"


def test_an_answer_saved_without_an_owner_waits_for_a_start_with_nothing_else_open(
    tmp_path: Path, streamers: list[Streamer]
) -> None:
    from tests.support.store_faults import sqlite_connection

    data = tmp_path / "data"
    holder = Store.open(data)  # open throughout: nobody below starts alone
    try:
        thread = holder.create_thread("t")
        legacy = holder.add_message(thread.id, "assistant", "old", status="streaming")
        with sqlite_connection(data / "llms-desktop.db") as db:  # as wave 1 saved it
            db.execute("UPDATE messages SET owner = NULL WHERE id = ?", (legacy.id,))
        other = Streamer(data)
        streamers.append(other)
        with Store.open(data) as store:
            assert status(store, legacy.id) == "streaming"  # its process may still run
        other.kill()
    finally:
        holder.close()
    with Store.open(data) as store:  # alone now: every streaming answer is an orphan
        assert status(store, legacy.id) == "interrupted"
