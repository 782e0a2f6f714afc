"""Provider setup as the window and CLI edit it: the providers file, keys and the live registry."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from llms_desktop import errors
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.config import ProviderConfig, ProvidersFile
from llms_desktop.providers.llms_import import ImportPlan, plan_import
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.secrets import KeyStore


class ProviderSetup:
    """Loads providers once; every change is saved at once and applied to the registry."""

    def __init__(
        self,
        data_dir: Path,
        keys: KeyStore | None = None,
        *,
        timeouts: Callable[[], Timeouts] = Timeouts,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.file = ProvidersFile(data_dir)
        self.keys = keys if keys is not None else KeyStore()
        self._env = os.environ if env is None else env
        loaded = self.file.load()
        # Shown to the user once (a corrupt file was moved aside).
        self.problem = loaded.problem
        self.registry = ProviderRegistry(
            loaded.providers, self.keys, timeouts=timeouts, env=self._env
        )

    @property
    def configured(self) -> list[ProviderConfig]:
        """Providers from the file (not those the environment adds)."""
        return list(self.registry.configured)

    def _save(self, providers: list[ProviderConfig]) -> None:
        self.file.save(providers)
        self.registry.set_configs(providers)

    def add(self, config: ProviderConfig, api_key: str | None = None) -> ProviderConfig:
        """Add a provider (its key goes to the keychain); the id must be new."""
        config = config.validated()
        if any(existing.id == config.id for existing in self.configured):
            raise errors.ConfigError(f"A provider with id {config.id!r} already exists.")
        if api_key:
            self.keys.set(config.id, api_key)
        self._save([*self.configured, config])
        return config

    def update(self, config: ProviderConfig) -> ProviderConfig:
        """Replace the provider with the same id."""
        config = config.validated()
        providers = self.configured
        if not any(existing.id == config.id for existing in providers):
            raise errors.ConfigError(f"No configured provider has id {config.id!r}.")
        self._save([config if p.id == config.id else p for p in providers])
        return config

    def set_enabled(self, provider_id: str, enabled: bool) -> None:
        config = next((p for p in self.configured if p.id == provider_id), None)
        if config is None:
            raise errors.ConfigError(f"No configured provider has id {provider_id!r}.")
        self.update(replace(config, enabled=enabled))

    def set_vision(self, provider_id: str, model: str | None, takes: bool | None) -> None:
        """Say whether a model (or, with `model` None, every model) of a configured provider
        takes images; None goes back to guessing from the model's name."""
        config = next((p for p in self.configured if p.id == provider_id), None)
        if config is None:
            raise errors.ConfigError(
                f"No configured provider has id {provider_id!r} (providers set up by environment "
                "variables cannot be given settings: add them with `providers add`)."
            )
        if model is None:
            self.update(replace(config, vision=takes))
            return
        models = {key: value for key, value in config.vision_models.items() if key != model}
        if takes is not None:
            models[model] = takes
        self.update(replace(config, vision_models=models))

    def remove(self, provider_id: str) -> None:
        """Remove a provider and forget its stored key."""
        providers = self.configured
        if not any(p.id == provider_id for p in providers):
            raise errors.ConfigError(f"No configured provider has id {provider_id!r}.")
        self._save([p for p in providers if p.id != provider_id])
        self.keys.delete(provider_id)

    def set_key(self, provider_id: str, api_key: str) -> None:
        """Store (or, when empty, forget) a provider's key in the keychain."""
        self.keys.set(provider_id, api_key)

    def key_source(self, config: ProviderConfig) -> str:
        """Where this provider's key would come from, for listings (never the key itself)."""
        if config.api_key_env and self._env.get(config.api_key_env):
            return f"${config.api_key_env}"
        try:
            stored = self.keys.get(config.id)
        except errors.ConfigError:
            return "unreadable"
        if stored:
            return "keychain" if self.keys.uses_keychain else "key file"
        return "none"

    def import_llms(self, path: Path) -> ImportPlan:
        """Add the providers llms.py's llms.json maps to; returns what was added and skipped."""
        ids = {p.id for p in self.registry.all}
        plan = plan_import(path, ids)
        for provider_id, key in plan.keys.items():
            self.keys.set(provider_id, key)
        if plan.providers:
            self._save([*self.configured, *plan.providers])
        return plan
