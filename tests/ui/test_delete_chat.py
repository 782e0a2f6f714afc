"""Deleting a chat from the keyboard: Delete in the list after a click, Ctrl+Shift+Backspace
anywhere in the window; both ask first."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from tests.ui.test_main_window import App


def answer_next_question(button_text: str, seen: list[str]) -> None:
    """Click `button_text` in the confirmation box once it is up (it runs its own loop)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.append(box.text())
        button = next(b for b in box.findChildren(QPushButton) if b.text() == button_text)
        button.click()

    QTimer.singleShot(0, click)


def back_from_the_question(app: App) -> None:
    # A window manager gives the window back its activation when the box closes; the
    # offscreen platform has none, so do what it would.
    app.window.activateWindow()
    QApplication.processEvents()


def click_thread(app: App, row: int) -> None:
    view = app.window.sidebar.list_view
    rect = view.visualRect(app.window.sidebar.threads.index(row))
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_delete_after_clicking_a_thread_and_from_the_prompt(app: App) -> None:
    older = app.store.create_thread("Older chat")
    newer = app.store.create_thread("Newer chat")
    for thread in (older, newer):
        app.store.add_message(thread.id, "user", f"Hello from {thread.title}")
    window = app.window
    window.activateWindow()
    window.sidebar.refresh()
    assert window.sidebar.threads.thread_at(1).id == older.id  # type: ignore[union-attr]

    click_thread(app, 1)
    assert window.controller.thread_id == older.id
    assert QApplication.focusWidget() is window.sidebar.list_view  # the click kept the keyboard

    seen: list[str] = []
    answer_next_question("Cancel", seen)
    QTest.keyClick(window.sidebar.list_view, Qt.Key.Key_Delete)
    assert seen == ["Delete “Older chat” and all its messages? This cannot be undone."]
    assert app.store.get_thread(older.id) is not None
    back_from_the_question(app)
    assert QApplication.focusWidget() is window.sidebar.list_view

    answer_next_question("Delete", seen)
    QTest.keyClick(window.sidebar.list_view, Qt.Key.Key_Delete)
    assert len(seen) == 2
    assert app.store.get_thread(older.id) is None
    assert window.controller.thread_id is None  # the window went to a new chat
    back_from_the_question(app)
    assert window.sidebar.threads.rowCount() == 1

    # Typing in the list goes on in the prompt; from there Ctrl+Shift+Backspace deletes.
    click_thread(app, 0)
    assert window.controller.thread_id == newer.id
    QTest.keyClicks(window.sidebar.list_view, "Hi")
    assert QApplication.focusWidget() is window.composer.prompt
    assert window.composer.prompt.toPlainText() == "Hi"
    assert window.delete_action.shortcut().toString() == "Ctrl+Shift+Backspace"
    answer_next_question("Delete", seen)
    QTest.keyClick(
        window.composer.prompt,
        Qt.Key.Key_Backspace,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert seen[-1].startswith("Delete “Newer chat”")
    assert app.store.get_thread(newer.id) is None
    assert window.composer.prompt.toPlainText() == "Hi"  # the key did not edit the prompt


def test_f2_in_the_list_renames_the_chat_selected_there_and_types_nothing(app: App) -> None:
    from PySide6.QtWidgets import QInputDialog

    older = app.store.create_thread("Older chat")
    app.store.create_thread("Newer chat")
    window = app.window
    window.activateWindow()
    window.sidebar.refresh()
    click_thread(app, 1)
    assert window.controller.thread_id == older.id
    asked: list[str] = []

    def rename() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, QInputDialog):
            QTimer.singleShot(10, rename)
            return
        asked.append(dialog.textValue())
        dialog.setTextValue("Sky reasoning")
        dialog.accept()

    QTimer.singleShot(0, rename)
    QTest.keyClick(window.sidebar.list_view, Qt.Key.Key_F2)
    assert asked == ["Older chat"]
    thread = app.store.get_thread(older.id)
    assert thread is not None
    assert thread.title == "Sky reasoning"
    assert window.composer.prompt.toPlainText() == ""  # nothing went to the model's box
