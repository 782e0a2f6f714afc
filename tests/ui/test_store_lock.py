"""A database locked by another process never stalls the window: writes wait on their thread."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QElapsedTimer, QTimer

from llms_desktop.app import AppServices
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.store.writer import StoreWriter
from llms_desktop.ui.main_window import MainWindow
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from llms_desktop.ui.stream_registry import StreamRegistry
from tests.support.loopback import LoopbackServer
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import routed, slow_words, type_and_send

# Measures event-loop stalls: runs after the parallel part of the suite, alone on the machine.
pytestmark = pytest.mark.timing

# Another process: take the database's write lock, say so, hold it, let go.
HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
db.close()
"""


class TickGaps:
    """The longest gap between ticks of a 5 ms timer: how long the event loop stalled."""

    def __init__(self) -> None:
        self.clock = QElapsedTimer()
        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._on_tick)
        self.worst_ms = 0
        self.clock.start()
        self.timer.start()

    def _on_tick(self) -> None:
        self.worst_ms = max(self.worst_ms, self.clock.restart())

    def stop(self) -> None:
        self.timer.stop()


class LockedApp:
    """The window wired like the real app: reads on one connection, writes on a writer thread."""

    def __init__(self, data_dir: Path) -> None:
        self.store = Store.open(data_dir)
        self.writer = StoreWriter.beside(self.store)
        self.services = AppServices(
            self.store,
            Settings(QSettingsBackend(data_dir)),
            StreamRegistry(),
            ProviderSetup(data_dir),
            self.writer,
        )
        self.window = MainWindow(self.services)
        self.window.show()
        self.window.composer.set_model("test-model")

    async def close(self) -> None:
        await self.services.registry.stop_all()
        await self.services.aclose()
        self.window.close()
        self.writer.close()
        self.store.close()


@pytest.fixture
def locked_app(
    qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LockedApp]:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ui")
    app = LockedApp(tmp_path / "data")
    yield app
    qloop.run(app.close())


def test_a_write_lock_held_elsewhere_for_3_s_never_stalls_the_window(
    locked_app: LockedApp, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    app = locked_app
    words = [f"w{i} " for i in range(30)]
    loopback.handler = routed(slow_words(words, pause=0.05))

    async def streaming() -> None:
        type_and_send(app, "first")  # type: ignore[arg-type]
        await wait_until(lambda: len(loopback.requests) >= 1 and app.window.composer.streaming)

    async def locked(holder: subprocess.Popen[str]) -> float:
        gaps = TickGaps()
        # The answer streams on to its last word while the lock is held: its checkpoints wait
        # on the writer's thread, not on the loop.
        await wait_until(lambda: "w29" in app.window.chat_view.toPlainText(), seconds=30)
        assert holder.poll() is None, "the lock was let go before the answer ended"
        await wait_until(lambda: holder.poll() is not None, seconds=30)
        await wait_until(lambda: saved_answer() == "".join(words), seconds=30)
        gaps.stop()
        return gaps.worst_ms

    def saved_answer() -> str:
        threads = app.store.list_threads()
        if not threads:
            return ""
        answer = app.store.messages(threads[0].id)[-1]
        return answer.content if answer.status == "complete" else ""

    qloop.run(streaming())
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(app.store.path), "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        worst_ms = qloop.run(locked(holder), timeout=60)
    finally:
        holder.kill()
        holder.communicate()
    assert worst_ms < 50, f"the event loop stalled for {worst_ms} ms"
