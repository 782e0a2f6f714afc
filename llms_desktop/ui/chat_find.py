"""Find in the open chat: a find bar, every match highlighted, next/previous to step through."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QKeyEvent,
    QPalette,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QTextEdit,
    QToolButton,
    QWidget,
)

MAX_MATCHES = 5000
RESEARCH_MS = 150  # while an answer streams, matches are found again at most this often


def anchor_position(document: QTextDocument, name: str) -> int | None:
    """Where the anchor `name` (`<a name=...>`) is in the document, if it is there."""
    block = document.begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if name in fragment.charFormat().anchorNames():
                return fragment.position()
            fragments += 1
        block = block.next()
    return None


def find_pattern(text: str) -> re.Pattern[str] | None:
    """Each typed word as the start of a word, like the sidebar's search (`sky blu` finds
    "Sky" and "blue"); None when nothing searchable was typed."""
    words = [w for w in re.split(r"\W+", text) if w]
    if not words:
        return None
    alternatives = "|".join(re.escape(word) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})\w*", re.IGNORECASE)


class FindBar(QFrame):
    """The find bar over the chat: text, "2 of 7", previous/next and close. Layout only.

    Signals:
        text_edited(str): the search text changed.
        next_requested(): Enter or the down arrow.
        previous_requested(): Shift+Enter or the up arrow.
        close_requested(): Esc or the close button.
    """

    text_edited = Signal(str)
    next_requested = Signal()
    previous_requested = Signal()
    close_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findBar")
        style = self.style()
        self.edit = QLineEdit(self)
        self.edit.setObjectName("findEdit")
        self.edit.setPlaceholderText("Find in this chat")
        self.edit.setClearButtonEnabled(True)
        self.count = QLabel(self)
        self.count.setObjectName("findCount")
        self.count.setMinimumWidth(80)
        self.previous_button = QToolButton(self)
        self.previous_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_ArrowUp))
        self.previous_button.setToolTip("Previous match (Shift+F3, Shift+Enter)")
        self.next_button = QToolButton(self)
        self.next_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_ArrowDown))
        self.next_button.setToolTip("Next match (F3, Enter)")
        self.close_button = QToolButton(self)
        self.close_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_DialogCloseButton))
        self.close_button.setToolTip("Close (Esc)")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.count)
        layout.addWidget(self.previous_button)
        layout.addWidget(self.next_button)
        layout.addWidget(self.close_button)
        self.edit.installEventFilter(self)
        self._connect_signals()
        self.hide()

    def _connect_signals(self) -> None:
        self.edit.textEdited.connect(self.text_edited)
        self.previous_button.clicked.connect(self.previous_requested)
        self.next_button.clicked.connect(self.next_requested)
        self.close_button.clicked.connect(self.close_requested)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.edit and isinstance(event, QKeyEvent):
            if event.type() == QEvent.Type.ShortcutOverride and event.key() == Qt.Key.Key_Escape:
                event.accept()  # Esc closes the bar here, rather than stopping an answer
                return True
            if event.type() == QEvent.Type.KeyPress:
                key = event.key()
                if key == Qt.Key.Key_Escape:
                    self.close_requested.emit()
                    return True
                if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                    shift = event.modifiers() & Qt.KeyboardModifier.ShiftModifier
                    (self.previous_requested if shift else self.next_requested).emit()
                    return True
        return super().eventFilter(watched, event)

    def show_count(self, current: int, total: int, searched: bool) -> None:
        """'3 of 12', 'No matches', or nothing before anything was typed."""
        if not searched:
            self.count.setText("")
        elif total == 0:
            self.count.setText("No matches")
        else:
            self.count.setText(f"{current + 1} of {total}" if current >= 0 else f"{total} found")
        self.previous_button.setEnabled(total > 0)
        self.next_button.setEnabled(total > 0)


class ChatFinder(QObject):
    """Highlights every match in the chat view and moves the current one; the view's text is
    never changed (extra selections), so the rendered answer stays as it is.

    Signals:
        matches_changed(int, int): the current match (-1 for none) and how many there are.
    """

    matches_changed = Signal(int, int)

    def __init__(self, view: QTextEdit, bar: FindBar, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._view = view
        self._bar = bar
        self._matches: list[tuple[int, int]] = []
        self._current = -1
        self._research = QTimer(self)
        self._research.setSingleShot(True)
        self._research.setInterval(RESEARCH_MS)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._bar.text_edited.connect(self._on_text_edited)
        self._bar.next_requested.connect(self.next)
        self._bar.previous_requested.connect(self.previous)
        self._bar.close_requested.connect(self.close)
        self._view.document().contentsChanged.connect(self._on_contents_changed)
        self._research.timeout.connect(self._on_research_due)

    @property
    def is_open(self) -> bool:
        return not self._bar.isHidden()

    @property
    def matches(self) -> list[tuple[int, int]]:
        """(start, end) positions of the matches in the view's document."""
        return list(self._matches)

    @property
    def current(self) -> int:
        return self._current

    def open(self, text: str | None = None, *, from_anchor: str = "") -> None:
        """Show the bar (with `text`, if given) and highlight the matches; the first match at
        or after the anchor `from_anchor` becomes current (a search hit: its message's
        anchor), else the user steps with next()."""
        self._bar.show()
        if text is not None:
            self._bar.edit.setText(text)
        self._search()
        start_at = anchor_position(self._view.document(), from_anchor) if from_anchor else None
        if from_anchor and self._matches:
            # Not the top of the view: a hit in the last message cannot be scrolled to the top.
            top = start_at if start_at is not None else 0
            first = next((i for i, (start, _) in enumerate(self._matches) if start >= top), 0)
            self._go(first)
        else:
            self._bar.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def close(self) -> None:
        """Hide the bar and the highlights."""
        self._bar.hide()
        self._research.stop()
        self._matches, self._current = [], -1
        self._view.setExtraSelections([])

    def next(self) -> None:
        """The next match (wrapping to the first); opens the bar if it is closed."""
        self._step(+1)

    def previous(self) -> None:
        """The previous match (wrapping to the last)."""
        self._step(-1)

    def _step(self, direction: int) -> None:
        if not self.is_open:
            self.open()
            return
        if not self._matches:
            return
        if self._current < 0:
            self._go(0 if direction > 0 else len(self._matches) - 1)
        else:
            self._go((self._current + direction) % len(self._matches))

    def _go(self, index: int) -> None:
        self._current = index
        self._highlight()
        start, end = self._matches[index]
        cursor = QTextCursor(self._view.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        shown = self._view.cursorRect(cursor)
        height = self._view.viewport().height()
        if shown.top() < 0 or shown.bottom() > height:
            bar = self._view.verticalScrollBar()
            bar.setValue(bar.value() + shown.top() - height // 3)  # a third of the way down

    def _search(self) -> None:
        pattern = find_pattern(self._bar.edit.text())
        previous = self._matches[self._current] if self._current >= 0 else None
        self._matches = []
        if pattern is not None:
            # The raw text has one character per document position (frame markers and
            # paragraph separators included), so match offsets are cursor positions.
            text = self._view.document().toRawText()
            for match in pattern.finditer(text):
                self._matches.append((match.start(), match.end()))
                if len(self._matches) >= MAX_MATCHES:
                    break
        # Keep the current match across a re-search (the answer grew while streaming).
        self._current = self._matches.index(previous) if previous in self._matches else -1
        self._highlight()
        self._bar.show_count(self._current, len(self._matches), pattern is not None)

    def _highlight(self) -> None:
        dark = QApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
        every = QTextCharFormat()
        every.setBackground(QColor("#5c4a00" if dark else "#fff2a8"))
        current = QTextCharFormat()
        current.setBackground(QColor("#bb8009" if dark else "#ffb340"))
        document = self._view.document()
        selections = []
        for index, (start, end) in enumerate(self._matches):
            selection = QTextEdit.ExtraSelection()
            cursor = QTextCursor(document)
            cursor.setPosition(start)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            selection.format = current if index == self._current else every
            selections.append(selection)
        self._view.setExtraSelections(selections)
        self._bar.show_count(self._current, len(self._matches), bool(self._bar.edit.text()))
        self.matches_changed.emit(self._current, len(self._matches))

    def _on_text_edited(self, _text: str) -> None:
        self._current = -1
        self._search()
        if self._matches:
            self._go(0)

    def _on_contents_changed(self) -> None:
        if self.is_open:
            self._research.start()

    def _on_research_due(self) -> None:
        if self.is_open:
            self._search()
