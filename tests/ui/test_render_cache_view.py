"""A chat shown from the render cache is the same document, Copy links included."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QApplication

from llms_desktop.render_cache import RenderCache
from llms_desktop.types import Message
from llms_desktop.ui.chat_view import ChatView
from tests.ui.test_chat_document import ANSWER, message

NOW = time.time()


def chat() -> list[Message]:
    question = Message(id="q", thread_id="t", role="user", content="Explain", created_at=NOW)
    return [question, message(ANSWER, id="a", created_at=NOW)]


def cached_view(folder: Path) -> ChatView:
    """A chat view with its own render cache on `folder` (as after a restart: only the disk
    is shared between two of them)."""
    view = ChatView()
    view.chat.cache = RenderCache(folder)
    return view


def shown_and_kept(folder: Path) -> ChatView:
    """A view that showed `chat()` and kept it on disk (written on a worker thread)."""
    view = cached_view(folder)
    view.show_thread(chat())
    view.chat.keep_rendered()
    assert view.chat.cache is not None
    view.chat.cache.wait()
    return view


def test_a_cached_chat_is_the_same_document_with_working_copy_links(
    qapp: QApplication, tmp_path: Path
) -> None:
    folder = tmp_path / "render-cache"
    first = shown_and_kept(folder)
    assert len(list(folder.iterdir())) == 1

    again = cached_view(folder)
    again.show_thread(chat())
    assert again.toHtml() == first.toHtml()
    assert again._builder.renderer._md is None  # markdown-it was not needed
    copied: list[str] = []
    again.code_copied.connect(copied.append)
    (link,) = [key for key in again._builder.codes if "def f(x)" in again._builder.codes[key]]
    again.anchorClicked.emit(QUrl(link))
    assert copied
    assert "return x * 2" in QApplication.clipboard().text()


def test_a_chat_changed_since_is_rendered_again(qapp: QApplication, tmp_path: Path) -> None:
    folder = tmp_path / "render-cache"
    shown_and_kept(folder)

    later = cached_view(folder)
    changed = [
        *chat()[:1],
        message(ANSWER.replace("Heading one", "Heading uno"), id="a", created_at=NOW),
    ]
    later.show_thread(changed)
    assert "Heading uno" in later.toPlainText()
    assert "Heading one" not in later.toPlainText()


def test_nothing_is_kept_while_an_answer_was_added_since(
    qapp: QApplication, tmp_path: Path
) -> None:
    folder = tmp_path / "render-cache"
    view = cached_view(folder)
    view.show_thread(chat()[:1])
    view.append_message(message("A later answer.", id="later"))
    view.chat.keep_rendered()  # the document is no longer a whole rendered chat
    assert view.chat.cache is not None
    view.chat.cache.wait()
    assert not folder.exists()
