"""Which model a window sends to: the picker, the model picked last, the lists to offer."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject

from llms_desktop import errors
from llms_desktop import settings as keys
from llms_desktop.ui.chat_services import ChatServices, WindowParts


class ModelChoice(QObject):
    """The model picker's contents and the model a message goes to."""

    def __init__(
        self, services: ChatServices, parts: WindowParts, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.parts = parts
        self._task: asyncio.Task[None] | None = None
        self._running = False  # the event loop runs: tasks can be made
        self._wanted = False  # the user has reached for the list (or typed a prompt)

    def chosen(self) -> str:
        """The model to send to: the picker's, else the one remembered."""
        return self.parts.composer.model or self.remembered()

    def remembered(self) -> str:
        """The model picked last (in any window, before a restart too), else the default."""
        settings = self.services.settings
        return (
            settings.get(keys.LAST_MODEL)
            or settings.default_model
            or self.services.fallback_model()
        )

    def choose(self, model: str) -> None:
        """The user picked a model: remember it for the next window and the next start."""
        model = model.strip()
        if model:
            self.services.settings.set(keys.LAST_MODEL, model)

    def start(self) -> None:
        """The event loop runs; list the models now if the user already wants them."""
        self._running = True
        if self._wanted:
            self.refresh()

    def want(self) -> None:
        """The user typed a prompt or reached for the picker: list the models, once.

        Not at start-up: opening the window sends nothing to any provider, and httpx, its
        TLS context and the request (about 11 MB and 30 ms) wait until the list can matter.
        The picker shows the model picked last meanwhile, and a message goes to it.
        """
        if self._wanted:
            return
        self._wanted = True
        if self._running:
            self.refresh()

    def refresh(self, *, force: bool = False) -> None:
        """Ask the providers for their models in the background; the picker fills when done."""
        if self._task is not None and not self._task.done():
            if not force:
                return
            self._task.cancel()
        self._task = asyncio.get_running_loop().create_task(self._load())

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _load(self) -> None:
        composer = self.parts.composer
        try:
            models, problems = await self.services.list_models()
        except errors.LlmsDesktopError as exc:
            models, problems = [], [str(exc)]
        if problems:
            self.parts.notify(f"Could not list models: {'; '.join(problems)}")
        # Read the choice after the wait: the user may have picked a model meanwhile.
        current = composer.model or self.remembered()
        composer.set_models(models, current or (models[0] if models else ""))
