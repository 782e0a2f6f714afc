"""Preferences (Ctrl+,): streaming, model, prompt, timeout, theme, API server; apply at once."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import settings as keys
from llms_desktop.settings import THEMES, Settings
from llms_desktop.ui.thread_settings import DEFAULT_TEXT, optional_double, set_optional

AUTO_TITLE_CHOICES = (
    ("local", "Local models only"),
    ("always", "Always"),
    ("off", "Never (the first words)"),
)
STREAM_LABEL = "Enable Streaming"
STREAM_DESCRIPTION = "Stream response tokens in real-time as they're generated"


class SettingsDialog(QDialog):
    """Each control writes its setting as soon as it changes; there is nothing to Apply."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_general(), "General")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)
        self.resize(560, 520)
        self._connect_signals()

    def add_page(self, page: QWidget, title: str) -> None:
        """Another tab (the Providers page plugs in here)."""
        self.tabs.addTab(page, title)

    def _build_general(self) -> QWidget:
        page = QWidget(self)
        s = self.settings
        self.stream_box = QCheckBox(STREAM_LABEL, page)
        self.stream_box.setObjectName("streamCheckBox")
        self.stream_box.setChecked(s.stream)
        stream_help = QLabel(STREAM_DESCRIPTION, page)
        stream_help.setObjectName("streamDescription")
        stream_help.setStyleSheet("color: palette(placeholder-text);")
        stream_help.setWordWrap(True)

        self.model_edit = QLineEdit(s.default_model, page)
        self.model_edit.setObjectName("defaultModelEdit")
        self.model_edit.setPlaceholderText("first model the provider lists")
        self.system_edit = QPlainTextEdit(s.system_prompt, page)
        self.system_edit.setObjectName("systemPromptEdit")
        self.system_edit.setPlaceholderText("Sent before every new conversation (optional)")
        self.system_edit.setTabChangesFocus(True)
        self.system_edit.setFixedHeight(90)

        self.timeout_spin = QSpinBox(page)
        self.timeout_spin.setObjectName("timeoutSpin")
        self.timeout_spin.setRange(5, 3600)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setValue(s.timeout)
        self.timeout_spin.setToolTip("Give up when the provider sends nothing for this long")

        self.enter_box = QCheckBox("Enter sends, Shift+Enter adds a line", page)
        self.enter_box.setObjectName("sendOnEnterBox")
        self.enter_box.setChecked(s.send_on_enter)
        self.enter_box.setToolTip("Off: Ctrl+Enter sends and Enter adds a line")

        # What a new chat starts with; each chat's own values are in its Chat Settings panel.
        self.temperature_spin = optional_double(page, 0.0, 2.0, 0.1, "defaultTemperature")
        set_optional(self.temperature_spin, _number(s.get(keys.DEFAULT_TEMPERATURE)))
        self.top_p_spin = optional_double(page, 0.0, 1.0, 0.05, "defaultTopP")
        set_optional(self.top_p_spin, _number(s.get(keys.DEFAULT_TOP_P)))
        self.max_tokens_spin = QSpinBox(page)
        self.max_tokens_spin.setObjectName("defaultMaxTokens")
        self.max_tokens_spin.setRange(0, 1_000_000)
        self.max_tokens_spin.setSingleStep(256)
        self.max_tokens_spin.setSpecialValueText(DEFAULT_TEXT)
        self.max_tokens_spin.setValue(int(s.get(keys.DEFAULT_MAX_TOKENS)))
        parameters = QHBoxLayout()
        for label, box in (
            ("Temperature", self.temperature_spin),
            ("Top P", self.top_p_spin),
            ("Max tokens", self.max_tokens_spin),
        ):
            parameters.addWidget(QLabel(label, page))
            parameters.addWidget(box)
        self.auto_title_combo = QComboBox(page)
        self.auto_title_combo.setObjectName("autoTitleCombo")
        for value, text in AUTO_TITLE_CHOICES:
            self.auto_title_combo.addItem(text, value)
        self.auto_title_combo.setCurrentIndex(keys.AUTO_TITLES.index(s.auto_title))
        self.auto_title_combo.setToolTip(
            "After a new chat's first answer, ask the model for a short title (one more "
            "request). Local models cost nothing to ask; a paid API would bill it."
        )

        self.theme_combo = QComboBox(page)
        self.theme_combo.setObjectName("themeCombo")
        for theme in THEMES:
            self.theme_combo.addItem(
                theme.capitalize() if theme != "system" else "Follow system", theme
            )
        self.theme_combo.setCurrentIndex(THEMES.index(s.theme))
        self.font_spin = QSpinBox(page)
        self.font_spin.setObjectName("fontSizeSpin")
        self.font_spin.setRange(7, 32)
        self.font_spin.setSuffix(" pt")
        self.font_spin.setValue(s.font_size)

        self.server_box = QCheckBox("Local API server", page)
        self.server_box.setObjectName("serverCheckBox")
        self.server_box.setChecked(s.server_enabled)
        self.server_port_spin = QSpinBox(page)
        self.server_port_spin.setObjectName("serverPortSpin")
        self.server_port_spin.setRange(1024, 65535)
        self.server_port_spin.setValue(s.server_port)
        self.server_store_box = QCheckBox("Save API server exchanges as threads", page)
        self.server_store_box.setObjectName("serverStoreBox")
        self.server_store_box.setChecked(s.server_store)
        self.server_hint = QLabel(page)
        self.server_hint.setWordWrap(True)
        self.server_hint.setStyleSheet("color: palette(placeholder-text);")
        self._update_server_hint()

        outer = QVBoxLayout(page)
        form = QFormLayout()
        outer.addLayout(form)
        outer.addStretch(1)  # spare height goes below the form, not between its rows
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(self.stream_box)
        form.addRow(stream_help)
        form.addRow("Default model:", self.model_edit)
        form.addRow("System prompt:", self.system_edit)
        form.addRow("New chats start with:", parameters)
        form.addRow("Title chats with the model:", self.auto_title_combo)
        form.addRow("Request timeout:", self.timeout_spin)
        form.addRow(self.enter_box)
        form.addRow("Theme:", self.theme_combo)
        form.addRow("Font size:", self.font_spin)
        form.addRow(self.server_box)
        form.addRow("Server port:", self.server_port_spin)
        form.addRow(self.server_store_box)
        form.addRow(self.server_hint)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        return page

    def _connect_signals(self) -> None:
        self.stream_box.toggled.connect(self._on_stream_toggled)
        self.model_edit.editingFinished.connect(self._on_model_edited)
        self.system_edit.textChanged.connect(self._on_system_prompt_changed)
        self.timeout_spin.valueChanged.connect(self._on_timeout_changed)
        self.temperature_spin.valueChanged.connect(self._on_default_temperature_changed)
        self.top_p_spin.valueChanged.connect(self._on_default_top_p_changed)
        self.max_tokens_spin.valueChanged.connect(self._on_default_max_tokens_changed)
        self.auto_title_combo.currentIndexChanged.connect(self._on_auto_title_changed)
        self.enter_box.toggled.connect(self._on_send_on_enter_toggled)
        self.theme_combo.currentIndexChanged.connect(self._on_theme_changed)
        self.font_spin.valueChanged.connect(self._on_font_size_changed)
        self.server_box.toggled.connect(self._on_server_toggled)
        self.server_port_spin.editingFinished.connect(self._on_server_port_changed)
        self.server_store_box.toggled.connect(self._on_server_store_toggled)

    def _on_stream_toggled(self, checked: bool) -> None:
        self.settings.set(keys.STREAM, checked)

    def _on_model_edited(self) -> None:
        self.settings.set(keys.DEFAULT_MODEL, self.model_edit.text().strip())

    def _on_system_prompt_changed(self) -> None:
        self.settings.set(keys.SYSTEM_PROMPT, self.system_edit.toPlainText())

    def _on_timeout_changed(self, value: int) -> None:
        self.settings.set(keys.TIMEOUT, value)

    def _on_default_temperature_changed(self, value: float) -> None:
        self.settings.set(keys.DEFAULT_TEMPERATURE, f"{value:g}" if value >= 0 else "")

    def _on_default_top_p_changed(self, value: float) -> None:
        self.settings.set(keys.DEFAULT_TOP_P, f"{value:g}" if value >= 0 else "")

    def _on_default_max_tokens_changed(self, value: int) -> None:
        self.settings.set(keys.DEFAULT_MAX_TOKENS, value)

    def _on_auto_title_changed(self, index: int) -> None:
        self.settings.set(keys.AUTO_TITLE, keys.AUTO_TITLES[index])

    def _on_send_on_enter_toggled(self, checked: bool) -> None:
        self.settings.set(keys.SEND_ON_ENTER, checked)

    def _on_theme_changed(self, index: int) -> None:
        self.settings.set(keys.THEME, THEMES[index])

    def _on_font_size_changed(self, value: int) -> None:
        self.settings.set(keys.FONT_SIZE, value)

    def _on_server_toggled(self, checked: bool) -> None:
        self.settings.set(keys.SERVER_ENABLED, checked)
        self._update_server_hint()

    def _on_server_port_changed(self) -> None:
        self.settings.set(keys.SERVER_PORT, self.server_port_spin.value())
        self._update_server_hint()

    def _on_server_store_toggled(self, checked: bool) -> None:
        self.settings.set(keys.SERVER_STORE, checked)

    def _update_server_hint(self) -> None:
        url = f"http://127.0.0.1:{self.server_port_spin.value()}/v1"
        self.server_hint.setText(
            f"OpenAI clients on this computer can use {url} with your providers "
            "(models named provider/model). Listens on 127.0.0.1 only."
        )


def _number(text: object) -> float | None:
    """A setting stored as text ("" for none) as a number."""
    try:
        return float(str(text)) if str(text).strip() else None
    except ValueError:
        return None
