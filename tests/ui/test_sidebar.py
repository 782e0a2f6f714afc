"""The sidebar over a real store: pinned threads first across pages, icons that really draw."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor, QIcon, QImage, QTextDocument

from llms_desktop.store import Store
from llms_desktop.types import Message, Thread
from llms_desktop.ui.chat_view import ChatView
from llms_desktop.ui.composer import Composer
from llms_desktop.ui.icons import pin_icon
from llms_desktop.ui.thread_list import PAGE, ThreadSidebar
from tests.ui.conftest import QtLoop
from tests.ui.test_main_window import App


def opaque_pixels(image: QImage) -> int:
    return sum(
        1
        for x in range(image.width())
        for y in range(image.height())
        if image.pixelColor(x, y).alpha() > 0
    )


def make_threads(store: Store, count: int) -> list[Thread]:
    now = time.time()
    threads = [
        Thread(id=f"t{i:04d}", title=f"Thread {i}", created_at=now - i, updated_at=now - i)
        for i in range(count)
    ]
    for thread in threads:
        store.insert_thread(thread)
    return threads  # newest first


def test_pinned_threads_come_first_even_from_beyond_the_first_page(
    qloop: QtLoop, tmp_path: Path
) -> None:
    app = App(tmp_path / "data")
    threads = make_threads(app.store, PAGE + 30)
    oldest, middle = threads[-1], threads[PAGE // 2]
    sidebar = app.window.sidebar
    model = sidebar.threads

    async def pin_both() -> None:
        app.window.controller.threads.toggle_pin(oldest.id)  # as the context menu's Pin does
        app.window.controller.threads.toggle_pin(middle.id)

    qloop.run(pin_both())
    assert [model.thread_at(row).id for row in (0, 1)] == [middle.id, oldest.id]  # type: ignore[union-attr]
    icon = model.index(0).data(Qt.ItemDataRole.DecorationRole)
    assert isinstance(icon, QIcon)
    assert not icon.isNull()
    assert model.index(0).data(Qt.ItemDataRole.DisplayRole) == middle.title  # no emoji glyph
    assert model.index(2).data(Qt.ItemDataRole.DecorationRole) is None
    while model.canFetchMore():
        model.fetchMore()
    ids = [model.thread_at(row).id for row in range(model.rowCount())]  # type: ignore[union-attr]
    unpinned = [t.id for t in threads if t.id not in (oldest.id, middle.id)]
    assert ids == [middle.id, oldest.id, *unpinned]  # every thread once, newest first after pins

    async def unpin() -> None:
        app.window.controller.threads.toggle_pin(oldest.id)

    qloop.run(unpin())
    assert model.thread_at(0).id == middle.id  # type: ignore[union-attr]
    assert model.thread_at(1).id == threads[0].id  # type: ignore[union-attr]
    qloop.run(app.close())


def test_icons_are_drawn_not_font_glyphs(qloop: QtLoop) -> None:
    pixmap = pin_icon(QColor("#1f2328")).pixmap(16, 16)
    assert opaque_pixels(pixmap.toImage()) > 20  # a visible pin, not an empty box

    composer = Composer()
    composer.set_streaming(True)
    assert composer.send_button.text() == "Stop"
    assert not composer.send_button.icon().isNull()
    composer.set_streaming(False)
    assert composer.send_button.icon().isNull()

    view = ChatView()
    stopped = Message(
        id="a",
        thread_id="t",
        role="assistant",
        content="partial",
        status="cancelled",
        created_at=time.time(),
    )
    view.show_thread([stopped])
    assert "⏹" not in view.toPlainText()
    assert "Stopped" in view.toPlainText()
    assert "llms-icon:stopped" in view.toHtml()
    image = view.document().resource(
        QTextDocument.ResourceType.ImageResource, QUrl("llms-icon:stopped")
    )
    assert image is not None
    assert opaque_pixels(image.toImage()) > 10
    view.close()
    composer.close()


def test_sidebar_model_is_a_thread_source_over_the_store(qapp: object, tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        threads = make_threads(store, 3)
        store.set_pinned(threads[2].id, True)
        sidebar = ThreadSidebar(store)
        sidebar.refresh()
        assert [sidebar.threads.thread_at(r).id for r in range(3)] == [  # type: ignore[union-attr]
            threads[2].id,
            threads[0].id,
            threads[1].id,
        ]
        sidebar.close()
