"""Renaming, pinning and deleting chats, through the window's writer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

if TYPE_CHECKING:
    from llms_desktop.ui.chat_controller import ChatController


class ThreadActions(QObject):
    """What the sidebar and the Chat menu do to whole chats; every window hears of it."""

    def __init__(self, chat: ChatController) -> None:
        super().__init__(chat)
        self.chat = chat

    def rename(self, thread_id: str, title: str) -> None:
        title = " ".join(title.split())
        if title:
            self.chat.writes.write(
                lambda store: store.rename_thread(thread_id, title),
                lambda _: self.renamed(thread_id),
            )

    def renamed(self, thread_id: str) -> None:
        """A thread's title changed (here, or its first answer named it)."""
        self.chat.services.registry.threads_changed.emit()
        if thread_id == self.chat.thread_id:
            self.chat.thread_changed.emit(self.chat.services.store.get_thread(thread_id))

    def delete(self, thread_id: str) -> None:
        """Delete a chat (its answer in progress stops first); a window showing it goes to a
        new chat."""
        streamer = self.chat.services.registry.streamer_for(thread_id)
        if streamer is not None:
            streamer.stop()
        if thread_id == self.chat.thread_id:
            self.chat.new_chat()
        self.chat.writes.write(
            lambda store: store.delete_thread(thread_id),
            lambda _: self.chat.services.registry.threads_changed.emit(),
        )

    def toggle_pin(self, thread_id: str) -> None:
        thread = self.chat.services.store.get_thread(thread_id)
        if thread is not None:
            self.chat.writes.write(
                lambda store: store.set_pinned(thread_id, not thread.pinned),
                lambda _: self.chat.services.registry.threads_changed.emit(),
            )
