"""The sidebar: pinned threads, then the newest, in a QListView over a paged model; search."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Protocol

from PySide6.QtCore import (
    QAbstractListModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QIcon, QKeyEvent, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from llms_desktop import errors
from llms_desktop.types import Thread
from llms_desktop.ui.icons import pin_icon

PAGE = 100
THREAD_ID_ROLE = Qt.ItemDataRole.UserRole + 1
MESSAGE_ID_ROLE = Qt.ItemDataRole.UserRole + 2
_MARKERS = re.compile(r"[\x02\x03]|</?b>|</?mark>")

Index = QModelIndex | QPersistentModelIndex


class ThreadSource(Protocol):
    """What the sidebar needs from the store."""

    def list_threads(
        self, limit: int = ..., offset: int = ..., *, pinned: bool | None = ...
    ) -> list[Thread]: ...

    def search(self, query: str, limit: int = ...) -> list[Any]: ...


def prefix_query(text: str) -> str:
    """What the sidebar asks the store for: every typed word as a word prefix (`pyth` finds
    "Python"), so results come while typing (see store/search.fts_query)."""
    return " ".join(word if word.endswith("*") else f"{word}*" for word in text.split())


def _relative(timestamp: float) -> str:
    age = time.time() - timestamp
    if age < 60:
        return "just now"
    if age < 3600:
        return f"{int(age // 60)} min ago"
    if age < 86400:
        return time.strftime("%H:%M", time.localtime(timestamp))
    return time.strftime("%d %b %Y", time.localtime(timestamp))


class ThreadListModel(QAbstractListModel):
    """Every pinned thread first, then the others newest first, fetched a page at a time as the
    user scrolls (so a pinned thread from long ago is still on top)."""

    def __init__(self, source: ThreadSource, parent: Any = None) -> None:
        super().__init__(parent)
        self._source = source
        self._threads: list[Thread] = []
        self._unpinned = 0  # how many unpinned threads are loaded: the next page's offset
        self._exhausted = False
        self._pin_icons: dict[str, QIcon] = {}

    def refresh(self) -> None:
        """Reload from the first page (after a change in the store)."""
        self.beginResetModel()
        pinned = self._source.list_threads(limit=-1, pinned=True)
        rest = self._source.list_threads(limit=PAGE, offset=0, pinned=False)
        self._threads = pinned + rest
        self._unpinned = len(rest)
        self._exhausted = len(rest) < PAGE
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._threads)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        more = self._source.list_threads(limit=PAGE, offset=self._unpinned, pinned=False)
        self._exhausted = len(more) < PAGE
        self._unpinned += len(more)
        known = {thread.id for thread in self._threads}
        more = [thread for thread in more if thread.id not in known]
        if more:
            first = len(self._threads)
            self.beginInsertRows(QModelIndex(), first, first + len(more) - 1)
            self._threads.extend(more)
            self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._threads):
            return None
        thread = self._threads[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return thread.title or "New chat"
        if role == Qt.ItemDataRole.DecorationRole:
            return self._pin_icon() if thread.pinned else None
        if role == Qt.ItemDataRole.ToolTipRole:
            model = f"\n{thread.model}" if thread.model else ""
            pinned = "\nPinned" if thread.pinned else ""
            return f"{thread.title}\n{_relative(thread.updated_at)}{model}{pinned}"
        if role == THREAD_ID_ROLE:
            return thread.id
        return None

    def _pin_icon(self) -> QIcon:
        # In the text's colour, so it follows the light or dark theme.
        color = QApplication.palette().color(QPalette.ColorRole.Text)
        icon = self._pin_icons.get(color.name())
        if icon is None:
            icon = self._pin_icons[color.name()] = pin_icon(color)
        return icon

    def thread_at(self, row: int) -> Thread | None:
        return self._threads[row] if 0 <= row < len(self._threads) else None

    def row_of(self, thread_id: str) -> int:
        for row, thread in enumerate(self._threads):
            if thread.id == thread_id:
                return row
        return -1


class SearchResultsModel(QAbstractListModel):
    """Full-text search hits: thread title and a snippet around the match."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._hits: list[Any] = []

    def set_hits(self, hits: list[Any]) -> None:
        self.beginResetModel()
        self._hits = list(hits)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._hits):
            return None
        hit = self._hits[index.row()]
        snippet = " ".join(_MARKERS.sub("", str(hit.snippet)).split())
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{hit.thread_title or 'New chat'}\n   {snippet}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return snippet
        if role == THREAD_ID_ROLE:
            return hit.thread_id
        if role == MESSAGE_ID_ROLE:
            return hit.message_id
        return None


class ThreadSidebar(QWidget):
    """New chat, search box and the thread list.

    Signals:
        thread_activated(str, str, bool): a thread (and, from search, a message id or "") was
            chosen, and whether to go on typing (Enter) rather than stay in the list (a click).
        typing_started(str): text typed while the list has focus, meant for the prompt.
        new_chat_requested(): the New chat button.
        rename_requested(str): rename a thread (from the context menu).
        delete_requested(str): delete a thread (the window asks first).
        pin_toggled(str): pin or unpin a thread.
    """

    thread_activated = Signal(str, str, bool)
    typing_started = Signal(str)
    new_chat_requested = Signal()
    rename_requested = Signal(str)
    delete_requested = Signal(str)
    pin_toggled = Signal(str)

    def __init__(self, source: ThreadSource, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._source = source
        self.threads = ThreadListModel(source, self)
        self.results = SearchResultsModel(self)
        self.new_button = QPushButton("New chat", self)
        self.new_button.setObjectName("newChatButton")
        self.new_button.setToolTip("New chat (Ctrl+N)")
        self.search_box = QLineEdit(self)
        self.search_box.setObjectName("searchBox")
        self.search_box.setPlaceholderText("Search all chats")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.setToolTip("Finds messages with words starting with each typed word")
        self.no_results = QLabel(self)
        self.no_results.setObjectName("noResults")
        self.no_results.setWordWrap(True)
        self.no_results.setStyleSheet("color: palette(placeholder-text); padding: 2px 4px;")
        self.no_results.hide()
        self._search_task: asyncio.Task[None] | None = None
        self._search_generation = 0  # results of an older query are dropped
        self.list_view = QListView(self)
        self.list_view.setObjectName("threadList")
        self.list_view.setModel(self.threads)
        self.list_view.setUniformItemSizes(False)
        self.list_view.setWordWrap(False)
        self.list_view.setTextElideMode(Qt.TextElideMode.ElideRight)
        # The pin no taller than the text, so pinned rows are as high as the others.
        size = self.list_view.fontMetrics().height() - 2
        self.list_view.setIconSize(QSize(size, size))
        self.list_view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list_view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list_view.setStyleSheet("QListView::item { padding: 5px 4px; }")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 0, 8)
        layout.setSpacing(6)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search_box)
        layout.addWidget(self.no_results)
        layout.addWidget(self.list_view, 1)
        # F2 is the window's Rename Chat alone (two F2 shortcuts made Qt ignore both); in the
        # list it renames the chat selected there (MainWindow asks `focused_thread_id`).
        self._delete_action = QAction("Delete…", self)
        self._delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self._delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.list_view.addAction(self._delete_action)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.new_chat_requested)
        self.search_box.textChanged.connect(self._on_search_text_changed)
        self._search_timer.timeout.connect(self._on_search_due)
        # A click opens the thread and keeps the keyboard in the list (Delete, F2, arrows act
        # on it); Enter opens it and moves on to the prompt (see eventFilter).
        self.list_view.clicked.connect(self._on_index_clicked)
        self.list_view.installEventFilter(self)
        self.list_view.customContextMenuRequested.connect(self._on_context_menu)
        self._delete_action.triggered.connect(self._on_delete_shortcut)

    def refresh(self, select_id: str | None = None) -> None:
        """Reload the list (keeping search results if a search is active) and select a thread."""
        self.threads.refresh()
        if self.search_box.text().strip():
            self._on_search_due()
        elif select_id:
            self.select(select_id)

    def select(self, thread_id: str | None) -> None:
        """Highlight a thread without emitting activation."""
        if self.list_view.model() is not self.threads:
            return
        row = self.threads.row_of(thread_id) if thread_id else -1
        if row < 0:
            self.list_view.clearSelection()
            return
        self.list_view.setCurrentIndex(self.threads.index(row))

    def focused_thread_id(self) -> str | None:
        """The chat selected in the list while the list has the keyboard focus, else None."""
        return self.current_thread_id() if self.list_view.hasFocus() else None

    def current_thread_id(self) -> str | None:
        index = self.list_view.currentIndex()
        value = index.data(THREAD_ID_ROLE) if index.isValid() else None
        return str(value) if value else None

    # Slots ----------------------------------------------------------------------------------
    def _on_search_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def search_words(self) -> str:
        """The words being searched for ("" when the list shows every thread)."""
        return self.search_box.text().strip()

    def _on_search_due(self) -> None:
        self._search_generation += 1
        if self._search_task is not None:
            self._search_task.cancel()
            self._search_task = None
        query = self.search_words()
        if not query:
            self.no_results.hide()
            self.list_view.setModel(self.threads)
            return
        generation = self._search_generation
        self._search_task = asyncio.get_running_loop().create_task(self._search(query, generation))

    async def _search(self, query: str, generation: int) -> None:
        # A short prefix can take a few hundred ms in a big history: off the UI thread.
        try:
            hits = await asyncio.to_thread(self._source.search, prefix_query(query), 100)
        except errors.LlmsDesktopError as exc:
            hits, problem = [], f"Search failed: {exc}"
        else:
            problem = "" if hits else f"No results for “{query}”."
        if generation != self._search_generation:
            return  # the user typed on meanwhile
        self.results.set_hits(hits)
        self.list_view.setModel(self.results)
        self.no_results.setText(problem)
        self.no_results.setVisible(bool(problem))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.list_view and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self._choose(self.list_view.currentIndex(), go_on_typing=True)
                return True
            plain = not event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier
                | Qt.KeyboardModifier.AltModifier
                | Qt.KeyboardModifier.MetaModifier
            )
            if plain and event.text().isprintable() and event.text().strip():
                self.typing_started.emit(event.text())
                return True
        return super().eventFilter(watched, event)

    def _on_index_clicked(self, index: QModelIndex) -> None:
        self._choose(index, go_on_typing=False)
        self.list_view.setFocus(Qt.FocusReason.MouseFocusReason)

    def _choose(self, index: QModelIndex, *, go_on_typing: bool) -> None:
        thread_id = index.data(THREAD_ID_ROLE) if index.isValid() else None
        if thread_id:
            message_id = index.data(MESSAGE_ID_ROLE) or ""
            self.thread_activated.emit(str(thread_id), str(message_id), go_on_typing)

    def _on_context_menu(self, point: QPoint) -> None:
        index = self.list_view.indexAt(point)
        thread_id = index.data(THREAD_ID_ROLE) if index.isValid() else None
        if not thread_id:
            return
        thread = self.threads.thread_at(self.threads.row_of(str(thread_id)))
        menu = QMenu(self)
        rename = menu.addAction("Rename…")
        pin = menu.addAction("Unpin" if thread and thread.pinned else "Pin")
        menu.addSeparator()
        delete = menu.addAction("Delete…")
        chosen = menu.exec(self.list_view.viewport().mapToGlobal(point))
        if chosen is rename:
            self.rename_requested.emit(str(thread_id))
        elif chosen is pin:
            self.pin_toggled.emit(str(thread_id))
        elif chosen is delete:
            self.delete_requested.emit(str(thread_id))

    def _on_delete_shortcut(self) -> None:
        thread_id = self.current_thread_id()
        if thread_id:
            self.delete_requested.emit(thread_id)
