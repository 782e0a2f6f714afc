"""Small icons drawn in code or taken from Qt's style: no emoji that a font may lack."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

# Images the chat document shows (<img src="llms-icon:NAME">), served by ChatView.
DOCUMENT_SCHEME = "llms-icon"


def pin_icon(color: QColor) -> QIcon:
    """A push pin, tilted, in `color` (sharp at 16 and 32 px and on high-DPI screens)."""
    icon = QIcon()
    for size in (16, 24, 32, 48):
        icon.addPixmap(_pin_pixmap(size, color))
    return icon


def _pin_pixmap(size: int, color: QColor) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 16, size / 16)
    painter.translate(8, 8)
    painter.rotate(40)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    # The head, the body widening into a collar, then the needle.
    painter.drawRoundedRect(QRectF(-2.6, -7.2, 5.2, 2.2), 0.8, 0.8)
    body = QPainterPath()
    body.moveTo(-1.6, -5.2)
    body.lineTo(1.6, -5.2)
    body.lineTo(2.2, -1.2)
    body.lineTo(-2.2, -1.2)
    body.closeSubpath()
    painter.drawPath(body)
    painter.drawRoundedRect(QRectF(-4.0, -1.4, 8.0, 1.8), 0.8, 0.8)
    pen = QPen(color, 1.1)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(QPointF(0, 0.4), QPointF(0, 7.4))
    painter.end()
    return pixmap


def attach_icon(color: QColor) -> QIcon:
    """A paper clip in `color`, drawn (no font has to carry a clip emoji)."""
    icon = QIcon()
    for size in (16, 24, 32, 48):
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.scale(size / 16, size / 16)
        pen = QPen(color, 1.3)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.translate(8, 8)
        painter.rotate(40)
        clip = QPainterPath()
        clip.moveTo(1.6, -2.0)
        clip.lineTo(1.6, 4.0)
        clip.arcTo(QRectF(-1.6, 2.4, 3.2, 3.2), 0, -180)
        clip.lineTo(-1.6, -5.0)
        clip.arcTo(QRectF(-1.6, -6.6, 3.2 + 1.6, 3.2 + 1.6), 180, -180)
        clip.lineTo(3.2, 4.2)
        painter.drawPath(clip)
        painter.end()
        icon.addPixmap(pixmap)
    return icon


def stop_icon() -> QIcon:
    """The style's Stop symbol (a square), as on media players."""
    return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MediaStop)


def document_image(name: str, points: int) -> QPixmap | None:
    """A pixmap for `<img src="llms-icon:NAME">` in the chat, about one line high."""
    if name == "stopped":
        return stop_icon().pixmap(max(8, points))
    return None
