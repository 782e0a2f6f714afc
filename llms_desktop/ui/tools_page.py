"""Preferences > Tools: MCP servers (add, edit, remove, import), their tools and switches."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import errors
from llms_desktop import settings as keys
from llms_desktop.settings import Settings
from llms_desktop.tools.config import ServerConfig, ToolsConfig, import_servers
from llms_desktop.tools.manager import ServerStatus, ToolManager
from llms_desktop.ui.mcp_server_dialog import ServerDialog

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
STATES = {
    "stopped": "not started",
    "starting": "starting…",
    "running": "running",
    "failed": "failed",
    "disabled": "off",
}


class ToolsPage(QWidget):
    """Every change is written to mcp.json at once (off the UI thread); a server starts (on the
    tool thread) only to show its tools.

    Signals:
        changed(): the page finished a change or a check (tests wait on it).
    """

    changed = Signal()

    def __init__(
        self,
        manager_source: Callable[[], Awaitable[ToolManager | None]],
        settings: Settings,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("toolsPage")
        self.manager_source = manager_source
        self.settings = settings
        self.manager: ToolManager | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._filling = False
        self._editing: str | None = None  # the server the open dialog edits

        self.servers = QListWidget(self)
        self.servers.setObjectName("mcpServerList")
        self.add_button = QPushButton("Add…", self)
        self.edit_button = QPushButton("Edit…", self)
        self.remove_button = QPushButton("Remove", self)
        self.import_button = QPushButton("Import…", self)
        self.import_button.setToolTip("Add the servers of a Claude Desktop, Cursor or VS Code file")
        self.target = QLabel(self)
        self.target.setObjectName("serverTarget")
        self.target.setWordWrap(True)
        self.target.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state = QLabel(self)
        self.state.setObjectName("serverState")
        self.state.setWordWrap(True)
        self.tools = QListWidget(self)
        self.tools.setObjectName("mcpToolList")
        self.check_button = QPushButton("Check tools", self)
        self.check_button.setObjectName("checkToolsButton")
        self.check_button.setToolTip("Start the server (if needed) and ask for its tools")
        self.rounds_spin = QSpinBox(self)
        self.rounds_spin.setObjectName("toolRoundsSpin")
        self.rounds_spin.setRange(1, 100)
        self.rounds_spin.setValue(settings.tool_rounds)
        self.rounds_spin.setToolTip("Rounds of tool calls one message may lead to")
        self.message = QLabel(self)
        self.message.setObjectName("toolsMessage")
        self.message.setWordWrap(True)
        self.note = QLabel(self)
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(placeholder-text);")

        details = QVBoxLayout()
        details.addWidget(self.target)
        details.addWidget(self.state)
        details.addWidget(QLabel("Tools offered to the model:", self))
        details.addWidget(self.tools, 1)
        details.addWidget(self.check_button)
        top = QHBoxLayout()
        top.addWidget(self.servers, 2)
        top.addLayout(details, 3)
        buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        rounds = QFormLayout()
        rounds.addRow("Tool rounds per message:", self.rounds_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)
        layout.addLayout(rounds)
        layout.addWidget(self.message)
        layout.addWidget(self.note)
        self._set_enabled(False)
        self._connect_signals()
        # Once the loop runs (the dialog may be built before it does, in tests).
        QTimer.singleShot(0, self._on_shown)

    def _connect_signals(self) -> None:
        self.servers.currentItemChanged.connect(self._on_server_selected)
        self.servers.itemChanged.connect(self._on_server_toggled)
        self.tools.itemChanged.connect(self._on_tool_toggled)
        self.add_button.clicked.connect(self._on_add_clicked)
        self.edit_button.clicked.connect(self._on_edit_clicked)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.import_button.clicked.connect(self._on_import_clicked)
        self.check_button.clicked.connect(self._on_check_clicked)
        self.rounds_spin.valueChanged.connect(self._on_rounds_changed)

    # Loading and showing ------------------------------------------------------------------
    def _on_shown(self) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # Qt events processed outside the asyncio loop (a widget test): stay idle
        self._run(self._load())

    async def _load(self) -> None:
        try:
            self.manager = await self.manager_source()
        except errors.LlmsDesktopError as exc:
            self._say(str(exc), error=True)
            return
        if self.manager is None:
            self._say("Tools need the data folder.", error=True)
            return
        path = self.manager.config_file.path if self.manager.config_file else "mcp.json"
        self.note.setText(
            f"Servers are kept in {path} (the mcpServers format of Claude Desktop and Cursor). "
            "Each tool call asks you first unless you chose Always for that tool."
        )
        self._set_enabled(True)
        self.reload()

    def reload(self, select: str | None = None) -> None:
        """Fill the server list from the manager's configuration."""
        if self.manager is None:
            return
        current = select or self.selected_name()
        self._filling = True
        self.servers.clear()
        for server in self.manager.config.servers:
            item = QListWidgetItem(self._server_label(server), self.servers)
            item.setData(NAME_ROLE, server.name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if server.enabled else Qt.CheckState.Unchecked)
            if server.name == current:
                self.servers.setCurrentItem(item)
        self._filling = False
        if self.servers.currentItem() is None and self.servers.count():
            self.servers.setCurrentRow(0)
        self._show_selected()

    def _server_label(self, server: ServerConfig) -> str:
        assert self.manager is not None
        state = STATES[self.manager.status(server.name).state]
        return f"{server.name}  ({state})"

    def selected_name(self) -> str | None:
        item = self.servers.currentItem()
        return None if item is None else str(item.data(NAME_ROLE))

    def _selected(self) -> ServerConfig | None:
        name = self.selected_name()
        return None if name is None or self.manager is None else self.manager.config.server(name)

    def _show_selected(self) -> None:
        server = self._selected()
        self._filling = True
        self.tools.clear()
        has = server is not None
        for widget in (self.edit_button, self.remove_button, self.check_button):
            widget.setEnabled(has)
        if server is None or self.manager is None:
            self.target.setText("No MCP servers yet: Add one, or Import a Claude Desktop file.")
            self.state.clear()
            self._filling = False
            return
        status = self.manager.status(server.name)
        kind = "URL" if server.url else "Command"
        self.target.setText(f"{kind}: {server.describe()}")
        self._show_state(status)
        for tool in status.tools:
            label = tool.name + ("  (always allowed)" if tool.name in server.always_allow else "")
            item = QListWidgetItem(label, self.tools)
            item.setData(NAME_ROLE, tool.name)
            item.setToolTip(tool.description)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = Qt.CheckState.Checked if tool.enabled else Qt.CheckState.Unchecked
            item.setCheckState(checked)
        self._filling = False
        if server.enabled and status.state == "stopped" and not status.tools:
            self._run(self._check(server.name))

    def _show_state(self, status: ServerStatus) -> None:
        if status.error:
            self.state.setStyleSheet("color: #cf222e;")
            self.state.setText(status.error)
        else:
            self.state.setStyleSheet("")
            tools = f", {len(status.tools)} tools" if status.tools else ""
            self.state.setText(f"State: {STATES[status.state]}{tools}")

    # Changes --------------------------------------------------------------------------------
    async def _save(self, config: ToolsConfig, select: str | None = None) -> None:
        assert self.manager is not None
        try:
            await self.manager.save_config(config)
        except errors.LlmsDesktopError as exc:
            self._say(str(exc), error=True)
        self.reload(select)

    def _on_server_selected(self, *_: object) -> None:
        if not self._filling:
            self._show_selected()

    def _on_server_toggled(self, item: QListWidgetItem) -> None:
        if self._filling or self.manager is None:
            return
        server = self.manager.config.server(str(item.data(NAME_ROLE)))
        if server is None:
            return
        enabled = item.checkState() == Qt.CheckState.Checked
        if enabled != server.enabled:
            config = self.manager.config.with_server(replace(server, enabled=enabled))
            self._run(self._save(config, server.name))

    def _on_tool_toggled(self, item: QListWidgetItem) -> None:
        server = self._selected()
        if self._filling or server is None or self.manager is None:
            return
        enabled = item.checkState() == Qt.CheckState.Checked
        changed = server.with_tool_enabled(str(item.data(NAME_ROLE)), enabled)
        if changed != server:
            self._run(self._save(self.manager.config.with_server(changed), server.name))

    def _on_add_clicked(self) -> None:
        self._edit(None)

    def _on_edit_clicked(self) -> None:
        server = self._selected()
        if server is not None:
            self._edit(server)

    def _edit(self, server: ServerConfig | None) -> ServerDialog | None:
        if self.manager is None:
            return None
        taken = {s.name for s in self.manager.config.servers}
        self._editing = server.name if server else None
        dialog = ServerDialog(server, taken, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._on_server_saved)
        dialog.open()
        return dialog

    def _on_server_saved(self, server: ServerConfig) -> None:
        if self.manager is None:
            return
        config = self.manager.config
        if self._editing is not None and self._editing != server.name:
            config = config.without(self._editing)  # renamed (the dialog refuses taken names)
        self._run(self._save(config.with_server(server), server.name))

    def _on_remove_clicked(self) -> None:
        server = self._selected()
        if server is not None and self.manager is not None:
            self._run(self._remove(server.name))

    async def _remove(self, name: str) -> None:
        assert self.manager is not None
        await self.manager.stop(name)
        await self._save(self.manager.config.without(name))

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import MCP servers", "", "JSON files (*.json);;All files (*)"
        )
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        """Add the servers of a Claude Desktop / Cursor / VS Code file (names taken are kept)."""
        self._run(self._import(path))

    async def _import(self, path: Path) -> None:
        assert self.manager is not None
        try:
            result = await asyncio.to_thread(import_servers, self.manager.config, path)
        except errors.LlmsDesktopError as exc:
            self._say(str(exc), error=True)
            return
        if result.added:
            await self._save(result.config, result.added[0])
        kept = (
            f" Kept the servers already named {', '.join(result.skipped)}."
            if result.skipped
            else ""
        )
        refused = "".join(f" Skipped {reason}" for reason in result.refused)
        self._say(
            f"Imported {len(result.added)} server(s): {', '.join(result.added) or 'none'}."
            f"{kept}{refused}",
            error=bool(result.refused) and not result.added,
        )

    def _on_check_clicked(self) -> None:
        server = self._selected()
        if server is not None:
            self._run(self._check(server.name))

    async def _check(self, name: str) -> None:
        assert self.manager is not None
        self.state.setStyleSheet("")
        self.state.setText("Starting the server…")
        with contextlib.suppress(errors.LlmsDesktopError):  # the status holds the error
            await self.manager.list_tools(name)
        self.reload(name)

    def _on_rounds_changed(self, value: int) -> None:
        self.settings.set(keys.TOOL_ROUNDS, value)

    # Helpers ----------------------------------------------------------------------------------
    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.servers, self.add_button, self.import_button, self.tools):
            widget.setEnabled(enabled)

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #cf222e;" if error else "")
        self.message.setText(text)

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        async def run() -> None:
            try:
                await work
            finally:
                self.changed.emit()

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
