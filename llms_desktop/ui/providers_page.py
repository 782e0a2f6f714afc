"""Preferences > Providers: add, edit, enable, remove providers; keys go to the keychain."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import errors
from llms_desktop.providers.config import OPENAI_COMPATIBLE, PROVIDER_TYPES, ProviderConfig
from llms_desktop.providers.llms_import import ImportPlan
from llms_desktop.providers.presets import PRESETS
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.ui.off_thread import OffThread

ID_ROLE = Qt.ItemDataRole.UserRole + 1


def with_free_id(config: ProviderConfig, taken: set[str]) -> ProviderConfig:
    """The config under an id not in `taken` ("ollama", else "ollama-2", "Ollama 2"...)."""
    new_id, number = config.id, 2
    while new_id in taken:
        new_id, number = f"{config.id}-{number}", number + 1
    name = config.name if new_id == config.id else f"{config.name} {number - 1}"
    return replace(config, id=new_id, name=name)


class ProvidersPage(QWidget):
    """Edits apply at once: each change is saved to the providers file (keys to the keychain).

    Signals:
        providers_changed(): the set of providers or their settings changed.
    """

    providers_changed = Signal()

    def __init__(self, setup: ProviderSetup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("providersPage")
        self.setup = setup
        self._tasks: set[asyncio.Task[None]] = set()
        self._off_thread = OffThread(self)
        self._loading = False
        self._models_timer = QTimer(self)
        self._models_timer.setSingleShot(True)
        self._models_timer.setInterval(600)

        self.list = QListWidget(self)
        self.list.setObjectName("providerList")
        self.add_button = QToolButton(self)
        self.add_button.setText("Add")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        add_menu = QMenu(self.add_button)
        for item in PRESETS:
            action = add_menu.addAction(item.name)
            action.setData(item.id)
        add_menu.addSeparator()
        custom = add_menu.addAction("Custom OpenAI-compatible…")
        custom.setData("")
        self.add_button.setMenu(add_menu)
        self.remove_button = QPushButton("Remove", self)
        self.import_button = QPushButton("Import llms.json…", self)

        self.name_edit = QLineEdit(self)
        self.type_combo = QComboBox(self)
        self.type_combo.addItems(list(PROVIDER_TYPES))
        self.url_edit = QLineEdit(self)
        self.url_edit.setObjectName("baseUrlEdit")
        self.key_edit = QLineEdit(self)
        self.key_edit.setObjectName("apiKeyEdit")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_status = QLabel(self)
        self.key_status.setObjectName("keyStatus")
        self.key_status.setWordWrap(True)
        self.models_edit = QPlainTextEdit(self)
        self.models_edit.setObjectName("modelsEdit")
        self.models_edit.setPlaceholderText("One model id per line, or Refresh to ask the server")
        self.models_edit.setFixedHeight(110)
        self.refresh_button = QPushButton("Refresh models", self)
        self.refresh_button.setObjectName("refreshModelsButton")
        self.params_edit = QLineEdit(self)
        self.params_edit.setPlaceholderText('Default parameters as JSON, e.g. {"temperature": 0.7}')
        self.message = QLabel(self)
        self.message.setObjectName("providersMessage")
        self.message.setWordWrap(True)
        storage = QLabel(f"API keys are stored in {setup.keys.location}.", self)
        storage.setObjectName("keyStorageNote")
        storage.setWordWrap(True)
        storage.setStyleSheet("color: palette(placeholder-text);")

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        buttons.addWidget(self.import_button)
        self.form = QWidget(self)
        form_outer = QVBoxLayout(self.form)
        form_outer.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        form_outer.addLayout(form)
        form_outer.addStretch(1)
        form.addRow("Name:", self.name_edit)
        form.addRow("Type:", self.type_combo)
        form.addRow("Base URL:", self.url_edit)
        form.addRow("API key:", self.key_edit)
        form.addRow("", self.key_status)
        form.addRow("Models:", self.models_edit)
        form.addRow("", self.refresh_button)
        form.addRow("Parameters:", self.params_edit)
        top = QHBoxLayout()
        top.addWidget(self.list, 2)
        top.addWidget(self.form, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        layout.addWidget(storage)
        if setup.problem:
            self._say(setup.problem, error=True)
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.list.currentItemChanged.connect(self._on_selection_changed)
        self.list.itemChanged.connect(self._on_item_changed)
        self.add_button.menu().triggered.connect(self._on_add_triggered)
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.import_button.clicked.connect(self._on_import_clicked)
        for edit in (self.name_edit, self.url_edit, self.params_edit):
            edit.editingFinished.connect(self._on_field_edited)
        self.type_combo.activated.connect(self._on_field_edited)
        self.key_edit.editingFinished.connect(self._on_key_edited)
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        # A plain-text box has no editingFinished: save the model list once typing pauses.
        self.models_edit.textChanged.connect(self._on_models_typed)
        self._models_timer.timeout.connect(self._on_field_edited)

    def _on_models_typed(self) -> None:
        if not self._loading:
            self._models_timer.start()

    # Showing ----------------------------------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        """Rebuild the list from the registry, keeping or choosing a selection."""
        current = select or self.selected_id()
        self._loading = True
        self.list.clear()
        configured = {p.id for p in self.setup.configured}
        for config in self.setup.registry.all:
            suffix = "" if config.id in configured else "  (environment)"
            item = QListWidgetItem(f"{config.name}{suffix}")
            item.setData(ID_ROLE, config.id)
            item.setToolTip(f"{config.id} · {config.type} · {config.base_url}")
            if config.id in configured:
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(
                    Qt.CheckState.Checked if config.enabled else Qt.CheckState.Unchecked
                )
            self.list.addItem(item)
        self._loading = False
        rows = [self.list.item(i).data(ID_ROLE) for i in range(self.list.count())]
        row = rows.index(current) if current in rows else (0 if rows else -1)
        self.list.setCurrentRow(row)
        self._show(self._selected_config())

    def edit_key_of(self, provider_id: str) -> None:
        """Select a provider and put the cursor in its API key field."""
        self.reload(select=provider_id)
        self.key_edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def selected_id(self) -> str | None:
        item = self.list.currentItem()
        return str(item.data(ID_ROLE)) if item is not None else None

    def _selected_config(self) -> ProviderConfig | None:
        provider_id = self.selected_id()
        return self.setup.registry.get(provider_id) if provider_id else None

    def _editable(self, config: ProviderConfig | None) -> bool:
        return config is not None and any(p.id == config.id for p in self.setup.configured)

    def _show(self, config: ProviderConfig | None) -> None:
        self._loading = True
        editable = self._editable(config)
        self.form.setEnabled(config is not None)
        for widget in (
            self.name_edit,
            self.type_combo,
            self.url_edit,
            self.models_edit,
            self.params_edit,
            self.key_edit,
        ):
            widget.setEnabled(editable)
        self.remove_button.setEnabled(editable)
        if config is None:
            for edit in (self.name_edit, self.url_edit, self.params_edit, self.key_edit):
                edit.clear()
            self.models_edit.clear()
            self.key_status.clear()
            self._loading = False
            return
        self.name_edit.setText(config.name)
        self.type_combo.setCurrentText(config.type)
        self.url_edit.setText(config.base_url)
        self.models_edit.setPlainText("\n".join(config.models))
        self.params_edit.setText(json.dumps(dict(config.params)) if config.params else "")
        self.key_edit.clear()
        self.key_edit.setPlaceholderText("")
        self.key_status.setText("Looking in the keychain…")
        self._loading = False
        # The keychain may block (D-Bus, an unlock prompt): asked off the UI thread.
        self._off_thread.call(
            lambda: self.setup.key_source(config),
            lambda source: self._show_key_source(config, source),
        )

    def _show_key_source(self, config: ProviderConfig, source: str) -> None:
        if self.selected_id() != config.id:
            return  # the user moved on meanwhile
        if source.startswith("$"):
            self.key_status.setText(f"Using the key from {source} (the environment wins).")
        elif source in ("keychain", "key file"):
            self.key_status.setText(f"A key is stored ({source}). Type a new one to replace it.")
            self.key_edit.setPlaceholderText("•••••••• (stored)")
        elif source == "unreadable":
            self.key_status.setText("The keychain could not be read; a new key can be entered.")
        else:
            hint = f" or set ${config.api_key_env}" if config.api_key_env else ""
            self.key_status.setText(f"No key stored. Enter one{hint} if the service needs it.")

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#cf222e" if error else "palette(text)"
        self.message.setStyleSheet(f"color: {color};")
        self.message.setText(text)

    # Editing ----------------------------------------------------------------------------------
    def _apply(self, config: ProviderConfig) -> None:
        try:
            self.setup.update(config)
        except errors.ConfigError as exc:
            self._say(str(exc), error=True)
            self._show(self._selected_config())
            return
        self._say(f"Saved {config.name}.")
        self.reload(select=config.id)
        self.providers_changed.emit()

    def _on_selection_changed(self, *_: object) -> None:
        if not self._loading:
            self._show(self._selected_config())

    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._loading:
            return
        provider_id = str(item.data(ID_ROLE))
        try:
            self.setup.set_enabled(provider_id, item.checkState() == Qt.CheckState.Checked)
        except errors.ConfigError as exc:
            self._say(str(exc), error=True)
            return
        self.providers_changed.emit()

    def _on_field_edited(self, *_: object) -> None:
        config = self._selected_config()
        if self._loading or not self._editable(config) or config is None:
            return
        params_text = self.params_edit.text().strip()
        try:
            params = json.loads(params_text) if params_text else {}
            if not isinstance(params, dict):
                raise ValueError("not an object")
        except (ValueError, RecursionError) as exc:
            self._say(f"Parameters must be a JSON object: {exc or 'nested too deeply'}", error=True)
            return
        models = tuple(line.strip() for line in self.models_edit.toPlainText().splitlines())
        updated = replace(
            config,
            name=self.name_edit.text().strip() or config.id,
            type=self.type_combo.currentText(),
            base_url=self.url_edit.text().strip(),
            models=models,
            params=params,
        )
        if updated != config:
            self._apply(updated)

    def _on_key_edited(self) -> None:
        config = self._selected_config()
        key = self.key_edit.text().strip()
        if config is None or not key or not self._editable(config):
            return
        # The keychain may block (D-Bus, an unlock prompt): off the UI thread.
        self._off_thread.call(
            lambda: self.setup.set_key(config.id, key),
            lambda _: self._key_stored(config),
            self._on_keychain_failed,
        )

    def _key_stored(self, config: ProviderConfig) -> None:
        self._say(f"Stored the key for {config.name} in {self.setup.keys.location}.")
        self.reload(select=config.id)
        self.providers_changed.emit()

    def _on_add_triggered(self, action: object) -> None:
        from llms_desktop.providers.presets import preset

        preset_id = str(action.data())  # type: ignore[attr-defined]
        known = preset(preset_id) if preset_id else None
        base = (
            known.config()
            if known
            else ProviderConfig(
                id="custom",
                type=OPENAI_COMPATIBLE,
                name="Custom",
                base_url="http://localhost:8000/v1",
            )
        )
        config = with_free_id(base, {p.id for p in self.setup.registry.all})
        try:
            self.setup.add(config)
        except errors.ConfigError as exc:
            self._say(str(exc), error=True)
            return
        self.reload(select=config.id)
        self.providers_changed.emit()
        if known is None:
            # A server of the user's own: its address is what they type first.
            self._say("Added a custom server: type its base URL (ending in /v1), then its key.")
            self.url_edit.setFocus(Qt.FocusReason.OtherFocusReason)
            self.url_edit.selectAll()
        else:
            self._say(f"Added {config.name}. Enter its key if it needs one, then Refresh models.")

    def _on_remove_clicked(self) -> None:
        config = self._selected_config()
        if config is not None and self._editable(config):
            self.remove_button.setEnabled(False)
            # Forgetting the key talks to the keychain: off the UI thread.
            self._off_thread.call(
                lambda: self.setup.remove(config.id),
                lambda _: self._removed(config),
                self._on_keychain_failed,
            )

    def _on_keychain_failed(self, error: BaseException) -> None:
        self._say(str(error), error=True)
        self.remove_button.setEnabled(self._editable(self._selected_config()))

    def _removed(self, config: ProviderConfig) -> None:
        self._say(f"Removed {config.name} and its stored key.")
        self.reload()
        self.providers_changed.emit()

    def _on_import_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import llms.py providers", "", "llms.json (*.json)"
        )
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """Import llms.py's llms.json and say what was added and what was not."""
        from pathlib import Path

        self._say("Importing…")
        # Its keys go to the keychain: off the UI thread.
        self._off_thread.call(
            lambda: self.setup.import_llms(Path(path)),
            self._imported,
            self._on_keychain_failed,
        )

    def _imported(self, plan: ImportPlan) -> None:
        added = ", ".join(p.id for p in plan.providers) or "none"
        skipped = f" Skipped: {'; '.join(plan.skipped)}." if plan.skipped else ""
        self._say(f"Imported: {added}.{skipped}")
        self.reload()
        self.providers_changed.emit()

    def _on_refresh_clicked(self) -> None:
        config = self._selected_config()
        if config is not None:
            self.refresh_button.setEnabled(False)
            self._say(f"Asking {config.name} for its models…")
            self._run(self._refresh(config))

    async def _refresh(self, config: ProviderConfig) -> None:
        try:
            models = await self.setup.registry.list_models(config)
        except errors.LlmsDesktopError as exc:
            self._say(f"Could not list {config.name}'s models: {exc}", error=True)
            return
        finally:
            self.refresh_button.setEnabled(True)
        if self._editable(config):
            self._apply(replace(config, models=tuple(models)))
        self._say(f"{config.name} offers {len(models)} model(s).")
        if not self._editable(config):
            self.models_edit.setPlainText("\n".join(models))

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
