"""The Message menu and its shortcuts, and the actions asked for on one message in the chat."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QWidget

from llms_desktop.turns import can_continue
from llms_desktop.ui.chat_controller import ChatController
from llms_desktop.ui.chat_view import ChatView


class MessageMenu(QObject):
    """Regenerate, continue, edit, copy and switch versions: of the last message from the
    menu and its shortcuts, of any message from its links and context menu in the chat."""

    def __init__(
        self,
        menu: QMenu,
        controller: ChatController,
        chat_view: ChatView,
        notify: Callable[[str], None],
        window: QWidget,
    ) -> None:
        super().__init__(window)
        self.controller = controller
        self.notify = notify
        self.window = window
        self.regenerate = self._add(menu, "&Regenerate Answer", "Ctrl+R")
        self.regenerate.setToolTip("A new version of the last answer; the old one is kept")
        self.continue_answer = self._add(menu, "C&ontinue Answer", "Ctrl+Shift+R")
        self.edit_last = self._add(menu, "&Edit Last Message…", "Ctrl+E")
        self.copy_answer = self._add(menu, "&Copy Last Answer", "Ctrl+Shift+C")
        menu.addSeparator()
        self.previous_version = self._add(menu, "&Previous Version", "Alt+Left")
        self.next_version = self._add(menu, "&Next Version", "Alt+Right")
        self._connect_signals(chat_view)
        self._on_state_changed()

    def _add(self, menu: QMenu, text: str, shortcut: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(shortcut))
        menu.addAction(action)
        return action

    def _connect_signals(self, chat_view: ChatView) -> None:
        actions = self.controller.actions
        self.regenerate.triggered.connect(lambda: actions.regenerate(None))
        self.continue_answer.triggered.connect(self._on_continue_last)
        self.edit_last.triggered.connect(lambda: actions.start_editing(None))
        self.copy_answer.triggered.connect(self._on_copy_last_answer)
        self.previous_version.triggered.connect(lambda: actions.step_version(-1))
        self.next_version.triggered.connect(lambda: actions.step_version(+1))
        chat_view.message_action.connect(self._on_message_action)
        self.controller.streaming_changed.connect(lambda _: self._on_state_changed())
        self.controller.thread_changed.connect(lambda _: self._on_state_changed())

    def _on_state_changed(self) -> None:
        usable = self.controller.thread_id is not None and not self.controller.busy
        for action in (
            self.regenerate,
            self.continue_answer,
            self.edit_last,
            self.previous_version,
            self.next_version,
        ):
            action.setEnabled(usable)

    def _on_continue_last(self) -> None:
        answer = self.controller.actions.last_answer()
        if answer is None:
            return
        if not can_continue(answer):
            self.notify("The last answer is complete: there is nothing to continue.")
            return
        self.controller.actions.continue_answer(answer.id)

    def _on_copy_last_answer(self) -> None:
        answer = self.controller.actions.last_answer()
        if answer is not None and answer.content:
            QApplication.clipboard().setText(answer.content)
            self.notify("Answer copied to the clipboard (as markdown).")

    def _on_message_action(self, verb: str, message_id: str) -> None:
        actions = self.controller.actions
        if verb == "copy":
            message = self.controller.services.store.get_message(message_id)
            if message is not None:
                QApplication.clipboard().setText(message.content)
                self.notify("Message copied to the clipboard (as markdown).")
        elif verb == "edit":
            actions.start_editing(message_id)
        elif verb == "regenerate":
            actions.regenerate(message_id)
        elif verb == "continue":
            actions.continue_answer(message_id)
        elif verb == "version":
            actions.select_version(message_id)
        elif verb == "delete" and self._confirm_delete(message_id):
            actions.delete_message(message_id)

    def _confirm_delete(self, message_id: str) -> bool:
        thread_id = self.controller.thread_id
        if thread_id is None:
            return False
        tree = self.controller.services.store.tree(thread_id)
        if message_id not in tree.by_id:
            return False
        after = len(tree.descendants(message_id))
        if tree.versions(message_id).count > 1 and after:
            question = (
                f"Delete this version and the {after} message{'s' if after > 1 else ''} "
                "after it? The other versions stay."
            )
        elif tree.versions(message_id).count > 1:
            question = "Delete this version? The other versions stay."
        else:
            question = "Delete this message? The messages after it stay in the chat."
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete message",
            question,
            QMessageBox.StandardButton.Cancel,
            self.window,
        )
        delete = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is delete
