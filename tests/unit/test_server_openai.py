"""The API server with real clients (the `openai` package, httpx, curl) and a loopback upstream."""

from __future__ import annotations

import asyncio
import json
import shutil
from typing import Any

import openai
import pytest

from tests.support.loopback import (
    LoopbackServer,
    Pause,
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

WORDS = ["Hel", "lo", ", wörld", " 🎉", "\n\nline two"]
USAGE = {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
COMPLETION = {
    "id": "chatcmpl-up",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "m1",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "".join(WORDS)},
            "finish_reason": "stop",
        }
    ],
    "usage": USAGE,
}


def answer(request: Any) -> Any:
    """Streams WORDS when asked to stream, else the whole COMPLETION, as a real server would."""
    if request.json().get("stream"):
        return sse_reply(text_chunks(WORDS, usage=USAGE))
    return json_reply(COMPLETION)


async def test_openai_client_streams_the_upstream_text(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
    ):
        stream = await oai.chat.completions.create(
            model="m1",
            messages=[
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi"},
            ],
            stream=True,
            stream_options={"include_usage": True},
            temperature=0.25,
            max_tokens=50,
        )
        received = [item async for item in stream]
    text = "".join(c.choices[0].delta.content or "" for c in received if c.choices)
    assert text == "".join(WORDS)
    assert received[0].choices[0].delta.role == "assistant"
    assert {c.model for c in received} == {"m1"}
    assert [c.choices[0].finish_reason for c in received if c.choices][-1] == "stop"
    assert received[-1].choices == []
    assert received[-1].usage is not None
    assert received[-1].usage.total_tokens == 12
    sent = loopback.requests[-1].json()
    assert loopback.requests[-1].path == "/v1/chat/completions"
    assert sent["model"] == "m1"
    assert sent["stream"] is True
    assert sent["temperature"] == 0.25
    assert sent["max_tokens"] == 50
    assert sent["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


async def test_openai_client_without_streaming(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
    ):
        result = await oai.chat.completions.create(
            model="up/m1", messages=[{"role": "user", "content": "hi"}]
        )
    assert result.object == "chat.completion"
    assert result.model == "up/m1"  # the id the client asked for
    assert result.choices[0].message.content == "".join(WORDS)
    assert result.choices[0].finish_reason == "stop"
    assert result.usage is not None
    assert result.usage.prompt_tokens == 7
    sent = loopback.requests[-1].json()
    assert sent["stream"] is False  # the upstream was asked as the client asked
    assert sent["model"] == "m1"


async def test_usage_chunk_only_when_asked(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        plain = await http.post("/v1/chat/completions", json=body(stream=True))
        asked = await http.post(
            "/v1/chat/completions",
            json=body(stream=True, stream_options={"include_usage": True}),
        )
    assert all("usage" not in item for item in chunks(plain.content))
    assert chunks(asked.content)[-1]["choices"] == []
    assert chunks(asked.content)[-1]["usage"]["completion_tokens"] == 5
    for response in (plain, asked):
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert events(response.content)[-1] == "[DONE]"
        assert streamed_text(response.content) == "".join(WORDS)
    # The upstream is always asked for usage; the client only gets it when it asked.
    assert loopback.requests[-2].json()["stream_options"] == {"include_usage": True}


async def test_reasoning_and_tool_calls_stream_in_openai_shape(loopback: LoopbackServer) -> None:
    calls = [
        [
            {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
        [{"index": 0, "function": {"arguments": '{"city": '}}],
        [{"index": 0, "function": {"arguments": '"Oslo"}'}}],
    ]
    loopback.handler = upstream_routes(
        sse_reply(
            [
                chunk(reasoning="Think"),
                chunk(reasoning="ing."),
                *[chunk(tool_calls=call) for call in calls],
                chunk(finish="tool_calls"),
            ]
        )
    )
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
    ):
        stream = await oai.chat.completions.create(
            model="m1", messages=[{"role": "user", "content": "weather?"}], stream=True, tools=tools
        )
        received = [item.model_dump() async for item in stream]
    deltas = [c["choices"][0]["delta"] for c in received]
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "Thinking."
    fragments = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert fragments[0]["id"] == "call_1"
    assert fragments[0]["type"] == "function"
    assert fragments[0]["function"]["name"] == "get_weather"
    assert all(f["index"] == 0 for f in fragments)
    assert "".join(f["function"]["arguments"] for f in fragments) == '{"city": "Oslo"}'
    assert received[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert loopback.requests[-1].json()["tools"] == tools


async def test_tool_messages_and_content_parts_reach_the_upstream(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer)
    messages = [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post("/v1/chat/completions", json=body(messages=messages))
    assert response.status_code == 200, response.text
    sent = loopback.requests[-1].json()["messages"]
    assert sent[0] == {"role": "system", "content": "rules"}
    assert sent[1:] == messages[1:]


async def test_deltas_are_sent_as_they_arrive(loopback: LoopbackServer) -> None:
    # The upstream sends one word, then nothing for a long time: the word must arrive now.
    loopback.handler = upstream_routes(
        sse_reply([chunk("first"), chunk("late", finish="stop")], pause=30)
    )
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
        http.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
    ):
        lines = response.aiter_lines()
        role = json.loads(await next_event(lines))
        first = json.loads(await asyncio.wait_for(next_event(lines), 5))
    assert role["choices"][0]["delta"]["role"] == "assistant"
    assert first["choices"][0]["delta"] == {"content": "first"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_streams_events_as_they_arrive(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(
        sse_reply([chunk("Hello"), chunk(" curl", finish="stop")], pause=30)
    )
    async with serving(registry_of(provider_config("up", loopback))) as server:
        curl = await asyncio.create_subprocess_exec(
            "curl", "-sSN", "-i", f"{server.base_url}/chat/completions",
            "-H", "Content-Type: application/json",
            "-d", json.dumps(body(stream=True)),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert curl.stdout is not None
        seen = b""
        try:
            while b'"content":"Hello"' not in seen:
                line = await asyncio.wait_for(curl.stdout.readline(), 5)
                assert line, seen
                seen += line
        finally:
            curl.kill()
            await curl.wait()
    head, _, stream = seen.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Type: text/event-stream" in head
    assert b"Cache-Control: no-cache" in head
    first, second = events(stream + b"\n")
    assert json.loads(first)["choices"][0]["delta"]["role"] == "assistant"
    assert json.loads(second)["choices"][0]["delta"] == {"content": "Hello"}


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_curl_whole_stream_and_non_streaming(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer)
    async with serving(registry_of(provider_config("up", loopback))) as server:
        outputs = []
        for stream in (True, False):
            curl = await asyncio.create_subprocess_exec(
                "curl", "-sSN", f"{server.base_url}/chat/completions",
                "-H", "Content-Type: application/json",
                "-d", json.dumps(body(stream=stream)),
                stdout=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, _ = await curl.communicate()
            assert curl.returncode == 0
            outputs.append(out)
    assert streamed_text(outputs[0]) == "".join(WORDS)
    assert events(outputs[0])[-1] == "[DONE]"
    assert json.loads(outputs[1])["choices"][0]["message"]["content"] == "".join(WORDS)


async def test_models_and_health(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(answer, models=["b", "a"])
    with LoopbackServer(upstream_routes(answer, models_reply=json_reply({}, 500))) as broken:
        registry = registry_of(
            provider_config("listed", loopback),
            provider_config("saved", loopback, models=["s1"]),
            provider_config("broken", broken),
            provider_config("off", loopback, models=["x"], enabled=False),
        )
        async with (
            serving(registry) as server,
            openai.AsyncOpenAI(base_url=server.base_url, api_key="unused") as oai,
            client(server) as http,
        ):
            models = [model async for model in oai.models.list()]
            one = await http.get("/v1/models/listed/a")
            health = await http.get("/health")
    assert [(m.id, m.owned_by, m.object) for m in models] == [
        ("listed/a", "listed", "model"),
        ("listed/b", "listed", "model"),
        ("saved/s1", "saved", "model"),
    ]
    assert one.json()["id"] == "listed/a"
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}


async def test_events_arriving_in_one_burst_are_all_relayed(loopback: LoopbackServer) -> None:
    # Upstreams often put many events in one TCP write; every one must still be relayed.
    reply = sse_reply(text_chunks(WORDS, usage=USAGE))
    reply.pieces = [b"".join(p for p in reply.pieces if isinstance(p, bytes))]
    loopback.handler = upstream_routes(reply)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post("/v1/chat/completions", json=body(stream=True))
    assert streamed_text(response.content) == "".join(WORDS)
    assert events(response.content)[-1] == "[DONE]"


async def test_a_silent_upstream_gets_the_response_started_and_kept_alive(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llms_desktop.server import exchange

    monkeypatch.setattr(exchange, "FIRST_BYTE_WAIT", 0.2)
    monkeypatch.setattr(exchange, "KEEPALIVE", 0.2)
    # A reasoning model thinking: headers, then nothing for a while, then the answer.
    reply = sse_reply([chunk("thought", finish="stop")])
    reply.pieces.insert(0, Pause(1.5))
    loopback.handler = upstream_routes(reply)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
        http.stream("POST", "/v1/chat/completions", json=body(stream=True)) as response,
    ):
        assert response.status_code == 200  # sent before the upstream said anything
        raw = b"".join([piece async for piece in response.aiter_bytes()])
    text = raw.decode()
    assert text.count(": keep-alive") >= 2
    assert '"role": "assistant"' in text or '"role":"assistant"' in text
    assert "thought" in text
    assert text.rstrip().endswith("data: [DONE]")
    # The official client ignores the comments and gets the text.
    loopback.handler = upstream_routes(reply)
    async with serving(registry_of(provider_config("up", loopback))) as server:
        oai = openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0)
        stream = await oai.chat.completions.create(
            model="up/m1", messages=[{"role": "user", "content": "x"}], stream=True
        )
        got = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        await oai.close()
    assert got == "thought"
