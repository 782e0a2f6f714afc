"""Providers in the window: the Providers page, and one prompt through OpenAI-compatible and
AI Refinery providers, with keys never written into the data directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt

from llms_desktop.providers.config import ProviderConfig
from llms_desktop.ui.providers_page import ID_ROLE, ProvidersPage
from tests.support import air_server
from tests.support.loopback import LoopbackServer, Reply, json_reply, sse_reply, text_chunks
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, type_and_send

USAGE = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}


@pytest.fixture
def app(qloop: QtLoop, tmp_path: Path) -> Iterator[App]:
    instance = App(tmp_path / "data")
    yield instance
    qloop.run(instance.close())


@pytest.fixture
def air() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


def page_of(app: App) -> ProvidersPage:
    dialog = app.window.open_preferences()
    page = dialog.findChild(ProvidersPage)
    assert page is not None
    return page


def add_preset(page: ProvidersPage, preset_id: str) -> None:
    menu = page.add_button.menu()
    action = next(a for a in menu.actions() if a.data() == preset_id)
    action.trigger()


def test_add_edit_key_refresh_and_disable_a_provider(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = lambda r: json_reply({"data": [{"id": "llama3.2"}, {"id": "qwen3"}]})
    page = page_of(app)

    async def refresh() -> None:
        # Edits arrive while the loop runs, as in the app (the key is stored in a task).
        add_preset(page, "ollama")
        assert page.selected_id() == "ollama"
        page.url_edit.setText(loopback.base_url)
        page.url_edit.editingFinished.emit()
        page.key_edit.setText("sk-ollama-secret")
        page.key_edit.editingFinished.emit()
        await wait_until(lambda: "Stored the key" in page.message.text())
        page.refresh_button.click()
        await wait_until(lambda: "offers 2 model" in page.message.text())

    qloop.run(refresh())
    saved = json.loads((app.data_dir / "providers.json").read_text())["providers"]
    assert saved[0]["id"] == "ollama"
    assert saved[0]["base_url"] == loopback.base_url
    assert saved[0]["models"] == ["llama3.2", "qwen3"]
    assert loopback.requests[-1].headers["authorization"] == "Bearer sk-ollama-secret"
    assert "stored" in page.key_status.text()
    item = page.list.item(0)
    assert item.data(ID_ROLE) == "ollama"

    async def disable() -> None:
        item.setCheckState(Qt.CheckState.Unchecked)

    qloop.run(disable())
    saved = json.loads((app.data_dir / "providers.json").read_text())["providers"]
    assert saved[0]["enabled"] is False
    assert_no_key_in(app.data_dir, "sk-ollama-secret")


def test_adding_a_custom_server_asks_for_its_address_first(app: App, qloop: QtLoop) -> None:
    page = page_of(app)

    async def add() -> None:
        await asyncio.sleep(0.1)  # the dialog is up and has given its first focus
        add_preset(page, "")  # Custom OpenAI-compatible…
        await wait_until(lambda: page.selected_id() == "custom")

    qloop.run(add())
    assert "type its base URL" in page.message.text()
    assert page.window().focusWidget() is page.url_edit
    assert page.url_edit.selectedText() == page.url_edit.text()  # typing replaces it


def test_a_corrupt_providers_file_is_reported_on_the_page(qloop: QtLoop, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "providers.json").write_text("{broken")
    instance = App(data)
    try:
        page = page_of(instance)
        assert "damaged" in page.message.text()
        assert list(data.glob("providers.json.corrupt-*"))
    finally:
        qloop.run(instance.close())


def assert_no_key_in(folder: Path, *keys: str) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            for key in keys:
                assert key.encode() not in content, f"{key} found in {path}"


def test_one_prompt_through_openai_compatible_and_ai_refinery_with_usage(
    app: App, qloop: QtLoop, loopback: LoopbackServer, air: LoopbackServer
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["from ", "local"], usage=USAGE))

    def air_handler(request: Any) -> Reply:
        return air_server.answer(["from ", "refinery"])

    air.handler = air_handler
    setup = app.providers
    setup.add(
        ProviderConfig(
            id="local", type="openai-compatible", name="Local", base_url=loopback.base_url
        ),
        api_key="sk-local-secret-123",
    )
    setup.add(
        ProviderConfig(id="air", type="airefinery", name="AI Refinery", base_url=air.url),
        api_key="air-secret-456",
    )
    view = app.window.chat_view

    async def ask(model: str, expected: str) -> None:
        app.window.composer.set_model(model)
        type_and_send(app, "Same prompt")
        await wait_until(lambda: not app.window.composer.streaming, seconds=30)
        assert expected in view.toPlainText(), app.window.banner.message.text()

    qloop.run(ask("local/test-model", "from local"))
    local_thread = app.window.controller.thread_id
    app.window.controller.new_chat()
    qloop.run(ask("air/air-model", "from refinery"), timeout=60)
    air_thread = app.window.controller.thread_id
    assert loopback.requests[-1].headers["authorization"] == "Bearer sk-local-secret-123"
    assert air.requests[-1].headers["authorization"] == "Bearer air-secret-456"
    assert air.requests[-1].json()["model"] == "air-model"
    for thread_id, provider, completion in ((local_thread, "local", 2), (air_thread, "air", 3)):
        answer = app.store.messages(thread_id or "")[-1]
        assert answer.status == "complete"
        assert answer.provider == provider
        assert answer.completion_tokens == completion
        assert not answer.tokens_estimated
    assert_no_key_in(app.data_dir, "sk-local-secret-123", "air-secret-456")
