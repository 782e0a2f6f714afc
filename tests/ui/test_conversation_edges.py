"""Edges of versions and message actions found in review: several windows on one chat, drafts,
unsaved chat settings, search hits in other versions, titles racing renames, retries that wait."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from llms_desktop import settings as keys
from llms_desktop.ui.main_window import MainWindow
from tests.support.loopback import LoopbackServer, Pause, Reply, json_reply, sse_reply, text_chunks
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_conversation_actions import (
    answered,
    answering,
    busy_for,
    path_of,
    sent,
    shortcut,
)
from tests.ui.test_main_window import App, routed, slow_words, type_and_send
from tests.ui.test_search import typed


def test_a_second_window_follows_version_switches_and_deletes_and_sends_what_it_shows(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "first take", "second take", "follow-up answer")
    first = app.window

    async def scenario() -> None:
        type_and_send(app, "question")
        await answered(app)
        shortcut(app, "Ctrl+R")
        await answered(app)
        thread_id = first.controller.thread_id
        second = MainWindow(app.services)
        second.show()
        second.controller.open_thread(thread_id)
        assert "second take" in second.chat_view.toPlainText()
        shortcut(app, "Alt+Left")
        await first.controller.writes.drain()
        assert "first take" in second.chat_view.toPlainText()
        assert "second take" not in second.chat_view.toPlainText()
        second.composer.prompt.setPlainText("and then?")
        second.composer.prompt.setFocus()
        QTest.keyClick(second.composer.prompt, Qt.Key.Key_Return)
        await wait_until(
            lambda: not second.composer.streaming and "follow-up" in path_of(app)[-1][1]
        )
        assert sent(loopback) == [
            ("user", "question"),
            ("assistant", "first take"),
            ("user", "and then?"),
        ]
        question = path_of(app)
        (q2,) = [m for m in app.store.messages(thread_id) if m.content == "and then?"]
        first.controller.actions.delete_message(q2.id)
        await first.controller.writes.drain()
        assert "and then?" not in second.chat_view.toPlainText()
        assert len(question) == 4
        second.close()

    qloop.run(scenario())


def test_an_edit_brings_back_the_draft_typed_before_it(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "a1", "a1 again")
    composer = app.window.composer

    async def scenario() -> None:
        type_and_send(app, "q1")
        await answered(app)
        composer.prompt.setPlainText("a long draft I was typing")
        shortcut(app, "Ctrl+E")
        assert composer.prompt.toPlainText() == "q1"
        QTest.keyClick(composer.prompt, Qt.Key.Key_Escape)
        assert composer.prompt.toPlainText() == "a long draft I was typing"
        shortcut(app, "Ctrl+E")
        composer.prompt.setPlainText("q1, better")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await answered(app)
        assert composer.prompt.toPlainText() == "a long draft I was typing"

    qloop.run(scenario())
    assert path_of(app) == [("user", "q1, better"), ("assistant", "a1 again")]


def test_a_system_prompt_typed_just_before_switching_chats_is_kept(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "a", "b")
    panel = app.window.thread_settings
    controller = app.window.controller

    async def scenario() -> None:
        type_and_send(app, "chat A")
        await answered(app)
        chat_a = controller.thread_id
        controller.new_chat()
        type_and_send(app, "chat B")
        await answered(app)
        chat_b = controller.thread_id
        controller.open_thread(chat_a)
        panel.system_edit.setPlainText("Be terse.")
        controller.open_thread(chat_b)  # at once, before the panel's pause-to-save
        await controller.writes.drain()
        thread = app.store.get_thread(chat_a or "")
        assert thread is not None
        assert thread.system_prompt == "Be terse."
        assert panel.system_edit.toPlainText() == ""  # chat B has none

    qloop.run(scenario())


def test_a_search_hit_in_another_version_opens_that_version(app: App, qloop: QtLoop) -> None:
    thread = app.store.create_thread("Fruit")
    question = app.store.add_message(thread.id, "user", "name a fruit")
    app.store.add_message(thread.id, "assistant", "A zucchini, botanically.")
    app.store.add_message(thread.id, "assistant", "A banana.", parent_id=question.id)
    sidebar = app.window.sidebar

    async def search() -> None:
        typed(app, "zucchini")
        await wait_until(lambda: sidebar.results.rowCount() == 1)

    qloop.run(search())
    rect = sidebar.list_view.visualRect(sidebar.results.index(0))
    QTest.mouseClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    text = app.window.chat_view.toPlainText()
    assert "zucchini" in text
    assert "A banana." not in text
    assert "1/2" in text

    async def saved() -> None:
        await app.window.controller.writes.drain()

    qloop.run(saved())
    assert [m.content for m in app.store.messages(thread.id)][-1] == "A zucchini, botanically."


def slow_title(request: Any) -> Reply:
    if request.path.endswith("/models"):
        return json_reply({"data": [{"id": "test-model"}]})
    if request.json()["stream"] is False:
        message = {"role": "assistant", "content": "Model Title"}
        body = json.dumps({"choices": [{"index": 0, "message": message}]}).encode()
        headers = [("Content-Type", "application/json")]
        return Reply(headers=headers, pieces=[Pause(1.0), body], framing="close")
    return sse_reply(text_chunks(["An answer."]))


def test_the_models_title_never_replaces_a_name_given_meanwhile_nor_revives_a_deleted_chat(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    app.settings.set(keys.AUTO_TITLE, "local")
    loopback.handler = slow_title
    controller = app.window.controller

    async def scenario() -> None:
        type_and_send(app, "my question about things")
        await answered(app)
        renamed = controller.thread_id or ""
        controller.threads.rename(renamed, "My Own Name")
        controller.new_chat()
        type_and_send(app, "another question about things")
        await answered(app)
        deleted = controller.thread_id or ""
        controller.threads.delete(deleted)
        await asyncio.sleep(2.5)  # both title requests answered meanwhile
        await controller.writes.drain()
        thread = app.store.get_thread(renamed)
        assert thread is not None
        assert thread.title == "My Own Name"
        assert app.store.get_thread(deleted) is None
        assert not app.window.banner.isVisible()

    qloop.run(scenario())
    assert len([r for r in loopback.requests if r.method == "POST"]) == 4  # titles were asked


def test_a_retry_waiting_for_its_time_is_dropped_when_another_chat_opens(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    banner = app.window.banner
    controller = app.window.controller

    async def scenario() -> None:
        loopback.handler = routed(slow_words(["B ", "answer"], pause=0.01))
        type_and_send(app, "chat B question")
        await answered(app)
        chat_b = controller.thread_id or ""
        controller.new_chat()
        loopback.handler = routed(busy_for(1))
        type_and_send(app, "chat A question")
        await wait_until(lambda: banner.isVisible(), seconds=20)
        asked = len(loopback.requests)
        banner.retry_button.click()
        controller.open_thread(chat_b)  # the user looks at another chat meanwhile
        await asyncio.sleep(1.5)
        assert len(loopback.requests) == asked
        assert [m.content for m in app.store.messages(chat_b)] == ["chat B question", "B answer"]

    qloop.run(scenario())


def test_continuing_shows_the_earlier_text_in_a_second_window_and_after_reopening(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    first = app.window

    async def stopped() -> None:
        loopback.handler = routed(slow_words([f"w{i} " for i in range(200)], pause=0.05))
        type_and_send(app, "long one")
        await wait_until(lambda: "w3" in first.chat_view.toPlainText(), seconds=20)
        QTest.keyClick(first.composer.prompt, Qt.Key.Key_Escape)
        await wait_until(lambda: not first.composer.streaming, seconds=20)

    qloop.run(stopped())
    thread_id = first.controller.thread_id or ""
    second = MainWindow(app.services)
    second.show()
    second.controller.open_thread(thread_id)

    async def continued() -> None:
        loopback.handler = routed(slow_words([f"c{i} " for i in range(40)], pause=0.03))
        shortcut(app, "Ctrl+Shift+R")
        await wait_until(lambda: "c5" in second.chat_view.toPlainText(), seconds=10)
        assert "w0 w1 w2 w3" in second.chat_view.toPlainText()
        first.controller.new_chat()
        first.controller.open_thread(thread_id)  # catches up at the next frame
        await wait_until(lambda: "w0 w1 w2 w3" in first.chat_view.toPlainText(), seconds=5)
        await wait_until(lambda: not second.composer.streaming, seconds=20)

    qloop.run(continued())
    second.close()
    (answer,) = [m for m in app.store.messages(thread_id) if m.role == "assistant"]
    assert answer.content.startswith("w0 w1 w2 w3")
    assert answer.content.endswith("c39 ")


def test_deleting_an_edited_version_deletes_its_branch_and_shows_the_other(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    answering(loopback, "answer to v1", "answer to v2")
    composer = app.window.composer

    async def scenario() -> None:
        type_and_send(app, "question v1")
        await answered(app)
        shortcut(app, "Ctrl+E")
        composer.prompt.setPlainText("question v2")
        QTest.keyClick(composer.prompt, Qt.Key.Key_Return)
        await answered(app)
        thread_id = app.window.controller.thread_id or ""
        (v2,) = [m for m in app.store.messages(thread_id) if m.content == "question v2"]
        app.window.controller.actions.delete_message(v2.id)
        await app.window.controller.writes.drain()

    qloop.run(scenario())
    assert path_of(app) == [("user", "question v1"), ("assistant", "answer to v1")]
    text = app.window.chat_view.toPlainText()
    assert "question v2" not in text
    assert "1/2" not in text


def test_an_answer_whose_process_died_while_the_window_ran_shows_interrupted_and_continues(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    from tests.unit.test_orphans import Streamer

    streamer = Streamer(app.data_dir)  # another process (the CLI, say) streaming an answer
    try:
        streamer.kill()  # ...dies mid-answer, while this window runs
    finally:
        streamer.close()
    view = app.window.chat_view
    answering(loopback, " and the rest.")

    async def scenario() -> None:
        app.window.controller.open_thread(streamer.thread_id)
        await wait_until(lambda: "Interrupted" in view.toPlainText(), seconds=5)
        assert "Continue" in view.toPlainText()
        app.window.controller.actions.continue_answer(streamer.answer_id)
        await answered(app)

    qloop.run(scenario())
    answer = app.store.get_message(streamer.answer_id)
    assert answer is not None
    assert (answer.status, answer.content) == ("complete", "partial and the rest.")


def test_an_answer_cut_off_at_the_token_limit_says_so_and_continues(
    app: App, qloop: QtLoop, loopback: LoopbackServer
) -> None:
    from tests.support.loopback import chunk

    replies = [
        sse_reply([chunk("Half of"), chunk(finish="length")]),
        sse_reply([chunk(" it, then the rest."), chunk(finish="stop")]),
    ]
    loopback.handler = lambda request: replies.pop(0)
    view = app.window.chat_view

    async def scenario() -> None:
        type_and_send(app, "Everything, please")
        await answered(app)
        assert "Cut off at the token limit" in view.toPlainText()
        assert "Continue" in view.toPlainText()
        shortcut(app, "Ctrl+Shift+R")  # Continue the last answer
        await answered(app)

    qloop.run(scenario())
    assert sent(loopback) == [("user", "Everything, please"), ("assistant", "Half of")]
    assert path_of(app) == [
        ("user", "Everything, please"),
        ("assistant", "Half of it, then the rest."),
    ]
    text = view.toPlainText()
    assert "Cut off at the token limit" not in text
    assert "Half of it, then the rest." in text
