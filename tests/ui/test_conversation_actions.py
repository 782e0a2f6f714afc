"""Regenerate, edit and resend, continue, versions, copy, this chat's settings, titles and
Retry-After, driven through the window's keys and widgets against a loopback server."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QContextMenuEvent, QTextCursor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QPushButton

from llms_desktop import settings as keys
from tests.support.loopback import LoopbackServer, Reply, json_reply, sse_reply, text_chunks
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App, routed, slow_words, type_and_send


def chat_bodies(loopback: LoopbackServer) -> list[dict[str, Any]]:
    return [r.json() for r in loopback.requests if r.method == "POST"]


def sent(loopback: LoopbackServer) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in chat_bodies(loopback)[-1]["messages"]]


def answering(loopback: LoopbackServer, *texts: str) -> None:
    queue = list(texts)

    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "test-model"}]})
        return sse_reply(text_chunks([queue.pop(0)]))

    loopback.handler = handler


def shortcut(app: App, key: str) -> None:
    """Press a key sequence in the prompt box, as a user would."""
    app.window.activateWindow()
    app.window.composer.prompt.setFocus()
    QTest.keySequence(app.window.composer.prompt, key)


async def answered(app: App) -> None:
    await wait_until(lambda: app.window.composer.streaming, seconds=5)
    await wait_until(lambda: not app.window.composer.streaming, seconds=20)
    await app.window.controller.writes.drain()


def path_of(app: App) -> list[tuple[str, str]]:
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    return [(m.role, m.content) for m in app.store.messages(thread_id)]


def test_regenerate_keeps_both_versions_and_the_version_keys_switch_between_them(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "first answer", "second answer")

    async def scenario() -> None:
        type_and_send(app, "question")
        await answered(app)
        shortcut(app, "Ctrl+R")
        await answered(app)
        assert sent(loopback) == [("user", "question")]
        assert path_of(app) == [("user", "question"), ("assistant", "second answer")]
        assert "second answer" in app.window.chat_view.toPlainText()
        shortcut(app, "Alt+Left")
        await app.window.controller.writes.drain()
        assert path_of(app) == [("user", "question"), ("assistant", "first answer")]
        assert "first answer" in app.window.chat_view.toPlainText()
        assert "second answer" not in app.window.chat_view.toPlainText()
        shortcut(app, "Alt+Right")
        await app.window.controller.writes.drain()
        assert path_of(app)[-1] == ("assistant", "second answer")

    qloop.run(scenario())
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    assert len(app.store.all_messages(thread_id)) == 3


def test_edit_resends_a_new_version_and_esc_cancels_an_edit(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "a1", "a2", "a2 after the edit")
    composer = app.window.composer

    async def scenario() -> None:
        type_and_send(app, "q1")
        await answered(app)
        type_and_send(app, "q2 with a typo")
        await answered(app)
        shortcut(app, "Ctrl+E")
        assert composer.editing
        assert composer.prompt.toPlainText() == "q2 with a typo"
        QTest.keyClick(composer.prompt, Qt.Key.Key_Escape)
        assert not composer.editing
        assert composer.prompt.toPlainText() == ""
        shortcut(app, "Ctrl+E")
        composer.prompt.setPlainText("q2, fixed")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await answered(app)

    qloop.run(scenario())
    assert not composer.editing
    assert sent(loopback) == [("user", "q1"), ("assistant", "a1"), ("user", "q2, fixed")]
    assert path_of(app) == [
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2, fixed"),
        ("assistant", "a2 after the edit"),
    ]
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    tree = app.store.tree(thread_id)
    (original,) = [m for m in tree.by_id.values() if m.content == "q2 with a typo"]
    assert tree.versions(original.id).count == 2


def test_continue_appends_to_a_stopped_answer(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    loopback.handler = routed(slow_words([f"w{i} " for i in range(200)], pause=0.05))

    async def stopped() -> None:
        type_and_send(app, "long one")
        await wait_until(lambda: "w3" in app.window.chat_view.toPlainText(), seconds=20)
        QTest.keyClick(app.window.composer.prompt, Qt.Key.Key_Escape)
        await wait_until(lambda: not app.window.composer.streaming, seconds=20)

    qloop.run(stopped())
    (_, partial) = path_of(app)
    answering(loopback, "THE END")

    async def continued() -> None:
        shortcut(app, "Ctrl+Shift+R")
        await answered(app)

    qloop.run(continued())
    assert sent(loopback) == [("user", "long one"), ("assistant", partial[1])]
    assert path_of(app) == [("user", "long one"), ("assistant", partial[1] + "THE END")]
    assert "THE END" in app.window.chat_view.toPlainText()


def test_copy_last_answer_puts_its_markdown_on_the_clipboard(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "**bold** and `code`")

    async def scenario() -> None:
        type_and_send(app, "format please")
        await answered(app)
        shortcut(app, "Ctrl+Shift+C")

    qloop.run(scenario())
    assert QApplication.clipboard().text() == "**bold** and `code`"


def test_chat_settings_go_with_the_request_and_new_chats_start_from_preferences(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    app.settings.set(keys.DEFAULT_TEMPERATURE, "0.3")
    app.window.controller.new_chat()  # the panel shows Preferences' defaults
    panel = app.window.thread_settings
    answering(loopback, "one", "two", "three")

    async def scenario() -> None:
        shortcut(app, "Ctrl+Shift+S")
        assert panel.isVisible()
        assert panel.temperature.value() == 0.3
        panel.system_edit.setPlainText("Answer in French.")
        panel.max_tokens.setValue(512)
        type_and_send(app, "bonjour")
        await answered(app)
        first = chat_bodies(loopback)[-1]
        assert first["messages"][0] == {"role": "system", "content": "Answer in French."}
        assert (first["temperature"], first["max_tokens"]) == (0.3, 512)
        # Changed mid-chat: the next message goes with the new values, and they are saved.
        panel.temperature.setValue(1.2)
        await app.window.controller.writes.drain()
        type_and_send(app, "encore")
        await answered(app)
        assert chat_bodies(loopback)[-1]["temperature"] == 1.2

    qloop.run(scenario())
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    thread = app.store.get_thread(thread_id)
    assert thread is not None
    assert (thread.system_prompt, dict(thread.params)) == (
        "Answer in French.",
        {"temperature": 1.2, "max_tokens": 512},
    )
    app.window.controller.new_chat()
    assert panel.system_edit.toPlainText() == ""
    assert (panel.temperature.value(), panel.max_tokens.value()) == (0.3, 0)
    app.window.controller.open_thread(thread_id)
    assert panel.system_edit.toPlainText() == "Answer in French."
    assert panel.temperature.value() == 1.2


def test_a_local_model_titles_a_new_chat_after_its_first_answer(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    app.settings.set(keys.AUTO_TITLE, "local")  # the default; the App fixture turns it off

    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "test-model"}]})
        body = request.json()
        if body["stream"] is False:
            message = {"role": "assistant", "content": "Title: Cheese Pairings"}
            return json_reply({"choices": [{"index": 0, "message": message}]})
        return sse_reply(text_chunks(["Try a Riesling."]))

    loopback.handler = handler

    async def scenario() -> None:
        type_and_send(app, "what wine goes with comté, do you think, given everything")
        await answered(app)
        await wait_until(lambda: app.window.windowTitle().startswith("Cheese Pairings"))

    qloop.run(scenario())
    (thread,) = app.store.list_threads()
    assert thread.title == "Cheese Pairings"
    title_request = chat_bodies(loopback)[-1]
    assert title_request["stream"] is False
    assert "Try a Riesling." in title_request["messages"][1]["content"]


def busy_for(seconds: int) -> Reply:
    return Reply(
        status=429,
        headers=[("Content-Type", "application/json"), ("Retry-After", str(seconds))],
        pieces=[json.dumps({"error": {"message": "Slow down"}}).encode()],
        framing="length",
    )


def test_retry_waits_for_retry_after_and_esc_cancels_the_wait(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    banner = app.window.banner
    status = app.window.stream_status

    async def waits_then_sends() -> None:
        loopback.handler = routed(busy_for(1))
        type_and_send(app, "hello?")
        await wait_until(lambda: banner.isVisible(), seconds=20)
        assert "asks to retry in 1 s" in banner.message.text()
        asked = len(chat_bodies(loopback))
        loopback.handler = routed(slow_words(["Recovered", "!"], pause=0.01))
        banner.retry_button.click()
        assert "Retrying in" in status.text()
        assert len(chat_bodies(loopback)) == asked  # not yet: the provider asked for 1 s
        await wait_until(lambda: "Recovered!" in app.window.chat_view.toPlainText(), seconds=10)

    async def esc_cancels() -> None:
        app.window.controller.new_chat()
        loopback.handler = routed(busy_for(2))
        type_and_send(app, "again?")
        await wait_until(lambda: banner.isVisible(), seconds=20)
        asked = len(chat_bodies(loopback))
        banner.retry_button.click()
        assert "Retrying in" in status.text()
        QTest.keyClick(app.window.composer.prompt, Qt.Key.Key_Escape)  # changed my mind
        assert "Retrying" not in status.text()
        await asyncio.sleep(2.5)
        assert len(chat_bodies(loopback)) == asked  # the cancelled retry never went out

    qloop.run(waits_then_sends())
    qloop.run(esc_cancels())


def link_point(app: App, href: str) -> QPoint:
    """Where a link is drawn in the chat view's viewport (it must be on screen)."""
    view = app.window.chat_view
    block = view.document().begin()
    while block.isValid():
        fragments = block.begin()
        while not fragments.atEnd():
            fragment = fragments.fragment()
            if fragment.charFormat().anchorHref() == href:
                cursor = QTextCursor(view.document())
                cursor.setPosition(fragment.position() + fragment.length() // 2)
                view.setTextCursor(cursor)
                view.ensureCursorVisible()
                return view.cursorRect(cursor).center()
            fragments += 1
        block = block.next()
    raise AssertionError(f"no link {href!r} in the chat")


def click_link(app: App, href: str) -> None:
    viewport = app.window.chat_view.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=link_point(app, href))


def test_links_under_messages_regenerate_switch_versions_edit_and_delete(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "first take", "second take")
    view = app.window.chat_view

    async def scenario() -> None:
        type_and_send(app, "question")
        await answered(app)
        (question, first) = app.store.messages(app.window.controller.thread_id or "")
        click_link(app, f"msg:regenerate:{first.id}")
        # The old version goes out of sight as the new one starts, in its place.
        await wait_until(lambda: "first take" not in view.toPlainText(), seconds=5)
        await answered(app)
        assert "second take" in view.toPlainText()
        assert "2/2" in view.toPlainText()
        click_link(app, f"msg:version:{first.id}")
        await app.window.controller.writes.drain()
        assert "first take" in view.toPlainText()
        assert "second take" not in view.toPlainText()
        assert "1/2" in view.toPlainText()
        click_link(app, f"msg:edit:{question.id}")
        assert app.window.composer.editing
        assert app.window.composer.prompt.toPlainText() == "question"
        QTest.keyClick(app.window.composer.prompt, Qt.Key.Key_Escape)

        def confirm() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox):
                QTimer.singleShot(10, confirm)
                return
            next(b for b in box.findChildren(QPushButton) if b.text() == "Delete").click()

        QTimer.singleShot(0, confirm)
        # Clicked from the Qt event loop, as a real click is (the question runs its own loop).
        deleted = len(app.store.all_messages(first.thread_id)) - 1
        QTimer.singleShot(0, lambda: click_link(app, f"msg:delete:{first.id}"))
        await wait_until(lambda: len(app.store.all_messages(first.thread_id)) == deleted)
        await app.window.controller.writes.drain()

    qloop.run(scenario())
    thread_id = app.window.controller.thread_id
    assert thread_id is not None
    assert [m.content for m in app.store.all_messages(thread_id)] == ["question", "second take"]
    assert path_of(app) == [("user", "question"), ("assistant", "second take")]


def test_the_context_menu_acts_on_the_message_under_the_pointer(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "one answer", "another answer")
    view = app.window.chat_view

    async def first() -> None:
        type_and_send(app, "hello there")
        await answered(app)

    qloop.run(first())
    (question, answer) = app.store.messages(app.window.controller.thread_id or "")
    point = link_point(app, f"msg:copy:{answer.id}")
    assert view.message_at(point) == answer
    assert view.message_at(link_point(app, f"msg:copy:{question.id}")) == question
    chosen: list[str] = []

    def pick_regenerate() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu):
            QTimer.singleShot(10, pick_regenerate)
            return
        labels = [a.text() for a in menu.actions() if a.text()]
        chosen.extend(labels)
        next(a for a in menu.actions() if a.text() == "Regenerate").trigger()
        menu.close()

    def open_menu() -> None:
        # As a right-click would: from the Qt event loop, not from inside an asyncio task.
        QTimer.singleShot(0, pick_regenerate)
        event = QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, point, view.viewport().mapToGlobal(point)
        )
        QApplication.sendEvent(view.viewport(), event)

    async def regenerate() -> None:
        QTimer.singleShot(0, open_menu)
        await answered(app)

    qloop.run(regenerate())
    assert "Copy Message (Markdown)" in chosen
    assert "Delete Message…" in chosen
    assert path_of(app)[-1] == ("assistant", "another answer")
