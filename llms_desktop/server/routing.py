"""Model ids from API clients to providers: the one resolver, its refusals as OpenAI 404s."""

from __future__ import annotations

import asyncio

from llms_desktop import errors
from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.registry import ProviderRegistry, Route
from llms_desktop.server.api_errors import ApiError


async def route(registry: ProviderRegistry, model_ref: str) -> Route:
    """The provider and upstream model for a client's model id (the window's and the CLI's
    rules: see providers/resolver.py); a 404 ApiError when no provider serves it."""
    try:
        return await registry.resolver.resolve(model_ref)
    except errors.ConfigError as exc:  # unknown, ambiguous, a disabled provider, none set up
        message = str(exc)
        if not message.endswith("."):
            message += "."
        raise ApiError(
            404,
            f"{message} GET /v1/models lists the models available as 'provider/model'.",
            code="model_not_found",
            param="model",
        ) from None


async def listing(registry: ProviderRegistry) -> list[tuple[ProviderConfig, str]]:
    """Every enabled provider's models; providers whose listing failed are left out."""
    enabled = registry.enabled
    listings = await asyncio.gather(*(registry.resolver.listing(config) for config in enabled))
    return [
        (config, model)
        for config, found in zip(enabled, listings, strict=True)
        for model in found.models or ()
    ]
