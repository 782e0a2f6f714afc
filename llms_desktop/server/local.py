"""LocalServer: the API server started and stopped on whatever asyncio loop is running."""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from llms_desktop import errors
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.server.access import is_loopback
from llms_desktop.server.app import API, DEFAULT_MAX_BODY, Api, create_app
from llms_desktop.server.connections import (
    HEAD_TIMEOUT,
    ConnectionGuard,
    GuardedSite,
    default_max_connections,
)

if TYPE_CHECKING:
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# After stop() has ended every completion, handlers get this long to finish writing.
SHUTDOWN_TIMEOUT = 5.0
# What is left of a body nobody will read (a request refused before its body, e.g. a wrong
# token) is drained at most this long, so the client can read the answer, then the
# connection closes.
LINGERING_TIME = 2.0


class LocalServer:
    """The OpenAI-compatible API over `registry`'s enabled providers, embeddable in any loop.

    `start()` binds (ConfigError if the port is taken, or if `host` is not loopback and there
    is no `api_key`); `stop()` stops accepting, ends open streams (each sends what it has,
    then an error event saying the server stopped) and closes. The registry stays open: it
    belongs to the caller. `on_change(active)` is called whenever a completion starts or ends.

    A connection that sends no complete request head within `head_timeout` seconds (or idles
    that long between requests) is dropped; past `max_connections` the longest idle one makes
    room, or, when all are busy, the newcomer gets a 503 (see connections.py).
    """

    def __init__(
        self,
        registry: ProviderRegistry,
        *,
        store: Store | Writer | None = None,
        api_key: str | None = None,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        max_body: int = DEFAULT_MAX_BODY,
        on_change: Callable[[int], None] | None = None,
        head_timeout: float = HEAD_TIMEOUT,
        max_connections: int | None = None,
    ) -> None:
        self.registry = registry
        self.head_timeout = head_timeout
        self.max_connections = max_connections or default_max_connections()
        self.store = store
        self.api_key = api_key or None
        self.host = host
        self.max_body = max_body
        self.on_change = on_change
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._api: Api | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose when 0 was asked), else the one asked."""
        return self._port if self._port is not None else self._requested_port

    @property
    def url(self) -> str:
        """The server's root, e.g. http://127.0.0.1:8000."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OpenAI clients take as their base URL: the root plus /v1."""
        return f"{self.url}/v1"

    @property
    def connections(self) -> ConnectionGuard | None:
        """Open connections and what the cap did to them, while running."""
        return self._api.connections if self._api is not None else None

    @property
    def active_streams(self) -> int:
        """Chat completions in flight (streamed or not)."""
        return self._api.exchanges.active if self._api is not None else 0

    async def start(self) -> None:
        """Listen; raises ConfigError when that is unsafe or impossible."""
        if self._runner is not None:
            return
        if not is_loopback(self.host) and not self.api_key:
            raise errors.ConfigError(
                f"Refusing to listen on {self.host} without an API key: anyone who can reach "
                "this machine could use your providers. Set an API key (serve --api-key TOKEN), "
                f"or listen on {DEFAULT_HOST}."
            )
        guard = ConnectionGuard(self.max_connections)
        app = create_app(
            self.registry,
            store=self.store,
            api_key=self.api_key,
            max_body=self.max_body,
            on_change=self.on_change,
            connections=guard,
        )
        # handler_cancellation: a client that hangs up cancels its handler at once, and with
        # it the upstream request, instead of when the next token fails to write.
        # keepalive_timeout: aiohttp's timer that closes a connection waiting for a request
        # (since connecting, or since its last answer): our header and idle timeout.
        runner = web.AppRunner(
            app,
            handler_cancellation=True,
            access_log=None,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
            keepalive_timeout=self.head_timeout,
            lingering_time=LINGERING_TIME,
        )
        await runner.setup()
        site = GuardedSite(runner, self.host, self._requested_port, guard)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise errors.ConfigError(self._bind_problem(exc)) from exc
        self._runner = runner
        self._api = app[API]
        self._port = int(runner.addresses[0][1])

    def _bind_problem(self, exc: OSError) -> str:
        where = f"{self.host}:{self._requested_port}"
        if exc.errno == errno.EADDRINUSE:
            return (
                f"Port {self._requested_port} on {self.host} is already in use: stop the other "
                "server or choose another port."
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            return f"Cannot listen on {where}: this machine has no such address."
        if exc.errno == errno.EACCES:
            return f"Cannot listen on {where}: permission denied (ports below 1024 need root)."
        return f"Cannot listen on {where}: {exc.strerror or exc}"

    async def stop(self) -> None:
        """Stop accepting, end open streams cleanly, close connections. Safe to call twice."""
        runner, api = self._runner, self._api
        if runner is None or api is None:
            return
        self._runner = None
        api.exchanges.stopping = True
        for site in list(runner.sites):
            await site.stop()  # no new connections from here on
        api.exchanges.cut()
        await runner.cleanup()  # waits for handlers to write their last event
        self._api = None
        self._port = None

    async def __aenter__(self) -> LocalServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()
