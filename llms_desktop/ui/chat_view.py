"""The chat view: one QTextBrowser per window showing a thread as rendered markdown."""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QDesktopServices,
    QFont,
    QGuiApplication,
    QImage,
    QTextDocument,
)
from PySide6.QtWidgets import QTextBrowser, QWidget

from llms_desktop.branches import Versions
from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.turns import can_continue
from llms_desktop.types import Delta, Message, ReasoningDelta, TextDelta, ToolCallDelta
from llms_desktop.ui import attachment_html
from llms_desktop.ui.chat_document import ChatDocument
from llms_desktop.ui.icons import DOCUMENT_SCHEME, document_image
from llms_desktop.ui.message_html import (
    COPY_LINK,
    MESSAGE_LINK,
    REASONING_LINK,
    MessageHtml,
)
from llms_desktop.ui.theme import chat_colors
from llms_desktop.ui.tool_html import TOOL_LINK

if TYPE_CHECKING:
    from llms_desktop.store.blobs import Blobs

FRAME_MS = 16  # deltas are coalesced and rendered at most once per frame
THUMBNAILS_KEPT = 64  # decoded thumbnails kept for re-layouts and theme switches
# Thumbnails decode here, never on the UI thread (QImage may be used on any thread).
_THUMBNAIL_POOL = concurrent.futures.ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="thumbnails"
)
# Stored files the system's viewer may open from a click (never an unknown kind).
OPENABLE = (".png", ".jpg", ".webp", ".gif", ".pdf", ".txt")


class ChatView(QTextBrowser):
    """Shows a thread; a streaming answer's deltas are coalesced and rendered once per frame.

    Signals:
        code_copied(str): a code block's text was copied to the clipboard.
        rendered(): a frame's worth of streamed text reached the screen.
        message_action(str, str): an action asked for on a message, by its link or its
            context menu: the verb (copy, edit, regenerate, continue, delete, version) and
            the message id (for version: the version to show).
        thumbnail_shown(str): an attachment's thumbnail (its URL) was decoded and painted in.
    """

    code_copied = Signal(str)
    rendered = Signal()
    message_action = Signal(str, str)
    thumbnail_shown = Signal(str)  # an attachment's thumbnail (by its URL) is painted in
    _thumbnail_ready = Signal(str, QImage)  # from a worker thread: queued to this one

    def __init__(self, parent: QWidget | None = None, *, dark: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.setPlaceholderText("Ask anything. Enter sends, Shift+Enter adds a line.")
        self._dark = dark
        self._builder = MessageHtml(MarkdownRenderer(chat_colors(dark).code), chat_colors(dark))
        self.chat = ChatDocument(self.document(), self._builder)
        self._frame = QTimer(self)
        self._frame.setSingleShot(True)
        self._frame.setInterval(FRAME_MS)
        # Where attachments' bytes are (the store's data folder), for thumbnails and links.
        self.attachment_files: Blobs | None = None
        self._thumbnails: OrderedDict[str, QImage] = OrderedDict()
        self._decoding: set[str] = set()  # thumbnails being decoded on a worker thread
        self._at_end = True  # the reader is at the end: keep them there as the text grows
        self._missing: set[str] = set()  # attachments that could not be shown
        self._warmed = False
        self._connect_signals()

    def warm_up_later(self) -> None:
        """Load markdown-it, pygments and a lexer in the background (once), when an answer is
        in sight (the user types): it would otherwise pay for them mid-stream. Not at start:
        the work would hold the interpreter lock the window's own start needs."""
        if not self._warmed:
            self._warmed = True
            threading.Thread(target=self._builder.renderer.warm_up, daemon=True).start()

    def _connect_signals(self) -> None:
        self.anchorClicked.connect(self._on_anchor_clicked)
        self._thumbnail_ready.connect(self._on_thumbnail_ready)
        self._frame.timeout.connect(self._on_frame)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)

    # What to show -------------------------------------------------------------------------
    def show_thread(
        self, messages: list[Message], versions: Mapping[str, Versions] | None = None
    ) -> None:
        """Render a thread's finished messages once and scroll to the end."""
        self._frame.stop()
        if versions is not None:
            self._builder.versions = versions
        self.chat.show(messages)
        self.scroll_to_bottom()

    def set_versions(self, versions: Mapping[str, Versions]) -> None:
        """Which messages have other versions, for the switchers rendered from now on."""
        self._builder.versions = versions

    def begin_answer(self, message: Message) -> None:
        """An answer starts streaming into this view."""
        at_bottom = self.is_at_bottom()
        self.chat.begin_live(message)
        if at_bottom:
            self.scroll_to_bottom()

    def add_delta(self, delta: Delta) -> None:
        """Queue a delta; the view renders at most once per frame."""
        if isinstance(delta, TextDelta):
            self.chat.add_text(delta.text)
        elif isinstance(delta, ReasoningDelta):
            self.chat.add_reasoning(delta.text)
        elif isinstance(delta, ToolCallDelta):
            self.chat.add_tool_call(delta)
        else:
            return
        if not self._frame.isActive():
            self._frame.start()

    def end_answer(self, message: Message) -> None:
        """The answer finished (complete, stopped or failed): show its final form and footer."""
        self._frame.stop()
        at_bottom = self.is_at_bottom()
        if self.chat.live_message_id == message.id:
            self.chat.end_live(message)
            if self.chat.backlog:
                # Much of it arrived at the end (a whole answer in one delta): it goes on
                # showing frame by frame, the window responsive meanwhile.
                self._frame.start()
        elif any(m.id == message.id for m in self.chat.messages):
            self.chat.replace_message(message)
        else:
            self.chat.messages.append(message)
            self.chat.rebuild()
        if at_bottom:
            self.scroll_to_bottom()

    def append_message(self, message: Message) -> None:
        """Add a finished message (the user's prompt) at the end."""
        at_bottom = self.is_at_bottom()
        self.chat.append_message(message)
        if at_bottom or message.role == "user":
            self.scroll_to_bottom()

    def set_theme(self, dark: bool) -> None:
        """Re-render in the other colour scheme."""
        if dark == self._dark:
            return
        self._dark = dark
        colors = chat_colors(dark)
        self._builder.colors = colors
        self._builder.renderer.palette = colors.code
        # Only colours change, so the same offset shows the same text: keep the reader's place.
        at_bottom, position = self.is_at_bottom(), self.verticalScrollBar().value()
        self.chat.rebuild()
        if at_bottom:
            self.scroll_to_bottom()
        else:
            self.verticalScrollBar().setValue(position)

    def set_font_size(self, points: int) -> None:
        """The document's base font size."""
        font = QFont(self.document().defaultFont())
        font.setPointSize(points)
        self.document().setDefaultFont(font)

    # Scrolling ------------------------------------------------------------------------------
    def is_at_bottom(self) -> bool:
        """Whether the user is at the end, so new text should keep the view following it."""
        bar = self.verticalScrollBar()
        return bar.value() >= bar.maximum() - 4

    def scroll_to_bottom(self) -> None:
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())
        self._at_end = True

    def _on_scrolled(self, _value: int) -> None:
        self._at_end = self.is_at_bottom()

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        # The document grew or shrank under a reader at its end (streamed text, a layout
        # finishing after the chat opened, a bigger font, thumbnails, a resize as the error
        # banner appears below): keep them at the end.
        if self._at_end:
            self.verticalScrollBar().setValue(maximum)

    # Slots ----------------------------------------------------------------------------------
    def _on_frame(self) -> None:
        # A reader at the end follows the new text: `_on_range_changed`.
        if self.chat.flush():
            self.rendered.emit()
        if self.chat.backlog:
            # More arrived than one frame may render: the rest at the next frames.
            self._frame.start()

    def _on_anchor_clicked(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith(MESSAGE_LINK):
            verb, _, message_id = target.removeprefix(MESSAGE_LINK).partition(":")
            self.message_action.emit(verb, message_id)
        elif target.startswith(COPY_LINK):
            code = self._builder.codes.get(target)
            if code is not None:
                QGuiApplication.clipboard().setText(code)
                self.code_copied.emit(code)
        elif target.startswith((REASONING_LINK, TOOL_LINK)):
            # A reasoning block or a tool result: both expand and collapse in place.
            position = self.verticalScrollBar().value()
            message_id = target.removeprefix(REASONING_LINK).removeprefix(TOOL_LINK)
            self.chat.toggle_reasoning(message_id)
            self.verticalScrollBar().setValue(position)
        elif target.startswith(attachment_html.OPEN_LINK):
            self._open_attachment(QUrl(target.removeprefix(attachment_html.OPEN_LINK)))
        elif url.scheme() in ("http", "https"):
            # Only web links leave the app, and only to the system browser.
            QDesktopServices.openUrl(url)

    # Context menu -----------------------------------------------------------------------------
    def message_at(self, point: QPoint) -> Message | None:
        """The finished message shown at a point of the viewport, if any."""
        # Each message starts with a header holding the anchor "msg-<id>": walk back to it.
        block = self.cursorForPosition(point).block()
        shown = {message.id: message for message in self.chat.messages}
        while block.isValid():
            fragments = block.begin()
            while not fragments.atEnd():
                for name in fragments.fragment().charFormat().anchorNames():
                    if name.startswith("msg-"):
                        return shown.get(name.removeprefix("msg-"))
                fragments += 1
            block = block.previous()
        return None

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        menu = self.createStandardContextMenu(event.pos())
        message = self.message_at(event.pos())
        if message is not None and message.role in ("user", "assistant"):
            menu.addSeparator()
            for verb, target, label in self._menu_actions(message):
                action = menu.addAction(label)
                action.triggered.connect(
                    lambda _=False, verb=verb, target=target: self.message_action.emit(verb, target)
                )
        menu.exec(event.globalPos())
        menu.deleteLater()

    def _menu_actions(self, message: Message) -> list[tuple[str, str, str]]:
        """(verb, message id, label) for each action the context menu offers on a message."""
        items = [("copy", message.id, "Copy Message (Markdown)")]
        if message.role == "user":
            items.append(("edit", message.id, "Edit and Resend…"))
        else:
            items.append(("regenerate", message.id, "Regenerate"))
            if can_continue(message) and message.content:
                items.append(("continue", message.id, "Continue"))
        versions = self._builder.versions.get(message.id)
        if versions is not None:
            previous, following = versions.step(-1), versions.step(+1)
            if previous:
                items.append(("version", previous, "Previous Version"))
            if following:
                items.append(("version", following, "Next Version"))
        items.append(("delete", message.id, "Delete Message…"))
        return items

    def loadResource(self, type: int, name: QUrl | str) -> Any:
        """Never fetch anything: remote images in answers are not loaded; only our own icons
        and the thumbnails of attachments stored in the data folder."""
        url = QUrl(name) if isinstance(name, str) else name
        if url.scheme() == DOCUMENT_SCHEME:
            return document_image(url.path(), self.fontMetrics().height() - 4)
        if url.scheme() == attachment_html.ATTACHMENT_SCHEME:
            return self._thumbnail(url)
        return None

    def _thumbnail(self, url: QUrl) -> QImage | None:
        """A decoded thumbnail; else a blank one of the size the HTML gives it while the image
        is read and decoded on a worker thread (a photo takes 10-20 ms: a chat of them would
        stall the window), then painted in when it is ready."""
        key = url.toString()
        cached = self._thumbnails.get(key)
        if cached is not None:
            self._thumbnails.move_to_end(key)
            return cached
        if key in self._missing:
            return None  # gone from the data folder, or not an image Qt reads: its alt text
        if key not in self._decoding:
            self._decoding.add(key)
            files = self.attachment_files
            _THUMBNAIL_POOL.submit(self._decode_thumbnail, key, files, url)
        blank = QImage(1, 1, QImage.Format.Format_ARGB32)
        blank.fill(Qt.GlobalColor.transparent)
        return blank

    def _decode_thumbnail(self, key: str, files: Blobs | None, url: QUrl) -> None:
        """On a worker thread: read and scale one thumbnail, then hand it to the UI thread."""
        sha256, mime = attachment_html.parse(url)
        try:
            data = files.read(sha256, mime) if files else None
        except (OSError, ValueError):
            data = None
        image = QImage.fromData(data) if data else QImage()
        box = QSize(attachment_html.THUMB_WIDTH, attachment_html.THUMB_HEIGHT)
        if not image.isNull() and (image.width() > box.width() or image.height() > box.height()):
            image = image.scaled(
                box, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        with contextlib.suppress(RuntimeError):  # the view was closed meanwhile
            self._thumbnail_ready.emit(key, image)

    def _on_thumbnail_ready(self, key: str, image: QImage) -> None:
        self._decoding.discard(key)
        url = QUrl(key)
        if image.isNull():
            self._missing.add(key)  # its place stays blank; its link still says what it was
            return
        self._thumbnails[key] = image
        while len(self._thumbnails) > THUMBNAILS_KEPT:
            self._thumbnails.popitem(last=False)
        # The document kept the blank one: give it the picture; its size is already laid out.
        self.document().addResource(QTextDocument.ResourceType.ImageResource, url, image)
        self.viewport().update()
        self.thumbnail_shown.emit(key)

    def _open_attachment(self, url: QUrl) -> None:
        sha256, mime = attachment_html.parse(url)
        try:
            path = self.attachment_files.find(sha256, mime) if self.attachment_files else None
        except ValueError:
            path = None
        if path is not None and path.suffix in OPENABLE:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))
