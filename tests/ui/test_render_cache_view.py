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


def test_a_cached_chat_is_the_same_document_with_working_copy_links(
    qapp: QApplication, tmp_path: Path
) -> None:
    folder = tmp_path / "render-cache"
    first = ChatView()
    first.chat.cache = RenderCache(folder)
    first.show_thread(chat())
    first.chat.keep_rendered()
    first.chat.cache.wait()  # written on a worker thread
    assert len(list(folder.iterdir())) == 1

    again = ChatView()
    again.chat.cache = RenderCache(folder)  # as after a restart: only the disk is shared
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
    first = ChatView()
    first.chat.cache = RenderCache(folder)
    first.show_thread(chat())
    first.chat.keep_rendered()
    first.chat.cache.wait()

    later = ChatView()
    later.chat.cache = RenderCache(folder)
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
    view = ChatView()
    view.chat.cache = RenderCache(folder)
    view.show_thread(chat()[:1])
    view.append_message(message("A later answer.", id="later"))
    view.chat.keep_rendered()  # the document is no longer a whole rendered chat
    view.chat.cache.wait()
    assert not folder.exists()
