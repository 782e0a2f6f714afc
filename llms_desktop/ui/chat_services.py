"""What a window's controllers are handed: the app's services and the window's widgets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llms_desktop import turns
from llms_desktop.providers.base import Provider
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.store.writer import Writer
from llms_desktop.ui.chat_view import ChatView
from llms_desktop.ui.composer import Composer
from llms_desktop.ui.error_banner import ErrorBanner
from llms_desktop.ui.stream_registry import StreamRegistry
from llms_desktop.ui.stream_status import StreamStatus
from llms_desktop.ui.thread_list import ThreadSidebar
from llms_desktop.ui.thread_settings import ThreadSettingsPanel

if TYPE_CHECKING:
    from llms_desktop.tools.manager import ToolManager

# Plans an exchange once its model is resolved: (store, resolved model, stream) -> Turn.
Planner = Callable[[Store, "ResolvedModel", bool], turns.Turn]


class ResolvedModel(Protocol):
    """A model id resolved to its provider (see app.Resolved)."""

    @property
    def provider(self) -> Provider: ...

    @property
    def provider_id(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def params(self) -> dict[str, Any]: ...

    @property
    def base_url(self) -> str | None: ...


class ChatServices(Protocol):
    """What the composition root hands every window."""

    store: Store
    writer: Store | Writer  # writes go here: a StoreWriter keeps them off the event loop
    settings: Settings
    registry: StreamRegistry
    providers: ProviderSetup
    data_folder: Path | None  # where the render cache lives (None: nowhere)

    async def resolve(self, model_ref: str) -> ResolvedModel:
        """The provider serving a `provider/model` id ("" for the default) and the model."""
        ...

    async def list_models(self) -> tuple[list[str], list[str]]:
        """Model ids to offer in the picker, and problems to tell the user about."""
        ...

    def fallback_model(self) -> str:
        """A model from the environment when the user chose none ("" if unset)."""
        ...

    def has_provider(self) -> bool:
        """Whether any provider is set up and enabled."""
        ...

    async def tool_manager(self) -> ToolManager | None:
        """The MCP servers (none started yet), or None when tools are not available."""
        ...


@dataclass
class WindowParts:
    """The widgets a controller drives."""

    chat_view: ChatView
    composer: Composer
    sidebar: ThreadSidebar
    banner: ErrorBanner
    status: StreamStatus
    notify: Callable[[str], None]  # a transient status-bar message
    show_welcome: Callable[[bool], None]  # the first-run page in place of the chat
    thread_settings: ThreadSettingsPanel
