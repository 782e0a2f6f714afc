"""OpenAI-compatible provider over httpx: `POST {base_url}/chat/completions`, streamed with SSE."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Any

import httpx

from llms_desktop import __version__, errors
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
    def chat_url(self) -> str:
        """Where chat requests go."""
        return f"{self.base_url}/chat/completions"

    async def list_models(self) -> list[ModelInfo]:
        """`GET {base_url}/models`, sorted by id."""
        url = f"{self.base_url}/models"
        try:
            response = await self._client.get(url)
        except httpx.HTTPError as exc:
            raise network_error(exc, url, self.timeouts) from exc
        if response.status_code >= 400:
            raise status_error(response.status_code, response.content, _content_type(response), url)
        try:
            payload = response.json()
        except ValueError as exc:
            raise errors.ProtocolError(f"{url} did not return JSON for the model list.") from exc
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

    async def _send(self, body: dict[str, Any]) -> AsyncGenerator[Delta]:
        try:
            async with self._client.stream("POST", self.chat_url, json=body) as response:
                if response.status_code >= 400:
                    content = await response.aread()
                    raise status_error(
                        response.status_code, content, _content_type(response), self.chat_url
                    )
                content_type = _content_type(response)
                # Some proxies label an event stream text/plain (or nothing): a streamed
                # request whose answer is not JSON is read as events.
                if "text/event-stream" in content_type or (
                    body.get("stream") and "json" not in content_type
                ):
                    async for delta in self._read_events(response):
                        yield delta
                else:
                    # Non-streaming, or a server that ignored `stream: true` and sent JSON.
                    for delta in _completion_deltas(await response.aread(), self.chat_url):
                        yield delta
        except httpx.HTTPError as exc:
            raise network_error(exc, self.chat_url, self.timeouts) from exc

    async def _read_events(self, response: httpx.Response) -> AsyncIterator[Delta]:
        decoder = SSEDecoder()
        cleaner = DeltaCleaner()
        saw_data = False
        finished = False
        async for chunk in response.aiter_bytes():
            for event in decoder.feed(chunk):
                saw_data = True
                if event.data.strip() == "[DONE]":
                    for delta in cleaner.flush():
                        yield delta
                    return
                for raw in _event_deltas(event, self.chat_url):
                    cleaned = cleaner.clean(raw)
                    if cleaned is None:
                        continue
                    if isinstance(cleaned, Finish):
                        finished = True
                        for pending in cleaner.flush():
                            yield pending
                    yield cleaned
        decoder.close()  # an event without its closing blank line is incomplete: dropped
        for delta in cleaner.flush():
            yield delta
        if not saw_data:
            raise errors.ProtocolError(
                f"{self.chat_url} opened an event stream but closed it before sending any data."
            )
        if not finished:
            raise errors.StreamEndedEarly(
                "The stream ended before the model finished its answer (no [DONE] and no "
                "finish_reason); the text so far is kept."
            )


def _rejects_stream_options(error: errors.HTTPStatusError) -> bool:
    text = f"{error.provider_message} {error.details or ''}"
    return error.status in (400, 422) and "stream_options" in text


def _content_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).lower()


def _event_deltas(event: ServerSentEvent, url: str) -> list[Delta]:
    payload: Any
    try:
        payload = json.loads(event.data)
    except ValueError:
        payload = None
    if event.event == "error":
        message = message_from_payload(payload) if payload is not None else None
        raise errors.StreamError(
            f"The provider reported an error mid-stream: {message or event.data.strip()}",
            status=_status_in(payload),
            details=event.data,
        )
    if payload is None:
        raise errors.ProtocolError(
            f"{url} sent an event that is not JSON: {event.data[:200]!r}", details=event.data
        )
    if not isinstance(payload, dict):
        raise errors.ProtocolError(f"{url} sent an unexpected event: {event.data[:200]!r}")
    if payload.get("error"):
        message = message_from_payload(payload) or json.dumps(payload["error"])
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


def _completion_deltas(content: bytes, url: str) -> list[Delta]:
    try:
        payload = json.loads(content)
    except ValueError as exc:
        raise errors.ProtocolError(
            f"{url} answered with something that is not JSON: {content[:200]!r}",
            details=content.decode("utf-8", errors="replace"),
        ) from exc
    if not isinstance(payload, dict):
        raise errors.ProtocolError(f"{url} answered with unexpected JSON.")
    if payload.get("error"):
        message = message_from_payload(payload) or json.dumps(payload["error"])
        raise errors.StreamError(f"The provider reported an error: {message}", details=str(payload))
    cleaner = DeltaCleaner()
    deltas = [d for d in map(cleaner.clean, deltas_from_completion(payload)) if d is not None]
    deltas = [*deltas, *cleaner.flush()]
    if not payload.get("choices"):
        raise errors.ProtocolError(f"{url} answered without any choices.", details=str(payload))
    return deltas
