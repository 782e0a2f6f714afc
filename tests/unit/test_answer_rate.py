"""Tokens per second of an answer that streamed; none for one that arrived in one burst."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llms_desktop import turns
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.types import Message
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, sse_reply

TOKENS = 2_000
USAGE = {"prompt_tokens": 5, "completion_tokens": TOKENS, "total_tokens": TOKENS + 5}


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    provider = OpenAICompatProvider(loopback.base_url, timeouts=Timeouts(read=10))
    yield provider
    await provider.aclose()


@pytest.fixture
def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.open(tmp_path / "data")
    yield store
    store.close()


async def ask(provider: OpenAICompatProvider, store: Store, stream: bool) -> Message:
    turn = turns.plan_send(
        store, thread_id=None, text="count", model="m", provider_id="p", stream=stream
    )
    return await ChatSession(provider, store).run(turn)


def whole_rate(message: Message) -> float:
    assert message.completion_tokens is not None
    assert message.duration_ms
    return message.completion_tokens / (message.duration_ms / 1000)


async def test_a_non_streamed_answer_has_no_rate(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    completion = {
        "choices": [{"index": 0, "message": {"content": "tok " * TOKENS}, "finish_reason": "stop"}],
        "usage": USAGE,
    }
    body = json.dumps(completion).encode()
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "application/json")],
        pieces=[Pause(0.3), body],
        framing="length",
    )
    message = await ask(provider, store, stream=False)
    assert message.completion_tokens == TOKENS
    assert message.tokens_per_second is None
    # The stored answer reads back the same (the window and exports use that one).
    stored = store.get_message(message.id)
    assert stored is not None
    assert stored.tokens_per_second is None


async def test_a_stream_a_proxy_buffered_into_one_burst_has_no_rate(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    events = [chunk("tok " * 10) for _ in range(TOKENS // 10)]
    events.append(chunk(finish="stop", usage=USAGE))
    burst = sse_reply(events)
    body = b"".join(piece for piece in burst.pieces if isinstance(piece, bytes))
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[Pause(0.3), body]
    )
    message = await ask(provider, store, stream=True)
    assert message.tokens_per_second is None


async def test_a_paced_stream_is_rated_over_its_generation_time(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store
) -> None:
    usage = {"prompt_tokens": 5, "completion_tokens": 10, "total_tokens": 15}
    events = [chunk("tok ") for _ in range(10)]
    events.append(chunk(finish="stop", usage=usage))
    reply = sse_reply(events, pause=0.03)
    reply.pieces.insert(0, Pause(0.3))
    loopback.handler = lambda r: reply
    message = await ask(provider, store, stream=True)
    assert message.ttft_ms is not None
    assert message.duration_ms is not None
    generating = (message.duration_ms - message.ttft_ms) / 1000
    assert message.tokens_per_second == pytest.approx(10 / generating)
    assert message.tokens_per_second > whole_rate(message)
