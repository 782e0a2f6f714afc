"""The API server under hostile or careless clients: half-open connections, floods, slow or
deep bodies, wrong tokens; and what it adds for clients (estimated usage, Retry-After)."""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import openai
import pytest

from llms_desktop.server import LocalServer
from tests.support.loopback import LoopbackServer, json_reply, sse_reply, text_chunks
from tests.support.server_cli import ServeProcess
from tests.support.server_harness import (
    body,
    chunks,
    client,
    provider_config,
    registry_of,
    serving,
    streamed_text,
    upstream_routes,
)
from tests.support.waiting import wait_until

OK = sse_reply(text_chunks(["ok"]))
PARTIAL_HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: a"


@asynccontextmanager
async def raw_connections(
    server: LocalServer, count: int, first_bytes: bytes = b""
) -> AsyncIterator[list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]:
    """`count` connections that send `first_bytes` (maybe nothing) and then say no more."""
    opened = []
    try:
        for _ in range(count):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            if first_bytes:
                writer.write(first_bytes)
                await writer.drain()
            opened.append((reader, writer))
        yield opened
    finally:
        for _, writer in opened:
            writer.close()


async def closed_by_server(reader: asyncio.StreamReader, within: float = 10.0) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except (TimeoutError, ConnectionError):
        return False


# -- header timeout and the connection cap ----------------------------------------------------


async def test_connections_without_a_request_head_are_dropped(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    async with (
        serving(registry_of(provider_config("up", loopback)), head_timeout=0.5) as server,
        raw_connections(server, 10) as silent,
        raw_connections(server, 10, PARTIAL_HEAD) as partial,
    ):
        results = await asyncio.gather(
            *(closed_by_server(reader) for reader, _ in [*silent, *partial])
        )
        assert all(results)
        # A client that speaks in time is answered as ever.
        async with client(server) as http:
            assert (await http.get("/health")).status_code == 200


async def test_a_flood_of_half_open_connections_leaves_room_for_real_requests(
    loopback: LoopbackServer,
) -> None:
    loopback.handler = upstream_routes(OK)
    registry = registry_of(provider_config("up", loopback))
    async with (
        serving(registry, head_timeout=60, max_connections=20) as server,
        raw_connections(server, 200, PARTIAL_HEAD),
    ):
        guard = server.connections
        assert guard is not None
        await wait_until(lambda: guard.open <= 20 and guard.dropped >= 180)
        async with client(server) as http:
            assert (await http.get("/health")).status_code == 200
            response = await http.post("/v1/chat/completions", json=body("m1"))
            assert response.status_code == 200, response.text
        assert guard.open <= 20
        assert guard.refused == 0


async def test_when_every_connection_is_busy_a_newcomer_gets_503(loopback: LoopbackServer) -> None:
    slow = sse_reply(text_chunks(["slow"]), pause=30)
    loopback.handler = upstream_routes(slow)
    registry = registry_of(provider_config("up", loopback))
    async with serving(registry, max_connections=2) as server:
        clients = [client(server) for _ in range(2)]
        try:
            streams = [
                asyncio.create_task(c.post("/v1/chat/completions", json=body("m1", stream=True)))
                for c in clients
            ]
            await wait_until(lambda: server.active_streams == 2)
            async with client(server) as extra:
                refused = await extra.get("/health")
            assert refused.status_code == 503
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "too_many_connections"
            for task in streams:
                task.cancel()
            await asyncio.gather(*streams, return_exceptions=True)
        finally:
            for c in clients:
                await c.aclose()


@contextmanager
def half_open(port: int, count: int) -> Iterator[list[socket.socket]]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(PARTIAL_HEAD)
            sockets.append(sock)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def test_serve_under_a_low_open_file_limit_still_answers_health(loopback: LoopbackServer) -> None:
    # The case, scaled down: `serve` with 256 descriptors, 400 half-open connections.
    loopback.handler = upstream_routes(OK)

    def limit_descriptors() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    process = ServeProcess(["--base-url", loopback.base_url], preexec_fn=limit_descriptors)
    try:
        process.wait_listening()
        port = int(process.base_url.rsplit(":", 1)[1].split("/")[0])
        with half_open(port, 400):
            health = httpx.get(f"{process.base_url.removesuffix('/v1')}/health", timeout=10)
            assert health.status_code == 200
            answer = httpx.post(f"{process.base_url}/chat/completions", json=body("m1"), timeout=10)
            assert answer.status_code == 200, answer.text
    finally:
        stderr = process.finish()
    assert "Traceback" not in stderr
    assert "Too many open files" not in stderr


# -- tokens and bodies ------------------------------------------------------------------------


async def test_a_wrong_token_is_refused_before_the_body_arrives(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    registry = registry_of(provider_config("up", loopback))
    async with serving(registry, api_key="right") as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            # A 10 MB body announced, none of it sent: the answer must not wait for it.
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer wrong\r\nContent-Type: application/json\r\n"
                b"Content-Length: 10000000\r\n\r\n"
            )
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 10)
            assert status_line.startswith(b"HTTP/1.1 401")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            assert b"Connection: close" in head
        finally:
            writer.close()
    assert not any(r.path.endswith("/chat/completions") for r in loopback.requests)


async def test_deeply_nested_json_is_400_without_a_traceback(
    loopback: LoopbackServer, caplog: pytest.LogCaptureFixture
) -> None:
    loopback.handler = upstream_routes(OK)
    deep = b'{"model": "m1", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with caplog.at_level(logging.WARNING):
        async with (
            serving(registry_of(provider_config("up", loopback))) as server,
            client(server) as http,
        ):
            response = await http.post(
                "/v1/chat/completions",
                content=deep,
                headers={"Content-Type": "application/json"},
            )
    assert response.status_code == 400, response.text
    assert "nested too deeply" in response.json()["error"]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text


async def test_a_body_that_never_arrives_is_408(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llms_desktop.server import app

    monkeypatch.setattr(app, "BODY_TIMEOUT", 0.3)
    loopback.handler = upstream_routes(OK)
    async with serving(registry_of(provider_config("up", loopback))) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            )
            await writer.drain()
            status_line = await asyncio.wait_for(reader.readline(), 10)
        finally:
            writer.close()
    assert status_line.startswith(b"HTTP/1.1 408")


# -- what the server adds for its clients -----------------------------------------------------


async def test_usage_is_estimated_and_marked_when_the_upstream_sends_none(
    loopback: LoopbackServer,
) -> None:
    words = ["four ", "score ", "and ", "seven"]
    loopback.handler = upstream_routes(
        lambda r: (
            sse_reply(text_chunks(words))
            if r.json()["stream"]
            else json_reply(
                {
                    "choices": [
                        {
                            "index": 0,
                            "message": {"content": "".join(words)},
                            "finish_reason": "stop",
                        }
                    ]
                }
            )
        )
    )
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
    ):
        raw = await http.post(
            "/v1/chat/completions",
            json=body("m1", stream=True, stream_options={"include_usage": True}),
        )
        stream = await oai.chat.completions.create(
            model="m1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        parsed = [item async for item in stream]
        whole = await http.post("/v1/chat/completions", json=body("m1"))
    last = chunks(raw.content)[-1]
    assert last["choices"] == []
    assert last["usage_estimated"] is True
    answer_tokens = (len("".join(words)) + 3) // 4
    assert last["usage"]["completion_tokens"] == answer_tokens
    assert last["usage"]["prompt_tokens"] >= 1
    assert streamed_text(raw.content) == "".join(words)
    # The openai package reads it as ordinary usage.
    assert parsed[-1].usage is not None
    assert parsed[-1].usage.completion_tokens == answer_tokens
    completion = whole.json()
    assert completion["usage"]["completion_tokens"] == answer_tokens
    assert completion["usage_estimated"] is True


async def test_the_upstreams_usage_is_passed_unmarked(loopback: LoopbackServer) -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    loopback.handler = upstream_routes(sse_reply(text_chunks(["ok"], usage=usage)))
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        raw = await http.post(
            "/v1/chat/completions",
            json=body("m1", stream=True, stream_options={"include_usage": True}),
        )
    last = chunks(raw.content)[-1]
    assert last["usage"] == usage
    assert "usage_estimated" not in last


async def test_an_upstream_retry_after_reaches_the_client(loopback: LoopbackServer) -> None:
    limited = json_reply({"error": {"message": "Slow down"}}, status=429)
    limited.headers.append(("Retry-After", "9"))
    loopback.handler = upstream_routes(limited)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post("/v1/chat/completions", json=body("m1"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "9"
    assert response.json()["error"]["message"] == "Slow down"
