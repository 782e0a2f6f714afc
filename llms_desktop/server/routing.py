"""Which enabled provider serves a model id, and every model the server offers (cached briefly)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from llms_desktop import errors
from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.registry import ProviderRegistry, Route
from llms_desktop.server.api_errors import ApiError

log = logging.getLogger(__name__)

# A discovered model list is reused this long: routing a bare id must not cost a `GET /models`
# per request, and a model added upstream still shows up within a minute.
LIST_TTL = 60.0
# A provider whose listing failed is asked again after this long, not on every request.
FAILURE_TTL = 5.0
# Routing a bare id waits at most this long for a provider's list; a slow one is skipped.
LIST_TIMEOUT = 10.0

_Key = tuple[str, str, str]


def _key(config: ProviderConfig) -> _Key:
    return (config.id, config.type, config.base_url)


class ModelCatalog:
    """Routes `provider/model` and bare model ids to the registry's enabled providers.

    A provider's models are its saved `models` list, else what it lists (`GET /models`),
    cached for LIST_TTL seconds; concurrent requests share one listing call.
    """

    def __init__(
        self,
        registry: ProviderRegistry,
        *,
        clock: Callable[[], float] = time.monotonic,
        list_timeout: float = LIST_TIMEOUT,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.list_timeout = list_timeout
        self._cache: dict[_Key, tuple[float, list[str] | None]] = {}
        self._pending: dict[_Key, asyncio.Task[list[str] | None]] = {}

    async def models(self, config: ProviderConfig) -> list[str] | None:
        """The provider's model ids, or None when it could not list them."""
        if config.models:
            return list(config.models)
        key = _key(config)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._discover(config))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: one caller giving up (its client went away) must not cancel the others'.
        return await asyncio.shield(task)

    async def _discover(self, config: ProviderConfig) -> list[str] | None:
        models: list[str] | None
        try:
            async with asyncio.timeout(self.list_timeout):
                models = await self.registry.list_models(config)
        except (errors.LlmsDesktopError, TimeoutError) as exc:
            log.warning("could not list the models of provider %r: %s", config.id, exc)
            models = None
        ttl = LIST_TTL if models is not None else FAILURE_TTL
        self._cache[_key(config)] = (self.clock() + ttl, models)
        return models

    async def route(self, model_ref: str) -> Route:
        """The provider and upstream model name for a client's model id; 404 ApiError if none.

        `provider/model` goes to that enabled provider whatever its list says; a bare id goes
        to the one enabled provider that lists it. A bare id listed by several is ambiguous.
        """
        enabled = self.registry.enabled
        head, slash, rest = model_ref.partition("/")
        if slash and rest:
            config = next((c for c in enabled if c.id == head), None)
            if config is not None:
                return Route(config, rest)
        listings = await asyncio.gather(*(self.models(config) for config in enabled))
        serving = [
            config
            for config, models in zip(enabled, listings, strict=True)
            if models and model_ref in models
        ]
        if len(serving) == 1:
            return Route(serving[0], model_ref)
        if serving:
            choices = " or ".join(f"'{config.id}/{model_ref}'" for config in serving)
            raise ApiError(
                404,
                f"The model '{model_ref}' is served by several providers: ask for {choices}.",
                code="model_not_found",
                param="model",
            )
        raise ApiError(
            404,
            f"The model '{model_ref}' does not exist or no enabled provider serves it. "
            "GET /v1/models lists the models available as 'provider/model'.",
            code="model_not_found",
            param="model",
        )

    async def listing(self) -> list[tuple[ProviderConfig, str]]:
        """Every enabled provider's models; providers whose listing failed are left out."""
        enabled = self.registry.enabled
        listings = await asyncio.gather(*(self.models(config) for config in enabled))
        return [
            (config, model)
            for config, models in zip(enabled, listings, strict=True)
            for model in models or ()
        ]

    async def aclose(self) -> None:
        """Stop listings still in flight."""
        pending = list(self._pending.values())
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task
