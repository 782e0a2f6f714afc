"""First run with no provider: the welcome page, local servers found for real, no text lost."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.discovery import LocalServerKind
from llms_desktop.ui.providers_page import ProvidersPage
from llms_desktop.ui.settings_dialog import SettingsDialog
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, type_and_send


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_model_server(request: Request) -> Reply:
    if request.path.endswith("/models"):
        return json_reply({"data": [{"id": "llama3.2"}, {"id": "qwen3"}]})
    return sse_reply(text_chunks(["Hello", " from", " Ollama."]))


@pytest.fixture
def first_run(qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path) -> Iterator[App]:
    loopback.handler = local_model_server
    kinds = [
        LocalServerKind("Ollama", loopback.port, "ollama"),  # a real server on a free port
        LocalServerKind("Jan", free_port(), "jan"),  # nothing listens here
    ]
    instance = App(tmp_path / "data", local_servers=kinds)
    yield instance
    qloop.run(instance.close())


def test_welcome_finds_a_local_server_keeps_the_prompt_and_goes_once_it_is_added(
    first_run: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    window = first_run.window
    welcome = window.welcome
    assert window.chat_stack.currentWidget() is welcome
    assert welcome.isVisible()
    assert not window.chat_view.isVisible()

    async def scenario() -> None:
        window.start_background_work()  # as the app does once its loop runs
        await wait_until(lambda: bool(welcome.found_buttons()))
        assert "Found on this computer" in welcome.local_status.text()
        (found,) = welcome.found_buttons()
        assert found.text().startswith("Add Ollama")
        assert "2 models: llama3.2, qwen3" in found.text()

        # Sending now cannot work: the text stays, and the window says why.
        type_and_send(first_run, "Is anyone there?")
        assert window.composer.prompt.toPlainText() == "Is anyone there?"
        # Typing goes on at the end of the kept text, not before it.
        assert window.composer.prompt.textCursor().position() == len("Is anyone there?")
        assert window.banner.isVisible()
        assert "No provider is set up" in window.banner.message.text()
        assert not window.banner.retry_button.isVisible()
        assert first_run.store.list_threads() == []
        assert not any(r.method == "POST" for r in loopback.requests)

        found.click()
        assert window.chat_stack.currentWidget() is window.chat_view
        assert not window.banner.isVisible()  # the "No provider" banner went with it
        await wait_until(lambda: window.composer.model_picker.count() == 2)
        assert window.composer.model == "ollama/llama3.2"

        QTest.keyClick(window.composer.prompt, Qt.Key.Key_Return)  # the kept text, sent now
        await wait_until(lambda: "Hello from Ollama." in window.chat_view.toPlainText())
        await wait_until(lambda: not window.composer.streaming)

    qloop.run(scenario())
    saved = json.loads((first_run.data_dir / "providers.json").read_text())["providers"]
    assert [(p["id"], p["name"], p["base_url"]) for p in saved] == [
        ("ollama", "Ollama", loopback.base_url)
    ]
    chat = [r.json() for r in loopback.requests if r.method == "POST"]
    assert [(c["model"], c["messages"][-1]["content"]) for c in chat] == [
        ("llama3.2", "Is anyone there?")
    ]
    assert window.composer.prompt.toPlainText() == ""


def test_a_preset_that_needs_a_key_opens_the_key_field(first_run: App, qloop: QtLoop) -> None:
    window = first_run.window

    async def scenario() -> None:
        window.welcome.preset_buttons["openai"].click()

    qloop.run(scenario())
    assert [p.id for p in first_run.providers.configured] == ["openai"]
    dialog = window.findChild(SettingsDialog)
    assert dialog is not None
    assert dialog.isVisible()
    page = dialog.findChild(ProvidersPage)
    assert page is not None
    assert dialog.tabs.currentWidget() is page
    assert page.selected_id() == "openai"
    assert dialog.focusWidget() is page.key_edit
    assert window.chat_stack.currentWidget() is window.chat_view
    dialog.close()


def test_a_prompt_that_could_not_start_goes_back_into_the_box(
    first_run: App, qloop: QtLoop
) -> None:
    # A provider the app cannot use yet (AI Refinery without a key) fails before anything
    # is saved: the typed text must not vanish.
    first_run.providers.add(
        ProviderConfig(id="air", type="airefinery", name="AI Refinery", base_url="http://x")
    )
    window = first_run.window

    async def scenario() -> None:
        first_run.services.registry.providers_changed.emit()
        type_and_send(first_run, "Keep me")
        await wait_until(lambda: window.banner.isVisible())

    qloop.run(scenario())
    assert "No API key" in window.banner.message.text()
    assert window.composer.prompt.toPlainText() == "Keep me"
    assert first_run.store.list_threads() == []
