"""Provider settings: the providers file, routing, keys (keychain and fallback), llms.py import."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from llms_desktop import errors
from llms_desktop.providers.config import ProviderConfig, ProvidersFile
from llms_desktop.providers.llms_import import plan_import
from llms_desktop.providers.presets import PRESETS, preset
from llms_desktop.providers.registry import ProviderRegistry
from llms_desktop.providers.resolver import UnknownModel
from llms_desktop.secrets import KeyStore
from tests.support.test_keyring import JsonFileKeyring


def config(provider_id: str = "local", **fields: object) -> ProviderConfig:
    values: dict[str, object] = dict(
        id=provider_id, type="openai-compatible", name=provider_id, base_url="http://x/v1"
    )
    values.update(fields)
    return ProviderConfig(**values).validated()  # type: ignore[arg-type]


def test_providers_file_round_trips(tmp_path: Path) -> None:
    store = ProvidersFile(tmp_path)
    providers = [
        config("local", models=("a", "b"), params={"temperature": 0.2}, api_key_env="LOCAL_KEY"),
        config("air", type="airefinery", base_url="https://air.example", enabled=False),
    ]
    store.save(providers)
    loaded = store.load()
    assert loaded.problem is None
    assert loaded.providers == providers


def test_a_corrupt_providers_file_is_backed_up_and_reported(tmp_path: Path) -> None:
    store = ProvidersFile(tmp_path)
    store.path.write_text("{ not json")
    loaded = store.load()
    assert loaded.providers == []
    assert loaded.problem is not None
    assert "damaged" in loaded.problem
    assert loaded.backup is not None
    assert loaded.backup.read_text() == "{ not json"
    assert not store.path.exists()


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"id": "x", "type": "anthropic", "base_url": "http://x"}, "unknown type"),
        ({"id": "Bad Id", "base_url": "http://x"}, "lowercase"),
        ({"id": "x", "base_url": "ftp://x"}, "http://"),
        ({"id": "x", "base_url": "http://x", "models": "gpt"}, "list of strings"),
    ],
)
def test_invalid_entries_name_the_problem(
    tmp_path: Path, entry: dict[str, object], needle: str
) -> None:
    store = ProvidersFile(tmp_path)
    store.path.write_text(json.dumps({"providers": [entry]}))
    loaded = store.load()
    assert loaded.providers == []
    assert loaded.problem is not None
    assert needle in loaded.problem


def test_presets_cover_the_services_users_expect() -> None:
    ids = {p.id for p in PRESETS}
    assert {
        "openai",
        "openrouter",
        "groq",
        "mistral",
        "deepseek",
        "gemini",
        "ollama",
        "lmstudio",
        "llamacpp",
        "vllm",
        "airefinery",
    } <= ids
    for item in PRESETS:
        item.config().validated()
    ollama = preset("ollama")
    assert ollama is not None
    assert ollama.base_url == "http://localhost:11434/v1"


async def test_routing_by_provider_prefix_saved_listing_and_explicit_provider() -> None:
    registry = ProviderRegistry(
        [config("local", models=("llama3",)), config("router", models=("meta-llama/llama-3",))],
        env={},
    )
    resolve = registry.resolver.resolve
    assert (await resolve("router/meta-llama/llama-3")).config.id == "router"
    assert (await resolve("router/meta-llama/llama-3")).model == "meta-llama/llama-3"
    assert (await resolve("meta-llama/llama-3")).config.id == "router"  # listed by router
    assert (await resolve("llama3")).config.id == "local"
    assert (await resolve("")).ref == "local"  # no model: the first enabled provider
    with pytest.raises(UnknownModel, match="No enabled provider lists the model 'unknown'"):
        await resolve("unknown")
    assert (await resolve("m", provider_id="router")).ref == "router/m"
    assert (await resolve("router/m", provider_id="router")).ref == "router/m"
    with pytest.raises(errors.ConfigError, match="Unknown provider"):
        await resolve("m", provider_id="nope")


async def test_a_bare_id_goes_to_the_only_provider_whatever_it_lists() -> None:
    registry = ProviderRegistry([config("solo", models=("listed",))], env={})
    route = await registry.resolver.resolve("not-listed")
    assert (route.config.id, route.model) == ("solo", "not-listed")


async def test_a_disabled_provider_is_named_not_routed_around() -> None:
    registry = ProviderRegistry(
        [config("on", models=("m",)), config("off", models=("m",), enabled=False)], env={}
    )
    with pytest.raises(UnknownModel, match="'off' is disabled"):
        await registry.resolver.resolve("off/m")


async def test_no_provider_at_all_is_a_clear_error() -> None:
    with pytest.raises(errors.ConfigError, match="Preferences > Providers"):
        await ProviderRegistry([], env={}).resolver.resolve("gpt")


async def test_environment_variables_set_up_providers_without_configuration() -> None:
    env = {
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "sk-env",
        "AIREFINERY_API_KEY": "air-env",
    }
    registry = ProviderRegistry([], env=env)
    assert [c.id for c in registry.all] == ["openai", "airefinery"]
    assert registry.get("openai").base_url == "http://127.0.0.1:9/v1"  # type: ignore[union-attr]
    assert registry.api_key(registry.get("openai")) == "sk-env"  # type: ignore[arg-type]
    assert (await registry.resolver.resolve("airefinery/model-x")).config.type == "airefinery"


def test_environment_variable_overrides_the_stored_key(tmp_path: Path) -> None:
    keys = KeyStore(tmp_path / "keys.json", backend=False)
    keys.set("local", "sk-stored")
    registry = ProviderRegistry([config("local", api_key_env="LOCAL_KEY")], keys, env={})
    assert registry.api_key(registry.get("local")) == "sk-stored"  # type: ignore[arg-type]
    registry = ProviderRegistry(
        [config("local", api_key_env="LOCAL_KEY")], keys, env={"LOCAL_KEY": "sk-env"}
    )
    assert registry.api_key(registry.get("local")) == "sk-env"  # type: ignore[arg-type]


async def test_airefinery_without_key_names_the_variable_and_the_page() -> None:
    registry = ProviderRegistry(
        [config("air", type="airefinery", base_url="https://air.example")], env={}
    )
    with pytest.raises(errors.ConfigError, match=r"AIREFINERY_API_KEY.*Preferences > Providers"):
        await registry.provider(registry.get("air"))  # type: ignore[arg-type]


def test_fallback_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "config" / "api-keys.json"
    keys = KeyStore(path, backend=False)
    assert not keys.uses_keychain
    assert "readable only by you" in keys.location
    keys.set("local", "sk-secret")
    assert keys.get("local") == "sk-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    keys.delete("local")
    assert keys.get("local") is None


def test_keychain_backend_is_used_when_present(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_KEYRING_FILE", str(tmp_path / "keychain.json"))
    keys = KeyStore(tmp_path / "unused.json", backend=JsonFileKeyring())
    assert keys.uses_keychain
    keys.set("local", "sk-in-keychain")
    assert keys.get("local") == "sk-in-keychain"
    assert not (tmp_path / "unused.json").exists()
    keys.delete("local")
    keys.delete("local")  # deleting nothing is fine
    assert keys.get("local") is None


def test_default_key_file_is_outside_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    from llms_desktop.secrets import default_key_file

    data_dir = Path(os.environ["LLMS_DESKTOP_HOME"])
    assert data_dir not in default_key_file().parents


LLMS_V3 = {
    "version": 3,
    "providers": {
        "groq": {"enabled": True},
        "lmstudio": {
            "enabled": False,
            "npm": "lmstudio",
            "api": "http://127.0.0.1:1234/v1",
            "models": {},
        },
        "ollama": {"enabled": False, "npm": "ollama", "api": "http://localhost:11434"},
        "openai-local": {
            "enabled": False,
            "npm": "openai-local",
            "api": "http://localhost:8000/v1",
            "api_key": "$OPENAI_LOCAL_API_KEY",
        },
        "codestral": {
            "enabled": True,
            "npm": "codestral",
            "api": "https://codestral.mistral.ai/v1",
            "env": ["CODESTRAL_API_KEY"],
            "models": {"codestral-latest": {"id": "codestral-latest"}},
        },
        "custom": {
            "npm": "@ai-sdk/openai-compatible",
            "api": "https://llm.example.com/v1",
            "api_key": "sk-literal",
        },
        "anthropic": {"npm": "@ai-sdk/anthropic", "api": "https://api.anthropic.com"},
        "mystery": {"enabled": True},
    },
}


def test_llms_py_import_maps_what_it_can_and_reports_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "llms.json"
    path.write_text(json.dumps(LLMS_V3))
    plan = plan_import(path, existing={"groq"})
    by_id = {p.id: p for p in plan.providers}
    assert set(by_id) == {"lmstudio", "ollama", "openai-local", "codestral", "custom"}
    assert by_id["ollama"].base_url == "http://localhost:11434/v1"
    assert by_id["lmstudio"].enabled is False
    assert by_id["openai-local"].api_key_env == "OPENAI_LOCAL_API_KEY"
    assert by_id["codestral"].api_key_env == "CODESTRAL_API_KEY"
    assert by_id["codestral"].models == ("codestral-latest",)
    assert plan.keys == {"custom": "sk-literal"}
    assert "sk-literal" not in json.dumps([p.to_json() for p in plan.providers])
    skipped = "\n".join(plan.skipped)
    assert "groq" in skipped
    assert "already exists" in skipped
    assert "anthropic" in skipped
    assert "mystery" in skipped


def test_llms_py_v2_types_and_model_aliases(tmp_path: Path) -> None:
    path = tmp_path / "llms.json"
    path.write_text(
        json.dumps(
            {
                "providers": {
                    "openrouter_free": {
                        "enabled": True,
                        "type": "OpenAiProvider",
                        "base_url": "https://openrouter.ai/api",
                        "api_key": "$OPENROUTER_FREE_API_KEY",
                        "models": {"kimi-k2": "moonshotai/kimi-k2:free"},
                    },
                    "google_free": {"type": "GoogleProvider", "api_key": "$GOOGLE_FREE_API_KEY"},
                }
            }
        )
    )
    plan = plan_import(path, existing=set())
    assert [p.id for p in plan.providers] == ["openrouter-free"]
    assert plan.providers[0].base_url == "https://openrouter.ai/api/v1"
    assert plan.providers[0].models == ("moonshotai/kimi-k2:free",)
    assert any("google_free" in line for line in plan.skipped)


def test_llms_py_import_rejects_a_file_that_is_not_llms_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text("[1, 2]")
    with pytest.raises(errors.ConfigError, match="no 'providers' object"):
        plan_import(path, existing=set())
