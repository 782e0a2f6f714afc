"""The chat's own settings (system prompt, temperature, top_p, max tokens) in a side panel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

# A spin box one step below its range shows "Default": the parameter is not sent at all.
DEFAULT_TEXT = "Default"
# Typing in the system prompt saves once the user pauses, not on every key.
SAVE_DELAY_MS = 500


class ThreadSettingsPanel(QWidget):
    """Edits what one chat is sent with; the model is chosen in the composer's picker.

    For a chat not saved yet the values are what its thread will be created with (they start
    from Preferences' defaults).

    Signals:
        edited(object, object): the system prompt (str, "" for none) and the request
            parameters (dict of only the values set), after the user changed any of them.
        reset_requested(): the user asked for Preferences' defaults again.
    """

    edited = Signal(object, object)
    reset_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("threadSettingsPanel")
        self._loading = False
        self._build()
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(SAVE_DELAY_MS)
        self._connect_signals()

    def _build(self) -> None:
        title = QLabel("<b>This chat</b>", self)
        self.system_edit = QPlainTextEdit(self)
        self.system_edit.setObjectName("threadSystemPrompt")
        self.system_edit.setPlaceholderText("System prompt for this chat (optional)")
        self.system_edit.setTabChangesFocus(True)
        self.system_edit.setMinimumHeight(80)
        self.temperature = optional_double(self, 0.0, 2.0, 0.1, "threadTemperature")
        self.top_p = optional_double(self, 0.0, 1.0, 0.05, "threadTopP")
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setObjectName("threadMaxTokens")
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setSpecialValueText(DEFAULT_TEXT)
        self.reset_button = QPushButton("Use Preferences' defaults", self)
        self.reset_button.setObjectName("threadSettingsReset")
        form = QFormLayout()
        form.addRow("Temperature:", self.temperature)
        form.addRow("Top P:", self.top_p)
        form.addRow("Max tokens:", self.max_tokens)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(QLabel("System prompt:", self))
        layout.addWidget(self.system_edit)
        layout.addLayout(form)
        layout.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    def _connect_signals(self) -> None:
        self.system_edit.textChanged.connect(self._save_timer.start)
        self._save_timer.timeout.connect(self._on_changed)
        self.temperature.valueChanged.connect(self._on_changed)
        self.top_p.valueChanged.connect(self._on_changed)
        self.max_tokens.valueChanged.connect(self._on_changed)
        self.reset_button.clicked.connect(self.reset_requested)

    def show_settings(self, system_prompt: str | None, params: Mapping[str, Any]) -> None:
        """Show a chat's values without reporting them as edited."""
        self._loading = True
        try:
            self._save_timer.stop()
            if self.system_edit.toPlainText() != (system_prompt or ""):
                self.system_edit.setPlainText(system_prompt or "")
            set_optional(self.temperature, params.get("temperature"))
            set_optional(self.top_p, params.get("top_p"))
            max_tokens = params.get("max_tokens")
            self.max_tokens.setValue(int(max_tokens) if isinstance(max_tokens, int) else 0)
        finally:
            self._loading = False

    def params(self) -> dict[str, Any]:
        """The parameters set (a "Default" one is left out)."""
        params: dict[str, Any] = {}
        if self.temperature.value() >= 0:
            params["temperature"] = round(self.temperature.value(), 2)
        if self.top_p.value() >= 0:
            params["top_p"] = round(self.top_p.value(), 2)
        if self.max_tokens.value():
            params["max_tokens"] = self.max_tokens.value()
        return params

    def flush(self) -> None:
        """Report a system prompt still waiting for its pause (before a message is sent)."""
        if self._save_timer.isActive():
            self._save_timer.stop()
            self._on_changed()

    def _on_changed(self) -> None:
        if not self._loading:
            self.edited.emit(self.system_edit.toPlainText().strip(), self.params())


def optional_double(
    parent: QWidget, low: float, high: float, step: float, name: str
) -> QDoubleSpinBox:
    """A number box whose lowest value reads "Default" (the parameter is not sent)."""
    box = QDoubleSpinBox(parent)
    box.setObjectName(name)
    box.setDecimals(2)
    box.setSingleStep(step)
    box.setRange(low - step, high)  # the lowest value means "Default"
    box.setSpecialValueText(DEFAULT_TEXT)
    box.setValue(low - step)
    return box


def set_optional(box: QDoubleSpinBox, value: object) -> None:
    """Show a number, or "Default" for anything else."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        box.setValue(float(value))
    else:
        box.setValue(box.minimum())
