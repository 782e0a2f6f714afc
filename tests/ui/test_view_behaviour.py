"""Window state is restored; the view follows a stream only while the user is at the bottom."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QApplication

from llms_desktop.types import Message, TextDelta
from llms_desktop.ui.chat_view import ChatView
from llms_desktop.ui.main_window import MainWindow, WindowState
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_chat_document import message as chat_message
from tests.ui.test_main_window import App


def test_geometry_and_splitter_sizes_are_restored(qloop: QtLoop, tmp_path: Path) -> None:
    app = App(tmp_path / "data")
    backend = QSettingsBackend(app.data_dir)
    state = WindowState(backend.get_bytes, backend.put_bytes)
    first = MainWindow(app.services, state)
    first.resize(700, 520)  # within the offscreen screen (800x600)
    first.splitter.setSizes([260, 440])
    first.show()
    sizes = first.splitter.sizes()
    first.close()
    reopened_backend = QSettingsBackend(app.data_dir)
    assert isinstance(reopened_backend.get_bytes("window/geometry"), QByteArray)
    second = MainWindow(
        app.services, WindowState(reopened_backend.get_bytes, reopened_backend.put_bytes)
    )
    second.show()
    assert (second.width(), second.height()) == (700, 520)
    assert second.splitter.sizes() == sizes
    second.close()
    qloop.run(app.close())


def message(content: str, status: str = "complete") -> Message:
    return Message(
        id="a",
        thread_id="t",
        role="assistant",
        content=content,
        status=status,
        model="m",
        created_at=time.time(),
    )  # type: ignore[arg-type]


def test_auto_scroll_follows_only_at_the_bottom(qloop: QtLoop) -> None:
    view = ChatView()
    view.resize(500, 300)
    view.show()
    history = "\n\n".join(f"Paragraph {i} with some words in it." for i in range(80))
    view.show_thread(
        [Message(id="u", thread_id="t", role="user", content=history, created_at=time.time())]
    )
    bar = view.verticalScrollBar()
    assert bar.value() == bar.maximum() > 0

    async def stream() -> None:
        view.begin_answer(message("", "streaming"))
        for i in range(30):
            view.add_delta(TextDelta(f"line {i}\n\n"))
            await wait_until(lambda: not view._frame.isActive())
        assert bar.value() == bar.maximum()  # followed the answer
        bar.setValue(0)  # the user scrolls up to read
        for i in range(30):
            view.add_delta(TextDelta(f"more {i}\n\n"))
            await wait_until(lambda: not view._frame.isActive())
        assert bar.value() == 0  # left where the user put it

    qloop.run(stream())
    view.close()


def test_a_reader_at_the_end_stays_there_when_the_text_grows_under_them(
    qapp: QApplication,
) -> None:
    view = ChatView()
    view.resize(600, 300)
    view.show()
    view.show_thread(
        [chat_message("Long text.\n\n" * 40, id="long"), chat_message("The end.", id="end")]
    )
    assert view.is_at_bottom()
    view.set_font_size(20)  # the same text, taller: the end moves down
    QApplication.processEvents()
    assert view.is_at_bottom()
    # One who scrolled up to read stays where they are.
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 3)
    place = bar.value()
    view.set_font_size(12)
    QApplication.processEvents()
    assert bar.value() == place
    view.close()


def test_a_failed_answers_footer_drops_the_stale_wait_and_offers_continue_only_for_text(
    qapp: QApplication,
) -> None:
    view = ChatView()
    empty = chat_message("", id="empty", status="error", error="HTTP 429: Slow down (retry in 7 s)")
    partial = chat_message("Half an answer", id="partial", status="error", error="HTTP 500: boom")
    view.show_thread([empty])
    text = view.toPlainText()
    assert "HTTP 429: Slow down" in text
    assert "retry in" not in text  # true when it failed, stale in the saved footer
    assert "Continue" not in text  # nothing to continue: Regenerate is there
    assert "Regenerate" in text
    view.show_thread([partial])
    assert "Continue" in view.toPlainText()
    view.close()
