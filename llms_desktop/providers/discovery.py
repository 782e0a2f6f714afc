"""Find model servers already running on this computer: GET /v1/models on their usual ports."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.providers.presets import preset

if TYPE_CHECKING:
    import httpx

PROBE_TIMEOUT = 0.6  # seconds per server; a local server answers /models in milliseconds


@dataclass(frozen=True)
class LocalServerKind:
    """A local server's name, the port it listens on by default and its preset (if any)."""

    name: str
    port: int
    preset_id: str


KNOWN_SERVERS: tuple[LocalServerKind, ...] = (
    LocalServerKind("Ollama", 11434, "ollama"),
    LocalServerKind("LM Studio", 1234, "lmstudio"),
    LocalServerKind("llama.cpp", 8080, "llamacpp"),
    LocalServerKind("vLLM", 8000, "vllm"),
    LocalServerKind("Jan", 1337, "jan"),
)


@dataclass(frozen=True)
class FoundServer:
    """A server that answered: where, its models, and whether it wants an API key first."""

    kind: LocalServerKind
    base_url: str
    models: tuple[str, ...]
    needs_key: bool = False

    def config(self) -> ProviderConfig:
        """Provider settings for it (models left empty: they are listed afresh each start)."""
        known = preset(self.kind.preset_id)
        return ProviderConfig(
            id=self.kind.preset_id,
            type=OPENAI_COMPATIBLE,
            name=self.kind.name,
            base_url=self.base_url,
            api_key_env=known.api_key_env if known else None,
        )


async def find_local_servers(
    kinds: Sequence[LocalServerKind] = KNOWN_SERVERS,
    *,
    host: str = "127.0.0.1",
    probe_timeout: float = PROBE_TIMEOUT,
) -> list[FoundServer]:
    """The servers among `kinds` that answer on `host`, probed all at once, in `kinds` order."""
    import httpx  # here, not at import: the window's first frame does not need it

    async with httpx.AsyncClient(
        timeout=probe_timeout,
        trust_env=False,  # never through a proxy: these are this computer's ports
    ) as client:
        results = await asyncio.gather(*(_probe(client, host, kind) for kind in kinds))
    return [found for found in results if found is not None]


async def _probe(client: httpx.AsyncClient, host: str, kind: LocalServerKind) -> FoundServer | None:
    import httpx

    base_url = f"http://{host}:{kind.port}/v1"
    try:
        response = await client.get(f"{base_url}/models")
    except httpx.HTTPError:
        return None  # nothing listens, or it is too slow to be the server we look for
    if response.status_code in (401, 403):
        return FoundServer(kind, base_url, (), needs_key=True)
    if response.status_code != 200:
        return None
    try:
        listing = response.json()
    except ValueError:
        return None
    data = listing.get("data") if isinstance(listing, dict) else None
    if not isinstance(data, list):
        return None  # some other web server on that port
    models = tuple(
        str(item["id"]) for item in data if isinstance(item, dict) and item.get("id") is not None
    )
    return FoundServer(kind, base_url, models)
