"""Pick an ad-hoc provider connection from flags, then the environment, then OpenAI."""

from __future__ import annotations

import os
from dataclasses import dataclass

from llms_desktop import errors
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import DEFAULT_BASE_URL, OpenAICompatProvider


@dataclass(frozen=True, slots=True)
class Connection:
    """Where an OpenAI-compatible provider lives and how to authenticate."""

    base_url: str
    api_key: str | None


def resolve_connection(base_url: str | None, api_key: str | None) -> Connection:
    """Flags win, then OPENAI_BASE_URL / OPENAI_API_KEY, then OpenAI's public endpoint."""
    url = base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
    if not url.startswith(("http://", "https://")):
        raise errors.ConfigError(f"The base URL must start with http:// or https://, got {url!r}.")
    key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
    return Connection(base_url=url.rstrip("/"), api_key=key or None)


def open_provider(connection: Connection, timeouts: Timeouts) -> OpenAICompatProvider:
    """An OpenAI-compatible provider for a resolved connection."""
    return OpenAICompatProvider(connection.base_url, connection.api_key, timeouts=timeouts)
