"""This chat's settings (system prompt, parameters): shown in the panel, saved with the thread."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from llms_desktop.types import Thread

if TYPE_CHECKING:
    from llms_desktop.ui.chat_controller import ChatController


class ChatSettings(QObject):
    """Keeps the Chat Settings panel and the open thread's saved settings in step.

    A new chat starts from Preferences' defaults; its thread is created with the panel's values
    when it is first sent. A saved chat writes every change through the window's writer.
    """

    def __init__(self, chat: ChatController) -> None:
        super().__init__(chat)
        self.chat = chat

    def show_draft(self) -> None:
        """Preferences' defaults, for a new chat."""
        settings = self.chat.services.settings
        self.chat.parts.thread_settings.show_settings(
            settings.system_prompt or None, settings.default_params()
        )

    def show(self, thread: Thread) -> None:
        """A saved chat's own values."""
        self.chat.parts.thread_settings.show_settings(thread.system_prompt, thread.params)

    def flush(self) -> None:
        """Save now a system prompt still being typed (before the chat changes)."""
        self.chat.parts.thread_settings.flush()

    def current(self) -> tuple[str, dict[str, Any]]:
        """The system prompt and parameters as the panel shows them (what the next message
        goes with)."""
        panel = self.chat.parts.thread_settings
        panel.flush()
        return panel.system_edit.toPlainText().strip(), panel.params()

    def edit(self, system_prompt: str, params: Mapping[str, Any]) -> None:
        """The user changed the system prompt or parameters; a saved chat keeps them."""
        thread_id = self.chat.thread_id
        if thread_id is None:
            return  # a new chat is created with the panel's values when first sent
        thread = self.chat.services.store.get_thread(thread_id)
        if thread is None:
            return
        self.chat.writes.write(
            lambda store: store.update_thread_settings(
                thread_id,
                model=thread.model,
                provider=thread.provider,
                system_prompt=system_prompt or None,
                params=dict(params),
            )
        )

    def reset(self) -> None:
        """Preferences' defaults for this chat's system prompt and parameters."""
        self.show_draft()
        self.edit(*self.current())
