"""The OpenAI-compatible provider against what real servers and proxies send when things go odd.

Each case is a loopback server sending the raw bytes: llama-cpp-python's [DONE] with no
finish_reason, web pages where the API should be, redirects, Retry-After, llms.py's error shape,
bytes that are not UTF-8, JSON nested too deeply, a TLS peer that never answers.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest

from llms_desktop import errors
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.error_mapping import retry_after
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.types import ChatMessage, ChatRequest, Delta, TextDelta
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    chunk,
    json_reply,
    sse_reply,
    text_chunks,
)

HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Open WebUI</title></head>"
    b"<body><div id='app'></div></body></html>"
)


def request(stream: bool = True) -> ChatRequest:
    return ChatRequest(model="m", messages=(ChatMessage("user", "hi"),), stream=stream)


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
async def provider(loopback: LoopbackServer) -> Any:
    provider = OpenAICompatProvider(loopback.base_url, "sk-test", timeouts=Timeouts(read=5))
    yield provider
    await provider.aclose()


def page(content_type: str | None, body: bytes = HTML_PAGE, status: int = 200) -> Reply:
    headers = [("Content-Type", content_type)] if content_type else []
    return Reply(status=status, headers=headers, pieces=[body], framing="length")


# -- the end of a stream ----------------------------------------------------------------------


async def test_done_without_finish_reason_is_an_early_end_with_the_text_kept(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    # What llama-cpp-python sends when a second request interrupts the first one's stream.
    loopback.handler = lambda r: sse_reply([chunk("half an"), chunk(" answer")], done=True)
    seen: list[Delta] = []
    with pytest.raises(errors.StreamEndedEarly, match=r"\[DONE\].*no finish_reason"):
        await collect(provider, request(), seen)
    assert text_of(seen) == "half an answer"


async def test_done_after_a_finish_reason_is_complete(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    loopback.handler = lambda r: sse_reply(text_chunks(["a", "b"], usage=usage))
    assert text_of(await collect(provider, request())) == "ab"


# -- web pages and other content types --------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", None, "text/plain"])
@pytest.mark.parametrize("stream", [True, False])
async def test_a_200_web_page_is_named_and_the_base_url_questioned(
    loopback: LoopbackServer,
    provider: OpenAICompatProvider,
    content_type: str | None,
    stream: bool,
) -> None:
    loopback.handler = lambda r: page(content_type)
    with pytest.raises(errors.ProtocolError) as info:
        await collect(provider, request(stream))
    message = str(info.value)
    assert "returned an HTML page ('Open WebUI')" in message
    assert "does the base URL end in /v1?" in message
    assert "b'" not in message  # no Python bytes repr


async def test_a_web_page_instead_of_the_model_list_is_named(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: page("text/html")
    with pytest.raises(errors.ProtocolError, match=r"HTML page.*end in /v1"):
        await provider.list_models()


async def test_a_body_that_is_neither_json_nor_events_names_its_content_type(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: page("application/xml", b"<?xml version='1.0'?><ok/>")
    with pytest.raises(errors.ProtocolError) as info:
        await collect(provider, request(stream=False))
    assert "answered with application/xml, not JSON or an event stream" in str(info.value)
    loopback.handler = lambda r: page("text/plain", b"")
    with pytest.raises(errors.ProtocolError, match=r"text/plain.*an empty body"):
        await collect(provider, request(stream=True))


# -- bytes that are not UTF-8, JSON nested too deeply -----------------------------------------


async def test_invalid_utf8_is_replaced_alike_with_and_without_streaming(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    bad = b"caf\xe9 \xff ok"
    whole = (
        b'{"choices":[{"index":0,"message":{"role":"assistant","content":"'
        + bad
        + b'"},"finish_reason":"stop"}]}'
    )
    loopback.handler = lambda r: page("application/json", whole)
    unstreamed = text_of(await collect(provider, request(stream=False)))
    events = (
        b'data: {"choices":[{"index":0,"delta":{"content":"'
        + bad
        + b'"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[events]
    )
    streamed = text_of(await collect(provider, request(stream=True)))
    assert unstreamed == streamed == "caf\ufffd \ufffd ok"


async def test_json_nested_too_deeply_is_a_protocol_error_not_a_bug(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    loopback.handler = lambda r: page("application/json", deep)
    with pytest.raises(errors.ProtocolError, match="nested too deeply"):
        await collect(provider, request(stream=False))
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/event-stream")], pieces=[b"data: " + deep + b"\n\n"]
    )
    with pytest.raises(errors.ProtocolError, match="nested too deeply"):
        await collect(provider, request(stream=True))  # the same words streamed or not


# -- error shapes and Retry-After -------------------------------------------------------------


async def test_llms_py_response_status_is_unwrapped(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    body = {"responseStatus": {"errorCode": "ArgumentException", "message": "Model not found"}}
    loopback.handler = lambda r: json_reply(body, status=400)
    with pytest.raises(errors.HTTPStatusError) as info:
        await collect(provider, request())
    assert str(info.value) == "HTTP 400: Model not found"
    loopback.handler = lambda r: json_reply(body, status=200)
    with pytest.raises(errors.StreamError, match="Model not found"):
        await collect(provider, request(stream=False))


async def test_openrouter_upstream_words_are_shown_with_its_name(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    # OpenRouter's documented shape: "message" is always there; the reason is in metadata.raw.
    raw = json.dumps({"error": {"message": "max_tokens is too large for this model"}})
    body = {
        "error": {
            "message": "Provider returned error",
            "code": 400,
            "metadata": {"raw": raw, "provider_name": "Groq"},
        }
    }
    loopback.handler = lambda r: json_reply(body, status=400)
    with pytest.raises(errors.HTTPStatusError) as info:
        await collect(provider, request())
    assert str(info.value) == (
        "HTTP 400: Provider returned error (Groq): max_tokens is too large for this model"
    )


def limited(status: int, headers: list[tuple[str, str]]) -> Reply:
    reply = json_reply({"error": {"message": "Slow down"}}, status=status)
    reply.headers += headers
    return reply


@pytest.mark.parametrize(
    ("status", "headers", "seconds", "shown"),
    [
        (429, [("Retry-After", "7")], 7.0, "retry in 7 s"),
        (503, [("Retry-After", "1.2")], 1.2, "retry in 2 s"),
        (429, [("retry-after-ms", "2500")], 2.5, "retry in 3 s"),
        (429, [("Retry-After", "600")], 600.0, "retry in 10 min"),
    ],
)
async def test_retry_after_is_shown_and_carried_in_seconds(
    loopback: LoopbackServer,
    provider: OpenAICompatProvider,
    status: int,
    headers: list[tuple[str, str]],
    seconds: float,
    shown: str,
) -> None:
    loopback.handler = lambda r: limited(status, headers)
    with pytest.raises(errors.HTTPStatusError) as info:
        await collect(provider, request())
    assert info.value.retry_after == pytest.approx(seconds)
    assert str(info.value) == f"HTTP {status}: Slow down ({shown})"


async def test_no_retry_after_means_none(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: limited(429, [("Retry-After", "soon")])
    with pytest.raises(errors.RateLimitError) as info:
        await collect(provider, request())
    assert info.value.retry_after is None
    assert str(info.value) == "HTTP 429: Slow down"


def test_retry_after_as_an_http_date() -> None:
    now = time.time()
    assert retry_after({"retry-after": formatdate(now + 30, usegmt=True)}, now) == pytest.approx(
        30, abs=1
    )
    assert retry_after({"retry-after": formatdate(now - 30, usegmt=True)}, now) == 0
    assert retry_after({"retry-after": "-5"}) is None
    assert retry_after({}) is None


# -- redirects --------------------------------------------------------------------------------


def redirect(status: int, location: str) -> Reply:
    return Reply(status=status, headers=[("Location", location)], framing="length")


async def test_a_307_on_the_same_host_is_followed_and_said(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def handler(r: Request) -> Reply:
        if r.path == "/v1/chat/completions":
            return redirect(307, "/api/v1/chat/completions")
        return sse_reply(text_chunks(["moved"]))

    loopback.handler = handler
    assert text_of(await collect(provider, request())) == "moved"
    followed = loopback.requests[-1]
    assert (followed.method, followed.path) == ("POST", "/api/v1/chat/completions")
    assert followed.json()["messages"] == [{"role": "user", "content": "hi"}]
    assert followed.headers["authorization"] == "Bearer sk-test"
    assert len(provider.notices) == 1
    assert f"set the base URL to {loopback.url}/api/v1" in provider.notices[0]


async def test_a_308_to_another_host_is_named_not_followed(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: redirect(308, "https://elsewhere.example/v1/chat/completions")
    with pytest.raises(errors.ProtocolError) as info:
        await collect(provider, request())
    message = str(info.value)
    assert "redirects (HTTP 308) to https://elsewhere.example/v1/chat/completions" in message
    assert "another host" in message
    assert "use https://elsewhere.example/v1 as the base URL" in message
    assert len(loopback.requests) == 1


async def test_a_301_for_a_post_is_named_and_a_get_follows_it(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    def handler(r: Request) -> Reply:
        if r.path.startswith("/v1/"):
            return redirect(301, "/openai" + r.path)
        return json_reply({"data": [{"id": "m1"}]})

    loopback.handler = handler
    with pytest.raises(errors.ProtocolError, match="301 would turn the POST into a GET"):
        await collect(provider, request())
    assert [m.id for m in await provider.list_models()] == ["m1"]
    assert loopback.requests[-1].path == "/openai/v1/models"


async def test_a_redirect_loop_stops(
    loopback: LoopbackServer, provider: OpenAICompatProvider
) -> None:
    loopback.handler = lambda r: redirect(307, r.path)
    with pytest.raises(errors.ProtocolError, match="redirected more than 5 times"):
        await collect(provider, request())
    assert len(loopback.requests) == 6


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def silent_peer() -> Iterator[int]:
    """A TCP server that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        for conn in accepted:
            conn.close()
        server.close()


async def test_a_silent_tls_peer_is_a_tls_failure_not_a_connect_timeout(silent_peer: int) -> None:
    provider = OpenAICompatProvider(
        f"https://127.0.0.1:{silent_peer}/v1", timeouts=Timeouts(connect=0.3, read=5)
    )
    try:
        with pytest.raises(errors.TLSFailure) as info:
            await collect(provider, request())
        assert "TLS handshake" in str(info.value)
        assert "connect timeout" not in str(info.value)
        with pytest.raises(errors.TLSFailure):
            await provider.list_models()
    finally:
        await provider.aclose()


async def test_a_silent_plain_http_peer_is_still_a_read_timeout(silent_peer: int) -> None:
    provider = OpenAICompatProvider(
        f"http://127.0.0.1:{silent_peer}/v1", timeouts=Timeouts(connect=0.3, read=0.3)
    )
    try:
        with pytest.raises(errors.ReadTimeout):
            await collect(provider, request())
    finally:
        await provider.aclose()
