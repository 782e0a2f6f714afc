"""Sidebar search by word prefix over a real store, "No results", and find in the opened chat."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from llms_desktop.ui.thread_list import MESSAGE_ID_ROLE, prefix_query
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_main_window import App


def test_prefix_query_makes_every_word_a_prefix() -> None:
    assert prefix_query("  sky blu ") == "sky* blu*"
    assert prefix_query("comp*") == "comp*"


def typed(app: App, text: str) -> None:
    box = app.window.sidebar.search_box
    box.clear()
    QTest.keyClicks(box, text)


def hit_titles(app: App) -> list[str]:
    model = app.window.sidebar.list_view.model()
    return sorted(str(model.index(row, 0).data()).split("\n")[0] for row in range(model.rowCount()))


def test_search_finds_word_prefixes_says_no_results_and_highlights_in_the_chat(
    app: App, qloop: QtLoop
) -> None:
    sky = app.store.create_thread("Sky colour")
    app.store.add_message(sky.id, "user", "Why is the sky blue?")
    filler = "\n\n".join(f"Paragraph {i} about light and air." for i in range(60))
    answer = app.store.add_message(
        sky.id,
        "assistant",
        f"Blue light scatters more.\n\n{filler}\n\nThat is why it looks **blue**, not bluish-red.",
    )
    pie = app.store.create_thread("Pie")
    app.store.add_message(pie.id, "user", "A blueberry pie recipe, please")
    other = app.store.create_thread("Python")
    app.store.add_message(other.id, "user", "Explain Python generators")
    window = app.window
    window.resize(900, 500)
    window.activateWindow()
    sidebar = window.sidebar
    results = sidebar.results

    async def search() -> None:
        typed(app, "pyth")  # a word's start finds the whole word
        await wait_until(
            lambda: sidebar.list_view.model() is results and hit_titles(app) == ["Python"]
        )
        assert not sidebar.no_results.isVisible()
        typed(app, "zebra")
        await wait_until(lambda: sidebar.no_results.isVisible())
        assert sidebar.no_results.text() == "No results for “zebra”."
        assert results.rowCount() == 0
        typed(app, "blu")
        await wait_until(lambda: "Pie" in hit_titles(app))
        assert not sidebar.no_results.isVisible()

    qloop.run(search())
    assert set(hit_titles(app)) == {"Sky colour", "Pie"}

    # Open the sky answer's hit: the chat shows every "blu…" word highlighted.
    row = next(
        r for r in range(results.rowCount()) if results.index(r).data(MESSAGE_ID_ROLE) == answer.id
    )
    rect = sidebar.list_view.visualRect(results.index(row))
    QTest.mouseClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.controller.thread_id == sky.id
    finder = window.finder
    assert window.find_bar.isVisible()
    assert window.find_bar.edit.text() == "blu"
    text = window.chat_view.document().toRawText()
    found = [text[start:end] for start, end in finder.matches]
    assert found == ["blue", "Blue", "blue", "bluish"]
    assert len(window.chat_view.extraSelections()) == 4
    assert finder.current == 1  # the first match in the message the hit was for
    assert window.find_bar.count.text() == "2 of 4"

    def current_on_screen() -> bool:
        start, _end = finder.matches[finder.current]
        cursor = window.chat_view.textCursor()
        cursor.setPosition(start)
        shown = window.chat_view.cursorRect(cursor)
        return shown.top() >= 0 and shown.bottom() <= window.chat_view.viewport().height()

    assert current_on_screen()
    QTest.keyClick(window.chat_view, Qt.Key.Key_F3)  # next, far down the answer
    assert finder.current == 2
    assert current_on_screen()
    QTest.keyClick(window.chat_view, Qt.Key.Key_F3)
    QTest.keyClick(window.chat_view, Qt.Key.Key_F3)  # wraps to the first
    assert finder.current == 0
    QTest.keyClick(window.chat_view, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert finder.current == 3
    assert current_on_screen()
    edit = window.find_bar.edit
    edit.setFocus()
    QTest.keyClick(edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert finder.current == 2
    QTest.keyClick(edit, Qt.Key.Key_Return)
    assert finder.current == 3
    assert window.find_bar.count.text() == "4 of 4"
    QTest.keyClick(edit, Qt.Key.Key_Escape)
    assert not window.find_bar.isVisible()
    assert window.chat_view.extraSelections() == []
    assert QApplication.focusWidget() is not edit


def test_a_hit_in_the_last_message_makes_its_own_match_current(app: App, qloop: QtLoop) -> None:
    # A short chat: the view cannot scroll the last message to its top, so "the first match
    # below the top of the view" would be the question's, not the answer's the hit was for.
    thread = app.store.create_thread("Carry on")
    app.store.add_message(thread.id, "user", "How do I continue a stopped answer?")
    answer = app.store.add_message(thread.id, "assistant", "Press Continue under it.")
    window = app.window
    window.resize(900, 600)
    sidebar = window.sidebar
    results = sidebar.results

    async def search() -> None:
        typed(app, "contin")
        await wait_until(lambda: results.rowCount() == 2)

    qloop.run(search())
    row = next(
        r for r in range(results.rowCount()) if results.index(r).data(MESSAGE_ID_ROLE) == answer.id
    )
    rect = sidebar.list_view.visualRect(results.index(row))
    QTest.mouseClick(sidebar.list_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    finder = window.finder
    text = window.chat_view.document().toRawText()
    start, end = finder.matches[finder.current]
    assert text[start:end] == "Continue"  # the answer's, not "continue" in the question
    assert window.find_bar.count.text() == "2 of 2"
