"""Several windows on one store: a thread streaming in one window updates live in the others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llms_desktop.ui.main_window import MainWindow
from tests.support.loopback import LoopbackServer
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, routed, slow_words, type_and_send


@pytest.fixture
def app(
    qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    instance = App(tmp_path / "data")
    instance.window.composer.set_model("test-model")
    yield instance
    qloop.run(instance.close())


def test_second_window_follows_a_live_stream_and_outlives_the_first(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    words = [f"w{i} " for i in range(60)]
    loopback.handler = routed(slow_words(words, pause=0.03))
    first = app.window
    second = MainWindow(app.services)
    second.show()

    async def scenario() -> None:
        type_and_send(app, "shared thread")
        await wait_until(lambda: first.controller.thread_id is not None)
        await wait_until(lambda: "w5" in first.chat_view.chat.live_text())
        thread_id = first.controller.thread_id
        assert thread_id is not None
        # The second window opens the thread mid-answer: it catches up, then follows.
        second.controller.open_thread(thread_id)
        assert second.composer.streaming
        await wait_until(lambda: "w5" in second.chat_view.chat.live_text())
        seen_in_second = second.chat_view.chat.live_text()
        await wait_until(lambda: len(second.chat_view.chat.live_text()) > len(seen_in_second))
        # Closing the window that started it does not stop the answer.
        first.close()
        await wait_until(lambda: not second.composer.streaming, seconds=30)

    qloop.run(scenario(), timeout=60)
    text = second.chat_view.toPlainText()
    assert "shared thread" in text
    assert "w0 w1 w2" in text
    assert "w59" in text
    messages = app.store.messages(second.controller.thread_id or "")
    assert messages[-1].status == "complete"
    assert messages[-1].content == "".join(words)
    second.close()


def test_a_window_showing_a_thread_follows_an_answer_started_elsewhere(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(slow_words(["first ", "answer"], pause=0.01))
    first = app.window

    async def first_exchange() -> None:
        type_and_send(app, "hello")
        await wait_until(lambda: not first.composer.streaming)

    qloop.run(first_exchange())
    thread_id = first.controller.thread_id
    assert thread_id is not None
    second = MainWindow(app.services)
    second.show()
    second.controller.open_thread(thread_id)
    loopback.handler = routed(slow_words([f"x{i} " for i in range(30)], pause=0.02))

    async def second_exchange() -> None:
        type_and_send(app, "and again")
        await wait_until(lambda: second.composer.streaming)
        await wait_until(lambda: "x3" in second.chat_view.chat.live_text())
        await wait_until(lambda: not second.composer.streaming, seconds=30)

    qloop.run(second_exchange())
    text = second.chat_view.toPlainText()
    assert "and again" in text
    assert "x29" in text
    second.close()


def test_sidebars_stay_in_sync_and_a_closed_window_stops_following(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(slow_words(["one ", "two"], pause=0.01))
    first = app.window
    second = MainWindow(app.services)
    second.show()

    async def exchange(text: str) -> None:
        type_and_send(app, text)
        await wait_until(lambda: first.controller.thread_id is not None)
        await wait_until(lambda: not first.composer.streaming)

    qloop.run(exchange("made in the first window"))
    thread_id = first.controller.thread_id
    assert thread_id is not None
    assert second.sidebar.threads.rowCount() == 1  # the other window's sidebar knows it
    second.controller.open_thread(thread_id)
    first.controller.threads.delete(thread_id)
    assert second.controller.thread_id is None  # its thread is gone: a new chat instead
    assert second.sidebar.threads.rowCount() == 0

    # A closed window no longer follows answers in the thread it showed.
    qloop.run(exchange("second thread"))
    thread_id = first.controller.thread_id
    second.controller.open_thread(thread_id or "")
    follower = second.controller
    second.close()
    loopback.handler = routed(slow_words(["three ", "four"], pause=0.01))

    async def again() -> None:
        type_and_send(app, "again")
        await wait_until(lambda: not first.composer.streaming)

    qloop.run(again())
    assert follower._streamer is None
