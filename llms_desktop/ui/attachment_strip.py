"""The composer's attachments: a row of removable chips (a thumbnail or a file badge, the name)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop.attachments.model import Attachment, human_size

THUMBNAIL = 40  # px, the longer side of a chip's picture


def thumbnail(data: bytes, side: int) -> QPixmap | None:
    """A picture of at most `side` px for image bytes (None when Qt cannot decode them)."""
    image = QImage.fromData(data)
    if image.isNull():
        return None
    scaled = image.scaled(
        QSize(side, side),
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )
    return QPixmap.fromImage(scaled)


class AttachmentChip(QFrame):
    """One attachment in the composer.

    Signals:
        remove_requested(): its × was clicked.
    """

    remove_requested = Signal()

    def __init__(self, attachment: Attachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.attachment = attachment
        self.setObjectName("attachmentChip")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.picture = QLabel(self)
        self.picture.setFixedSize(THUMBNAIL, THUMBNAIL)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        pixmap = thumbnail(attachment.data, THUMBNAIL) if attachment.kind == "image" else None
        if pixmap is not None:
            self.picture.setPixmap(pixmap)
        else:
            suffix = attachment.name.rpartition(".")[2].upper() if "." in attachment.name else ""
            self.picture.setText(suffix[:4] or "FILE")
            self.picture.setStyleSheet("font-weight:600; font-size:small;")
        self.label = QLabel(self)
        metrics = self.label.fontMetrics()
        self.label.setText(metrics.elidedText(attachment.name, Qt.TextElideMode.ElideMiddle, 160))
        details = [attachment.mime, human_size(attachment.size)]
        if attachment.width and attachment.height:
            details.insert(1, f"{attachment.width}×{attachment.height}")
        tip = f"{attachment.name}\n{', '.join(details)}"
        if attachment.note:
            tip += f"\n{attachment.note[0].upper()}{attachment.note[1:]}."
        self.setToolTip(tip)
        self.remove_button = QToolButton(self)
        self.remove_button.setObjectName("removeAttachmentButton")
        self.remove_button.setText("×")
        self.remove_button.setAutoRaise(True)
        self.remove_button.setToolTip(f"Remove {attachment.name}")
        self.remove_button.setAccessibleName(f"Remove {attachment.name}")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        layout.setSpacing(4)
        layout.addWidget(self.picture)
        layout.addWidget(self.label)
        layout.addWidget(self.remove_button)
        self.remove_button.clicked.connect(self.remove_requested)


class AttachmentStrip(QWidget):
    """What the next message will carry, above the prompt; hidden when empty. A problem with the
    last file offered (too big, not text, a PDF without text) shows under the chips.

    Signals:
        changed(): an attachment was added or removed.
    """

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attachmentStrip")
        self._chips: list[AttachmentChip] = []
        self._row = QWidget(self)
        self._row_layout = QHBoxLayout(self._row)
        self._row_layout.setContentsMargins(0, 0, 0, 0)
        self._row_layout.setSpacing(6)
        self._row_layout.addStretch(1)
        self._scroll = QScrollArea(self)
        self._scroll.setWidget(self._row)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._scroll.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._scroll.setFixedHeight(THUMBNAIL + 16)
        self.problem = QLabel(self)
        self.problem.setObjectName("attachmentProblem")
        self.problem.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self._scroll)
        layout.addWidget(self.problem)
        self._update()

    @property
    def attachments(self) -> list[Attachment]:
        return [chip.attachment for chip in self._chips]

    def add(self, attachment: Attachment) -> None:
        chip = AttachmentChip(attachment, self._row)
        chip.remove_requested.connect(lambda: self.remove(chip))
        self._chips.append(chip)
        self._row_layout.insertWidget(self._row_layout.count() - 1, chip)
        self.show_problem("")
        self._update()
        self.changed.emit()

    def remove(self, chip: AttachmentChip) -> None:
        if chip in self._chips:
            self._chips.remove(chip)
            chip.hide()
            chip.deleteLater()
            self._update()
            self.changed.emit()

    def take(self) -> list[Attachment]:
        """Every attachment, leaving the strip empty."""
        taken = self.attachments
        for chip in list(self._chips):
            self._chips.remove(chip)
            chip.hide()
            chip.deleteLater()
        self.show_problem("")
        self._update()
        if taken:
            self.changed.emit()
        return taken

    def chips(self) -> list[AttachmentChip]:
        return list(self._chips)

    def show_problem(self, text: str) -> None:
        """Say why a file was not attached ("" clears it)."""
        self.problem.setText(text)
        self.problem.setVisible(bool(text))
        self._update()

    def _update(self) -> None:
        self._scroll.setVisible(bool(self._chips))
        self.setVisible(bool(self._chips) or bool(self.problem.text()))
