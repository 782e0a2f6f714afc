"""Add or edit one MCP server: a command line (stdio) or a streamable-HTTP URL."""

from __future__ import annotations

import dataclasses
import shlex

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from llms_desktop.errors import ConfigError
from llms_desktop.tools.config import DEFAULT_TOOL_TIMEOUT, ServerConfig, server_from_json

STDIO, HTTP = 0, 1


class ServerDialog(QDialog):
    """Checks the entry with the same rules as mcp.json before it is accepted.

    Signals:
        saved(object): the new ServerConfig (switches and unknown keys of an edited one kept).
    """

    saved = Signal(object)

    def __init__(
        self,
        original: ServerConfig | None,
        taken: set[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mcpServerDialog")
        self.setWindowTitle("Edit MCP server" if original else "Add MCP server")
        self.original = original
        self.taken = taken - ({original.name} if original else set())
        self.name_edit = QLineEdit(self)
        self.name_edit.setObjectName("serverNameEdit")
        self.type_combo = QComboBox(self)
        self.type_combo.setObjectName("serverTypeCombo")
        self.type_combo.addItems(["Command (stdio)", "URL (streamable HTTP)"])
        self.command_edit = QLineEdit(self)
        self.command_edit.setObjectName("serverCommandEdit")
        self.command_edit.setPlaceholderText("e.g. uvx mcp-server-time --local-timezone UTC")
        self.env_edit = QPlainTextEdit(self)
        self.env_edit.setObjectName("serverEnvEdit")
        self.env_edit.setPlaceholderText("NAME=value, one a line")
        self.env_edit.setFixedHeight(70)
        self.url_edit = QLineEdit(self)
        self.url_edit.setObjectName("serverUrlEdit")
        self.url_edit.setPlaceholderText("http://127.0.0.1:8000/mcp")
        self.headers_edit = QPlainTextEdit(self)
        self.headers_edit.setObjectName("serverHeadersEdit")
        self.headers_edit.setPlaceholderText("Name: value, one a line")
        self.headers_edit.setFixedHeight(70)
        self.timeout_spin = QDoubleSpinBox(self)
        self.timeout_spin.setObjectName("serverTimeoutSpin")
        self.timeout_spin.setRange(1, 3600)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setToolTip("A tool call that takes longer is stopped; the model is told")
        self.error = QLabel(self)
        self.error.setObjectName("serverDialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #cf222e;")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.form = QFormLayout()
        self.form.addRow("Name:", self.name_edit)
        self.form.addRow("Type:", self.type_combo)
        self.form.addRow("Command:", self.command_edit)
        self.form.addRow("Environment:", self.env_edit)
        self.form.addRow("URL:", self.url_edit)
        self.form.addRow("Headers:", self.headers_edit)
        self.form.addRow("Tool timeout:", self.timeout_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self._fill(original)
        self._connect_signals()
        self.resize(520, 0)

    def _connect_signals(self) -> None:
        self.type_combo.currentIndexChanged.connect(self._on_type_changed)
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)

    def _fill(self, server: ServerConfig | None) -> None:
        self.timeout_spin.setValue(server.timeout if server else DEFAULT_TOOL_TIMEOUT)
        if server is not None:
            self.name_edit.setText(server.name)
            self.type_combo.setCurrentIndex(HTTP if server.url else STDIO)
            self.command_edit.setText(shlex.join([server.command or "", *server.args]))
            self.env_edit.setPlainText("\n".join(f"{k}={v}" for k, v in server.env.items()))
            self.url_edit.setText(server.url or "")
            self.headers_edit.setPlainText(
                "\n".join(f"{k}: {v}" for k, v in server.headers.items())
            )
        self._on_type_changed(self.type_combo.currentIndex())

    def _on_type_changed(self, index: int) -> None:
        for widget, shown in (
            (self.command_edit, index == STDIO),
            (self.env_edit, index == STDIO),
            (self.url_edit, index == HTTP),
            (self.headers_edit, index == HTTP),
        ):
            self.form.setRowVisible(widget, shown)

    def server(self) -> ServerConfig:
        """The entry as a ServerConfig; raises ConfigError naming what is wrong."""
        name = self.name_edit.text().strip()
        if name in self.taken:
            raise ConfigError(f"An MCP server is already named {name!r}.")
        entry: dict[str, object] = {"timeout": self.timeout_spin.value()}
        if self.type_combo.currentIndex() == HTTP:
            entry["url"] = self.url_edit.text().strip()
            entry["headers"] = _pairs(self.headers_edit.toPlainText(), ":", "Headers")
        else:
            try:
                words = shlex.split(self.command_edit.text())
            except ValueError as exc:
                raise ConfigError(f"Command: {exc}.") from None
            entry["command"] = words[0] if words else ""
            entry["args"] = words[1:]
            entry["env"] = _pairs(self.env_edit.toPlainText(), "=", "Environment")
        server = server_from_json(name, entry)
        if self.original is not None:
            # Switches, remembered approvals and keys we do not edit stay as they were.
            server = dataclasses.replace(
                server,
                enabled=self.original.enabled,
                disabled_tools=self.original.disabled_tools,
                always_allow=self.original.always_allow,
                extra=self.original.extra,
            )
        return server

    def _on_accepted(self) -> None:
        try:
            server = self.server()
        except ConfigError as exc:
            self.error.setText(str(exc))
            return
        self.saved.emit(server)
        self.accept()


def _pairs(text: str, separator: str, what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        name, found, value = line.partition(separator)
        if not found or not name.strip():
            raise ConfigError(f"{what}: write each line as NAME{separator}value, not {line!r}.")
        out[name.strip()] = value.strip() if separator == ":" else value
    return out
