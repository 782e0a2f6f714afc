"""The one model resolver: which provider serves a model id, for the window, CLI and server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llms_desktop import errors
from llms_desktop.providers.base import Provider
from llms_desktop.providers.config import ProviderConfig

if TYPE_CHECKING:
    from llms_desktop.providers.registry import ProviderRegistry, Route

log = logging.getLogger(__name__)

# A discovered model list is reused this long: routing must not cost a `GET /models` per
# request, and a model added upstream still shows up within a minute.
LIST_TTL = 60.0
# A provider whose listing failed is asked again after this long, not on every request.
FAILURE_TTL = 5.0
# Resolving waits at most this long for a provider's list; a slow one counts as unlisted.
LIST_TIMEOUT = 10.0

_Key = tuple[str, str, str]


class UnknownModel(errors.ConfigError):
    """No enabled provider serves a model id, or several do (`choices` then names them)."""

    def __init__(self, message: str, model_ref: str, choices: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.model_ref = model_ref
        self.choices = choices


@dataclass(frozen=True)
class Listing:
    """What a provider lists: its model ids, or None and the problem when listing failed."""

    models: tuple[str, ...] | None
    problem: str | None = None
    refused: bool = False  # the provider refused the key (401/403): a model id will not help


def _key(config: ProviderConfig) -> _Key:
    return (config.id, config.type, config.base_url)


class ModelResolver:
    """Decides which provider serves a model id, the same way for every front end.

    In order:
    1. An explicit provider (the CLI's `--provider ID`): that provider, any leading `ID/` taken
       off the model.
    2. No model (""): the first enabled provider (configured ones come before those the
       environment sets up); the model is then its first listed one (`first_model`).
    3. `ID/rest` where ID is an enabled provider: that provider and model `rest`, unless the
       provider lists the whole id itself (OpenRouter's `openai/gpt-4o` behind a provider whose
       id is `openai`): then the whole id. A disabled provider's id is refused.
    4. A bare id: the only enabled provider, whatever it lists (a server without /models);
       else the one enabled provider that lists it. Listed by none or by several: UnknownModel.

    A provider's list is its saved `models`, else what it answers to `GET /models`, cached for
    LIST_TTL seconds; concurrent lookups share one request.
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
        self._cache: dict[_Key, tuple[float, Listing]] = {}
        self._pending: dict[_Key, asyncio.Task[Listing]] = {}

    # -- routing -------------------------------------------------------------------------------

    async def resolve(self, model_ref: str, *, provider_id: str | None = None) -> Route:
        """The provider and upstream model name for a model id; ConfigError when none fits."""
        from llms_desktop.providers.registry import Route

        registry = self.registry
        if provider_id:
            config = registry.get(provider_id)
            if config is None:
                known = ", ".join(c.id for c in registry.all) or "none"
                raise errors.ConfigError(
                    f"Unknown provider {provider_id!r} (configured: {known}). Add it with "
                    "`llms-desktop providers add` or in Preferences > Providers."
                )
            return Route(config, model_ref.removeprefix(f"{config.id}/"))
        enabled = registry.enabled
        if not enabled:
            raise errors.ConfigError(
                "No provider is set up: add one in Preferences > Providers (or with "
                "`llms-desktop providers add`), or set OPENAI_BASE_URL / OPENAI_API_KEY."
            )
        if not model_ref:
            return Route(enabled[0], "")
        head, slash, rest = model_ref.partition("/")
        if slash and rest:
            named = next((c for c in enabled if c.id == head), None)
            if named is not None:
                listing = await self.listing(named)
                whole = listing.models is not None and model_ref in listing.models
                return Route(named, model_ref if whole else rest)
            if registry.get(head) is not None:
                raise UnknownModel(
                    f"The provider {head!r} is disabled: enable it in Preferences > Providers "
                    f"(or `llms-desktop providers enable {head}`) to use '{model_ref}'.",
                    model_ref,
                )
        if len(enabled) == 1:
            return Route(enabled[0], model_ref)
        listings = await asyncio.gather(*(self.listing(config) for config in enabled))
        serving = [
            config
            for config, listing in zip(enabled, listings, strict=True)
            if listing.models is not None and model_ref in listing.models
        ]
        if len(serving) == 1:
            return Route(serving[0], model_ref)
        if serving:
            choices = tuple(f"{config.id}/{model_ref}" for config in serving)
            raise UnknownModel(
                f"The model '{model_ref}' is served by several providers: ask for "
                + " or ".join(f"'{choice}'" for choice in choices)
                + ".",
                model_ref,
                choices,
            )
        unlisted = [
            config.id
            for config, listing in zip(enabled, listings, strict=True)
            if listing.models is None
        ]
        note = f" (could not list the models of: {', '.join(unlisted)})" if unlisted else ""
        raise UnknownModel(
            f"No enabled provider lists the model '{model_ref}'{note}: name it as "
            f"provider/model, with one of: {', '.join(c.id for c in enabled)}.",
            model_ref,
        )

    async def first_model(
        self, config: ProviderConfig, how_to_choose: str, provider: Provider | None = None
    ) -> str:
        """The first model a provider lists, for when none was chosen.

        `how_to_choose` completes the error ("pass --model ID"); `provider` lists instead of the
        registry's own (the CLI's with a --base-url or --api-key override).
        """
        if config.models and provider is None:
            return config.models[0]
        listing = await self.listing(config) if provider is None else await _list(provider)
        return first_listed(config.name, listing, how_to_choose)

    # -- listings ------------------------------------------------------------------------------

    async def listing(self, config: ProviderConfig) -> Listing:
        """The provider's saved models, else its (cached) answer to `GET /models`."""
        if config.models:
            return Listing(tuple(config.models))
        key = _key(config)
        cached = self._cache.get(key)
        if cached is not None and cached[0] > self.clock():
            return cached[1]
        return await self._discover(config)

    async def refresh(self, config: ProviderConfig) -> Listing:
        """Ask the provider again (the picker's Refresh), and keep the answer for routing."""
        if config.models:
            return Listing(tuple(config.models))
        self._cache.pop(_key(config), None)
        return await self._discover(config)

    async def _discover(self, config: ProviderConfig) -> Listing:
        key = _key(config)
        task = self._pending.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(config))
            self._pending[key] = task
            task.add_done_callback(lambda _: self._pending.pop(key, None))
        # Shielded: one caller giving up (its client went away) must not cancel the others'.
        return await asyncio.shield(task)

    async def _fetch(self, config: ProviderConfig) -> Listing:
        try:
            async with asyncio.timeout(self.list_timeout):
                provider = await self.registry.provider(config)
                listing = await _list(provider)
        except TimeoutError:
            listing = Listing(None, f"no model list within {self.list_timeout:g} s")
        except errors.LlmsDesktopError as exc:  # e.g. no key for an AI Refinery provider
            listing = Listing(None, str(exc))
        if listing.problem:
            log.warning("could not list the models of provider %r: %s", config.id, listing.problem)
        ttl = LIST_TTL if listing.models is not None else FAILURE_TTL
        self._cache[_key(config)] = (self.clock() + ttl, listing)
        return listing

    async def aclose(self) -> None:
        """Stop listings still in flight."""
        pending = list(self._pending.values())
        for task in pending:
            task.cancel()
        for task in pending:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _list(provider: Provider) -> Listing:
    """What a provider lists, with a failure kept as a problem line naming the request."""
    try:
        return Listing(tuple(model.id for model in await provider.list_models()))
    except errors.HTTPStatusError as exc:
        where = f"GET {exc.url} -> " if exc.url else ""
        return Listing(None, f"{where}{exc}", refused=exc.status in (401, 403))
    except errors.LlmsDesktopError as exc:
        return Listing(None, str(exc))


def first_listed(name: str, listing: Listing, how_to_choose: str) -> str:
    """The first model of a listing, or a ConfigError saying why there is none."""
    if listing.models:
        return listing.models[0]
    if listing.models is not None:
        raise errors.ConfigError(f"No model was chosen and {name} lists none: {how_to_choose}.")
    if listing.refused:
        raise errors.ConfigError(
            f"Listing the models of {name} was refused ({listing.problem}): check its API key."
        )
    raise errors.ConfigError(
        f"No model was chosen and listing the models of {name} failed ({listing.problem}): "
        f"{how_to_choose}."
    )


async def first_model_of(provider: Provider, name: str, how_to_choose: str) -> str:
    """The first model an unregistered provider (the CLI's --base-url) lists."""
    return first_listed(name, await _list(provider), how_to_choose)
