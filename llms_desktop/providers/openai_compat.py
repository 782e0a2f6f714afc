"""OpenAI-compatible provider over httpx: `POST {base_url}/chat/completions`, streamed with SSE."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any, cast

import httpx

from llms_desktop import __version__, errors
from llms_desktop.providers.answer_checks import (
    MAX_REDIRECTS,
    PEEK_BYTES,
    REDIRECT_STATUSES,
    html_page_error,
    json_body,
    looks_like_html,
    nested_too_deeply,
    parse_json_text,
    redirect_target,
    suggested_base,
    too_many_redirects,
    unexpected_content_error,
)
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.error_mapping import (
    message_from_payload,
    network_error,
    status_error,
)
from llms_desktop.providers.openai_wire import (
    DeltaCleaner,
    deltas_from_chunk,
    deltas_from_completion,
    request_body,
)
from llms_desktop.sse import ServerSentEvent, SSEDecoder
from llms_desktop.types import ChatRequest, Delta, Finish, ModelInfo

DEFAULT_BASE_URL = "https://api.openai.com/v1"

log = logging.getLogger(__name__)


class OpenAICompatProvider:
    """Any server speaking OpenAI's chat-completions API (OpenAI, Ollama, vLLM, llama.cpp...)."""

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        api_key: str | None = None,
        *,
        provider_id: str = "openai",
        timeouts: Timeouts | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.id = provider_id
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts or Timeouts()
        self._stream_options_ok = True
        self._streams = 0  # answers in progress: a superseded provider closes once idle
        self._idle = asyncio.Event()
        self._idle.set()
        # Things worth telling the user that are not errors (a redirect we followed).
        self.notices: list[str] = []
        request_headers = {"User-Agent": f"llms-desktop/{__version__}"}
        if api_key:
            request_headers["Authorization"] = f"Bearer {api_key}"
        request_headers.update(headers or {})
        self._client = httpx.AsyncClient(
            headers=request_headers,
            timeout=httpx.Timeout(
                connect=self.timeouts.connect,
                read=self.timeouts.read,
                write=self.timeouts.write,
                pool=self.timeouts.pool,
            ),
            transport=transport,
            # httpx's default pool holds 100 connections; the local server may relay more
            # concurrent streams than that to one provider.
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
            # Proxies from the environment apply, as users of corporate networks expect.
            trust_env=True,
        )

    async def __aenter__(self) -> OpenAICompatProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()

    @property
    def busy(self) -> bool:
        """Whether an answer is streaming through this provider."""
        return self._streams > 0

    async def wait_idle(self) -> None:
        """Until no answer streams through this provider."""
        await self._idle.wait()

    @property
    def chat_url(self) -> str:
        """Where chat requests go."""
        return f"{self.base_url}/chat/completions"

    async def list_models(self) -> list[ModelInfo]:
        """`GET {base_url}/models`, sorted by id."""
        url = f"{self.base_url}/models"
        trace = _Trace()
        try:
            async with self._open("GET", url, trace) as response:
                content = await response.aread()
        except httpx.HTTPError as exc:
            raise network_error(exc, url, self.timeouts, in_tls_handshake=trace.in_tls) from exc
        content_type = _content_type(response)
        if response.status_code >= 400:
            raise status_error(response.status_code, content, content_type, url, response.headers)
        payload = json_body(content, url, content_type)
        items = payload.get("data") if isinstance(payload, dict) else payload
        if not isinstance(items, list):
            # Ollama's native /api/tags shape, in case the base URL lacks /v1.
            items = payload.get("models") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise errors.ProtocolError(f"{url} returned no model list.")
        models = []
        for item in items:
            if isinstance(item, dict):
                model_id = item.get("id") or item.get("model") or item.get("name")
                if isinstance(model_id, str) and model_id:
                    owner = item.get("owned_by")
                    models.append(ModelInfo(model_id, owner if isinstance(owner, str) else None))
            elif isinstance(item, str):
                models.append(ModelInfo(item))
        return sorted(models, key=lambda model: model.id)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta]:
        """Send the request and yield deltas; with `request.stream` off they arrive in one burst.

        Cancelling the consuming task leaves the `async with` and closes the connection at once.
        """
        body = request_body(request)
        if not self._stream_options_ok:
            body.pop("stream_options", None)
        self._streams += 1
        self._idle.clear()
        try:
            async with contextlib.aclosing(self._send(body)) as deltas:
                async for delta in deltas:
                    yield delta
        except errors.HTTPStatusError as exc:
            # Some servers reject the usage request (`stream_options`) as an unknown field;
            # ask again without it (usage is then estimated) and remember for next time.
            if "stream_options" not in body or not _rejects_stream_options(exc):
                raise
            self._stream_options_ok = False
            body.pop("stream_options")
            async with contextlib.aclosing(self._send(body)) as deltas:
                async for delta in deltas:
                    yield delta
        finally:
            self._streams -= 1
            if not self._streams:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def _open(
        self, method: str, url: str, trace: _Trace, body: dict[str, Any] | None = None
    ) -> AsyncIterator[httpx.Response]:
        """The response to a request, its body not yet read, after any redirect we follow."""
        target = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = self._client.build_request(
                method, target, json=body, extensions={"trace": trace}
            )
            response = await self._client.send(request, stream=True)
            if response.status_code not in REDIRECT_STATUSES:
                break
            await response.aclose()
            target = redirect_target(response)  # raises for one we do not follow
            self._note_redirect(request.url, response.status_code, target)
        else:
            raise too_many_redirects(url)
        try:
            yield response
        finally:
            await response.aclose()

    def _note_redirect(self, source: httpx.URL, status: int, target: httpx.URL) -> None:
        note = (
            f"{source} redirected (HTTP {status}) to {target}, on the same host, and the "
            f"request followed it; set the base URL to {suggested_base(source, target)} to "
            "skip the redirect."
        )
        if note not in self.notices:
            self.notices.append(note)
            log.warning("%s", note)

    async def _send(self, body: dict[str, Any]) -> AsyncGenerator[Delta]:
        trace = _Trace()
        try:
            async with self._open("POST", self.chat_url, trace, body) as response:
                content_type = _content_type(response)
                if response.status_code >= 400:
                    content = await response.aread()
                    raise status_error(
                        response.status_code,
                        content,
                        content_type,
                        self.chat_url,
                        response.headers,
                    )
                if looks_like_html(content_type, b""):
                    raise html_page_error(self.chat_url, await _peek(response))
                # Some proxies label an event stream text/plain (or nothing): a streamed
                # request whose answer is not JSON is read as events.
                if "text/event-stream" in content_type or (
                    body.get("stream") and "json" not in content_type
                ):
                    async for delta in self._read_events(response, content_type):
                        yield delta
                else:
                    # Non-streaming, or a server that ignored `stream: true` and sent JSON.
                    content = await response.aread()
                    for delta in _completion_deltas(content, self.chat_url, content_type):
                        yield delta
        except httpx.HTTPError as exc:
            raise network_error(
                exc, self.chat_url, self.timeouts, in_tls_handshake=trace.in_tls
            ) from exc

    async def _read_events(
        self, response: httpx.Response, content_type: str
    ) -> AsyncIterator[Delta]:
        decoder = SSEDecoder()
        cleaner = DeltaCleaner()
        saw_data = False
        finished = False
        head = b""  # the first bytes, to name a body that turns out not to be events
        try:
            async for chunk in response.aiter_bytes():
                if len(head) < PEEK_BYTES:
                    head += chunk[: PEEK_BYTES - len(head)]
                    if not saw_data and looks_like_html("", head):
                        raise html_page_error(self.chat_url, head)
                for event in decoder.feed(chunk):
                    saw_data = True
                    if event.data.strip() == "[DONE]":
                        for delta in cleaner.flush():
                            yield delta
                        if not finished:
                            # llama-cpp-python ends an answer a second request interrupted so.
                            raise errors.StreamEndedEarly(
                                "The stream ended ([DONE]) before the model finished its "
                                "answer (no finish_reason); the text so far is kept."
                            )
                        return
                    for delta in cleaner.clean_all(_event_deltas(event, self.chat_url)):
                        finished = finished or isinstance(delta, Finish)
                        yield delta
        except httpx.ReadTimeout:
            if not finished:
                raise
            # The model said it finished, then the server went quiet (no [DONE], no close):
            # the answer is complete. Leaving closes the connection; it is not reused.
            log.info("%s went quiet after the answer finished; ending it", self.chat_url)
            for delta in cleaner.flush():
                yield delta
            return
        decoder.close()  # an event without its closing blank line is incomplete: dropped
        for delta in cleaner.flush():
            yield delta
        if not saw_data:
            if "text/event-stream" not in content_type:
                raise unexpected_content_error(self.chat_url, content_type, head)
            raise errors.ProtocolError(
                f"{self.chat_url} opened an event stream but closed it before sending any data."
            )
        if not finished:
            raise errors.StreamEndedEarly(
                "The stream ended before the model finished its answer (no [DONE] and no "
                "finish_reason); the text so far is kept."
            )


class _Trace:
    """httpx's `trace` hook: whether the TLS handshake had begun and not completed.

    httpx reports a timeout in the TCP connect and one in the TLS handshake alike, as a
    connect timeout; a server that accepts the connection and never answers TLS (a plain
    HTTP port, a stuck proxy) is a TLS problem, and should be named so.
    """

    def __init__(self) -> None:
        self.in_tls = False

    async def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        if name.endswith("start_tls.started"):
            self.in_tls = True
        elif name.endswith("start_tls.complete"):
            self.in_tls = False


async def _peek(response: httpx.Response) -> bytes:
    """The start of a body, enough to name it, without reading all of a big one."""
    head = b""
    # aiter_bytes() is an async generator: closed here, not left to the garbage collector.
    chunks_iterator = cast(AsyncGenerator[bytes], response.aiter_bytes())
    async with contextlib.aclosing(chunks_iterator) as chunks:
        async for chunk in chunks:
            head += chunk
            if len(head) >= PEEK_BYTES:
                break
    return head[:PEEK_BYTES]


def _rejects_stream_options(error: errors.HTTPStatusError) -> bool:
    text = f"{error.provider_message} {error.details or ''}"
    return error.status in (400, 422) and "stream_options" in text


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).lower()


def _event_deltas(event: ServerSentEvent, url: str) -> list[Delta]:
    payload = parse_json_text(event.data)
    if event.event == "error":
        message = message_from_payload(payload) if payload is not None else None
        raise errors.StreamError(
            f"The provider reported an error mid-stream: {message or event.data.strip()}",
            status=_status_in(payload),
            details=event.data,
        )
    if payload is None:
        if nested_too_deeply(event.data):  # said as for a body that is not streamed
            raise errors.ProtocolError(f"{url} sent an event with JSON nested too deeply to read.")
        raise errors.ProtocolError(
            f"{url} sent an event that is not JSON: {event.data[:200]!r}", details=event.data
        )
    if not isinstance(payload, dict):
        raise errors.ProtocolError(f"{url} sent an unexpected event: {event.data[:200]!r}")
    if payload.get("error") or payload.get("responseStatus"):
        message = message_from_payload(payload) or json.dumps(payload)
        raise errors.StreamError(
            f"The provider reported an error mid-stream: {message}",
            status=_status_in(payload),
            details=event.data,
        )
    return deltas_from_chunk(payload)


def _status_in(payload: Any) -> int | None:
    if isinstance(payload, dict):
        error = payload.get("error")
        for source in (error if isinstance(error, dict) else {}, payload):
            for key in ("status", "code", "status_code"):
                value = source.get(key)
                if isinstance(value, int) and 100 <= value < 600:
                    return value
    return None


def _completion_deltas(content: bytes, url: str, content_type: str) -> list[Delta]:
    payload = json_body(content, url, content_type)
    if not isinstance(payload, dict):
        raise errors.ProtocolError(f"{url} answered with unexpected JSON.")
    if payload.get("error") or payload.get("responseStatus"):
        message = message_from_payload(payload) or json.dumps(payload)
        raise errors.StreamError(f"The provider reported an error: {message}", details=str(payload))
    cleaner = DeltaCleaner()
    deltas = [d for d in map(cleaner.clean, deltas_from_completion(payload)) if d is not None]
    deltas = [*deltas, *cleaner.flush()]
    if not payload.get("choices"):
        raise errors.ProtocolError(f"{url} answered without any choices.", details=str(payload))
    return deltas
