"""Preferences: every control applies at once, survives a restart, and bad INI values are safe."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from llms_desktop import settings as keys
from llms_desktop.settings import Settings
from llms_desktop.ui.api_server import ApiServerController
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App


@pytest.fixture
def app(qloop: QtLoop, tmp_path: Path) -> Iterator[App]:
    instance = App(tmp_path / "data")
    yield instance
    qloop.run(instance.close())


def test_changes_apply_at_once_and_persist(app: App) -> None:
    dialog = app.window.open_preferences()
    dialog.theme_combo.setCurrentIndex(2)  # dark
    assert app.window.chat_view._dark is True
    dialog.font_spin.setValue(15)
    assert app.window.chat_view.document().defaultFont().pointSize() == 15
    dialog.enter_box.setChecked(False)
    assert app.window.composer.prompt.send_on_enter is False
    dialog.timeout_spin.setValue(42)
    dialog.close()
    restarted = Settings(QSettingsBackend(app.data_dir))
    assert (restarted.theme, restarted.font_size, restarted.send_on_enter, restarted.timeout) == (
        "dark",
        15,
        False,
        42,
    )


def test_new_chat_defaults_and_titles_apply_at_once_and_persist(app: App) -> None:
    dialog = app.window.open_preferences()
    assert dialog.temperature_spin.text() == "Default"
    dialog.temperature_spin.setValue(0.7)
    dialog.max_tokens_spin.setValue(1024)
    assert dialog.auto_title_combo.currentData() == "off"  # the test App turned it off
    dialog.auto_title_combo.setCurrentIndex(1)
    dialog.close()
    restarted = Settings(QSettingsBackend(app.data_dir))
    assert restarted.default_params() == {"temperature": 0.7, "max_tokens": 1024}
    assert restarted.auto_title == "always"
    app.window.controller.new_chat()  # a new chat's panel shows them
    panel = app.window.thread_settings
    assert (panel.temperature.value(), panel.max_tokens.value()) == (0.7, 1024)
    assert panel.top_p.text() == "Default"


def test_send_on_enter_off_makes_enter_a_newline(app: App) -> None:
    app.settings.set(keys.SEND_ON_ENTER, False)
    prompt = app.window.composer.prompt
    prompt.setPlainText("line one")
    prompt.moveCursor(prompt.textCursor().MoveOperation.End)
    QTest.keyClick(prompt, Qt.Key.Key_Return)
    assert prompt.toPlainText() == "line one\n"
    assert not app.window.composer.streaming


def test_garbled_ini_values_fall_back_to_defaults(tmp_path: Path) -> None:
    folder = tmp_path / "garbled"
    folder.mkdir()
    (folder / "settings.ini").write_text(
        "[chat]\nstream=maybe\ntimeout_seconds=-3\n[appearance]\nfont_size=huge\ntheme=neon\n"
    )
    settings = Settings(QSettingsBackend(folder))
    assert settings.stream is True
    assert settings.timeout == 120
    assert settings.font_size == 11
    assert settings.theme == "system"


def test_local_api_server_toggle_starts_and_stops_it(app: App, qloop: QtLoop) -> None:
    controller = ApiServerController(app.settings, app.providers.registry, app.store)
    states: list[str] = []
    controller.state_changed.connect(states.append)
    dialog = app.window.open_preferences()

    async def scenario() -> None:
        # Settings change while the loop runs, as in the app (each change re-applies in a task).
        dialog.server_port_spin.setValue(_free_port())
        dialog.server_port_spin.editingFinished.emit()
        controller.apply()
        await controller.wait()
        assert controller.server is None
        dialog.server_box.setChecked(True)
        await wait_until(lambda: controller.server is not None and controller.server.running)
        server = controller.server
        assert server is not None
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{server.url}/health")
        assert health.json() == {"status": "ok"}
        assert "API server: http://127.0.0.1:" in states[-1]
        dialog.server_box.setChecked(False)
        await wait_until(lambda: controller.server is None)
        await controller.wait()
        await controller.stop()

    qloop.run(scenario())
    assert states[-1] == ""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
