"""One chat completion through the server: upstream deltas relayed as they come, or gathered."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from llms_desktop import errors
from llms_desktop.accumulate import Accumulator
from llms_desktop.providers.base import Provider
from llms_desktop.providers.registry import Route
from llms_desktop.server.api_errors import ApiError, from_provider_error
from llms_desktop.server.chunks import (
    DONE,
    ChunkEncoder,
    answer_text,
    completion,
    estimated_usage,
    event,
)
from llms_desktop.server.request import CompletionRequest, content_text
from llms_desktop.server.storing import relay, start_thread, unpack_messages
from llms_desktop.store.writer import writer_for
from llms_desktop.types import ChatRequest, Delta, ResponseInfo, Usage

if TYPE_CHECKING:
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer

log = logging.getLogger(__name__)

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    # Reverse proxies (nginx) buffer responses unless told not to; tokens must arrive live.
    "X-Accel-Buffering": "no",
}


def shutting_down() -> ApiError:
    return ApiError(
        503, "The server is shutting down; the answer was cut short.", code="server_shutting_down"
    )


# An upstream that is slow to answer at all (a reasoning model thinking, a cold local model):
# after this long the 200 and the role chunk go out anyway, then a comment every KEEPALIVE
# seconds while nothing else is sent, so clients and proxies with idle timeouts hold on.
FIRST_BYTE_WAIT = 8.0
KEEPALIVE = 15.0
KEEPALIVE_COMMENT = b": keep-alive\n\n"


class StreamSink:
    """Writes deltas to the client as `chat.completion.chunk` events.

    The response (status 200) starts when the upstream's first delta arrives, so an upstream
    that refuses the request is answered with its own status instead; or after
    FIRST_BYTE_WAIT of silence, so the client knows the request is alive.
    """

    def __init__(self, http: web.Request, model: str, include_usage: bool, prompt: str) -> None:
        self.http = http
        self.model = model
        self.include_usage = include_usage
        self.prompt = prompt  # to estimate usage when the upstream sends none
        self.answer: list[str] = []
        self.response: web.StreamResponse | None = None
        self.encoder = ChunkEncoder(model)
        self.usage: Usage | None = None
        self.last_write = asyncio.get_running_loop().time()
        self._writing = asyncio.Lock()  # the relay and the keep-alive task both write

    async def add(self, delta: Delta) -> None:
        async with self._writing:
            if self.response is None:
                await self._open(delta if isinstance(delta, ResponseInfo) else None)
            assert self.response is not None
            if isinstance(delta, Usage):
                self.usage = delta  # sent once, at the end: upstreams may repeat running totals
                return
            if self.include_usage:
                self.answer.append(answer_text(delta))
            data = self.encoder.delta(delta)
            if data is not None:
                await self._write(data)

    async def keep_alive(self, finished: asyncio.Task[None]) -> None:
        """Until `finished` is done: open the response after FIRST_BYTE_WAIT of silence, then
        send a comment whenever nothing was written for KEEPALIVE seconds."""
        loop = asyncio.get_running_loop()
        wait = FIRST_BYTE_WAIT
        while not finished.done():
            await asyncio.wait({finished}, timeout=max(0.05, self.last_write + wait - loop.time()))
            if finished.done():
                return
            if loop.time() - self.last_write < wait:
                continue
            async with self._writing:
                if self.response is None:
                    await self._open(None)
                else:
                    await self._write(KEEPALIVE_COMMENT)
            wait = KEEPALIVE

    async def _write(self, data: bytes) -> None:
        assert self.response is not None
        await self.response.write(data)
        self.last_write = asyncio.get_running_loop().time()

    async def _open(self, info: ResponseInfo | None) -> None:
        self.encoder = ChunkEncoder(self.model, info)
        response = web.StreamResponse(status=200, headers=SSE_HEADERS)
        response.enable_chunked_encoding()
        await response.prepare(self.http)
        self.response = response
        await self._write(self.encoder.role())

    async def finish(self) -> web.StreamResponse:
        """The usage chunk when asked for (the upstream's, else our estimate, marked as such),
        `[DONE]`, and the end of the body."""
        async with self._writing:
            if self.response is None:
                await self._open(None)
            assert self.response is not None
            tail = b""
            if self.include_usage and self.usage is not None:
                tail += self.encoder.usage(self.usage)
            elif self.include_usage:
                guess = estimated_usage(self.prompt, "".join(self.answer))
                tail += self.encoder.usage(guess, estimated=True)
            await self._end(tail + DONE)
            return self.response

    async def fail(self, error: ApiError) -> web.StreamResponse:
        """The error as the response, or, once streaming began, as a last event (no [DONE])."""
        async with self._writing:
            if self.response is None:
                return error.response()
            await self._end(event(error.body()))
            return self.response

    async def _end(self, data: bytes) -> None:
        assert self.response is not None
        with contextlib.suppress(ConnectionResetError):  # the client is gone: nobody to tell
            await self.response.write(data)
            await self.response.write_eof()


class CollectSink:
    """Gathers deltas into one `chat.completion` (a `stream: false` request)."""

    def __init__(self, model: str, prompt: str) -> None:
        self.model = model
        self.prompt = prompt
        self.accumulator = Accumulator()
        self.response: web.StreamResponse | None = None  # nothing is sent before the end

    async def add(self, delta: Delta) -> None:
        self.accumulator.add(delta)

    async def finish(self) -> web.StreamResponse:
        return web.json_response(completion(self.accumulator, self.model, self.prompt))

    async def fail(self, error: ApiError) -> web.StreamResponse:
        return error.response()


class Exchanges:
    """Runs chat completions and keeps track of those in flight, so stop() can end them."""

    def __init__(
        self, store: Store | Writer | None = None, on_change: Callable[[int], None] | None = None
    ) -> None:
        self.store = store
        # Saving runs on a writer thread (a StoreWriter) or at once (a plain Store).
        self.writer = None if store is None else writer_for(store)
        self.on_change = on_change
        self.stopping = False
        self._relays: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> int:
        """Completions in flight (streamed or not)."""
        return len(self._relays)

    async def run(
        self, http: web.Request, request: CompletionRequest, route: Route, provider: Provider
    ) -> web.StreamResponse:
        """Answer one request; returns the (possibly already sent) response."""
        upstream = ChatRequest(
            model=route.model,
            messages=request.messages,
            stream=request.stream,
            # The provider's saved parameters are defaults; the client's own values win.
            params={**route.config.params, **request.params},
        )
        prompt = "".join(content_text(message.content) for message in request.messages)
        sink: StreamSink | CollectSink = (
            StreamSink(http, request.model, request.include_usage, prompt)
            if request.stream
            else CollectSink(request.model, prompt)
        )
        if self.stopping:
            raise shutting_down()
        thread = None
        if self.writer is not None:
            # Images and PDFs are decoded here, on a worker thread: neither the loop nor the
            # writer (which the window's saves share) waits for them.
            unpacked = await asyncio.to_thread(unpack_messages, request)
            thread = await self.writer.run(
                functools.partial(
                    start_thread,
                    request=request,
                    route=route,
                    upstream=upstream,
                    unpacked=unpacked,
                )
            )
        # The upstream work runs in its own task so that stop() can cancel it alone: this
        # handler must live on to write the stream's last event.
        task = asyncio.create_task(relay(provider, upstream, sink.add, self.writer, thread, route))
        self._track(task)
        keeper = (
            asyncio.create_task(sink.keep_alive(task)) if isinstance(sink, StreamSink) else None
        )
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # our client hung up: aiohttp cancelled us, and the relay with us
            return await sink.fail(shutting_down())  # stop() ended the relay
        except ConnectionResetError:
            return sink.response or web.Response()  # the client is gone mid-write
        except errors.LlmsDesktopError as exc:
            return await sink.fail(from_provider_error(exc, route.config.id))
        except Exception:
            log.exception("bug while answering a chat completion")
            return await sink.fail(ApiError(500, "Internal server error (a bug); see the log."))
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionResetError):
                    await keeper
        return await sink.finish()

    def _track(self, task: asyncio.Task[None]) -> None:
        self._relays.add(task)
        task.add_done_callback(self._untrack)
        self._changed()

    def _untrack(self, task: asyncio.Task[None]) -> None:
        self._relays.discard(task)
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.active)

    def cut(self) -> None:
        """Refuse new completions and end those in flight: each sends what it has, then ends."""
        self.stopping = True
        for task in list(self._relays):
            task.cancel()
