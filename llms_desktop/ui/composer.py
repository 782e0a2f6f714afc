"""The composer: attachments, a growing prompt box, the model picker and the Send/Stop button."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal, SignalInstance
from PySide6.QtGui import (
    QDragEnterEvent,
    QDropEvent,
    QFocusEvent,
    QFont,
    QIcon,
    QImage,
    QKeyEvent,
    QTextCursor,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop.attachments.model import Attachment
from llms_desktop.ui.attachment_strip import AttachmentStrip
from llms_desktop.ui.icons import attach_icon, stop_icon

MAX_LINES = 10


def local_files(mime: QMimeData) -> list[str]:
    """The local files a paste or drop carries (file managers put them as file:// URLs)."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def pasted_image(mime: QMimeData) -> QImage | None:
    """The image a paste or drop carries (a screenshot, "Copy Image"), unless it also carries
    text to paste: an office suite copies a picture of its cells along with their text."""
    if not mime.hasImage() or (mime.hasText() and mime.text().strip()):
        return None
    image = mime.imageData()
    return image if isinstance(image, QImage) and not image.isNull() else None


def offer_attachments(mime: QMimeData, files: SignalInstance, image: SignalInstance) -> bool:
    """Emit the local files (else the image) that `mime` carries; False if it has neither."""
    paths = local_files(mime)
    pasted = pasted_image(mime) if not paths else None
    if paths:
        files.emit(paths)
    elif pasted is not None:
        image.emit(pasted)
    return bool(paths) or pasted is not None


class PromptEdit(QPlainTextEdit):
    """Multi-line prompt. Enter sends and Shift+Enter adds a line (or the reverse, by setting).
    Pasting or dropping files or an image offers them as attachments instead of text.

    Signals:
        submitted(): the user asked to send.
        escape_pressed(): Esc, which stops a streaming answer.
        files_offered(list): local file paths pasted or dropped.
        image_offered(QImage): an image pasted or dropped.
    """

    submitted = Signal()
    escape_pressed = Signal()
    files_offered = Signal(list)
    image_offered = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.send_on_enter = True
        self.setObjectName("promptEdit")
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().contentsChanged.connect(self.fit_height)
        self.fit_height()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            modifiers = event.modifiers()
            shift = bool(modifiers & Qt.KeyboardModifier.ShiftModifier)
            control = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
            if control or (self.send_on_enter and not shift):
                self.submitted.emit()
                return
            if shift or not self.send_on_enter:
                self.insertPlainText("\n")
                return
        if key == Qt.Key.Key_Escape:
            self.escape_pressed.emit()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        if local_files(source) or pasted_image(source) is not None:
            return True
        return super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if not offer_attachments(source, self.files_offered, self.image_offered):
            super().insertFromMimeData(source)

    def fit_height(self) -> None:
        """Grow with the text (and the font) up to MAX_LINES, then scroll."""
        metrics = self.fontMetrics()
        lines = max(1, min(MAX_LINES, int(self.document().size().height())))
        margins = self.contentsMargins()
        frame = int(self.document().documentMargin() * 2) + margins.top() + margins.bottom()
        self.setFixedHeight(lines * metrics.lineSpacing() + frame + 4)


class ModelPicker(QComboBox):
    """The model picker; says when the user reaches for it, so the list can be fetched."""

    reached = Signal()

    def showPopup(self) -> None:
        self.reached.emit()
        super().showPopup()

    def focusInEvent(self, event: QFocusEvent) -> None:
        self.reached.emit()
        super().focusInEvent(event)


class Composer(QWidget):
    """Attachments, prompt, model picker and Send/Stop.

    Signals:
        send_requested(str): the prompt to send (already stripped of nothing: sent as typed);
            the attachments stay in `attachments` until the sender takes them.
        stop_requested(): Stop clicked, or Esc pressed (stops an answer or a pending retry).
        model_chosen(str): the user picked or typed a model id.
        models_wanted(): the user typed in the prompt or reached for the picker.
        edit_cancelled(): Esc or Cancel while editing a sent message (the box is cleared).
        attach_requested(): the Attach button (pick files).
        files_offered(list): local files pasted or dropped on the prompt or the composer.
        image_offered(QImage): an image pasted or dropped.
    """

    send_requested = Signal(str)
    stop_requested = Signal()
    model_chosen = Signal(str)
    models_wanted = Signal()
    edit_cancelled = Signal()
    attach_requested = Signal()
    files_offered = Signal(list)
    image_offered = Signal(QImage)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)  # around the prompt too (the picker, the buttons)
        self.strip = AttachmentStrip(self)
        self.attach_button = QToolButton(self)
        self.attach_button.setObjectName("attachButton")
        self.attach_button.setIcon(attach_icon(self.palette().text().color()))
        self.attach_button.setAutoRaise(True)
        self.attach_button.setToolTip(
            "Attach images or files (Ctrl+Shift+A), or paste or drop them on the prompt"
        )
        self.attach_button.setAccessibleName("Attach files")
        self.prompt = PromptEdit(self)
        self.model_picker = ModelPicker(self)
        self.model_picker.setObjectName("modelPicker")
        self.model_picker.setEditable(True)
        self.model_picker.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.model_picker.setMinimumContentsLength(18)
        self.model_picker.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.model_picker.setToolTip("Model (pick one, or type its id)")
        model_edit = self.model_picker.lineEdit()
        assert model_edit is not None  # an editable combo box always has one
        model_edit.setPlaceholderText("model")
        self._model_edit = model_edit
        self.send_button = QPushButton("Send", self)
        self.send_button.setObjectName("sendButton")
        self.send_button.setDefault(False)
        self.send_button.setAutoDefault(False)
        self._streaming = False
        self._stop_icon = stop_icon()
        self.edit_bar = QWidget(self)
        self.edit_bar.setObjectName("editBar")
        self.edit_label = QLabel(
            "Editing a sent message: sending makes a new version (the original is kept).",
            self.edit_bar,
        )
        self.edit_label.setWordWrap(True)
        self.edit_cancel = QPushButton("Cancel (Esc)", self.edit_bar)
        self.edit_cancel.setObjectName("editCancelButton")
        edit_layout = QHBoxLayout(self.edit_bar)
        edit_layout.setContentsMargins(0, 0, 0, 0)
        edit_layout.addWidget(self.edit_label, 1)
        edit_layout.addWidget(self.edit_cancel)
        self.edit_bar.hide()
        self._draft = ""  # what was typed before an edit began
        self._draft_attachments: list[Attachment] = []  # and attached

        controls = QHBoxLayout()
        controls.setContentsMargins(0, 0, 0, 0)
        controls.addWidget(self.attach_button)
        controls.addWidget(self.model_picker, 1)
        controls.addStretch(2)
        controls.addWidget(self.send_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(self.edit_bar)
        layout.addWidget(self.strip)
        layout.addWidget(self.prompt)
        layout.addLayout(controls)
        self._connect_signals()
        self.set_streaming(False)

    def _connect_signals(self) -> None:
        self.prompt.submitted.connect(self._on_submitted)
        self.prompt.escape_pressed.connect(self._on_escape)
        self.send_button.clicked.connect(self._on_button_clicked)
        self.model_picker.activated.connect(self._on_model_activated)
        self.model_picker.reached.connect(self.models_wanted)
        self.prompt.textChanged.connect(self.models_wanted)
        self._model_edit.editingFinished.connect(self._on_model_activated)
        self.edit_cancel.clicked.connect(self._on_edit_cancelled)
        self.attach_button.clicked.connect(self.attach_requested)
        self.prompt.files_offered.connect(self.files_offered)
        self.prompt.image_offered.connect(self.image_offered)

    @property
    def streaming(self) -> bool:
        """Whether the button currently stops an answer rather than sending."""
        return self._streaming

    def set_streaming(self, streaming: bool) -> None:
        """Send becomes Stop while an answer streams."""
        self._streaming = streaming
        self.send_button.setText("Stop" if streaming else "Send")
        self.send_button.setIcon(self._stop_icon if streaming else QIcon())
        self.send_button.setToolTip("Stop the answer (Esc)" if streaming else "Send (Enter)")

    def set_send_on_enter(self, enabled: bool) -> None:
        self.prompt.send_on_enter = enabled
        hint = (
            "Enter sends, Shift+Enter adds a line"
            if enabled
            else ("Ctrl+Enter sends, Enter adds a line")
        )
        self.prompt.setPlaceholderText(f"Message the model… ({hint})")

    def set_font_size(self, points: int) -> None:
        """The prompt's font size (Preferences > Font size, like the chat)."""
        font = QFont(self.prompt.font())
        font.setPointSize(points)
        self.prompt.setFont(font)
        self.prompt.fit_height()

    def set_models(self, models: list[str], current: str) -> None:
        """Fill the picker, keeping the current model selected (even one not in the list)."""
        self.model_picker.blockSignals(True)
        self.model_picker.clear()
        self.model_picker.addItems(models)
        self.set_model(current)
        self.model_picker.blockSignals(False)

    def set_model(self, model: str) -> None:
        index = self.model_picker.findText(model)
        if index >= 0:
            self.model_picker.setCurrentIndex(index)
        else:
            self.model_picker.setEditText(model)

    @property
    def model(self) -> str:
        return self.model_picker.currentText().strip()

    def take_prompt(self) -> str:
        """The prompt's text, clearing the box (undo can bring it back)."""
        text = self.prompt.toPlainText()
        self.prompt.selectAll()
        self.prompt.insertPlainText("")
        return text

    def restore_prompt(self, text: str) -> None:
        """Put text back, e.g. after a send that could not start; typing goes on at its end."""
        if not self.prompt.toPlainText():
            self.prompt.setPlainText(text)
            self.prompt.moveCursor(QTextCursor.MoveOperation.End)

    # Attachments -------------------------------------------------------------------------------
    @property
    def attachments(self) -> list[Attachment]:
        """What the next message carries."""
        return self.strip.attachments

    def add_attachment(self, attachment: Attachment) -> None:
        self.strip.add(attachment)

    def take_attachments(self) -> list[Attachment]:
        """The attachments, leaving none (the message is being sent)."""
        return self.strip.take()

    def restore_attachments(self, attachments: Sequence[Attachment]) -> None:
        """Put attachments back after a send that could not start (unless new ones are there)."""
        if not self.strip.attachments:
            for attachment in attachments:
                self.strip.add(attachment)

    def show_attachment_problem(self, text: str) -> None:
        """Why a file offered was not attached, under the chips ("" clears it)."""
        self.strip.show_problem(text)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if local_files(mime) or pasted_image(mime) is not None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if offer_attachments(event.mimeData(), self.files_offered, self.image_offered):
            event.acceptProposedAction()
        else:
            super().dropEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        # The paper clip is drawn in the text colour: redraw it when the theme changes.
        if event.type() == QEvent.Type.PaletteChange:
            self.attach_button.setIcon(attach_icon(self.palette().text().color()))
        super().changeEvent(event)

    def focus_prompt(self) -> None:
        self.prompt.setFocus(Qt.FocusReason.OtherFocusReason)

    @property
    def editing(self) -> bool:
        """Whether the box holds a sent message being edited."""
        return not self.edit_bar.isHidden()

    def begin_edit(self, text: str) -> None:
        """Put a sent message in the box to edit; sending it makes a new version. What was
        typed (and attached) in the box before comes back once the edit is sent or cancelled."""
        if not self.editing:
            self._draft = self.prompt.toPlainText()
            self._draft_attachments = self.strip.take()
        self.prompt.setPlainText(text)
        self.edit_bar.show()
        self.focus_prompt()
        self.prompt.moveCursor(QTextCursor.MoveOperation.End)

    def end_edit(self) -> None:
        """The edit was sent or dropped: the draft typed and attached before it returns to an
        empty box (the edit's own attachments taken first)."""
        self.edit_bar.hide()
        draft, self._draft = self._draft, ""
        if draft and not self.prompt.toPlainText():
            self.prompt.setPlainText(draft)
            self.prompt.moveCursor(QTextCursor.MoveOperation.End)
        attached, self._draft_attachments = self._draft_attachments, []
        self.restore_attachments(attached)

    # Slots ----------------------------------------------------------------------------------
    def _on_submitted(self) -> None:
        if self._streaming:
            return  # Enter while streaming does nothing; Esc or Stop stops
        if self.prompt.toPlainText().strip() or self.strip.attachments:
            self.send_requested.emit(self.take_prompt())

    def _on_escape(self) -> None:
        if self.editing and not self._streaming:
            self._on_edit_cancelled()
        else:
            self.stop_requested.emit()  # an answer, or a retry waiting for its time

    def _on_edit_cancelled(self) -> None:
        self.prompt.clear()
        self.strip.take()  # the edited message's own: it keeps them
        self.end_edit()
        self.edit_cancelled.emit()

    def _on_button_clicked(self) -> None:
        if self._streaming:
            self.stop_requested.emit()
        else:
            self._on_submitted()

    def _on_model_activated(self, *_: object) -> None:
        if self.model:
            self.model_chosen.emit(self.model)
