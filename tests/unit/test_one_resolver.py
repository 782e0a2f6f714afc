"""One model resolver: the same id reaches the same provider and model from the window's
services, the `chat` command and the `serve` API, each run for real against loopback upstreams."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from llms_desktop import errors
from llms_desktop.app import AppServices
from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig, ProvidersFile
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.types import ChatMessage, ChatRequest
from tests.support.cli import run_cli
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.support.server_cli import serve

# What each upstream lists (GET /models).
LISTS = {
    "local": ["llama3", "shared"],
    "router": ["meta-llama/llama-3", "shared"],
    "env": ["openai/gpt-4o", "gpt-4o-mini"],  # OpenRouter-style ids behind OPENAI_BASE_URL
}
IDS = [
    "local/llama3",  # prefixed
    "llama3",  # bare, one provider lists it
    "meta-llama/llama-3",  # bare with a slash, listed by router
    "router/meta-llama/llama-3",  # prefixed, the model has a slash
    "router/not-listed",  # a prefix routes whatever the list says
    "openai/gpt-4o",  # the environment's provider lists the whole id
    "openai/o3",  # ...and not this one: "openai/" is the provider
    "gpt-4o-mini",  # bare, listed by the environment's provider
    "shared",  # bare, listed by two: ambiguous
    "unknown",  # listed by none
]
Outcome = tuple[str, str]  # (upstream name, model it received) or ("error", message)


def upstream(name: str) -> Any:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"data": [{"id": model} for model in LISTS[name]]})
        return sse_reply(text_chunks([f"from {name}"]))

    return handler


@pytest.fixture
def upstreams() -> Iterator[dict[str, LoopbackServer]]:
    servers = {name: LoopbackServer(upstream(name)).start() for name in LISTS}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture
def env(upstreams: dict[str, LoopbackServer]) -> dict[str, str]:
    """Two configured providers in the data folder, and one from OPENAI_BASE_URL."""
    data = Path(os.environ["LLMS_DESKTOP_HOME"])
    ProvidersFile(data).save(
        [
            ProviderConfig(
                id=name, type=OPENAI_COMPATIBLE, name=name, base_url=upstreams[name].base_url
            ).validated()
            for name in ("local", "router")
        ]
    )
    return {"OPENAI_BASE_URL": upstreams["env"].base_url, "OPENAI_API_KEY": "sk-env"}


class Observer:
    """Which upstream received the chat request made since the last look, and its model."""

    def __init__(self, upstreams: dict[str, LoopbackServer]) -> None:
        self.upstreams = upstreams
        self.seen = {name: 0 for name in upstreams}

    def reached(self) -> Outcome | None:
        found = None
        for name, server in self.upstreams.items():
            new = server.requests[self.seen[name] :]
            self.seen[name] = len(server.requests)
            chats = [r for r in new if r.path.endswith("/chat/completions")]
            assert len(chats) <= 1
            if chats:
                assert found is None, "two upstreams got the request"
                found = (name, chats[0].json()["model"])
        return found


async def through_window(model_ref: str, env: dict[str, str], observer: Observer) -> Outcome:
    setup = ProviderSetup(Path(os.environ["LLMS_DESKTOP_HOME"]), env={**os.environ, **env})
    services = AppServices(None, None, None, setup)  # type: ignore[arg-type]
    try:
        resolved = await services.resolve(model_ref)
        request = ChatRequest(resolved.model, (ChatMessage("user", "hi"),))
        async for _ in resolved.provider.stream(request):
            pass
    except errors.ConfigError as exc:
        return ("error", str(exc))
    finally:
        await services.aclose()
    reached = observer.reached()
    assert reached == (_upstream_of(resolved.provider_id), resolved.model)
    return reached


def _upstream_of(provider_id: str) -> str:
    return "env" if provider_id == "openai" else provider_id


def through_cli(model_ref: str, env: dict[str, str], observer: Observer) -> Outcome:
    result = run_cli("chat", "--no-store", "--model", model_ref, "hi", env=env)
    if result.returncode:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return ("error", lines[0].removeprefix("llms-desktop: error: "))
    reached = observer.reached()
    assert reached is not None
    assert result.stdout == f"from {reached[0]}\n"
    return reached


def through_server(model_ref: str, base_url: str, observer: Observer) -> Outcome:
    response = httpx.post(
        f"{base_url}/chat/completions",
        json={"model": model_ref, "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    if response.status_code == 404:
        return ("error", response.json()["error"]["message"])
    assert response.status_code == 200, response.text
    reached = observer.reached()
    assert reached is not None
    assert response.json()["choices"][0]["message"]["content"] == f"from {reached[0]}"
    return reached


async def test_the_same_ids_resolve_identically_from_window_cli_and_server(
    upstreams: dict[str, LoopbackServer], env: dict[str, str]
) -> None:
    observer = Observer(upstreams)
    window = {ref: await through_window(ref, env, observer) for ref in IDS}
    cli = {ref: through_cli(ref, env, observer) for ref in IDS}
    with serve(env=env) as server:
        assert server.providers == 3
        api = {ref: through_server(ref, server.base_url, observer) for ref in IDS}

    expected = {
        "local/llama3": ("local", "llama3"),
        "llama3": ("local", "llama3"),
        "meta-llama/llama-3": ("router", "meta-llama/llama-3"),
        "router/meta-llama/llama-3": ("router", "meta-llama/llama-3"),
        "router/not-listed": ("router", "not-listed"),
        "openai/gpt-4o": ("env", "openai/gpt-4o"),
        "openai/o3": ("env", "o3"),
        "gpt-4o-mini": ("env", "gpt-4o-mini"),
    }
    for ref in IDS:
        if ref in expected:
            assert window[ref] == cli[ref] == api[ref] == expected[ref], ref
            continue
        # Refused alike, in the same words (the server adds where to find the model list).
        assert window[ref][0] == cli[ref][0] == api[ref][0] == "error", ref
        assert cli[ref][1] == window[ref][1]
        assert api[ref][1].startswith(window[ref][1])
    assert "'local/shared' or 'router/shared'" in window["shared"][1]
    assert "No enabled provider lists the model 'unknown'" in window["unknown"][1]


def test_chat_without_a_model_on_a_server_without_a_model_list(loopback: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return json_reply({"error": {"message": "Not Found"}}, status=404)
        return sse_reply(text_chunks(["ok"]))

    loopback.handler = handler
    result = run_cli("chat", "--base-url", loopback.base_url, "hi")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "listing the models" in line
    assert f"GET {loopback.base_url}/models -> HTTP 404: Not Found" in line
    assert "pass --model ID" in line
    # The same server with a model named: answered, no model list asked for.
    before = len(loopback.requests)
    assert run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "hi").returncode == 0
    assert [r.path for r in loopback.requests[before:]] == ["/v1/chat/completions"]


def test_chat_to_the_only_provider_by_a_bare_id_it_does_not_list(
    loopback: LoopbackServer,
) -> None:
    def handler(request: Request) -> Reply:
        if request.path.endswith("/models"):
            return Reply(status=404, framing="length")
        return sse_reply(text_chunks(["solo"]))

    loopback.handler = handler
    assert run_cli("providers", "add", "llamacpp", "--base-url", loopback.base_url).returncode == 0
    result = run_cli("chat", "--model", "my-gguf", "hi")
    assert result.returncode == 0, result.stderr
    assert loopback.requests[-1].json()["model"] == "my-gguf"


def test_chat_without_a_model_whose_key_is_refused_points_at_the_key(
    loopback: LoopbackServer,
) -> None:
    loopback.handler = lambda r: json_reply({"error": {"message": "Invalid API Key"}}, status=401)
    result = run_cli("chat", "--base-url", loopback.base_url, "hi")
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "HTTP 401: Invalid API Key" in line
    assert line.endswith("check its API key.")
    assert "--model" not in line  # naming a model would only be refused again
