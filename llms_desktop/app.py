"""Composition root: what the windows share (store, settings, providers); no Qt imported here."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop.providers.base import MODEL_ENV
from llms_desktop.settings import Settings

if TYPE_CHECKING:
    from llms_desktop.providers.base import Provider
    from llms_desktop.providers.setup import ProviderSetup
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer
    from llms_desktop.tools.manager import ToolManager
    from llms_desktop.ui.stream_registry import StreamRegistry


@dataclass(frozen=True)
class Resolved:
    """A model id resolved to the provider that serves it."""

    provider: Provider
    provider_id: str
    model: str
    params: dict[str, Any]
    base_url: str | None = None  # where the provider lives (a local server may title chats)


class AppServices:
    """What every window shares: the store (read here, written through `writer`, off the event
    loop), settings, live answers and providers."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        registry: StreamRegistry,
        providers: ProviderSetup,
        writer: Writer | None = None,
        data_folder: Path | None = None,
    ) -> None:
        self.store = store
        self.writer: Store | Writer = store if writer is None else writer
        self.settings = settings
        self.registry = registry
        self.providers = providers
        self.data_folder = data_folder
        self._tools: ToolManager | None = None
        self._tools_lock = asyncio.Lock()

    async def tool_manager(self) -> ToolManager | None:
        """The MCP servers of mcp.json (read off the event loop; none start here), or None
        without a data folder. Asked for when the Tools page opens and when a message is
        sent: a file changed outside since (`tools add`) is read again. Raises ConfigError
        for an unreadable mcp.json."""
        if self.data_folder is None:
            return None
        async with self._tools_lock:
            if self._tools is None:
                from llms_desktop.tools.manager import ToolManager

                self._tools = await asyncio.to_thread(ToolManager.in_folder, self.data_folder)
                return self._tools
        await self._tools.refresh()
        return self._tools

    async def resolve(self, model_ref: str) -> Resolved:
        """The provider for a `provider/model` id (or a bare one), and the model to ask for.

        Routed by the one resolver the CLI and the API server use too; with no model chosen,
        the provider's first listed model is used.
        """
        registry = self.providers.registry
        route = await registry.resolver.resolve(model_ref)
        model = route.model or await registry.resolver.first_model(
            route.config,
            "type a model id in the model box, or set a default model in Preferences",
        )
        provider = await registry.provider(route.config)
        return Resolved(
            provider, route.config.id, model, dict(route.config.params), route.config.base_url
        )

    async def list_models(self) -> tuple[list[str], list[str]]:
        """Model ids (`provider/model`) for the picker, and problems worth telling the user."""
        return await self.providers.registry.model_refs()

    def fallback_model(self) -> str:
        return os.environ.get(MODEL_ENV, "")

    def has_provider(self) -> bool:
        """Whether any provider is set up and enabled (else the window shows its welcome)."""
        return bool(self.providers.registry.enabled)

    async def aclose(self) -> None:
        await self.providers.registry.aclose()
        if self._tools is not None:
            await self._tools.aclose()


def main_gui(data_dir: str | None) -> int:
    """Entry used by __main__ when no command is given: the Qt side lives in ui/application."""
    from llms_desktop.ui.application import run_gui

    return run_gui(data_dir, quit_after_show=bool(os.environ.get("LLMS_DESKTOP_QUIT_AFTER_SHOW")))
