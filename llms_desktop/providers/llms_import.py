"""Read llms.py's `llms.json` and turn the providers it can map into our provider configs."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llms_desktop import errors
from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.providers.presets import preset

# llms.py `npm` package names (v3) and `type` class names (v2) that speak OpenAI's API.
_OPENAI_NPM = {
    "openai-local",
    "@ai-sdk/openai-compatible",
    "@ai-sdk/openai",
    "openai",
    "lmstudio",
    "ollama",
    "codestral",
    "@ai-sdk/mistral",
    "@ai-sdk/groq",
    "@ai-sdk/deepseek",
    "@openrouter/ai-sdk-provider",
}
_OPENAI_TYPES = {"OpenAiProvider", "OllamaProvider", "OpenAiLocalProvider", "LMStudioProvider"}
# llms.py ids that name a well-known service without a base URL (models.dev providers).
_ALIASES = {"google": "gemini", "google_free": "gemini", "openrouter_free": "openrouter"}


@dataclass
class ImportPlan:
    """What an llms.json yields: configs to add, keys to store, and what could not be mapped."""

    providers: list[ProviderConfig] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)  # literal api_key values -> keychain
    skipped: list[str] = field(default_factory=list)  # "id: reason"


def _base_url(provider_id: str, entry: Mapping[str, Any]) -> str | None:
    url = entry.get("api") or entry.get("base_url")
    npm, kind = entry.get("npm"), entry.get("type")
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        url = url.rstrip("/")
        # llms.py v2 base URLs and Ollama's native one lack the /v1 our client appends to.
        if not url.endswith(("/v1", "/openai", "/v1beta/openai")) and (
            npm == "ollama" or isinstance(kind, str)
        ):
            url += "/v1"
        return url
    known = preset(_ALIASES.get(provider_id, provider_id))
    return known.base_url if known is not None and known.type == OPENAI_COMPATIBLE else None


def _models(entry: Mapping[str, Any]) -> tuple[str, ...]:
    models = entry.get("models")
    if isinstance(models, list):
        return tuple(str(m) for m in models if isinstance(m, str))
    if isinstance(models, Mapping):
        names: list[str] = []
        for alias, value in models.items():
            if isinstance(value, str):  # v2: alias -> the provider's model id
                names.append(value)
            elif isinstance(value, Mapping) and isinstance(value.get("id"), str):
                names.append(value["id"])  # v3: id -> model description
            else:
                names.append(str(alias))
        return tuple(names)
    return ()


def plan_import(path: Path, existing: set[str]) -> ImportPlan:
    """Map the providers of an llms.json; existing ids are skipped (never overwritten)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise errors.ConfigError(f"No such file: {path}") from None
    except (OSError, ValueError, RecursionError) as exc:
        raise errors.ConfigError(f"{path} is not a readable JSON file: {exc}") from exc
    entries = payload.get("providers") if isinstance(payload, dict) else None
    if not isinstance(entries, Mapping):
        raise errors.ConfigError(f"{path} has no 'providers' object: is it llms.py's llms.json?")
    plan = ImportPlan()
    for raw_id, entry in entries.items():
        if not isinstance(entry, Mapping):
            plan.skipped.append(f"{raw_id}: not an object")
            continue
        provider_id = str(raw_id).lower().replace("_", "-")
        npm, kind = entry.get("npm"), entry.get("type")
        openai_like = npm in _OPENAI_NPM or kind in _OPENAI_TYPES or (npm is None and kind is None)
        url = _base_url(str(raw_id), entry)
        if not openai_like or url is None:
            what = npm or kind or "no npm package and no base URL"
            plan.skipped.append(f"{raw_id}: cannot map {what} to an OpenAI-compatible endpoint")
            continue
        if provider_id in existing:
            plan.skipped.append(f"{raw_id}: a provider with id {provider_id!r} already exists")
            continue
        key_env: str | None = None
        api_key = entry.get("api_key")
        env_list = entry.get("env")
        if isinstance(api_key, str) and api_key.startswith("$"):
            key_env = api_key[1:]
        elif isinstance(api_key, str) and api_key:
            plan.keys[provider_id] = api_key  # a literal key goes to the keychain, not the file
        if key_env is None and isinstance(env_list, list) and env_list:
            key_env = str(env_list[0])
        known = preset(_ALIASES.get(str(raw_id), provider_id))
        if key_env is None and known is not None:
            key_env = known.api_key_env
        try:
            config = ProviderConfig(
                id=provider_id,
                type=OPENAI_COMPATIBLE,
                name=str(entry.get("name") or (known.name if known else raw_id)),
                base_url=url,
                models=_models(entry),
                enabled=bool(entry.get("enabled", True)),
                api_key_env=key_env,
            ).validated()
        except errors.ConfigError as exc:
            plan.skipped.append(f"{raw_id}: {exc}")
            plan.keys.pop(provider_id, None)
            continue
        plan.providers.append(config)
        existing.add(provider_id)
    return plan
