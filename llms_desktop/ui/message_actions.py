"""What can be done to one message: regenerate, edit and resend, continue, delete, versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from llms_desktop import turns
from llms_desktop.store import Store
from llms_desktop.types import Message
from llms_desktop.ui.chat_services import ResolvedModel

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment
    from llms_desktop.ui.chat_controller import ChatController


class MessageActions(QObject):
    """The message actions of one window, carried out through its ChatController.

    Regenerate and edit add versions (siblings); nothing is overwritten. Each action does
    nothing while the window follows an answer in progress.
    """

    def __init__(self, chat: ChatController) -> None:
        super().__init__(chat)
        self.chat = chat
        self.editing_id: str | None = None  # the sent message the composer is editing

    def take_edit(self, text: str) -> bool:
        """If the composer was editing a sent message, send `text` as its new version."""
        editing, self.editing_id = self.editing_id, None
        if editing is None or self.chat.thread_id is None:
            self.chat.parts.composer.end_edit()
            return False
        # The strip holds the message's attachments (as the user left them): they go with it,
        # and the draft's come back.
        attachments = self.chat.parts.composer.take_attachments()
        self.chat.parts.composer.end_edit()
        self.edit_and_resend(editing, text, attachments)
        return True

    def start_editing(self, message_id: str | None = None) -> None:
        """Put one of the user's messages (None: the last) in the box to edit and resend."""
        if self.chat.thread_id is None or self.chat.busy:
            return
        path = self.chat.services.store.messages(self.chat.thread_id)
        mine = [m for m in path if m.role == "user" and message_id in (None, m.id)]
        if not mine:
            self.chat.parts.notify("There is no message of yours to edit.")
            return
        self.editing_id = mine[-1].id
        self.chat.parts.composer.begin_edit(mine[-1].content)
        self.chat.attachments.edit(mine[-1].id)

    def cancel_editing(self) -> None:
        self.editing_id = None
        self.chat.parts.composer.end_edit()

    def leave_editing(self) -> None:
        # An edit belongs to its chat: switching chats drops it (the original is untouched)
        # and the draft typed before it comes back.
        if self.editing_id is not None:
            self.chat.parts.composer.prompt.clear()
            self.chat.parts.composer.take_attachments()
            self.cancel_editing()

    def step_version(self, offset: int, message_id: str | None = None) -> None:
        """Show the previous (-1) or next (+1) version of a message (None: the last answer)."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy:
            return
        tree = self.chat.services.store.tree(thread_id)
        if message_id is None:
            answers = [m for m in tree.active_path() if m.role == "assistant"]
            if not answers:
                return
            message_id = answers[-1].id
        if message_id in tree.by_id:
            other = tree.versions(message_id).step(offset)
            if other is not None:
                self.select_version(other)

    def last_answer(self) -> Message | None:
        """The last answer of the open chat, as shown."""
        if self.chat.thread_id is None:
            return None
        answers = [
            m
            for m in self.chat.services.store.messages(self.chat.thread_id)
            if m.role == "assistant"
        ]
        return answers[-1] if answers else None

    def regenerate(self, message_id: str | None = None) -> None:
        """A new version of an answer (None: the last one); the old one is kept."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy:
            return
        _, params = self.chat.settings_panel.current()

        def plan(store: Store, resolved: ResolvedModel, stream: bool) -> turns.Turn:
            return turns.plan_regenerate(
                store,
                thread_id=thread_id,
                message_id=message_id,
                model=resolved.model,
                provider_id=resolved.provider_id,
                params=params,
                base_params=resolved.params,
                stream=stream,
            )

        self.chat.parts.banner.hide()
        self.chat.start(plan, retry=lambda: self.chat.retry_failed(None))

    def edit_and_resend(
        self, message_id: str, text: str, attachments: Sequence[Attachment] | None = None
    ) -> None:
        """Send `text` as a new version of one of the user's messages (the original is kept),
        with `attachments` (None: the original's)."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy or not (text.strip() or attachments):
            return
        _, params = self.chat.settings_panel.current()

        def plan(store: Store, resolved: ResolvedModel, stream: bool) -> turns.Turn:
            return turns.plan_edit(
                store,
                thread_id=thread_id,
                message_id=message_id,
                text=text,
                model=resolved.model,
                provider_id=resolved.provider_id,
                params=params,
                base_params=resolved.params,
                stream=stream,
                attachments=attachments,
            )

        self.chat.parts.banner.hide()
        self.chat.start(plan, unsaved_prompt=text, retry=lambda: self.chat.retry_failed(None))

    def continue_answer(self, message_id: str) -> None:
        """Ask for more of a stopped, failed, interrupted or cut-off answer (text appended)."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy:
            return
        _, params = self.chat.settings_panel.current()

        def plan(store: Store, resolved: ResolvedModel, stream: bool) -> turns.Turn:
            return turns.plan_continue(
                store,
                thread_id=thread_id,
                message_id=message_id,
                model=resolved.model,
                provider_id=resolved.provider_id,
                params=params,
                base_params=resolved.params,
                stream=stream,
            )

        self.chat.parts.banner.hide()
        self.chat.start(plan, retry=lambda: self.continue_answer(message_id))

    def delete_message(self, message_id: str) -> None:
        """Delete one message; its replies move up to take its place."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy:
            return
        self.chat.writes.write(
            lambda store: store.delete_message(message_id),
            lambda _: self._reload(thread_id),
        )

    def select_version(self, message_id: str) -> None:
        """Show another version of a message (and the conversation that follows it)."""
        thread_id = self.chat.thread_id
        if thread_id is None or self.chat.busy:
            return
        self.chat.writes.write(
            lambda store: store.select_message(message_id),
            lambda _: self._reload(thread_id, keep_scroll=True),
        )

    def _reload(self, thread_id: str, *, keep_scroll: bool = False) -> None:
        registry = self.chat.services.registry
        registry.messages_changed.emit(thread_id, self.chat)  # other windows on this chat
        registry.threads_changed.emit()
        self.chat.show_again(thread_id, keep_scroll=keep_scroll)
