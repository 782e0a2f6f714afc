"""Asks before a tool runs: the tool, its server and its arguments; Allow once, Always, Deny."""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop.tools.loop import Decision, PendingCall

_DECISIONS: dict[str, Decision] = {"once": "once", "always": "always", "deny": "deny"}


class ToolApprovalDialog(QDialog):
    """One pending call. Closing the dialog (Esc, the window's X) denies it.

    Signals:
        decided(str): "once", "always" or "deny".
    """

    decided = Signal(str)

    def __init__(self, call: PendingCall, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("toolApprovalDialog")
        self.setWindowTitle("Run a tool?")
        self.call = call
        tool = call.tool
        title = QLabel(
            f"The model wants to run <b>{_escape(tool.name)}</b> from the MCP server "
            f"<b>{_escape(tool.server)}</b>.",
            self,
        )
        title.setWordWrap(True)
        description = QLabel(_escape(tool.description.strip()), self)
        description.setWordWrap(True)
        description.setStyleSheet("color: palette(placeholder-text);")
        description.setVisible(bool(tool.description.strip()))
        self.arguments = QPlainTextEdit(call.pretty_arguments(), self)
        self.arguments.setObjectName("toolArguments")
        self.arguments.setReadOnly(True)
        self.arguments.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(self)
        self.once_button = QPushButton("Allow once", self)
        self.always_button = QPushButton(f"Always allow {tool.name}", self)
        self.deny_button = QPushButton("Deny", self)
        self.once_button.setObjectName("allowOnceButton")
        self.always_button.setObjectName("alwaysAllowButton")
        self.deny_button.setObjectName("denyButton")
        buttons.addButton(self.once_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.always_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.deny_button, QDialogButtonBox.ButtonRole.RejectRole)
        # Enter or Space must not run a tool by accident: no default button, focus on Deny.
        for button in (self.once_button, self.always_button, self.deny_button):
            button.setAutoDefault(False)
        self.deny_button.setFocus()
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(description)
        layout.addWidget(QLabel("Arguments:", self))
        layout.addWidget(self.arguments)
        layout.addWidget(buttons)
        self.resize(520, 360)
        self._decision: Decision = "deny"
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.once_button.clicked.connect(self._on_once_clicked)
        self.always_button.clicked.connect(self._on_always_clicked)
        self.deny_button.clicked.connect(self.reject)
        self.finished.connect(self._on_finished)

    def _on_once_clicked(self) -> None:
        self._decision = "once"
        self.accept()

    def _on_always_clicked(self) -> None:
        self._decision = "always"
        self.accept()

    def _on_finished(self, _result: int) -> None:
        self.decided.emit(self._decision)


async def ask(call: PendingCall, parent: QWidget | None) -> Decision:
    """Show the dialog (window-modal, without a nested event loop) and wait for the choice.

    A cancelled wait (Stop) closes the dialog; a parent that goes away denies the call.
    """
    dialog = ToolApprovalDialog(call, parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    future: asyncio.Future[Decision] = asyncio.get_running_loop().create_future()

    def settle(decision: str) -> None:
        if not future.done():
            future.set_result(_DECISIONS.get(decision, "deny"))

    dialog.decided.connect(settle)
    dialog.destroyed.connect(lambda: settle("deny"))
    dialog.open()
    try:
        return await future
    finally:
        if future.cancelled():
            with contextlib.suppress(RuntimeError):  # already deleted with its parent
                dialog.close()


def _escape(text: str) -> str:
    import html

    return html.escape(text)
