"""Qt runs offscreen; a qasync loop per test drives asyncio inside Qt, as the app does."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


class QtLoop:
    """Runs coroutines on a qasync loop, so Qt events and asyncio tasks interleave for real."""

    def __init__(self, app: QApplication) -> None:
        self.loop = qasync.QEventLoop(app)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        async def guarded() -> T:
            from llms_desktop.ui.event_loop import install_asyncgen_hooks

            install_asyncgen_hooks()
            try:
                return await asyncio.wait_for(coro, timeout)
            finally:
                # httpx's inner async generators are finalized by tasks the loop schedules;
                # let them run while the loop is still running (qasync runs leftovers after
                # it stops, outside any task, where they fail).
                for _ in range(3):
                    gc.collect()
                    await asyncio.sleep(0.01)

        return self.loop.run_until_complete(guarded())


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[QtLoop]:
    # Closing a test's window must not quit the application (and stop the loop mid-run).
    qapp.setQuitOnLastWindowClosed(False)
    loop = QtLoop(qapp)
    asyncio.set_event_loop(loop.loop)
    try:
        yield loop
    finally:
        loop.run(asyncio.sleep(0))
        loop.loop.run_until_complete(loop.loop.shutdown_asyncgens())
        loop.loop.close()
        asyncio.set_event_loop(None)


async def wait_until(predicate: Any, seconds: float = 10.0, interval: float = 0.005) -> None:
    """Let the loop run until `predicate()` is true (fails the test after `seconds`)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await asyncio.sleep(interval)


@pytest.fixture
def app(qloop: QtLoop, loopback: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A window wired like the app (see test_main_window.App), answering from `loopback`."""
    from tests.ui.test_main_window import App

    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ui")
    instance = App(tmp_path / "data")
    instance.window.composer.set_model("test-model")
    yield instance
    qloop.run(instance.close())
