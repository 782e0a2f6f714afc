"""The AI Refinery provider: the real airefinery-sdk against a loopback server sending bytes."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from llms_desktop import errors
from llms_desktop.accumulate import accumulate
from llms_desktop.providers.airefinery import (
    DEFAULT_BASE_URL,
    LEGACY_BASE_URL,
    AIRefineryProvider,
    prepare_sdk_environment,
)
from llms_desktop.providers.airefinery_errors import map_sdk_error
from llms_desktop.providers.base import Provider, Timeouts
from llms_desktop.types import (
    ChatMessage,
    ChatRequest,
    Delta,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from tests.support import air_server
from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, json_reply

ROOT = Path(__file__).resolve().parents[2]


def request(stream: bool = True, **params: Any) -> ChatRequest:
    return ChatRequest(
        model="air-test",
        messages=(ChatMessage("system", "be brief"), ChatMessage("user", "hi")),
        stream=stream,
        params=params,
    )


async def collect(
    provider: AIRefineryProvider, req: ChatRequest, into: list[Delta] | None = None
) -> list[Delta]:
    seen = [] if into is None else into
    async for delta in provider.stream(req):
        seen.append(delta)
    return seen


def text_of(deltas: list[Delta]) -> str:
    return "".join(d.text for d in deltas if isinstance(d, TextDelta))


@pytest.fixture
def provider(loopback: LoopbackServer) -> AIRefineryProvider:
    # The SDK's base URL has no /v1: it appends /v1/chat/completions itself.
    return AIRefineryProvider(loopback.url, "air-key", timeouts=Timeouts(read=5))


def test_it_is_a_provider(provider: AIRefineryProvider) -> None:
    assert isinstance(provider, Provider)
    assert provider.id == "airefinery"


async def test_streams_text_usage_and_finish_through_the_sdk(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.answer(["Hel", "lo", " there"])
    deltas = await collect(provider, request(temperature=0.2))
    assert text_of(deltas) == "Hello there"
    assert Finish("stop") in deltas
    usage = [d for d in deltas if isinstance(d, Usage)]
    assert [(u.prompt_tokens, u.completion_tokens, u.total_tokens) for u in usage] == [(12, 3, 15)]
    sent = loopback.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer air-key"
    assert sent.headers["sdk_version"]  # the SDK's own header: the request went through it
    body = sent.json()
    assert body["model"] == "air-test"
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2
    assert body["messages"] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]


async def test_a_ping_comment_ends_the_sdk_stream_and_is_reported_as_early_end(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.answer(["partial", " answer"], ping_after=1)
    seen: list[Delta] = []
    with pytest.raises(errors.StreamEndedEarly, match="before the model finished") as info:
        await collect(provider, request(), seen)
    assert text_of(seen) == "partial"
    assert info.value.details is not None
    assert ": ping" in info.value.details


async def test_a_ping_before_any_chunk_is_an_early_end_not_an_empty_answer(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.event_stream(air_server.PING, chunk("never seen"))
    with pytest.raises(errors.StreamEndedEarly, match="before sending any answer"):
        await collect(provider, request())


@pytest.mark.parametrize(
    "reply",
    [
        air_server.answer(["cut"], finish=None, usage=None),  # [DONE] but no finish_reason
        air_server.answer(["cut"], finish=None, usage=None, done=False),  # body just ends
    ],
)
async def test_a_stream_without_finish_reason_is_an_early_end(
    loopback: LoopbackServer, provider: AIRefineryProvider, reply: Reply
) -> None:
    loopback.handler = lambda r: reply
    seen: list[Delta] = []
    with pytest.raises(errors.StreamEndedEarly):
        await collect(provider, request(), seen)
    assert text_of(seen) == "cut"


async def test_a_stream_with_finish_but_no_done_is_complete(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.answer(["a", "b"], done=False)
    assert text_of(await collect(provider, request())) == "ab"


async def test_streamed_tool_calls_assemble(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    first = {"index": 0, "id": "call_1", "type": "function"}
    first["function"] = {"name": "weather", "arguments": '{"city":'}
    loopback.handler = lambda r: air_server.event_stream(
        chunk(tool_calls=[first]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": ' "Paris"}'}}]),
        chunk(finish="tool_calls"),
        b"data: [DONE]\n\n",
    )
    completion = accumulate(await collect(provider, request(tools=[{"type": "function"}])))
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["choices"][0]["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
        }
    ]
    assert loopback.requests[0].json()["tools"] == [{"type": "function"}]


async def test_streamed_reasoning_is_dropped_by_the_sdk_but_the_answer_survives(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    # airefinery-sdk 1.33.2's ChoiceDelta has no reasoning field and ignores extra keys. If a
    # new SDK keeps it, this fails: then map it to ReasoningDelta and flip the assertion.
    loopback.handler = lambda r: air_server.event_stream(
        chunk(reasoning="thinking hard"),
        chunk("answer", finish="stop"),
        b"data: [DONE]\n\n",
    )
    deltas = await collect(provider, request())
    assert text_of(deltas) == "answer"
    assert not [d for d in deltas if isinstance(d, ReasoningDelta)]


async def test_non_streaming_yields_the_same_delta_types_and_keeps_reasoning(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.completion(
        "The whole answer.", reasoning="Thought first.", finish="length"
    )
    deltas = await collect(provider, request(stream=False, max_tokens=20))
    body = loopback.requests[0].json()
    assert body["stream"] is False
    assert "stream_options" not in body
    assert body["max_tokens"] == 20
    assert text_of(deltas) == "The whole answer."
    assert ReasoningDelta("Thought first.") in deltas
    assert Finish("length") in deltas
    assert any(isinstance(d, Usage) and d.total_tokens == 15 for d in deltas)


async def test_non_streaming_answer_that_is_not_json_is_a_protocol_error(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/html")], pieces=[b"<html>login</html>"], framing="length"
    )
    with pytest.raises(errors.ProtocolError, match="text/html instead of JSON"):
        await collect(provider, request(stream=False))


async def test_non_streaming_answer_without_choices_is_a_protocol_error(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    payload = {"id": "x", "object": "chat.completion", "created": 1, "model": "m", "choices": []}
    loopback.handler = lambda r: json_reply(payload)
    with pytest.raises(errors.ProtocolError, match="without any choices"):
        await collect(provider, request(stream=False))


@pytest.mark.parametrize(
    ("status", "kind", "words"),
    [
        (401, errors.AuthenticationError, "AIREFINERY_API_KEY or Settings > Providers"),
        (403, errors.AuthenticationError, "Forbidden"),
        (404, errors.NotFoundError, "base URL (without /v1)"),
        (429, errors.RateLimitError, "rate limit reached) (retry in 7 s)"),
        (400, errors.HTTPStatusError, "Bad Request"),
        (500, errors.ServerError, "Internal Server Error"),
        (503, errors.ServerError, "Service Unavailable (retry in 7 s)"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
async def test_http_errors_keep_their_status(
    loopback: LoopbackServer,
    provider: AIRefineryProvider,
    status: int,
    kind: type[errors.HTTPStatusError],
    words: str,
    stream: bool,
) -> None:
    loopback.handler = lambda r: air_server.error(
        status, "the provider's words", headers=[("Retry-After", "7")]
    )
    with pytest.raises(kind) as info:
        await collect(provider, request(stream=stream))
    assert type(info.value) is kind
    assert info.value.status == status
    assert str(info.value).startswith(f"HTTP {status}: ")
    assert words in str(info.value)
    assert info.value.url == provider.chat_url
    assert info.value.retry_after == 7


async def test_error_event_mid_stream_carries_the_provider_message(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.event_stream(
        chunk("Hi"), b'event: error\ndata: {"error":{"message":"model overloaded","code":503}}\n\n'
    )
    seen: list[Delta] = []
    with pytest.raises(errors.StreamError, match="model overloaded") as info:
        await collect(provider, request(), seen)
    assert info.value.status == 503
    assert text_of(seen) == "Hi"


async def test_error_payload_mid_stream_carries_the_provider_message(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.event_stream(
        chunk("Hi"), {"error": {"message": "Rate limit reached", "code": 429, "ok": True}}
    )
    with pytest.raises(errors.StreamError, match="Rate limit reached") as info:
        await collect(provider, request())
    assert info.value.status == 429


@pytest.mark.parametrize(
    ("piece", "words"),
    [
        # The SDK's chunk model only admits OpenAI's five finish reasons.
        (json.dumps(chunk(finish="abort")).encode(), "choices.0.finish_reason"),
        (b'{"choices": []}', "id: Field required"),
        (b"{not json", "cannot read"),
    ],
)
async def test_chunks_the_sdk_rejects_are_protocol_errors(
    loopback: LoopbackServer, provider: AIRefineryProvider, piece: bytes, words: str
) -> None:
    loopback.handler = lambda r: air_server.event_stream(chunk("x"), b"data: " + piece + b"\n\n")
    with pytest.raises(errors.ProtocolError, match=words):
        await collect(provider, request())


async def test_server_dying_mid_stream_is_connection_lost(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    def handler(r: Any) -> Reply:
        reply = air_server.answer(["partial"], finish=None, usage=None, done=False)
        reply.abort = True
        return reply

    loopback.handler = handler
    with pytest.raises(errors.ConnectionLost):
        await collect(provider, request())


async def test_cancelling_the_consumer_closes_the_connection_at_once(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.endless()
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
    assert await asyncio.to_thread(loopback.wait_for_disconnect, 2)


async def test_closing_the_stream_early_closes_the_connection(
    loopback: LoopbackServer, provider: AIRefineryProvider
) -> None:
    loopback.handler = lambda r: air_server.endless()
    stream = provider.stream(request())
    async for delta in stream:
        if isinstance(delta, TextDelta):
            break
    await stream.aclose()
    assert await asyncio.to_thread(loopback.wait_for_disconnect, 2)


async def test_idle_read_timeout_hangs_up(loopback: LoopbackServer) -> None:
    loopback.handler = lambda r: air_server.event_stream(chunk("a"), Pause(3))
    provider = AIRefineryProvider(loopback.url, "k", timeouts=Timeouts(read=0.3))
    seen: list[Delta] = []
    with pytest.raises(errors.ReadTimeout, match=r"sent nothing for 0\.3 s"):
        await collect(provider, request(), seen)
    assert text_of(seen) == "a"
    assert await asyncio.to_thread(loopback.wait_for_disconnect, 2)


async def test_the_read_timeout_also_bounds_the_wait_for_the_first_chunk(
    loopback: LoopbackServer,
) -> None:
    loopback.handler = lambda r: air_server.event_stream(Pause(3), chunk("late"))
    provider = AIRefineryProvider(loopback.url, "k", timeouts=Timeouts(read=0.3))
    with pytest.raises(errors.ReadTimeout):
        await collect(provider, request())


async def test_non_streaming_read_timeout(loopback: LoopbackServer) -> None:
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "application/json")], pieces=[Pause(3), b"{}"]
    )
    provider = AIRefineryProvider(loopback.url, "k", timeouts=Timeouts(read=0.3))
    with pytest.raises(errors.ReadTimeout, match=r"within 0\.3 s \(read timeout\)"):
        await collect(provider, request(stream=False))


def test_the_sdk_fixed_idle_timeout_is_a_read_timeout_naming_its_limit() -> None:
    # The exception _stream_async_chunks raises after 65 s of silence (too slow to provoke).
    sdk_error = TimeoutError("SSE idle timeout (> 65.0s) without data")
    mapped = map_sdk_error(sdk_error, "http://air.test/v1/chat/completions", Timeouts())
    assert isinstance(mapped, errors.ReadTimeout)
    assert "sent nothing for 65 s" in str(mapped)


def test_bugs_are_not_mapped() -> None:
    assert map_sdk_error(KeyError("x"), "http://air.test", Timeouts()) is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_connection_refused() -> None:
    provider = AIRefineryProvider(f"http://127.0.0.1:{_free_port()}", "k")
    with pytest.raises(errors.ConnectionRefused, match="Connection refused"):
        await collect(provider, request())
    with pytest.raises(errors.ConnectionRefused):
        await provider.list_models()


async def test_list_models(loopback: LoopbackServer, provider: AIRefineryProvider) -> None:
    loopback.handler = lambda r: air_server.models("openai/gpt-oss-120b", "meta-llama/Llama-3")
    models = await provider.list_models()
    assert [(m.id, m.owned_by) for m in models] == [
        ("meta-llama/Llama-3", "AIRefinery"),
        ("openai/gpt-oss-120b", "AIRefinery"),
    ]
    sent = loopback.requests[0]
    assert (sent.method, sent.path) == ("GET", "/v1/models")
    assert sent.headers["authorization"] == "Bearer air-key"


async def test_list_models_errors(loopback: LoopbackServer, provider: AIRefineryProvider) -> None:
    loopback.handler = lambda r: air_server.error(401, "bad key")
    with pytest.raises(errors.AuthenticationError) as info:
        await provider.list_models()
    assert info.value.url == provider.models_url
    # A bare OpenAI-style list lacks the fields the SDK's Model type requires.
    loopback.handler = lambda r: json_reply({"object": "list", "data": [{"id": "m"}]})
    with pytest.raises(errors.ProtocolError, match=r"data\.0\.created"):
        await provider.list_models()


def test_missing_key_names_the_variable_and_the_settings_page() -> None:
    with pytest.raises(errors.ConfigError) as info:
        AIRefineryProvider("http://air.test")
    assert "AIREFINERY_API_KEY" in str(info.value)
    assert "Settings > Providers" in str(info.value)


async def test_key_and_base_url_from_the_environment(
    loopback: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIREFINERY_API_KEY", "from-env")
    monkeypatch.setenv("AIR_BASE_URL", loopback.url + "/")
    provider = AIRefineryProvider()
    assert provider.base_url == loopback.url
    loopback.handler = lambda r: air_server.answer(["ok"])
    assert text_of(await collect(provider, request())) == "ok"
    assert loopback.requests[0].headers["authorization"] == "Bearer from-env"


def test_base_url_defaults_like_the_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("USE_LEGACY_API_URL", raising=False)
    assert AIRefineryProvider(api_key="k").base_url == DEFAULT_BASE_URL
    monkeypatch.setenv("USE_LEGACY_API_URL", "true")
    assert AIRefineryProvider(api_key="k").base_url == LEGACY_BASE_URL
    # A pasted OpenAI-style ".../v1" would make the SDK call /v1/v1/chat/completions.
    assert AIRefineryProvider("https://air.test/v1/", "k").chat_url == (
        "https://air.test/v1/chat/completions"
    )
    with pytest.raises(errors.ConfigError, match="http:// or https://"):
        AIRefineryProvider("air.test", "k")


def test_sdk_environment_is_set_only_where_the_user_has_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIR_SILENT")
    monkeypatch.delenv("AIR_CACHE_DIR")
    prepare_sdk_environment(tmp_path / "cache")
    assert os.environ["AIR_SILENT"] == "1"
    assert os.environ["AIR_CACHE_DIR"] == str(tmp_path / "cache")
    monkeypatch.setenv("AIR_SILENT", "0")
    monkeypatch.setenv("AIR_CACHE_DIR", "/chosen")
    prepare_sdk_environment(tmp_path / "other")
    assert (os.environ["AIR_SILENT"], os.environ["AIR_CACHE_DIR"]) == ("0", "/chosen")


FIRST_USE = textwrap.dedent(
    """
    import asyncio, sys, time
    from llms_desktop import errors
    from llms_desktop.providers.airefinery import AIRefineryProvider

    async def main():
        provider = AIRefineryProvider("http://127.0.0.1:%d", "k")
        assert "air" not in sys.modules, "constructing the provider imported the SDK"
        gaps, done = [0.0], asyncio.Event()

        async def tick():
            last = time.perf_counter()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0.02)
        started = time.perf_counter()
        try:
            await provider.list_models()
        except errors.ConnectionRefused:
            pass
        done.set()
        await ticker
        print("air" in sys.modules, time.perf_counter() - started, max(gaps))

    asyncio.run(main())
    """
)


@pytest.mark.timing  # measures event-loop gaps: runs alone
def test_first_use_imports_the_sdk_off_the_loop_silently_and_outside_the_cwd(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIR_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg-cache")
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-c", FIRST_USE % _free_port()],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded, took, worst_gap = result.stdout.splitlines()[-1].split()
    assert loaded == "True"
    assert "AUTHORIZED ACCESS" not in result.stdout + result.stderr  # the SDK's banner
    assert not (tmp_path / ".air").exists()
    assert (tmp_path / "xdg-cache" / "llms-desktop" / "airefinery" / "tokens").is_dir()
    # Importing pandas and numpy takes most of a second: on the loop, one gap would be that long.
    assert float(worst_gap) < float(took) / 2


async def test_dns_failure() -> None:
    provider = AIRefineryProvider("http://no-such-host.invalid", "k")
    with pytest.raises(errors.DNSFailure, match="resolve"):
        await collect(provider, request())


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
    provider = AIRefineryProvider(f"https://127.0.0.1:{server.getsockname()[1]}", "k")
    try:
        with pytest.raises(errors.TLSFailure, match="TLS"):
            await collect(provider, request())
    finally:
        thread.join(5)
        server.close()
