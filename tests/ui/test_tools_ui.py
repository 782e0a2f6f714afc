"""Tools in the window: approval dialog, results in the thread, Preferences > Tools (real MCP)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from llms_desktop.app import AppServices
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.tools.config import ConfigFile, ServerConfig, ToolsConfig
from llms_desktop.ui.main_window import MainWindow
from llms_desktop.ui.mcp_server_dialog import ServerDialog
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from llms_desktop.ui.stream_registry import StreamRegistry
from llms_desktop.ui.tool_approval import ToolApprovalDialog
from llms_desktop.ui.tool_html import TOOL_LINK
from llms_desktop.ui.tools_page import NAME_ROLE, ToolsPage
from tests.support.cli import run_cli
from tests.support.loopback import LoopbackServer, tool_model
from tests.ui.conftest import QtLoop, wait_until

OURS = ServerConfig(
    "ours", command=sys.executable, args=("-m", "tests.support.mcp_server", "stdio")
)


class App:
    """A window wired like the real app, with mcp.json in its data folder."""

    def __init__(self, data_dir: Path, servers: tuple[ServerConfig, ...]) -> None:
        self.data_dir = data_dir
        data_dir.mkdir(parents=True)
        ConfigFile.in_folder(data_dir).save(ToolsConfig(servers))
        self.settings = Settings(QSettingsBackend(data_dir))
        self.store = Store.open(data_dir)
        self.services = AppServices(
            self.store,
            self.settings,
            StreamRegistry(),
            ProviderSetup(data_dir),
            data_folder=data_dir,
        )
        self.window = MainWindow(self.services)
        self.window.show()
        self.window.composer.set_model("test-model")

    def send(self, text: str) -> None:
        from PySide6.QtTest import QTest

        self.window.composer.prompt.setPlainText(text)
        self.window.composer.prompt.setFocus()
        QTest.keyClick(self.window.composer.prompt, Qt.Key.Key_Return)

    async def close(self) -> None:
        await self.services.registry.stop_all()
        await self.services.aclose()
        if shiboken6.isValid(self.window):
            self.window.close()
        self.store.close()


@pytest.fixture
def app(
    qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[App]:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ui")
    instance = App(tmp_path / "data", (OURS,))
    yield instance
    qloop.run(instance.close())


def approval_dialog() -> ToolApprovalDialog | None:
    found = [w for w in QApplication.topLevelWidgets() if isinstance(w, ToolApprovalDialog)]
    return next((w for w in found if w.isVisible()), None)


def test_the_window_asks_runs_the_tool_and_shows_its_result(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "from the window"}')])
    view = app.window.chat_view

    async def scenario() -> None:
        app.send("Echo something")
        await wait_until(lambda: approval_dialog() is not None, seconds=20)
        dialog = approval_dialog()
        assert dialog is not None
        # The user sees the tool, its server and the arguments, pretty-printed.
        assert dialog.call.tool.server == "ours"
        assert dialog.arguments.toPlainText() == '{\n  "text": "from the window"\n}'
        assert dialog.always_button.text() == "Always allow echo"
        assert dialog.focusWidget() is dialog.deny_button  # Enter or Space runs nothing
        # The call streamed live into the answer before the dialog opened.
        assert '⚙ echo {"text": "from the window"}' in view.toPlainText()
        dialog.once_button.click()
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(scenario())
    text = view.toPlainText()
    assert "▸ Result of echo (21 characters)" in text
    assert "Tool said: echo: from the window" in text
    # The result is collapsed; its link expands it in place.
    assert "echo: from the window" not in text.split("Result of echo")[1].split("Tool said")[0]
    (thread,) = app.store.list_threads()
    result = app.store.messages(thread.id)[2]
    view.anchorClicked.emit(view.source().fromUserInput(f"{TOOL_LINK}{result.id}"))
    assert "▾ Result of echo" in view.toPlainText()
    assert [m.role for m in app.store.messages(thread.id)] == [
        "user",
        "assistant",
        "tool",
        "assistant",
    ]


def test_deny_and_always_from_the_dialog(app: App, qloop: QtLoop, loopback: LoopbackServer) -> None:
    loopback.handler = tool_model([("add", '{"a": 1, "b": 1}')])

    # Each question in a new chat: the scripted model asks for a tool only once per chat.
    async def answer_with(button: str) -> None:
        app.window.controller.new_chat()
        app.send("add")
        await wait_until(lambda: approval_dialog() is not None, seconds=20)
        dialog = approval_dialog()
        assert dialog is not None
        getattr(dialog, button).click()
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(answer_with("deny_button"))
    assert "Tool said: The user denied this tool call." in app.window.chat_view.toPlainText()
    qloop.run(answer_with("always_button"))
    saved = json.loads((app.data_dir / "mcp.json").read_text())
    assert saved["mcpServers"]["ours"]["alwaysAllow"] == ["add"]

    async def no_question() -> None:
        app.window.controller.new_chat()
        app.send("add again")
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(no_question())
    assert approval_dialog() is None
    assert "\nTool said: 2\n" in app.window.chat_view.toPlainText()


def test_stop_while_asking_closes_the_dialog_and_keeps_the_thread(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "x"}')])

    async def scenario() -> None:
        app.send("echo")
        await wait_until(lambda: approval_dialog() is not None, seconds=20)
        app.window.controller.stop()
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)
        await wait_until(lambda: approval_dialog() is None)

    qloop.run(scenario())
    (thread,) = app.store.list_threads()
    path = app.store.messages(thread.id)
    assert [(m.role, m.status) for m in path] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "cancelled"),
    ]
    assert "Result of echo (stopped)" in app.window.chat_view.toPlainText()


def test_a_second_window_opened_mid_loop_follows_the_next_round(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "two windows"}')])
    second = MainWindow(app.services)
    second.show()

    async def scenario() -> None:
        app.send("echo")
        await wait_until(lambda: approval_dialog() is not None, seconds=20)
        (thread,) = app.store.list_threads()
        second.controller.open_thread(thread.id)
        # The first round is over: shown once, finished, with its call; nothing is live.
        assert second.chat_view.chat.live_message_id is None
        assert second.chat_view.toPlainText().count('⚙ echo {"text": "two windows"}') == 1
        dialog = approval_dialog()
        assert dialog is not None
        dialog.once_button.click()
        await wait_until(lambda: not second.composer.streaming, seconds=20)

    try:
        qloop.run(scenario())
        first_text, second_text = app.window.chat_view.toPlainText(), second.chat_view.toPlainText()
        for text in (first_text, second_text):
            assert text.count("Tool said: echo: two windows") == 1
            assert text.count("Result of echo") == 1
    finally:
        second.close()


def test_tools_page_lists_switches_adds_imports_and_removes(
    app: App, qloop: QtLoop, tmp_path: Path
) -> None:
    page = ToolsPage(app.services.tool_manager, app.settings)
    page.show()
    mcp_json = app.data_dir / "mcp.json"

    async def scenario() -> None:
        # Selecting the server starts it off the UI thread and lists its tools.
        await wait_until(lambda: page.tools.count() == 5, seconds=20)
        assert page.selected_name() == "ours"
        assert page.state.text() == "State: running, 5 tools"
        assert page.servers.item(0).text() == "ours  (running)"
        crash = page.tools.findItems("crash", Qt.MatchFlag.MatchExactly)[0]
        crash.setCheckState(Qt.CheckState.Unchecked)
        await wait_until(
            lambda: "disabledTools" in json.loads(mcp_json.read_text())["mcpServers"]["ours"]
        )

        # Add a server whose command does not exist: it is saved, and its error shown.
        dialog = page._edit(None)
        assert isinstance(dialog, ServerDialog)
        dialog.name_edit.setText("ours")
        dialog.command_edit.setText("x")
        dialog.buttons.accepted.emit()
        assert dialog.error.text() == "An MCP server is already named 'ours'."
        dialog.name_edit.setText("broken")
        dialog.command_edit.setText(f"{tmp_path / 'no-such-program'} --flag")
        dialog.buttons.accepted.emit()
        await wait_until(lambda: page.selected_name() == "broken")
        await wait_until(lambda: "No such file or directory" in page.state.text(), seconds=20)
        assert page.servers.currentItem().text() == "broken  (failed)"

        # Import a Claude Desktop file: new names added, taken ones kept.
        claude = tmp_path / "claude.json"
        claude.write_text(
            json.dumps(
                {
                    "mcpServers": {
                        "ours": {"command": "other"},
                        "web": {"url": "http://127.0.0.1:9/mcp"},
                        "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
                    }
                }
            )
        )
        page.import_file(claude)
        await wait_until(lambda: "Imported 1 server(s): web." in page.message.text())
        assert "Kept the servers already named ours." in page.message.text()
        assert "Skipped MCP server 'old': the legacy SSE transport" in page.message.text()

        # Switch a server off, then remove one.
        page.servers.item(0).setCheckState(Qt.CheckState.Unchecked)
        await wait_until(
            lambda: json.loads(mcp_json.read_text())["mcpServers"]["ours"].get("disabled") is True
        )
        page.servers.setCurrentRow(1)
        assert page.selected_name() == "broken"
        page.remove_button.click()
        await wait_until(lambda: "broken" not in json.loads(mcp_json.read_text())["mcpServers"])

    qloop.run(scenario(), timeout=60)
    saved = json.loads(mcp_json.read_text())["mcpServers"]
    assert list(saved) == ["ours", "web"]
    assert saved["ours"]["disabledTools"] == ["crash"]
    assert saved["ours"]["command"] == sys.executable
    page.close()


def test_servers_added_outside_survive_the_windows_changes_and_show_up(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = tool_model([("add", '{"a": 1, "b": 1}')])
    mcp_json = app.data_dir / "mcp.json"

    def saved() -> dict[str, Any]:
        servers: dict[str, Any] = json.loads(mcp_json.read_text())["mcpServers"]
        return servers

    async def add_outside(name: str) -> None:
        url = f"http://127.0.0.1:9/{name}"
        args = ("--data-dir", app.data_dir, "tools", "add", name, "--url", url)
        result = await asyncio.to_thread(run_cli, *args)
        assert result.returncode == 0, result.stderr

    async def always_allow() -> None:
        app.send("add")
        await wait_until(lambda: approval_dialog() is not None, seconds=20)
        await add_outside("web")  # while the window asks
        dialog = approval_dialog()
        assert dialog is not None
        dialog.always_button.click()
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(always_allow())
    assert list(saved()) == ["ours", "web"]
    assert saved()["ours"]["alwaysAllow"] == ["add"]

    qloop.run(add_outside("later"))
    page = ToolsPage(app.services.tool_manager, app.settings)
    page.show()

    def names() -> list[str]:
        return [str(page.servers.item(row).data(NAME_ROLE)) for row in range(page.servers.count())]

    async def on_the_page() -> None:
        await wait_until(lambda: names() == ["ours", "web", "later"], seconds=20)
        page.servers.item(1).setCheckState(Qt.CheckState.Unchecked)
        await wait_until(lambda: saved()["web"].get("disabled") is True)

    qloop.run(on_the_page())
    assert list(saved()) == ["ours", "web", "later"]
    assert saved()["ours"]["alwaysAllow"] == ["add"]
    page.close()


def test_a_broken_mcp_json_turns_tools_off_but_chat_goes_on(
    qloop: QtLoop, loopback: LoopbackServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", loopback.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-ui")
    instance = App(tmp_path / "data", ())
    (instance.data_dir / "mcp.json").write_text("{broken")
    loopback.handler = tool_model([("echo", "{}")], rounds=0)
    notes: list[str] = []
    instance.window.statusBar().messageChanged.connect(notes.append)

    async def scenario() -> None:
        instance.send("hello")
        await wait_until(lambda: not instance.window.composer.streaming, seconds=20)

    try:
        qloop.run(scenario())
        assert "tools" not in loopback.requests[-1].json()
        assert any(
            note.startswith("Tools are off: ") and "not valid JSON" in note for note in notes
        )
        assert "\nTool said:\n" in instance.window.chat_view.toPlainText()
    finally:
        qloop.run(instance.close())
