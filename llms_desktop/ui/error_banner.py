"""The banner over a failed answer: the status and provider's message, Details, Retry."""

from __future__ import annotations

import traceback

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import errors


def describe(error: BaseException) -> tuple[str, str, str]:
    """A title, the one-line message and the details for an error.

    Environment errors read as the provider said them; anything else is a bug and shows its
    traceback in the details.
    """
    if isinstance(error, errors.HTTPStatusError):
        title = f"The provider answered HTTP {error.status}"
        hint = ""
        if isinstance(error, errors.AuthenticationError):
            hint = "Check the provider's API key in Preferences > Providers."
        elif isinstance(error, errors.NotFoundError):
            hint = "Check the model name and the provider's base URL."
        if error.retry_after is not None:
            # Retry waits this long by itself; say so up front.
            hint = f"The provider asks to {errors.retry_phrase(error.retry_after)}; Retry waits"
        return title, _sentences(error.provider_message, hint), error.details or ""
    if isinstance(error, errors.StreamError):
        status = f" (HTTP {error.status})" if error.status else ""
        return f"The provider reported an error{status}", str(error), error.details or ""
    if isinstance(error, errors.NetworkError):
        return _network_title(error), str(error), error.details or ""
    if isinstance(error, errors.StreamEndedEarly):
        return "The answer stopped before it was finished", str(error), error.details or ""
    if isinstance(error, errors.ProtocolError):
        return "The provider's answer could not be read", str(error), error.details or ""
    if isinstance(error, errors.LlmsDesktopError):
        return "Something needs your attention", str(error), error.details or ""
    trace = "".join(traceback.format_exception(error))
    return (
        "Internal error (a bug in llms-desktop)",
        f"{type(error).__name__}: {error}. Please report it with the details below.",
        trace,
    )


def _network_title(error: errors.NetworkError) -> str:
    # Only a failure to connect means the provider could not be reached; a stall or a dropped
    # connection happened after it answered.
    if isinstance(error, errors.ReadTimeout):
        return "The provider stopped sending"
    if isinstance(error, errors.ConnectionLost):
        return "The connection to the provider was lost"
    if isinstance(error, errors.ProviderTimeout) and not isinstance(error, errors.ConnectTimeout):
        return "The provider timed out"
    return "Could not reach the provider"


def _sentences(*parts: str) -> str:
    """Join message parts as sentences, each ending with a full stop (or its own ! or ?)."""
    out = []
    for part in parts:
        part = part.strip()
        if part:
            out.append(part if part[-1] in ".!?…" else f"{part}.")
    return " ".join(out)


class ErrorBanner(QFrame):
    """Hidden until an answer fails.

    Signals:
        retry_requested(): the Retry button.
        dismissed(): the close button.
    """

    retry_requested = Signal()
    dismissed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("errorBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#errorBanner { background: rgba(207, 34, 46, 0.10); border: 1px solid "
            "rgba(207, 34, 46, 0.55); border-radius: 6px; }"
        )
        self.title = QLabel(self)
        self.title.setObjectName("errorTitle")
        self.title.setStyleSheet("font-weight: 600;")
        self.message = QLabel(self)
        self.message.setObjectName("errorMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QToolButton(self)
        self.details_button.setText("Details")
        self.details_button.setCheckable(True)
        self.retry_button = QPushButton("Retry", self)
        self.retry_button.setObjectName("retryButton")
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.details = QPlainTextEdit(self)
        self.details.setObjectName("errorDetails")
        self.details.setReadOnly(True)
        self.details.setMaximumHeight(160)
        self.details.hide()
        self.error: BaseException | None = None

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.details_button)
        top.addWidget(self.retry_button)
        top.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.details)
        self.hide()
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.details_button.toggled.connect(self._on_details_toggled)
        self.retry_button.clicked.connect(self.retry_requested)
        self.close_button.clicked.connect(self._on_close_clicked)

    def show_error(self, error: BaseException, *, can_retry: bool = True) -> None:
        """Show an error; details stay collapsed until asked for."""
        self.error = error
        title, message, details = describe(error)
        self.title.setText(title)
        self.message.setText(message)
        self.details.setPlainText(details)
        self.details_button.setChecked(False)
        self.details_button.setVisible(bool(details))
        self.retry_button.setVisible(can_retry)
        self.show()

    def _on_details_toggled(self, checked: bool) -> None:
        self.details.setVisible(checked)

    def _on_close_clicked(self) -> None:
        self.hide()
        self.dismissed.emit()
