"""Opening the window asks no provider anything; the model list is fetched, once, when the
user types a prompt or reaches for the picker."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.support.loopback import LoopbackServer, json_reply
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App


def models_server(request: object) -> object:
    return json_reply({"data": [{"id": "alpha"}, {"id": "beta"}]})


def model_lists(loopback: LoopbackServer) -> int:
    return sum(1 for r in loopback.requests if r.path.endswith("/models"))


def test_typing_a_prompt_lists_the_models_once(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = models_server
    window = app.window

    async def scenario() -> None:
        window.start_background_work()  # as the app does once its loop runs
        await asyncio.sleep(0.3)
        assert model_lists(loopback) == 0
        assert window.composer.model == "test-model"  # the one picked last, shown meanwhile
        QTest.keyClicks(window.composer.prompt, "Hel")
        await wait_until(lambda: window.composer.model_picker.count() == 2)
        QTest.keyClicks(window.composer.prompt, "lo")
        window.composer.model_picker.setFocus()
        await asyncio.sleep(0.3)

    qloop.run(scenario())
    assert model_lists(loopback) == 1
    picker = window.composer.model_picker
    assert [picker.itemText(i) for i in range(picker.count())] == ["openai/alpha", "openai/beta"]


def test_reaching_for_the_picker_lists_the_models(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = models_server
    window = app.window
    window.show()
    window.activateWindow()

    async def scenario() -> None:
        window.start_background_work()
        await asyncio.sleep(0.2)
        assert model_lists(loopback) == 0
        window.composer.model_picker.setFocus(Qt.FocusReason.TabFocusReason)
        await wait_until(lambda: window.composer.model_picker.count() == 2)

    qloop.run(scenario())
    assert model_lists(loopback) == 1


def test_a_new_chat_starts_on_the_model_picked_last_not_the_last_chats(app: App) -> None:
    window = app.window
    composer = window.composer
    composer.set_model("openai/alpha")
    composer.model_chosen.emit("openai/alpha")  # as when the user picks it
    earlier = app.store.create_thread("Earlier", model="beta", provider="openai")
    window.controller.open_thread(earlier.id)
    assert composer.model == "openai/beta"  # a chat shows the model it uses
    window.controller.new_chat()
    assert composer.model == "openai/alpha"
