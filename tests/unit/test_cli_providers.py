"""`providers` commands and `chat --provider`, as subprocesses, against loopback servers."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import air_server
from tests.support.cli import one_error_line, run_cli
from tests.support.loopback import LoopbackServer, Reply, json_reply, sse_reply, text_chunks

USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


@pytest.fixture
def air() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


def data_dir() -> Path:
    return Path(os.environ["LLMS_DESKTOP_HOME"])


def key_file() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "llms-desktop" / "api-keys.json"


def assert_no_key_in_data_dir(*keys: str) -> None:
    for path in data_dir().rglob("*"):
        if path.is_file():
            for key in keys:
                assert key.encode() not in path.read_bytes(), f"{key} in {path}"


def test_add_list_chat_and_remove_a_provider(loopback: LoopbackServer) -> None:
    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "llama3.2"}]})
        return sse_reply(text_chunks(["local ", "answer"], usage=USAGE))

    loopback.handler = handler
    added = run_cli(
        "providers",
        "add",
        "ollama",
        "--base-url",
        loopback.base_url,
        "--api-key-stdin",
        stdin="sk-cli-secret\n",
    )
    assert added.returncode == 0, added.stderr
    assert "Added ollama" in added.stdout
    listing = run_cli("providers", "list")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith("ollama"))
    assert "openai-compatible" in row
    assert "key file" in row
    assert loopback.base_url in row
    assert "sk-cli-secret" not in listing.stdout

    chat = run_cli("chat", "--provider", "ollama", "hello")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == "local answer\n"
    assert loopback.requests[-1].headers["authorization"] == "Bearer sk-cli-secret"
    assert loopback.requests[-1].json()["model"] == "llama3.2"  # discovered
    # provider/model ids route without --provider.
    assert run_cli("chat", "--model", "ollama/llama3.2", "again").returncode == 0
    assert loopback.requests[-1].json()["model"] == "llama3.2"
    models = run_cli("models", "--all")
    assert models.stdout.splitlines() == ["ollama/llama3.2"]

    assert stat.S_IMODE(key_file().stat().st_mode) == 0o600
    assert_no_key_in_data_dir("sk-cli-secret")
    assert run_cli("providers", "disable", "ollama").returncode == 0
    assert (
        json.loads((data_dir() / "providers.json").read_text())["providers"][0]["enabled"] is False
    )
    removed = run_cli("providers", "remove", "ollama")
    assert removed.returncode == 0
    assert "sk-cli-secret" not in key_file().read_text()
    assert "No providers" in run_cli("providers", "list").stdout


def test_same_prompt_through_ai_refinery_from_the_cli_with_usage(air: LoopbackServer) -> None:
    air.handler = lambda request: air_server.answer(["from ", "refinery"])
    added = run_cli(
        "providers",
        "add",
        "air",
        "--type",
        "airefinery",
        "--base-url",
        air.url,
        "--api-key",
        "air-cli-secret",
    )
    assert added.returncode == 0, added.stderr
    result = run_cli("chat", "--provider", "air", "--model", "air-model", "--json", "Same prompt")
    assert result.returncode == 0, result.stderr
    completion = json.loads(result.stdout)
    assert completion["choices"][0]["message"]["content"] == "from refinery"
    assert completion["usage"]["completion_tokens"] == air_server.USAGE["completion_tokens"]
    assert air.requests[-1].path == "/v1/chat/completions"
    assert air.requests[-1].headers["authorization"] == "Bearer air-cli-secret"
    shown = run_cli("threads", "export", "--all", "--format", "json")
    assert '"provider": "air"' in shown.stdout
    assert_no_key_in_data_dir("air-cli-secret")


def test_airefinery_key_from_the_environment(air: LoopbackServer) -> None:
    air.handler = lambda request: air_server.answer(["env ", "key"])
    result = run_cli(
        "chat",
        "--provider",
        "airefinery",
        "--model",
        "m",
        "hi",
        env={"AIREFINERY_API_KEY": "air-env-key", "AIR_BASE_URL": air.url},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "env key\n"
    assert air.requests[-1].headers["authorization"] == "Bearer air-env-key"


def test_missing_key_names_the_variable_and_the_settings_page() -> None:
    assert run_cli("providers", "add", "air", "--type", "airefinery").returncode == 0
    line = one_error_line(run_cli("chat", "--provider", "air", "--model", "m", "hi"))
    assert "AIREFINERY_API_KEY" in line
    assert "Preferences > Providers" in line


def test_unknown_provider_and_unreachable_models_are_clear() -> None:
    line = one_error_line(run_cli("chat", "--provider", "nope", "hi"))
    assert "Unknown provider 'nope'" in line
    assert (
        run_cli("providers", "add", "dead", "--base-url", "http://127.0.0.1:9/v1").returncode == 0
    )
    line = one_error_line(run_cli("models", "--provider", "dead"))
    assert "Connection refused" in line
    listed = run_cli("models", "--all")
    assert listed.returncode == 0
    assert "Connection refused" in listed.stderr


def test_corrupt_providers_file_is_backed_up_and_reported() -> None:
    data_dir().mkdir(parents=True, exist_ok=True)
    (data_dir() / "providers.json").write_text("{oops")
    result = run_cli("providers", "list")
    assert result.returncode == 0
    assert "damaged" in result.stderr
    assert list(data_dir().glob("providers.json.corrupt-*"))


def test_import_from_llms_py(tmp_path: Path) -> None:
    path = tmp_path / "llms.json"
    path.write_text(
        json.dumps(
            {
                "providers": {
                    "ollama": {"enabled": True, "npm": "ollama", "api": "http://localhost:11434"},
                    "custom": {
                        "npm": "@ai-sdk/openai-compatible",
                        "api": "https://llm.example.com/v1",
                        "api_key": "sk-imported",
                    },
                    "anthropic": {"npm": "@ai-sdk/anthropic"},
                }
            }
        )
    )
    result = run_cli("providers", "import", path)
    assert result.returncode == 0, result.stderr
    assert "Imported 2 provider(s): ollama, custom." in result.stdout
    assert "anthropic" in result.stdout
    assert "Stored 1 key(s)" in result.stdout
    assert_no_key_in_data_dir("sk-imported")
    listing = run_cli("providers", "list").stdout
    assert "http://localhost:11434/v1" in listing


def test_openai_base_url_keeps_provider_prefixed_model_ids_whole(loopback: LoopbackServer) -> None:
    # OpenRouter behind OPENAI_BASE_URL lists "openai/gpt-4o": the whole id is its model, though
    # "openai" is also the id of the provider OPENAI_BASE_URL sets up.
    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": "openai/gpt-4o"}, {"id": "openai/gpt-oss-20b"}]})
        return sse_reply(text_chunks(["ok"]))

    loopback.handler = handler
    env = {"OPENAI_BASE_URL": loopback.base_url}
    assert run_cli("chat", "--model", "openai/gpt-4o", "hi", env=env).returncode == 0
    assert loopback.requests[-1].json()["model"] == "openai/gpt-4o"
    env["LLMS_DESKTOP_MODEL"] = "openai/gpt-oss-20b"
    assert run_cli("chat", "hi", env=env).returncode == 0
    assert loopback.requests[-1].json()["model"] == "openai/gpt-oss-20b"
    # A model the server does not list under that name: "openai/" names the provider.
    assert run_cli("chat", "--model", "openai/o3", "hi", env=env).returncode == 0
    assert loopback.requests[-1].json()["model"] == "o3"
