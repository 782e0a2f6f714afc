"""A provider replaced by a new key or timeout closes its connections once its answers end."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.secrets import KeyStore
from llms_desktop.types import ChatMessage, ChatRequest, TextDelta
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.support.waiting import wait_until

REQUEST = ChatRequest(model="m", messages=(ChatMessage("user", "hi"),))


async def answer(provider: object) -> str:
    stream = provider.stream(REQUEST)  # type: ignore[attr-defined]
    async with contextlib.aclosing(stream) as deltas:
        return "".join([d.text async for d in deltas if isinstance(d, TextDelta)])


async def test_a_new_key_replaces_the_provider_and_the_old_one_closes_after_its_answer(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    keys = KeyStore(tmp_path / "keys.json", backend=False)
    keys.set("local", "sk-old")
    config = ProviderConfig(
        id="local", type="openai-compatible", name="Local", base_url=loopback.base_url
    )
    timeout = [30]
    registry = ProviderRegistry(
        [config], keys, env={}, timeouts=lambda: Timeouts.from_single(timeout[0])
    )

    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "m"}]})  # read whole: its connection is pooled
        return sse_reply(text_chunks([f"w{i} " for i in range(20)]), pause=0.05)

    loopback.handler = handler
    try:
        old = await registry.provider(config)
        assert await registry.provider(config) is old  # reused while nothing changed
        streaming = asyncio.create_task(answer(old))
        await wait_until(lambda: len(loopback.requests) == 1)
        await old.list_models()  # a second connection, kept alive in the old pool
        assert loopback.open_connections == 2

        keys.set("local", "sk-new")
        new = await registry.provider(config)
        assert new is not old
        # The answer in progress on the old provider is not cut off...
        assert loopback.open_connections == 2
        assert (await streaming).split() == [f"w{i}" for i in range(20)]
        assert loopback.requests[0].headers["authorization"] == "Bearer sk-old"
        # ...and then its pooled connection is closed; the new key is used from now on.
        await wait_until(lambda: loopback.open_connections == 0, within=5)
        await new.list_models()
        assert loopback.requests[-1].headers["authorization"] == "Bearer sk-new"
        assert loopback.open_connections == 1

        timeout[0] = 60  # a new timeout in Preferences replaces it the same way
        newer = await registry.provider(config)
        assert newer is not new
        await wait_until(lambda: loopback.open_connections == 0, within=5)
    finally:
        await registry.aclose()
