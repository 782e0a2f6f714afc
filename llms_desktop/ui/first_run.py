"""First run: look for local model servers in the background, add the provider the user picks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Signal

from llms_desktop import errors
from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.discovery import FoundServer, LocalServerKind, find_local_servers
from llms_desktop.providers.presets import preset
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.ui.providers_page import with_free_id
from llms_desktop.ui.welcome_page import WelcomePage


class FirstRun(QObject):
    """Drives the WelcomePage: probes for local servers and adds what the user chooses.

    Signals:
        provider_added(str, bool): a provider was saved (its id), and whether it needs a key.
        failed(str): a provider could not be added (why, for the user).
    """

    provider_added = Signal(str, bool)
    failed = Signal(str)

    def __init__(
        self,
        setup: ProviderSetup,
        page: WelcomePage,
        kinds: Sequence[LocalServerKind],
        own_port: Callable[[], int | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._setup = setup
        self._page = page
        self._kinds = tuple(kinds)
        self._own_port = own_port
        self._task: asyncio.Task[None] | None = None
        self._connect_signals()

    def _connect_signals(self) -> None:
        self._page.preset_chosen.connect(self._on_preset_chosen)
        self._page.server_chosen.connect(self._on_server_chosen)
        self._page.look_again_requested.connect(self.look)

    @property
    def looking(self) -> bool:
        return self._task is not None and not self._task.done()

    def look(self) -> None:
        """Probe the usual ports on this computer (needs the running loop; never blocks)."""
        self.stop()
        # The app's own API server is no model server to add.
        own = self._own_port()
        kinds = [kind for kind in self._kinds if kind.port != own]
        self._page.show_searching(kinds)
        self._task = asyncio.get_running_loop().create_task(self._look(kinds))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _look(self, kinds: list[LocalServerKind]) -> None:
        found = await find_local_servers(kinds)
        self._page.show_found(found, kinds)

    def _on_preset_chosen(self, preset_id: str) -> None:
        chosen = preset(preset_id)
        if chosen is not None:
            self._add(chosen.config(), needs_key=chosen.needs_key)

    def _on_server_chosen(self, server: FoundServer) -> None:
        self._add(server.config(), needs_key=server.needs_key)

    def _add(self, config: ProviderConfig, *, needs_key: bool) -> None:
        config = with_free_id(config, {p.id for p in self._setup.registry.all})
        try:
            self._setup.add(config)
        except errors.ConfigError as exc:
            self.failed.emit(str(exc))
            return
        self.stop()
        self.provider_added.emit(config.id, needs_key)
