"""The OpenAI-compatible provider against a real loopback server sending exact bytes."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import httpx
import pytest

from llms_desktop import errors
from llms_desktop.accumulate import accumulate, accumulate_async
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.types import (
    ChatMessage,
    ChatRequest,
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from tests.support.loopback import (
    LoopbackServer,
    Pause,
    Reply,
    chunk,
    fixture_reply,
    json_reply,
    split_pieces,
    sse_reply,
    text_chunks,
)

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def request(stream: bool = True, **params: Any) -> ChatRequest:
    return ChatRequest(
        model="test-model",
        messages=(ChatMessage("system", "be brief"), ChatMessage("user", "hi")),
        stream=stream,
        params=params,
    )


async def collect(
    provider: OpenAICompatProvider, req: ChatRequest, into: list[Delta] | None = None
) -> list[Delta]:
    seen = [] if into is None else into
    async for delta in provider.stream(req):
        seen.append(delta)
    return seen


def text_of(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


@pytest.fixture
def provider(loopback: LoopbackServer) -> OpenAICompatProvider:
    return OpenAICompatProvider(loopback.base_url, "sk-test", timeouts=Timeouts(read=5))


async def test_streams_text_usage_and_finish(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["Hel", "lo", " there"], usage=USAGE))
    deltas = await collect(provider, request(temperature=0.2))
    assert text_of(deltas) == "Hello there"
    assert Finish("stop") in deltas
    usage = [d for d in deltas if isinstance(d, Usage)]
    assert usage[-1].prompt_tokens == 5
    assert usage[-1].completion_tokens == 3
    sent = loopback.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-test"
    body = sent.json()
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    await provider.aclose()


@pytest.mark.parametrize("line_end", ["\n", "\r", "\r\n"])
@pytest.mark.parametrize(
    "fixture", ["llama_server_stream.txt", "llama_server_stream_include_usage.txt"]
)
async def test_llama_server_captures_with_any_line_end_and_splits(
    loopback: LoopbackServer, provider: OpenAICompatProvider, line_end: str, fixture: str
) -> None:
    whole = fixture_reply(fixture)
    raw = b"".join(p for p in whole.pieces if isinstance(p, bytes))
    expected = ""
    for line in raw.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                expected += choice["delta"].get("content") or ""
    assert expected
    for cuts in ([], [1, 7, 100, 101, 102], list(range(3, len(raw), 97))):
        loopback.handler = lambda r, cuts=cuts: split_pieces(
            fixture_reply(fixture, line_end=line_end), cuts
        )
        deltas = await collect(provider, request())
        assert text_of(deltas) == expected
    await provider.aclose()


async def test_final_usage_chunk_with_empty_choices(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: fixture_reply("llama_server_stream_include_usage.txt")
    completion = await accumulate_async(provider.stream(request()))
    assert completion["usage"]["completion_tokens"] > 0
    assert completion["choices"][0]["finish_reason"]
    await provider.aclose()


async def test_stream_without_done_but_with_finish_is_complete(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["a", "b"]), done=False)
    assert text_of(await collect(provider, request())) == "ab"
    await provider.aclose()


async def test_stream_cut_before_finish_is_reported_early_end(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply([chunk("partial")], done=False)
    seen: list[Delta] = []
    with pytest.raises(errors.StreamEndedEarly):
        await collect(provider, request(), seen)
    assert text_of(seen) == "partial"
    await provider.aclose()


async def test_server_dying_mid_stream_is_connection_lost(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def handler(r: Any) -> Reply:
        reply = sse_reply([chunk("partial")], done=False)
        reply.abort = True
        return reply

    loopback.handler = handler
    with pytest.raises(errors.ConnectionLost):
        await collect(provider, request())
    await provider.aclose()


async def test_ping_comments_and_keepalives_are_ignored(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply(
        text_chunks(["x", "y"]), prefix=b": ping\n\n: OPENROUTER PROCESSING\n\n"
    )
    assert text_of(await collect(provider, request())) == "xy"
    await provider.aclose()


async def test_empty_event_stream_is_an_error_not_an_empty_answer(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: Reply(headers=[("Content-Type", "text/event-stream")])
    with pytest.raises(errors.ProtocolError, match="before sending any data"):
        await collect(provider, request())
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[b": ping\n\n"]
    )
    with pytest.raises(errors.ProtocolError, match="before sending any data"):
        await collect(provider, request())
    await provider.aclose()


async def test_error_event_mid_stream_raises_with_provider_message(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
        b'event: error\ndata: {"error":{"message":"model overloaded","code":503}}\n\n'
    )
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[body]
    )
    seen: list[Delta] = []
    with pytest.raises(errors.StreamError, match="model overloaded") as info:
        await collect(provider, request(), seen)
    assert info.value.status == 503
    assert text_of(seen) == "Hi"
    await provider.aclose()


async def test_error_payload_mid_stream_raises(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply(
        [chunk("Hi"), {"error": {"message": "Rate limit reached", "code": 429}}], done=False
    )
    with pytest.raises(errors.StreamError, match="Rate limit reached"):
        await collect(provider, request())
    await provider.aclose()


async def test_extra_fields_like_llama_timings_are_tolerated(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    chunks = text_chunks(["ok"])
    for item in chunks:
        item["timings"] = {"predicted_ms": 12.5}
    loopback.handler = lambda r: sse_reply(chunks)
    assert text_of(await collect(provider, request())) == "ok"
    await provider.aclose()


async def test_reasoning_under_each_alias(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    for key in ("reasoning_content", "reasoning", "thinking"):
        chunks = [
            {"choices": [{"index": 0, "delta": {key: "think "}}]},
            {"choices": [{"index": 0, "delta": {key: "hard"}}]},
            chunk("answer", finish="stop"),
        ]
        loopback.handler = lambda r, chunks=chunks: sse_reply(chunks)
        deltas = await collect(provider, request())
        assert "".join(d.text for d in deltas if isinstance(d, ReasoningDelta)) == "think hard"
        assert text_of(deltas) == "answer"
    await provider.aclose()


async def test_tool_call_fragments_assemble_by_index(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def call(index: int, **fields: Any) -> dict[str, Any]:
        function = {k: v for k, v in fields.items() if k in ("name", "arguments")}
        out: dict[str, Any] = {"index": index, "function": function}
        if "id" in fields:
            out.update(id=fields["id"], type="function")
        return out

    chunks = [
        chunk(tool_calls=[call(0, id="call_a", name="weather", arguments="")]),
        chunk(tool_calls=[call(1, id="call_b", name="time", arguments='{"tz":')]),
        chunk(tool_calls=[call(0, arguments='{"city":')]),
        chunk(tool_calls=[call(0, arguments=' "Paris"}')]),
        chunk(tool_calls=[call(1, arguments=' "UTC"}')]),
        chunk(finish="tool_calls"),
    ]
    loopback.handler = lambda r: sse_reply(chunks)
    completion = accumulate(await collect(provider, request()))
    message = completion["choices"][0]["message"]
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert message["content"] is None
    assert message["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        },
        {
            "id": "call_b",
            "type": "function",
            "function": {"name": "time", "arguments": '{"tz": "UTC"}'},
        },
    ]
    await provider.aclose()


async def test_any_finish_reason_string_is_accepted(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: sse_reply([chunk("x"), chunk(finish="content_filter_custom")])
    assert Finish("content_filter_custom") in await collect(provider, request())
    await provider.aclose()


async def test_non_streaming_yields_the_same_delta_types(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: fixture_reply("llama_server_nonstream.txt")
    deltas = await collect(provider, request(stream=False))
    body = loopback.requests[0].json()
    assert body["stream"] is False
    assert "stream_options" not in body
    assert text_of(deltas).startswith("What is the capital of France?")
    assert Finish("length") in deltas
    assert any(isinstance(d, Usage) and d.completion_tokens == 40 for d in deltas)
    await provider.aclose()


async def test_server_ignoring_stream_true_and_sending_json_still_works(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: json_reply(
        {
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "whole"},
                    "finish_reason": "stop",
                }
            ]
        }
    )
    assert text_of(await collect(provider, request())) == "whole"
    await provider.aclose()


@pytest.mark.parametrize(
    ("reply", "status", "message", "kind"),
    [
        (
            fixture_reply("llama_server_401_wrong_key.txt"),
            401,
            "Invalid API Key",
            errors.AuthenticationError,
        ),
        (
            fixture_reply("llama_server_bad_context_overflow_stream.txt"),
            400,
            "exceeds the available context size",
            errors.HTTPStatusError,
        ),
        (
            json_reply({"message": "model 'x' not found"}, status=404),
            404,
            "model 'x' not found",
            errors.NotFoundError,
        ),
        (
            json_reply({"error": "quota exceeded"}, status=429),
            429,
            "quota exceeded",
            errors.RateLimitError,
        ),
        (
            Reply(
                status=502,
                headers=[("Content-Type", "text/html")],
                pieces=[
                    b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
                ],
                framing="length",
            ),
            502,
            "502 Bad Gateway",
            errors.ServerError,
        ),
        (
            Reply(
                status=500,
                headers=[("Content-Type", "text/plain")],
                pieces=[b"upstream exploded\n"],
                framing="length",
            ),
            500,
            "upstream exploded",
            errors.ServerError,
        ),
        (Reply(status=503, framing="length"), 503, "Service Unavailable", errors.ServerError),
    ],
)
async def test_http_errors_carry_status_and_provider_message(
    loopback: LoopbackServer,
    provider: OpenAICompatProvider,
    reply: Reply,
    status: int,
    message: str,
    kind: type[errors.HTTPStatusError],
) -> None:
    loopback.handler = lambda r: reply
    with pytest.raises(kind) as info:
        await collect(provider, request())
    assert info.value.status == status
    assert message in info.value.provider_message
    assert str(info.value).startswith(f"HTTP {status}: ")
    await provider.aclose()


async def test_list_models(loopback: LoopbackServer, provider: OpenAICompatProvider) -> None:
    loopback.handler = lambda r: fixture_reply("llama_server_models.txt")
    assert [m.id for m in await provider.list_models()] == ["gemma-3-270m"]
    assert loopback.requests[0].path == "/v1/models"
    await provider.aclose()


async def test_cancelling_the_consumer_closes_the_connection_at_once(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    pieces: list[bytes | Pause] = []
    for i in range(300):
        pieces += [f"data: {json.dumps(chunk(f'w{i} '))}\n\n".encode(), Pause(0.1)]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=pieces
    )
    first = asyncio.Event()

    async def consume() -> None:
        async for delta in provider.stream(request()):
            if isinstance(delta, TextDelta):
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The server would keep sending for 30 s; it sees the hang-up instead.
    assert await asyncio.to_thread(loopback.wait_for_disconnect, 5)
    await provider.aclose()


async def test_idle_read_timeout(loopback: LoopbackServer) -> None:
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")],
        pieces=[f"data: {json.dumps(chunk('a'))}\n\n".encode(), Pause(3)],
    )
    provider = OpenAICompatProvider(loopback.base_url, timeouts=Timeouts(read=0.3))
    with pytest.raises(errors.ReadTimeout, match="read timeout"):
        await collect(provider, request())
    await provider.aclose()


async def test_a_finished_answer_whose_server_then_stalls_is_complete(
    loopback: LoopbackServer,
) -> None:
    # finish_reason and usage, then neither [DONE] nor the end of the body.
    events = [chunk("all "), chunk("done", finish="stop"), chunk(usage=USAGE, no_choices=True)]
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")],
        pieces=[*(f"data: {json.dumps(e)}\n\n".encode() for e in events), Pause(30)],
    )
    provider = OpenAICompatProvider(loopback.base_url, timeouts=Timeouts(read=0.3))
    deltas = await collect(provider, request())
    assert text_of(deltas) == "all done"
    assert [d for d in deltas if isinstance(d, Finish | Usage)] == [Finish("stop"), Usage(5, 3, 8)]
    # We hung up: the stalled connection is not kept for the next request.
    assert await asyncio.to_thread(loopback.wait_for_disconnect, 5)
    # [DONE] without a finish_reason is still an answer that ended early (issue 17).
    loopback.handler = lambda r: sse_reply([chunk("cut")])
    with pytest.raises(errors.StreamEndedEarly, match=r"\[DONE\]"):
        await collect(provider, request())
    await provider.aclose()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused() -> None:
    provider = OpenAICompatProvider(f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(errors.ConnectionRefused, match="Connection refused"):
        await collect(provider, request())
    await provider.aclose()


async def test_dns_failure() -> None:
    provider = OpenAICompatProvider("http://no-such-host.invalid/v1")
    with pytest.raises(errors.DNSFailure, match="resolve"):
        await collect(provider, request())
    await provider.aclose()


async def test_connect_timeout() -> None:
    # A listening socket whose backlog is full never completes new handshakes.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    try:
        port = server.getsockname()[1]
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        provider = OpenAICompatProvider(
            f"http://127.0.0.1:{port}/v1", timeouts=Timeouts(connect=0.3, read=5)
        )
        with pytest.raises((errors.ConnectTimeout, errors.ConnectionLost, errors.ReadTimeout)):
            await collect(provider, request())
        await provider.aclose()
    finally:
        for filler in fillers:
            filler.close()
        server.close()


async def test_connect_timeout_is_mapped_from_httpx() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    provider = OpenAICompatProvider(
        "http://example.test/v1",
        transport=httpx.MockTransport(refuse),
        timeouts=Timeouts(connect=3),
    )
    with pytest.raises(errors.ConnectTimeout, match="within 3 s"):
        await collect(provider, request())
    await provider.aclose()


async def test_tls_failure() -> None:
    # A server that answers a TLS ClientHello with plain text fails the handshake.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer_plain_text() -> None:
        conn, _ = server.accept()
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer_plain_text, daemon=True)
    thread.start()
    provider = OpenAICompatProvider(f"https://127.0.0.1:{server.getsockname()[1]}/v1")
    try:
        with pytest.raises(errors.TLSFailure, match="TLS"):
            await collect(provider, request())
    finally:
        await provider.aclose()
        thread.join(5)
        server.close()


async def test_a_server_rejecting_stream_options_is_asked_again_without(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def handler(request: Any) -> Reply:
        if "stream_options" in request.json():
            return json_reply(
                {
                    "detail": [
                        {
                            "loc": ["body", "stream_options"],
                            "msg": "Extra inputs are not permitted: stream_options",
                        }
                    ]
                },
                status=422,
            )
        return sse_reply(text_chunks(["fine"]))

    loopback.handler = handler
    assert text_of(await collect(provider, request())) == "fine"
    assert text_of(await collect(provider, request())) == "fine"
    # The second request went straight to the form the server accepts.
    assert ["stream_options" in r.json() for r in loopback.requests] == [True, False, False]
    await provider.aclose()


async def test_an_event_stream_labelled_text_plain_is_still_read_as_events(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def handler(request: Any) -> Reply:
        reply = sse_reply(text_chunks(["plain ", "label"]))
        reply.headers = [("Content-Type", "text/plain; charset=utf-8")]
        return reply

    loopback.handler = handler
    assert text_of(await collect(provider, request())) == "plain label"
    await provider.aclose()


async def test_a_character_split_into_json_surrogate_escapes_is_joined(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    body = (
        b'data: {"choices":[{"index":0,"delta":{"content":"smile \\ud83d"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"\\ude00 ok"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":" lone \\udc00"},'
        b'"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[body]
    )
    text = text_of(await collect(provider, request()))
    assert text == "smile 😀 ok lone \ufffd"
    text.encode("utf-8")  # storable and printable
    await provider.aclose()
