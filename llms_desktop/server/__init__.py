"""The local OpenAI-compatible API server (aiohttp): `/v1/chat/completions`, `/v1/models`."""

from llms_desktop.server.app import DEFAULT_MAX_BODY, create_app
from llms_desktop.server.local import DEFAULT_HOST, DEFAULT_PORT, LocalServer

__all__ = ["DEFAULT_HOST", "DEFAULT_MAX_BODY", "DEFAULT_PORT", "LocalServer", "create_app"]
