"""After an answer: what its provider noticed on the way, and a title for a new chat."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from llms_desktop import errors, titles, turns
from llms_desktop.store import Store
from llms_desktop.types import Message
from llms_desktop.ui.chat_services import ResolvedModel

if TYPE_CHECKING:
    from llms_desktop.ui.chat_controller import ChatController


class AfterAnswer(QObject):
    """Says the provider's notices (a redirect it followed) and names new chats.

    A new chat on a model Preferences allows to be asked (by default: a local one) is titled by
    the model after its first answer; if that fails the first words stay.
    """

    def __init__(self, chat: ChatController) -> None:
        super().__init__(chat)
        self.chat = chat
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, turn: turns.Turn, resolved: ResolvedModel, answer: Message) -> None:
        for notice in getattr(resolved.provider, "notices", ()):
            self.chat.parts.notify(f"Note: {notice}")
        new_chat = turn.thread_id is None and bool(turn.user_text) and bool(answer.content)
        setting = self.chat.services.settings.auto_title
        if new_chat and titles.should_ask(setting, resolved.base_url):
            task = asyncio.get_running_loop().create_task(
                self._title(answer.thread_id, turn, answer.content, resolved)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _title(
        self, thread_id: str, turn: turns.Turn, answer: str, resolved: ResolvedModel
    ) -> None:
        question = turn.user_text or ""
        try:
            title = await titles.ask_title(resolved.provider, resolved.model, question, answer)
        except errors.LlmsDesktopError:
            return
        if not title:
            return

        def rename(store: Store) -> bool:
            # Only the first-words title is replaced: not a name the user gave it meanwhile,
            # nor a chat deleted meanwhile.
            thread = store.get_thread(thread_id)
            if thread is None or thread.title != turn.title:
                return False
            store.rename_thread(thread_id, title)
            return True

        self.chat.writes.write(
            rename, lambda renamed: self.chat.threads.renamed(thread_id) if renamed else None
        )
