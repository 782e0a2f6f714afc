"""Which provider a command talks to: --provider, --base-url, a provider/model id, or defaults."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from llms_desktop import errors
from llms_desktop.providers.base import MODEL_ENV, Provider, Timeouts

if TYPE_CHECKING:
    from llms_desktop.providers.registry import ProviderRegistry


@dataclass
class Connected:
    """A provider ready to use, its id, and the model asked for ("" to pick one)."""

    provider: Provider
    provider_id: str
    model: str
    ad_hoc: bool = False  # --base-url / OPENAI_*: model ids are sent whole


def open_for(
    args: argparse.Namespace, model: str | None, *, provider_hint: str | None = None
) -> Connected:
    """Resolve the provider for a command.

    Order: `--provider ID` (a configured or environment provider; `--base-url`/`--api-key`
    then override its URL and key); else `--base-url`/`--api-key` (an ad-hoc OpenAI-compatible
    provider); else a `provider/model` id naming an enabled provider; else OPENAI_BASE_URL /
    OPENAI_API_KEY; else the first enabled configured provider; else OpenAI's endpoint.
    `provider_hint` (a continued thread's provider) is used when it is a known provider and
    nothing above chose one.
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
    enabled = {config.id for config in registry.enabled}
    if not provider_id:
        head, slash, _ = wanted.partition("/")
        # The OPENAI_* environment provider is the ad-hoc one: "openai/gpt-4o" is then a model
        # id for that server (OpenRouter, LiteLLM), sent whole like with --base-url.
        prefixes = enabled - {"openai"} if _env_openai(registry) else enabled
        named = bool(slash) and head in prefixes
        if not named and provider_hint in enabled and not os.environ.get("OPENAI_BASE_URL"):
            provider_id = provider_hint
        from_env = os.environ.get("OPENAI_BASE_URL") or os.environ.get("OPENAI_API_KEY")
        if (
            not provider_id
            and not named
            and (from_env or not [c for c in registry.configured if c.enabled])
        ):
            return _ad_hoc(args, wanted, timeouts)
    route = registry.route(wanted, provider_id)
    config = route.config
    if args.base_url:
        config = replace(config, base_url=args.base_url.rstrip("/")).validated()
    key = args.api_key if args.api_key is not None else registry.api_key(config)
    return Connected(registry.build(config, key, timeouts), config.id, route.model)


def _env_openai(registry: ProviderRegistry) -> bool:
    from llms_desktop.providers.registry import ENV_OPENAI_ID

    return any(config.id == ENV_OPENAI_ID for config in registry.from_environment)


def _ad_hoc(args: argparse.Namespace, model: str, timeouts: Timeouts) -> Connected:
    from llms_desktop.providers.resolve import open_provider, resolve_connection

    provider = open_provider(resolve_connection(args.base_url, args.api_key), timeouts)
    return Connected(provider, provider.id, model, ad_hoc=True)


async def choose_model(connected: Connected) -> str:
    """The model: as asked, else $LLMS_DESKTOP_MODEL, else the first the provider lists."""
    if connected.model:
        return connected.model
    from_env = os.environ.get(MODEL_ENV)
    if from_env:
        prefix = f"{connected.provider_id}/"
        if not connected.ad_hoc and from_env.startswith(prefix):
            return from_env.removeprefix(prefix)
        return from_env
    models = await connected.provider.list_models()
    if not models:
        raise errors.ConfigError(
            f"The provider {connected.provider_id!r} lists no models; pass --model or set "
            f"{MODEL_ENV}."
        )
    return models[0].id


def add_provider_option(parser: argparse.ArgumentParser) -> None:
    """--provider ID, for commands that talk to a provider."""
    parser.add_argument(
        "--provider",
        metavar="ID",
        help="a configured provider (see `providers list`); with airefinery, --base-url is the "
        "SDK's base URL, without /v1",
    )
