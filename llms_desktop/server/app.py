"""The aiohttp application: the OpenAI routes, access checks and errors in OpenAI's shape."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from llms_desktop import errors
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.server.access import check_bearer, check_local_caller
from llms_desktop.server.api_errors import ApiError, from_provider_error
from llms_desktop.server.connections import ConnectionGuard
from llms_desktop.server.exchange import Exchanges
from llms_desktop.server.request import parse_completion
from llms_desktop.server.routing import listing, route

if TYPE_CHECKING:
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer

log = logging.getLogger(__name__)

# Generous for long conversations with pasted documents or a few images, small enough that a
# runaway client cannot exhaust memory.
# Requests carry images as base64 (4/3 of their size), and a conversation resends earlier
# ones: 64 MiB holds twice what one message of `chat -a` may attach (32 MiB).
DEFAULT_MAX_BODY = 64 * 1024 * 1024
# A body that trickles in slower than this holds a connection for nothing (20 MB in 60 s is
# under 3 Mbit/s).
BODY_TIMEOUT = 60.0
OPEN_PATHS = frozenset({"/health"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Api:
    """The routes' state: providers, completions in flight, the key."""

    def __init__(
        self,
        registry: ProviderRegistry,
        *,
        store: Store | Writer | None = None,
        api_key: str | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        on_change: Callable[[int], None] | None = None,
        connections: ConnectionGuard | None = None,
    ) -> None:
        self.registry = registry
        self.connections = connections
        self.exchanges = Exchanges(store, on_change)
        self.key = api_key.encode() if api_key else None
        self.max_body = max_body
        self.started = int(time.time())

    async def chat_completions(self, http: web.Request) -> web.StreamResponse:
        request = parse_completion(await self._body(http))
        chosen = await route(self.registry, request.model)
        try:
            provider = await self.registry.provider(chosen.config)
        except errors.LlmsDesktopError as exc:
            raise from_provider_error(exc, chosen.config.id) from None
        return await self.exchanges.run(http, request, chosen, provider)

    async def _body(self, http: web.Request) -> bytes:
        limit = self.max_body
        too_large = ApiError(
            413,
            f"The request body is larger than this server accepts ({limit:,} bytes).",
            code="request_too_large",
        )
        if http.content_length is not None and http.content_length > limit:
            raise too_large
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                return await http.read()
        except web.HTTPRequestEntityTooLarge:  # a chunked body that grew past the limit
            raise too_large from None
        except TimeoutError:
            raise ApiError(
                408,
                f"The request body did not arrive within {BODY_TIMEOUT:g} s.",
                code="request_timeout",
            ) from None

    def _model(self, provider_id: str, model: str) -> dict[str, Any]:
        return {
            "id": f"{provider_id}/{model}",
            "object": "model",
            "created": self.started,
            "owned_by": provider_id,
        }

    async def models(self, http: web.Request) -> web.Response:
        data = [self._model(config.id, model) for config, model in await listing(self.registry)]
        return web.json_response({"object": "list", "data": data})

    async def model(self, http: web.Request) -> web.Response:
        wanted = http.match_info["model"]
        for config, model in await listing(self.registry):
            if f"{config.id}/{model}" == wanted:
                return web.json_response(self._model(config.id, model))
        raise ApiError(404, f"The model '{wanted}' does not exist.", code="model_not_found")

    async def health(self, http: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    def check_access(self, http: web.Request) -> None:
        if http.path in OPEN_PATHS:
            return
        if self.key is None:
            check_local_caller(http.headers)
        else:
            check_bearer(http.headers, self.key)


API = web.AppKey("api", Api)


def create_app(
    registry: ProviderRegistry,
    *,
    store: Store | Writer | None = None,
    api_key: str | None = None,
    max_body: int = DEFAULT_MAX_BODY,
    on_change: Callable[[int], None] | None = None,
    connections: ConnectionGuard | None = None,
) -> web.Application:
    """The server's application; `app[API]` holds its state (completions in flight...)."""
    api = Api(
        registry,
        store=store,
        api_key=api_key,
        max_body=max_body,
        on_change=on_change,
        connections=connections,
    )

    @web.middleware
    async def busy_connections(request: web.Request, handler: Handler) -> web.StreamResponse:
        # Connections with a request in flight are never dropped to make room for others.
        transport = request.transport
        if connections is None or transport is None:
            return await handler(request)
        connections.started(transport)
        try:
            return await handler(request)
        finally:
            connections.ended(transport)

    @web.middleware
    async def openai_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            # First, before the body is read: a caller without the token costs nothing more.
            api.check_access(request)
        except ApiError as exc:
            response = exc.response()
            response.force_close()  # its body, if any, is not worth reading
            return response
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response()
        except web.HTTPException as exc:  # the router's 404 and 405
            if exc.status < 400:
                raise
            return _http_error(request, exc).response()
        except Exception:
            log.exception("bug while answering %s %s", request.method, request.path)
            return ApiError(500, "Internal server error (a bug); see the server's log.").response()

    app = web.Application(client_max_size=max_body, middlewares=[busy_connections, openai_errors])
    app[API] = api
    app.router.add_post("/v1/chat/completions", api.chat_completions)
    app.router.add_get("/v1/models", api.models)
    app.router.add_get("/v1/models/{model:.+}", api.model)
    app.router.add_get("/health", api.health)
    return app


def _http_error(http: web.Request, exc: web.HTTPException) -> ApiError:
    if exc.status == 404:
        return ApiError(404, f"Unknown endpoint: {http.method} {http.path}.", code="unknown_url")
    if exc.status == 405:
        return ApiError(
            405, f"{http.method} is not allowed on {http.path}.", code="method_not_allowed"
        )
    return ApiError(exc.status, exc.reason)
