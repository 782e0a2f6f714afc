"""The main window end to end: a real loopback SSE server, a real SQLite store, real widgets."""

from __future__ import annotations

import itertools
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

from llms_desktop.app import AppServices
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import AUTO_TITLE, Settings
from llms_desktop.store import Store
from llms_desktop.ui.main_window import MainWindow
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from llms_desktop.ui.settings_dialog import STREAM_DESCRIPTION, STREAM_LABEL
from llms_desktop.ui.stream_registry import StreamRegistry
from tests.support.loopback import (
    LoopbackServer,
    Pause,
    Reply,
    chunk,
    fixture_reply,
    json_reply,
)
from tests.ui.conftest import QtLoop, wait_until

USAGE = {"prompt_tokens": 7, "completion_tokens": 6, "total_tokens": 13}


class App:
    """A window wired like the real app, on a temp data dir."""

    def __init__(self, data_dir: Path, **window_options: Any) -> None:
        self.data_dir = data_dir
        self.backend = QSettingsBackend(data_dir)
        self.settings = Settings(self.backend)
        # Window tests count the requests they cause; test_conversation_actions.py turns the
        # model's titles (an extra request after a new chat's first answer) back on.
        self.settings.set(AUTO_TITLE, "off")
        self.store = Store.open(data_dir)
        # As in the app: the idle timeout is the Preferences setting.
        self.providers = ProviderSetup(
            data_dir, timeouts=lambda: Timeouts.from_single(self.settings.timeout)
        )
        self.services = AppServices(self.store, self.settings, StreamRegistry(), self.providers)
        self.window = MainWindow(self.services, **window_options)
        self.window.show()

    async def close(self) -> None:
        await self.services.registry.stop_all()
        await self.services.aclose()
        if shiboken6.isValid(self.window):  # a test may have closed (and so deleted) it
            self.window.close()
        self.store.close()


def slow_words(words: list[str], pause: float = 0.05, usage: dict[str, Any] | None = None) -> Reply:
    pieces: list[bytes | Pause] = []
    for word in words:
        pieces += [f"data: {json.dumps(chunk(word))}\n\n".encode(), Pause(pause)]
    pieces.append(f"data: {json.dumps(chunk(finish='stop'))}\n\n".encode())
    if usage:
        pieces.append(f"data: {json.dumps(chunk(usage=usage, no_choices=True))}\n\n".encode())
    pieces.append(b"data: [DONE]\n\n")
    return Reply(headers=[("Content-Type", "text/event-stream")], pieces=pieces)


def routed(chat: Reply) -> Any:
    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "test-model"}]})
        return chat

    return handler


@pytest.fixture
def app(
    qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ui")
    instance = App(tmp_path / "data")
    instance.window.composer.set_model("test-model")
    yield instance
    qloop.run(instance.close())


def type_and_send(app: App, text: str) -> None:
    app.window.composer.prompt.setPlainText(text)
    app.window.composer.prompt.setFocus()
    from PySide6.QtTest import QTest

    QTest.keyClick(app.window.composer.prompt, Qt.Key.Key_Return)


def test_send_streams_progressively_then_shows_usage_and_stores(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    words = ["Hello", " there", ", this", " answer", " grows", " slowly", "."]
    loopback.handler = routed(slow_words(words, usage=USAGE))
    view = app.window.chat_view
    states: list[str] = []
    view.rendered.connect(lambda: states.append(view.chat.live_text()))

    async def scenario() -> None:
        type_and_send(app, "Say hello")
        assert app.window.composer.streaming
        assert app.window.composer.send_button.text() == "Stop"
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    distinct = [s for i, s in enumerate(states) if s and (i == 0 or s != states[i - 1])]
    assert len(distinct) >= 3, distinct
    for earlier, later in itertools.pairwise(distinct):
        assert later.startswith(earlier)
    text = view.toPlainText()
    assert "Hello there, this answer grows slowly." in text
    assert "6 tokens" in text
    assert "tok/s" in text
    assert "first token" in text
    assert "6 tokens" in app.window.stream_status.text()
    assert app.window.composer.send_button.text() == "Send"
    assert app.window.composer.prompt.toPlainText() == ""
    assert QApplication.focusWidget() is app.window.composer.prompt
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    stored = app.store.messages(thread_id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]
    assert stored[1].content == "".join(words)
    assert stored[1].completion_tokens == 6
    assert stored[1].ttft_ms is not None
    assert loopback.requests[-1].json()["stream"] is True
    # The sidebar lists the new thread, titled from the prompt.
    assert app.window.sidebar.threads.rowCount() == 1
    assert app.window.sidebar.threads.thread_at(0).title == "Say hello"  # type: ignore[union-attr]


def test_streaming_off_from_preferences_sends_stream_false_and_persists(
    app: App, qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = routed(fixture_reply("llama_server_nonstream.txt"))
    dialog = app.window.open_preferences()
    assert dialog.stream_box.text() == STREAM_LABEL
    assert dialog.stream_box.isChecked()
    assert dialog.findChild(object, "streamDescription").text() == STREAM_DESCRIPTION  # type: ignore[union-attr]
    dialog.stream_box.click()
    assert app.settings.stream is False
    dialog.close()

    async def scenario() -> None:
        type_and_send(app, "whole please")
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    assert loopback.requests[-1].json()["stream"] is False
    assert "What is the capital of France?" in app.window.chat_view.toPlainText()
    # A new settings object over the same INI file (a restart) reads the boolean back.
    assert QSettingsBackend(app.data_dir).get("chat/stream") in ("false", False)
    assert Settings(QSettingsBackend(app.data_dir)).stream is False


def test_stop_mid_stream_keeps_partial_text_marks_cancelled_and_disconnects(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(slow_words([f"w{i} " for i in range(400)], pause=0.05))
    view = app.window.chat_view

    async def scenario() -> None:
        type_and_send(app, "long one")
        await wait_until(lambda: "w3" in view.chat.live_text(), seconds=20)
        from PySide6.QtTest import QTest

        QTest.keyClick(app.window.composer.prompt, Qt.Key.Key_Escape)
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    assert loopback.wait_for_disconnect(5)
    text = view.toPlainText()
    assert "w0 w1 w2 w3" in text
    assert "Stopped" in text
    stored = app.store.messages(app.window.controller.thread_id or "")
    assert stored[-1].status == "cancelled"
    assert stored[-1].content.startswith("w0 w1 w2 w3")
    assert "w399" not in stored[-1].content


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (fixture_reply("llama_server_401_wrong_key.txt"), "Invalid API Key"),
        (json_reply({"error": {"message": "the GPU caught fire"}}, status=500), "GPU caught fire"),
    ],
)
def test_http_errors_show_a_banner_and_retry_works(
    app: App, qloop: QtLoop, loopback: LoopbackServer, reply: Reply, needle: str
) -> None:
    loopback.handler = routed(reply)

    async def scenario() -> None:
        type_and_send(app, "hello?")
        await wait_until(lambda: app.window.banner.isVisible(), seconds=20)

    qloop.run(scenario())
    banner = app.window.banner
    assert needle in banner.message.text()
    assert "HTTP" in banner.title.text()
    assert banner.retry_button.isVisible()
    assert not banner.details.isVisible()
    banner.details_button.click()
    assert banner.details.isVisible()
    assert needle in banner.details.toPlainText()
    thread_id = app.window.controller.thread_id or ""
    assert app.store.messages(thread_id)[-1].status == "error"

    loopback.handler = routed(slow_words(["Recovered", "!"], pause=0.01))

    async def retry() -> None:
        banner.retry_button.click()
        await wait_until(lambda: "Recovered!" in app.window.chat_view.toPlainText(), seconds=20)
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(retry())
    assert not banner.isVisible()
    stored = app.store.messages(thread_id)
    assert [(m.role, m.status) for m in stored] == [("user", "complete"), ("assistant", "complete")]


def test_refused_connection_shows_a_banner(
    app: App, qloop: QtLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    app.providers.registry.set_configs(app.providers.configured)  # re-read the environment

    async def scenario() -> None:
        type_and_send(app, "anyone there?")
        await wait_until(lambda: app.window.banner.isVisible(), seconds=20)

    qloop.run(scenario())
    assert "Connection refused" in app.window.banner.message.text()
    assert app.window.banner.retry_button.isVisible()
    assert not app.window.composer.streaming


@pytest.mark.timing  # measures event-loop gaps: runs alone
def test_event_loop_keeps_ticking_while_a_long_answer_streams(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    paragraph = "Some **markdown** text with `code` and more words to render. "
    words = []
    for i in range(1500):
        words.append(paragraph.split(" ")[i % 10] + " ")
        if i % 60 == 59:
            words.append("\n\n")
    loopback.handler = routed(slow_words(words, pause=0.0005))
    gaps: list[float] = []
    last = [time.perf_counter()]
    heartbeat = QTimer()
    heartbeat.setInterval(5)

    def beat() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    heartbeat.timeout.connect(beat)

    async def scenario() -> None:
        heartbeat.start()
        type_and_send(app, "long")
        await wait_until(lambda: not app.window.composer.streaming, seconds=60)
        heartbeat.stop()

    qloop.run(scenario(), timeout=90)
    assert len(gaps) > 20
    # Generous on purpose (a loaded CI machine); bench/bench_render.py measures the real figure.
    assert max(gaps) < 1.0, max(gaps)
    assert app.store.messages(app.window.controller.thread_id or "")[-1].status == "complete"


def test_a_non_streamed_answer_shows_no_tokens_per_second(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    from llms_desktop import settings as keys

    app.settings.set(keys.STREAM, False)
    loopback.handler = routed(fixture_reply("llama_server_nonstream.txt"))

    async def scenario() -> None:
        type_and_send(app, "whole please")
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    assert loopback.requests[-1].json()["stream"] is False
    answer = app.store.messages(app.window.controller.thread_id or "")[-1]
    assert answer.status == "complete"
    assert answer.completion_tokens
    status = app.window.stream_status.text()
    footer = app.window.chat_view.toPlainText()
    assert "tokens" in status
    assert "tok/s" not in status
    assert "tok/s" not in footer
