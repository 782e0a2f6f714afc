"""First run, no provider yet: what to do, the presets, and the model servers found on this PC."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from llms_desktop.providers.discovery import FoundServer, LocalServerKind
from llms_desktop.providers.presets import PRESETS

COLUMNS = 4


def _muted(label: QLabel) -> QLabel:
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def _heading(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = QFont(label.font())
    font.setBold(True)
    label.setFont(font)
    return label


class WelcomePage(QScrollArea):
    """Shown in place of the chat until a provider is set up. Holds layout only.

    Signals:
        preset_chosen(str): a preset's button (its id).
        server_chosen(object): a found local server's Add button (a FoundServer).
        look_again_requested(): look for local servers again.
        custom_requested(): "Other server…": the Providers page, to enter a URL.
    """

    preset_chosen = Signal(str)
    server_chosen = Signal(object)
    look_again_requested = Signal()
    custom_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget(self)
        body.setObjectName("welcomeBody")
        column = QWidget(body)
        column.setMaximumWidth(640)
        outer = QHBoxLayout(body)
        outer.addStretch(1)
        outer.addWidget(column, 8)
        outer.addStretch(1)

        title = QLabel("Welcome to llms-desktop", column)
        title.setObjectName("welcomeTitle")
        font = QFont(title.font())
        font.setPointSizeF(font.pointSizeF() * 1.6)
        font.setBold(True)
        title.setFont(font)
        intro = QLabel(
            "To start chatting, connect a model provider: a model server running on this "
            "computer, or an online service with your API key. Your chats stay on this "
            "computer; keys go to the system keychain.",
            column,
        )
        intro.setWordWrap(True)

        self.local_status = _muted(QLabel(column))
        self.local_status.setObjectName("localServerStatus")
        self.found_box = QWidget(column)
        self.found_layout = QVBoxLayout(self.found_box)
        self.found_layout.setContentsMargins(0, 0, 0, 0)
        self.look_again_button = QPushButton("Look again", column)
        self.look_again_button.setObjectName("lookAgainButton")
        self.look_again_button.setToolTip("Look for model servers on this computer again")

        self.preset_buttons: dict[str, QPushButton] = {}
        services = QGridLayout()
        local = QGridLayout()
        for grid in (services, local):
            grid.setHorizontalSpacing(6)
            grid.setVerticalSpacing(6)
        for item in PRESETS:
            button = QPushButton(item.name, column)
            button.setObjectName(f"preset-{item.id}")
            button.setToolTip(
                f"Add {item.name} ({item.base_url}); you will be asked for its API key"
                if item.needs_key
                else f"Add {item.name} at {item.base_url}"
            )
            self.preset_buttons[item.id] = button
            grid = services if item.needs_key else local
            count = grid.count()
            grid.addWidget(button, count // COLUMNS, count % COLUMNS)
        self.custom_button = QPushButton("Other server…", column)
        self.custom_button.setObjectName("customProviderButton")
        self.custom_button.setToolTip("Any OpenAI-compatible URL, in Preferences > Providers")
        count = local.count()
        local.addWidget(self.custom_button, count // COLUMNS, count % COLUMNS)

        layout = QVBoxLayout(column)
        layout.setContentsMargins(12, 28, 12, 12)
        layout.setSpacing(10)
        layout.addWidget(title)
        layout.addWidget(intro)
        layout.addSpacing(8)
        layout.addWidget(_heading("Running on this computer", column))
        layout.addWidget(self.local_status)
        layout.addWidget(self.found_box)
        again = QHBoxLayout()
        again.addWidget(self.look_again_button)
        again.addStretch(1)
        layout.addLayout(again)
        layout.addSpacing(8)
        layout.addWidget(_heading("Online services (need an API key)", column))
        layout.addLayout(services)
        layout.addSpacing(8)
        layout.addWidget(_heading("Local servers (no key)", column))
        layout.addLayout(local)
        layout.addSpacing(8)
        layout.addWidget(
            _muted(
                QLabel(
                    "Everything here is also in Preferences > Providers (Ctrl+,). Setting "
                    "OPENAI_BASE_URL or OPENAI_API_KEY before starting works too.",
                    column,
                )
            )
        )
        layout.addStretch(1)
        self.setWidget(body)
        self._connect_signals()

    def _connect_signals(self) -> None:
        for preset_id, button in self.preset_buttons.items():
            button.clicked.connect(lambda _=False, p=preset_id: self.preset_chosen.emit(p))
        self.custom_button.clicked.connect(self.custom_requested)
        self.look_again_button.clicked.connect(self.look_again_requested)

    def show_searching(self, kinds: list[LocalServerKind]) -> None:
        """Looking for local servers (this takes well under a second)."""
        self._clear_found()
        self.look_again_button.setEnabled(False)
        self.local_status.setText(f"Looking for {_names(kinds)}…")

    def show_found(self, found: list[FoundServer], kinds: list[LocalServerKind]) -> None:
        """The servers that answered, each with an Add button."""
        self._clear_found()
        self.look_again_button.setEnabled(True)
        if not found:
            self.local_status.setText(
                f"No model server answered on this computer ({_names(kinds)}). Start one, "
                "then Look again."
            )
            return
        self.local_status.setText("Found on this computer (click to add):")
        for server in found:
            if server.needs_key:
                what = "asks for an API key"
            else:
                count = len(server.models)
                what = f"{count} model{'s' if count != 1 else ''}"
                if server.models:
                    what += f": {', '.join(server.models[:3])}{'…' if count > 3 else ''}"
            button = QPushButton(f"Add {server.kind.name}  ·  {server.base_url}  ·  {what}")
            button.setObjectName(f"found-{server.kind.preset_id}")
            button.setStyleSheet("text-align: left; padding: 6px 10px;")
            button.clicked.connect(lambda _=False, s=server: self.server_chosen.emit(s))
            self.found_layout.addWidget(button)

    def found_buttons(self) -> list[QPushButton]:
        items = (self.found_layout.itemAt(index) for index in range(self.found_layout.count()))
        return [
            widget
            for item in items
            if item is not None and isinstance(widget := item.widget(), QPushButton)
        ]

    def _clear_found(self) -> None:
        while self.found_layout.count():
            item = self.found_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()


def _names(kinds: list[LocalServerKind]) -> str:
    return ", ".join(f"{kind.name} :{kind.port}" for kind in kinds)
