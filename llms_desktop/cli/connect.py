"""Which provider a command talks to: --provider, --base-url, a provider/model id, or defaults."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from llms_desktop.providers.base import MODEL_ENV, Provider, Timeouts

if TYPE_CHECKING:
    from llms_desktop.providers.config import ProviderConfig
    from llms_desktop.providers.registry import ProviderRegistry


# How a CLI user names a model when none could be chosen for them.
HOW_TO_CHOOSE = f"pass --model ID or set {MODEL_ENV}"


@dataclass
class Connected:
    """A provider ready to use, its id, and the model asked for ("" to pick one)."""

    provider: Provider
    provider_id: str
    model: str
    # The registry's provider when the route came from the resolver (None for --base-url).
    config: ProviderConfig | None = None
    registry: ProviderRegistry | None = None
    # --base-url/--api-key changed the registry's provider: list models with this one.
    overridden: bool = False


async def open_for(
    args: argparse.Namespace, model: str | None, *, thread_provider: str | None = None
) -> Connected:
    """Resolve the provider for a command.

    `--base-url`/`--api-key` without `--provider` make an ad-hoc OpenAI-compatible provider
    whose model ids are sent whole. Otherwise the providers (configured, then those the
    environment sets up) and the one model resolver the window and the server use decide,
    from `--provider ID` (its URL and key overridable by `--base-url`/`--api-key`) or the
    model id. `thread_provider` (a continued thread's provider) is used when it still exists
    and neither `--provider` nor `--model` was given.
    """
    from llms_desktop.paths import data_dir
    from llms_desktop.providers.setup import ProviderSetup

    timeouts = Timeouts.from_single(args.timeout)
    wanted = model or ""
    provider_id: str | None = getattr(args, "provider", None)
    if not provider_id and (args.base_url or args.api_key is not None):
        return _ad_hoc(args, wanted, timeouts)
    setup = ProviderSetup(data_dir(getattr(args, "data_dir", None)), timeouts=lambda: timeouts)
    registry = setup.registry
    if not provider_id and thread_provider and registry.get(thread_provider) is not None:
        provider_id = thread_provider
    try:
        route = await registry.resolver.resolve(wanted, provider_id=provider_id)
    except BaseException:
        await registry.aclose()
        raise
    config = route.config
    if args.base_url:
        config = replace(config, base_url=args.base_url.rstrip("/")).validated()
    if args.api_key is not None:
        key: str | None = args.api_key
    else:
        key = await asyncio.to_thread(registry.api_key, config)
    provider = registry.build(config, key, timeouts)
    overridden = config != route.config or args.api_key is not None
    return Connected(provider, config.id, route.model, route.config, registry, overridden)


def _ad_hoc(args: argparse.Namespace, model: str, timeouts: Timeouts) -> Connected:
    from llms_desktop.providers.resolve import open_provider, resolve_connection

    provider = open_provider(resolve_connection(args.base_url, args.api_key), timeouts)
    return Connected(provider, provider.id, model)


async def choose_model(connected: Connected) -> str:
    """The model asked for, else the first the provider lists (the resolver's rule)."""
    if connected.model:
        return connected.model
    from llms_desktop.providers.resolver import first_model_of

    if connected.registry is None or connected.config is None:
        name = getattr(connected.provider, "base_url", connected.provider_id)
        return await first_model_of(connected.provider, str(name), HOW_TO_CHOOSE)
    lister = connected.provider if connected.overridden else None
    return await connected.registry.resolver.first_model(connected.config, HOW_TO_CHOOSE, lister)


async def close(connected: Connected) -> None:
    """Close the provider and the registry's connections (model listings)."""
    await connected.provider.aclose()
    if connected.registry is not None:
        await connected.registry.aclose()


def add_provider_option(parser: argparse.ArgumentParser) -> None:
    """--provider ID, for commands that talk to a provider."""
    parser.add_argument(
        "--provider",
        metavar="ID",
        help="a configured provider (see `providers list`); with airefinery, --base-url is the "
        "SDK's base URL, without /v1",
    )
