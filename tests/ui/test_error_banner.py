"""A failed answer: the banner names what went wrong and never covers the answer it is about."""

from __future__ import annotations

import json
import socket

import pytest

from llms_desktop import settings as keys
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, fixture_reply
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, routed, type_and_send


def test_the_failed_answer_stays_in_view_above_the_banner(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    thread = app.store.create_thread("Long chat")
    for i in range(30):
        app.store.add_message(thread.id, "user", f"Question {i}?")
        app.store.add_message(thread.id, "assistant", "\n\n".join(["An answer."] * 4))
    app.window.resize(900, 600)
    app.window.controller.open_thread(thread.id)
    loopback.handler = routed(fixture_reply("llama_server_401_wrong_key.txt"))
    view = app.window.chat_view

    async def scenario() -> None:
        type_and_send(app, "One more question")
        await wait_until(lambda: app.window.banner.isVisible(), seconds=20)
        await wait_until(lambda: app.window.banner.height() > 40)  # laid out

    qloop.run(scenario())
    banner = app.window.banner
    assert banner.message.text() == (
        "Invalid API Key. Check the provider's API key in Preferences > Providers."
    )
    # The failed answer's footer (its error) is on screen, above the banner.
    found = view.document().find("Invalid API Key")
    assert not found.isNull()
    shown = view.cursorRect(found)
    assert shown.top() >= 0
    assert shown.bottom() <= view.viewport().height()
    assert (
        view.mapTo(app.window, shown.bottomLeft()).y()
        < banner.mapTo(app.window, banner.rect().topLeft()).y()
    )


def test_a_stalled_answer_is_not_reported_as_unreachable(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    app.settings.set(keys.TIMEOUT, 5)  # the shortest idle timeout Preferences allows
    stall = Reply(
        headers=[("Content-Type", "text/event-stream")],
        pieces=[f"data: {json.dumps(chunk('Thinking about'))}\n\n".encode(), Pause(30)],
    )
    loopback.handler = routed(stall)

    async def scenario() -> None:
        type_and_send(app, "Slow one")
        await wait_until(lambda: app.window.banner.isVisible(), seconds=30)

    qloop.run(scenario(), timeout=40)
    banner = app.window.banner
    assert banner.title.text() == "The provider stopped sending"
    assert "read timeout" in banner.message.text()
    assert "reach" not in banner.title.text() + banner.message.text()
    assert "Thinking about" in app.window.chat_view.toPlainText()  # the partial text is kept


def test_a_refused_connection_is_reported_as_unreachable(
    app: App, qloop: QtLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    app.providers.registry.set_configs(app.providers.configured)

    async def scenario() -> None:
        type_and_send(app, "anyone?")
        await wait_until(lambda: app.window.banner.isVisible(), seconds=20)

    qloop.run(scenario())
    assert app.window.banner.title.text() == "Could not reach the provider"
