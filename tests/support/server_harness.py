"""The API server in-process on port 0, in front of a loopback upstream, and SSE helpers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx

from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.server import LocalServer
from tests.support.loopback import LoopbackServer, Reply, Request, json_reply

ChatReply = Reply | Callable[[Request], Reply]


def upstream_routes(
    chat: ChatReply, models: Sequence[str] = ("m1",), *, models_reply: Reply | None = None
) -> Callable[[Request], Reply]:
    """A loopback handler: `GET /models` lists `models`, anything else gets `chat`."""

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return models_reply or json_reply(
                {"object": "list", "data": [{"id": model} for model in models]}
            )
        return chat(request) if callable(chat) else chat

    return handler


def provider_config(
    provider_id: str, loopback: LoopbackServer, models: Sequence[str] = (), **extra: Any
) -> ProviderConfig:
    """An OpenAI-compatible provider at a loopback server (saved `models` when given)."""
    return ProviderConfig(
        id=provider_id,
        type=OPENAI_COMPATIBLE,
        name=provider_id,
        base_url=loopback.base_url,
        models=tuple(models),
        **extra,
    ).validated()


def registry_of(*configs: ProviderConfig, read_timeout: float = 10.0) -> ProviderRegistry:
    """A registry of exactly these providers: no environment, no keychain."""
    return ProviderRegistry(
        list(configs), None, env={}, timeouts=lambda: Timeouts(read=read_timeout)
    )


@asynccontextmanager
async def serving(registry: ProviderRegistry, **options: Any) -> AsyncIterator[LocalServer]:
    """A started LocalServer on a free port; stopped (and the registry closed) afterwards."""
    server = LocalServer(registry, port=0, **options)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
        await registry.aclose()


def body(model: str = "m1", *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    """A chat completion request body with one user message."""
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": stream,
        **extra,
    }


def events(raw: bytes) -> list[str]:
    """The `data:` payloads of an event stream, checking each event is `data: ...\\n\\n`."""
    text = raw.decode()
    assert text.endswith("\n\n"), text[-200:]
    out = []
    for block in text.split("\n\n")[:-1]:
        assert block.startswith("data: "), block
        assert "\n" not in block, block
        out.append(block.removeprefix("data: "))
    return out


def chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of an event stream (without `[DONE]`)."""
    return [json.loads(data) for data in events(raw) if data != "[DONE]"]


def streamed_text(raw: bytes) -> str:
    return "".join(
        choice["delta"].get("content") or ""
        for chunk in chunks(raw)
        for choice in chunk.get("choices", [])
    )


async def next_event(lines: AsyncIterator[str]) -> str:
    """The next `data:` payload from a streaming httpx response's lines."""
    async for line in lines:
        if line.startswith("data: "):
            return line.removeprefix("data: ")
    raise AssertionError("the stream ended")


def client(server: LocalServer, **options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, timeout=10, **options)
