"""All usable providers (configured and from the environment), built on demand and reused."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llms_desktop import errors
from llms_desktop.providers.base import Provider, Timeouts
from llms_desktop.providers.config import AIREFINERY, OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.providers.resolver import Listing, ModelResolver

if TYPE_CHECKING:
    from llms_desktop.secrets import KeyStore

ENV_OPENAI_ID = "openai"
ENV_AIR_ID = "airefinery"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class Route:
    """Where a model id goes: the provider's config and the model name it knows."""

    config: ProviderConfig
    model: str

    @property
    def ref(self) -> str:
        """The app-wide id, `provider/model`."""
        return f"{self.config.id}/{self.model}" if self.model else self.config.id


def environment_providers(env: Mapping[str, str], configured: set[str]) -> list[ProviderConfig]:
    """Providers the environment sets up without any configuration."""
    found: list[ProviderConfig] = []
    if ENV_OPENAI_ID not in configured and (
        env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY")
    ):
        found.append(
            ProviderConfig(
                id=ENV_OPENAI_ID,
                type=OPENAI_COMPATIBLE,
                name="OpenAI-compatible (from OPENAI_BASE_URL)",
                base_url=(env.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_URL).rstrip("/"),
                api_key_env="OPENAI_API_KEY",
            )
        )
    if ENV_AIR_ID not in configured and env.get("AIREFINERY_API_KEY"):
        from llms_desktop.providers.presets import preset

        air = preset("airefinery")
        assert air is not None
        found.append(
            ProviderConfig(
                id=ENV_AIR_ID,
                type=AIREFINERY,
                name="AI Refinery (from AIREFINERY_API_KEY)",
                base_url=(env.get("AIR_BASE_URL") or air.base_url).rstrip("/"),
                api_key_env="AIREFINERY_API_KEY",
            )
        )
    return found


class ProviderRegistry:
    """Builds provider objects on demand (keys looked up off the event loop) and reuses them."""

    def __init__(
        self,
        configs: Sequence[ProviderConfig],
        keys: KeyStore | None = None,
        *,
        timeouts: Callable[[], Timeouts] = Timeouts,
        env: Mapping[str, str] | None = None,
        air_cache_dir: Path | None = None,
    ) -> None:
        self._env = os.environ if env is None else env
        self._keys = keys
        self._timeouts = timeouts
        self._air_cache_dir = air_cache_dir
        self._instances: dict[tuple[object, ...], Provider] = {}
        # Providers replaced by a new key, URL or timeout: closed once their answers end.
        self._retiring: dict[asyncio.Task[None], Provider] = {}
        self.set_configs(configs)
        # The one place that decides which provider serves a model id (window, CLI, server).
        self.resolver = ModelResolver(self)

    def set_configs(self, configs: Sequence[ProviderConfig]) -> None:
        """Replace the configured providers (after the user edited them)."""
        self.configured = list(configs)
        ids = {config.id for config in self.configured}
        self.from_environment = environment_providers(self._env, ids)

    @property
    def all(self) -> list[ProviderConfig]:
        """Configured providers, then those the environment provides."""
        return [*self.configured, *self.from_environment]

    @property
    def enabled(self) -> list[ProviderConfig]:
        return [config for config in self.all if config.enabled]

    def get(self, provider_id: str) -> ProviderConfig | None:
        return next((config for config in self.all if config.id == provider_id), None)

    def api_key(self, config: ProviderConfig) -> str | None:
        """The environment variable when set, else the stored key (may block: keychain)."""
        if config.api_key_env and self._env.get(config.api_key_env):
            return self._env[config.api_key_env]
        if self._keys is None:
            return None
        return self._keys.get(config.id)

    async def provider(self, config: ProviderConfig) -> Provider:
        """The provider object for a config, reused while its key and settings stay the same."""
        key = await asyncio.to_thread(self.api_key, config)
        timeouts = self._timeouts()
        identity = (config.id, config.type, config.base_url, key, timeouts)
        existing = self._instances.get(identity)
        if existing is not None:
            return existing
        provider = self.build(config, key, timeouts)
        for old in [i for i in self._instances if i[0] == config.id]:
            self._retire(self._instances.pop(old))
        self._instances[identity] = provider
        return provider

    def _retire(self, provider: Provider) -> None:
        """Close a superseded provider's connections once no answer streams through it."""

        async def close_when_idle() -> None:
            wait_idle = getattr(provider, "wait_idle", None)
            if wait_idle is not None:
                await wait_idle()
            await provider.aclose()

        task = asyncio.get_running_loop().create_task(close_when_idle())
        self._retiring[task] = provider
        task.add_done_callback(lambda done: self._retiring.pop(done, None))

    def build(self, config: ProviderConfig, key: str | None, timeouts: Timeouts) -> Provider:
        """A new provider object for a config and key (not cached)."""
        if config.type == AIREFINERY:
            from llms_desktop.providers.airefinery import AIRefineryProvider

            if not key:
                variable = config.api_key_env or "AIREFINERY_API_KEY"
                raise errors.ConfigError(
                    f"No API key for {config.name}: set {variable} or enter the key in "
                    "Preferences > Providers."
                )
            return AIRefineryProvider(
                config.base_url or None,
                key,
                provider_id=config.id,
                timeouts=timeouts,
                cache_dir=self._air_cache_dir,
            )
        from llms_desktop.providers.openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(config.base_url, key, provider_id=config.id, timeouts=timeouts)

    async def list_models(self, config: ProviderConfig) -> list[str]:
        """Ask the provider for its models (network)."""
        provider = await self.provider(config)
        return [model.id for model in await provider.list_models()]

    async def model_refs(self, *, discover: bool = True) -> tuple[list[str], list[str]]:
        """Every enabled provider's models as `provider/model`, and a problem line per provider
        whose list could not be fetched. Saved lists are used as they are; providers without
        one are asked (`GET /models`) when `discover` is set, and the answers kept for routing."""
        enabled = self.enabled
        listings = await asyncio.gather(
            *(
                self.resolver.refresh(config) if discover or config.models else _no_listing()
                for config in enabled
            )
        )
        refs: list[str] = []
        problems: list[str] = []
        for config, listing in zip(enabled, listings, strict=True):
            if listing.problem:
                problems.append(f"{config.name}: {listing.problem}")
            refs.extend(f"{config.id}/{model}" for model in listing.models or ())
        return refs, problems

    async def aclose(self) -> None:
        """Stop model listings in flight and close every provider's connections."""
        await self.resolver.aclose()
        retiring, self._retiring = self._retiring, {}
        for task in retiring:
            task.cancel()
        await asyncio.gather(*retiring, return_exceptions=True)
        instances, self._instances = self._instances, {}
        for provider in [*instances.values(), *retiring.values()]:
            await provider.aclose()


async def _no_listing() -> Listing:
    return Listing(())
