"""The API server's lifetime: client hang-ups, stop() with streams in flight, and `--store`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from llms_desktop.server import LocalServer
from llms_desktop.store import Store
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    chunk,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.support.server_harness import (
    body,
    chunks,
    client,
    events,
    next_event,
    provider_config,
    registry_of,
    serving,
    streamed_text,
    upstream_routes,
)
from tests.support.waiting import wait_until

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
# One word, then a long silence: the stream is in flight until someone ends it.
SLOW = sse_reply([chunk("first "), chunk("second", finish="stop")], pause=30)


@pytest.mark.parametrize("stream", [True, False])
async def test_client_hang_up_cancels_the_upstream_at_once(
    loopback: LoopbackServer, stream: bool
) -> None:
    loopback.handler = upstream_routes(SLOW)
    changes: list[int] = []
    registry = registry_of(provider_config("up", loopback))
    async with serving(registry, on_change=changes.append) as server:
        async with client(server) as http:
            request = http.build_request("POST", "/v1/chat/completions", json=body(stream=stream))
            sent = asyncio.create_task(http.send(request, stream=True))
            await wait_until(lambda: server.active_streams == 1)
            if stream:
                response = await sent
                lines = response.aiter_lines()
                await next_event(lines)  # the role chunk: the answer has begun
                await response.aclose()
            else:
                await wait_until(
                    lambda: any(r.path == "/v1/chat/completions" for r in loopback.requests)
                )
                sent.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await sent
        # Leaving the client closed its connection: the server notices and lets go upstream.
        await wait_until(loopback.disconnected.is_set, within=5)
        await wait_until(lambda: server.active_streams == 0, within=5)
    assert changes[0] == 1
    assert changes[-1] == 0


async def test_stop_ends_open_streams_cleanly(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(SLOW)
    registry = registry_of(provider_config("up", loopback))
    server = LocalServer(registry, port=0)
    await server.start()
    try:
        async with (
            client(server) as http,
            http.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
        ):
            lines = response.aiter_lines()
            assert json.loads(await next_event(lines))["choices"][0]["delta"]["role"]
            assert "first " in await next_event(lines)
            stopping = asyncio.create_task(server.stop())
            # The rest of the body arrives and ends properly (httpx raises on a cut body).
            rest = [line async for line in lines if line.startswith("data: ")]
            await stopping
    finally:
        await server.stop()
        await registry.aclose()
    assert len(rest) == 1
    error = json.loads(rest[0].removeprefix("data: "))["error"]
    assert error["code"] == "server_shutting_down"
    assert loopback.wait_for_disconnect(5)
    assert server.active_streams == 0
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"{server.url}/health")


async def test_stop_answers_a_waiting_non_streamed_request_with_503(
    loopback: LoopbackServer,
) -> None:
    loopback.handler = upstream_routes(SLOW)
    registry = registry_of(provider_config("up", loopback, models=["m1"]))
    server = LocalServer(registry, port=0)
    await server.start()
    try:
        async with client(server) as http:
            waiting = asyncio.create_task(http.post("/v1/chat/completions", json=body()))
            await wait_until(lambda: len(loopback.requests) == 1)  # the upstream is answering
            await server.stop()
            response = await waiting
    finally:
        await server.stop()
        await registry.aclose()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "server_shutting_down"
    assert loopback.wait_for_disconnect(5)


async def test_server_restarts_after_stop(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(sse_reply(text_chunks(["ok"])))
    registry = registry_of(provider_config("up", loopback))
    server = LocalServer(registry, port=0)
    try:
        for _ in range(2):
            await server.start()
            async with client(server) as http:
                response = await http.post("/v1/chat/completions", json=body(stream=True))
            assert streamed_text(response.content) == "ok"
            await server.stop()
            await server.stop()  # twice is harmless
    finally:
        await registry.aclose()


@pytest.mark.parametrize("stream", [True, False])
async def test_store_saves_each_exchange_as_a_thread(
    loopback: LoopbackServer, tmp_path: Path, stream: bool
) -> None:
    def reply(request: Request) -> Reply:
        if stream:
            return sse_reply(text_chunks(["The ", "answer."], usage=USAGE))
        return json_reply(
            {
                "id": "x",
                "model": "m1",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "The answer."}}
                ],
                "usage": USAGE,
            }
        )

    loopback.handler = upstream_routes(reply)
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": [{"type": "text", "text": "What is the   second question?"}]},
    ]
    store = Store.open(tmp_path / "data")
    try:
        async with (
            serving(registry_of(provider_config("up", loopback)), store=store) as server,
            client(server) as http,
        ):
            for _ in range(2):
                response = await http.post(
                    "/v1/chat/completions", json=body(messages=messages, stream=stream)
                )
                assert response.status_code == 200
            # Nothing to title a thread with: answered, not saved.
            await http.post(
                "/v1/chat/completions",
                json=body(messages=[{"role": "system", "content": "s"}], stream=stream),
            )
        threads = store.list_threads()
        assert len(threads) == 2
        thread = threads[0]
        assert thread.title == "What is the second question?"
        assert (thread.provider, thread.model, thread.system_prompt) == ("up", "m1", "be brief")
        saved = store.messages(thread.id)
        assert [(m.role, m.content, m.status) for m in saved] == [
            ("user", "first question", "complete"),
            ("assistant", "first answer", "complete"),
            ("user", "What is the   second question?", "complete"),
            ("assistant", "The answer.", "complete"),
        ]
        assert saved[-1].prompt_tokens == 3
        assert saved[-1].completion_tokens == 2
        assert not saved[-1].tokens_estimated
    finally:
        store.close()


async def test_store_keeps_a_cut_stream_as_cancelled(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = upstream_routes(SLOW)
    store = Store.open(tmp_path / "data")
    try:
        async with serving(registry_of(provider_config("up", loopback)), store=store) as server:
            async with (
                client(server) as http,
                http.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
            ):
                lines = response.aiter_lines()
                await next_event(lines)
                await next_event(lines)
            await wait_until(lambda: server.active_streams == 0, within=5)
        (thread,) = store.list_threads()
        answer = store.messages(thread.id)[-1]
        assert (answer.role, answer.content, answer.status) == ("assistant", "first ", "cancelled")
    finally:
        store.close()


async def test_concurrent_streams_all_complete(loopback: LoopbackServer) -> None:
    words = [f"w{i} " for i in range(20)]
    loopback.handler = upstream_routes(sse_reply(text_chunks(words), pause=0.001))
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server, limits=httpx.Limits(max_connections=30)) as http,
    ):
        responses = await asyncio.gather(
            *(http.post("/v1/chat/completions", json=body(stream=True)) for _ in range(30))
        )
    for response in responses:
        assert streamed_text(response.content) == "".join(words)
        assert events(response.content)[-1] == "[DONE]"
        assert len({c["id"] for c in chunks(response.content)}) == 1
