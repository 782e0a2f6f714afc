"""Provider settings: the providers file in the data directory (never holding keys), validated."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llms_desktop import errors
from llms_desktop.paths import ensure_data_dir, write_private_text

PROVIDERS_FILE = "providers.json"
FILE_VERSION = 1
OPENAI_COMPATIBLE = "openai-compatible"
AIREFINERY = "airefinery"
PROVIDER_TYPES = (OPENAI_COMPATIBLE, AIREFINERY)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ProviderConfig:
    """One configured provider. The API key is not here: it lives in the keychain."""

    id: str
    type: str
    name: str
    base_url: str
    models: tuple[str, ...] = ()
    enabled: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)
    # An environment variable whose value, when set, overrides the stored key.
    api_key_env: str | None = None
    # Whether its models take images: True/False for all of them, None to go by each name
    # (providers/vision.py); `vision_models` says it per model and wins.
    vision: bool | None = None
    vision_models: Mapping[str, bool] = field(default_factory=dict)

    def validated(self) -> ProviderConfig:
        """This config, or a ConfigError saying what is wrong with it."""
        if not _ID.match(self.id):
            raise errors.ConfigError(
                f"Provider id {self.id!r} must be lowercase letters, digits, '.', '_' or '-' "
                "(at most 64), starting with a letter or digit."
            )
        if self.type not in PROVIDER_TYPES:
            raise errors.ConfigError(
                f"Provider {self.id!r} has unknown type {self.type!r}; "
                f"known types: {', '.join(PROVIDER_TYPES)}."
            )
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise errors.ConfigError(
                f"Provider {self.id!r}: the base URL must start with http:// or https://, "
                f"got {self.base_url!r}."
            )
        if self.type == OPENAI_COMPATIBLE and not self.base_url:
            raise errors.ConfigError(f"Provider {self.id!r} needs a base URL.")
        if self.api_key_env is not None and not _ENV_NAME.match(self.api_key_env):
            raise errors.ConfigError(
                f"Provider {self.id!r}: {self.api_key_env!r} is not an environment variable name."
            )
        return replace(
            self,
            base_url=self.base_url.rstrip("/"),
            name=self.name or self.id,
            models=tuple(dict.fromkeys(m.strip() for m in self.models if m.strip())),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "base_url": self.base_url,
            "enabled": self.enabled,
            "models": list(self.models),
            "params": dict(self.params),
        }
        if self.api_key_env:
            out["api_key_env"] = self.api_key_env
        if self.vision is not None:
            out["vision"] = self.vision
        if self.vision_models:
            out["vision_models"] = dict(self.vision_models)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProviderConfig:
        """Parse one entry; raises ConfigError naming the bad field."""
        if not isinstance(data, Mapping):
            raise errors.ConfigError("a provider entry is not an object")
        provider_id = data.get("id")
        if not isinstance(provider_id, str):
            raise errors.ConfigError("a provider entry has no string 'id'")
        models = data.get("models", [])
        params = data.get("params", {})
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise errors.ConfigError(
                f"provider {provider_id!r}: 'models' must be a list of strings"
            )
        if not isinstance(params, Mapping):
            raise errors.ConfigError(f"provider {provider_id!r}: 'params' must be an object")
        key_env = data.get("api_key_env")
        vision = data.get("vision")
        if vision is not None and not isinstance(vision, bool):
            raise errors.ConfigError(f"provider {provider_id!r}: 'vision' must be true or false")
        vision_models = data.get("vision_models", {})
        if not isinstance(vision_models, Mapping) or not all(
            isinstance(key, str) and isinstance(value, bool) for key, value in vision_models.items()
        ):
            raise errors.ConfigError(
                f"provider {provider_id!r}: 'vision_models' must map model ids to true or false"
            )
        return cls(
            id=provider_id,
            type=str(data.get("type", OPENAI_COMPATIBLE)),
            name=str(data.get("name") or provider_id),
            base_url=str(data.get("base_url") or ""),
            models=tuple(models),
            enabled=bool(data.get("enabled", True)),
            params=dict(params),
            api_key_env=str(key_env) if key_env else None,
            vision=vision,
            vision_models=dict(vision_models),
        ).validated()


@dataclass
class LoadResult:
    """What loading found: the providers, and a message for the user if the file was bad."""

    providers: list[ProviderConfig]
    problem: str | None = None
    backup: Path | None = None


class ProvidersFile:
    """`providers.json` in the data directory; written atomically, backed up when corrupt."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / PROVIDERS_FILE

    def load(self) -> LoadResult:
        """The configured providers. A corrupt file is moved aside and none are loaded."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return LoadResult([])
        except OSError as exc:
            return LoadResult([], f"Could not read {self.path}: {exc.strerror or exc}")
        try:
            payload = json.loads(raw)
            entries = payload.get("providers") if isinstance(payload, dict) else None
            if not isinstance(entries, list):
                raise errors.ConfigError("it has no 'providers' list")
            providers = [ProviderConfig.from_json(entry) for entry in entries]
            ids = [p.id for p in providers]
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            if duplicates:
                raise errors.ConfigError(f"provider ids repeat: {', '.join(duplicates)}")
        except (ValueError, RecursionError, errors.ConfigError) as exc:
            backup = self._back_up()
            where = f" It was moved to {backup}." if backup else ""
            return LoadResult(
                [],
                f"The providers file {self.path} is damaged ({exc}); starting with no "
                f"configured providers.{where}",
                backup,
            )
        return LoadResult(providers)

    def save(self, providers: Sequence[ProviderConfig]) -> None:
        """Write all providers at once (a crash leaves the old file or the new one)."""
        payload = {"version": FILE_VERSION, "providers": [p.to_json() for p in providers]}
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            ensure_data_dir(self.path.parent)
            write_private_text(temporary, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
            os.replace(temporary, self.path)
        except OSError as exc:
            raise errors.ConfigError(
                f"Could not save providers to {self.path}: {exc.strerror or exc}"
            ) from exc

    def _back_up(self) -> Path | None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        backup = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            os.replace(self.path, backup)
        except OSError:
            return None
        return backup
