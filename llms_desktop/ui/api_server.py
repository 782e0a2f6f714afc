"""The local API server inside the app: started, stopped and re-bound as its settings change."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from llms_desktop import errors
from llms_desktop import settings as keys
from llms_desktop.settings import Settings

if TYPE_CHECKING:
    from llms_desktop.providers.registry import ProviderRegistry
    from llms_desktop.server.local import LocalServer
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer


class ApiServerController(QObject):
    """Runs one LocalServer on the app's (qasync) loop when "Local API server" is on; its
    exchanges are saved as threads only when "Save API server exchanges" is on too.

    Signals:
        state_changed(str): a one-line description for the status bar ("" when off).
        exchange_ended(): a request through the server finished (it may have saved a thread).
    """

    state_changed = Signal(str)
    exchange_ended = Signal()

    def __init__(
        self, settings: Settings, registry: ProviderRegistry, store: Store | Writer | None = None
    ) -> None:
        super().__init__()
        self._settings = settings
        self._registry = registry
        self._store = store
        self._server: LocalServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._active = 0
        self.state = ""
        self._unsubscribe = settings.subscribe(self._on_setting_changed)

    @property
    def server(self) -> LocalServer | None:
        return self._server

    def apply(self) -> None:
        """Bring the server in line with the settings (in the background)."""
        previous = self._task
        self._task = asyncio.get_running_loop().create_task(self._apply(previous))

    async def wait(self) -> None:
        """Until the last apply() has finished (tests, shutdown)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def stop(self) -> None:
        """Stop serving (app shutdown)."""
        self._unsubscribe()
        await self.wait()
        await self._stop_server()

    async def _apply(self, previous: asyncio.Task[None] | None) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        wanted = self._settings.server_enabled
        port = self._settings.server_port
        store = self._store if self._settings.server_store else None
        server = self._server
        if server is not None and (not wanted or server.port != port or server.store is not store):
            await self._stop_server()
        if not wanted:
            self._set_state("")
            return
        if self._server is not None:
            return
        from llms_desktop.server.local import LocalServer

        server = LocalServer(
            self._registry, store=store, port=port, on_change=self._on_streams_changed
        )
        try:
            await server.start()
        except errors.LlmsDesktopError as exc:
            self._set_state(f"API server off: {exc}")
            return
        self._server = server
        self._show_running()

    async def _stop_server(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    def _on_streams_changed(self, active: int) -> None:
        ended = active < self._active
        self._active = active
        self._show_running()
        if ended:
            self.exchange_ended.emit()

    def _show_running(self) -> None:
        if self._server is None:
            return
        busy = f" · {self._active} streaming" if self._active else ""
        self._set_state(f"API server: {self._server.base_url}{busy}")

    def _set_state(self, text: str) -> None:
        self.state = text
        self.state_changed.emit(text)

    def _on_setting_changed(self, key: str) -> None:
        if key in (keys.SERVER_ENABLED.key, keys.SERVER_PORT.key, keys.SERVER_STORE.key):
            self.apply()
