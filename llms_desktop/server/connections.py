"""Connections to the API server: at most so many, room made by dropping idle ones, else a 503."""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict

from aiohttp import web

# A connection that sends no complete request head within this long, or stays idle this long
# between requests, is dropped (aiohttp's keep-alive timer does both: see LocalServer).
HEAD_TIMEOUT = 10.0
# Each relayed answer holds two descriptors (the client's, the upstream's), the rest of the
# process a few dozen, and asyncio accepts up to `backlog` connections in one go before the
# cap can drop any. Without a cap, 1,100 half-open connections under `ulimit -n 1024` left
# no descriptor for /health (accept() failed with EMFILE).
_RESERVED_DESCRIPTORS = 64
_MAX_CONNECTIONS = 1024
_MIN_CONNECTIONS = 16


def _descriptor_limit() -> int | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows has no descriptor limit of this kind
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def default_backlog() -> int:
    """How many connections the kernel queues, and asyncio accepts per wake-up."""
    limit = _descriptor_limit()
    return 128 if limit is None else max(8, min(128, limit // 8))


def default_max_connections() -> int:
    """A cap that keeps the server inside its open-file limit."""
    limit = _descriptor_limit()
    if limit is None:
        return 512
    room = (limit - _RESERVED_DESCRIPTORS - default_backlog()) // 2
    return max(_MIN_CONNECTIONS, min(_MAX_CONNECTIONS, room))


def _overloaded_reply() -> bytes:
    body = json.dumps(
        {
            "error": {
                "message": "The server has too many open connections; try again shortly.",
                "type": "server_error",
                "param": None,
                "code": "too_many_connections",
            }
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class ConnectionGuard:
    """Counts open connections and which of them have a request in flight.

    When a new connection would pass `limit`, the one idle longest (connected, or between two
    requests, with no request in flight: a half-open connection is one) is dropped to make
    room; when every connection is busy, the newcomer gets a 503 and is closed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._busy: dict[asyncio.Transport, int] = {}
        self._idle: OrderedDict[asyncio.Transport, None] = OrderedDict()
        self.dropped = 0  # idle connections closed to make room
        self.refused = 0  # connections turned away with a 503

    @property
    def open(self) -> int:
        return len(self._busy) + len(self._idle)

    def admit(self, transport: asyncio.Transport) -> bool:
        """Whether a new connection may stay (after dropping an idle one if need be)."""
        if self.open >= self.limit:
            if not self._idle:
                self.refused += 1
                return False
            oldest, _ = self._idle.popitem(last=False)
            oldest.abort()  # frees its descriptor now, not after a goodbye to a silent peer
            self.dropped += 1
        self._idle[transport] = None
        return True

    def forget(self, transport: asyncio.Transport) -> None:
        self._idle.pop(transport, None)
        self._busy.pop(transport, None)

    def started(self, transport: asyncio.Transport) -> None:
        """A request head arrived on this connection."""
        if transport in self._idle:
            del self._idle[transport]
            self._busy[transport] = 0
        if transport in self._busy:
            self._busy[transport] += 1

    def ended(self, transport: asyncio.Transport) -> None:
        """A request on this connection was answered."""
        count = self._busy.get(transport)
        if count is None:
            return
        if count > 1:
            self._busy[transport] = count - 1
            return
        del self._busy[transport]
        self._idle[transport] = None  # idle from now: the last to be dropped


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, admitted (or answered 503) by the guard."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # create_server makes stream transports
        if not self.guard.admit(transport):
            transport.write(_overloaded_reply())
            transport.close()
            return
        self.transport = transport
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is None:
            return
        self.guard.forget(self.transport)
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.transport is not None else None

    def pause_writing(self) -> None:
        if self.transport is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.transport is not None:
            self.inner.resume_writing()


class GuardedSite(web.BaseSite):
    """A TCP site whose connections pass through a ConnectionGuard."""

    __slots__ = ("_guard", "_host", "_port")

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(runner, backlog=default_backlog())
        self._host = host
        self._port = port
        self._guard = guard

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None

        def protocol() -> asyncio.Protocol:
            return _Guarded(server(), self._guard)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            protocol, self._host, self._port, backlog=self._backlog
        )
