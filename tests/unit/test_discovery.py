"""Finding local model servers: real loopback servers on real ports, probed concurrently."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from llms_desktop.providers.discovery import FoundServer, LocalServerKind, find_local_servers
from tests.support.loopback import LoopbackServer, Pause, Reply, json_reply


@pytest.fixture
def servers() -> Iterator[list[LoopbackServer]]:
    started = [LoopbackServer().start() for _ in range(4)]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_finds_servers_that_list_models_and_those_that_want_a_key(
    servers: list[LoopbackServer],
) -> None:
    ollama, vllm, web, slow = servers
    ollama.handler = lambda r: json_reply(
        {"object": "list", "data": [{"id": "llama3.2"}, {"id": "qwen3"}]}
    )
    vllm.handler = lambda r: json_reply({"error": {"message": "Unauthorized"}}, status=401)
    web.handler = lambda r: json_reply({"hello": "I am some other web app"})
    slow.handler = lambda r: Reply(
        headers=[("Content-Type", "application/json")],
        pieces=[Pause(5), b'{"data": [{"id": "late"}]}'],
        framing="close",
    )
    kinds = [
        LocalServerKind("Ollama", ollama.port, "ollama"),
        LocalServerKind("Jan", free_port(), "jan"),  # nothing listens
        LocalServerKind("vLLM", vllm.port, "vllm"),
        LocalServerKind("llama.cpp", web.port, "llamacpp"),
        LocalServerKind("LM Studio", slow.port, "lmstudio"),
    ]
    found = await find_local_servers(kinds, probe_timeout=0.5)
    assert found == [
        FoundServer(kinds[0], f"http://127.0.0.1:{ollama.port}/v1", ("llama3.2", "qwen3")),
        FoundServer(kinds[2], f"http://127.0.0.1:{vllm.port}/v1", (), needs_key=True),
    ]
    assert [r.path for r in ollama.requests] == ["/v1/models"]
    # The slow one was given up on: it was asked, and it is not listed.
    assert [r.path for r in slow.requests] == ["/v1/models"]


async def test_a_found_server_becomes_a_valid_provider_config(
    servers: list[LoopbackServer],
) -> None:
    server = servers[0]
    server.handler = lambda r: json_reply({"data": [{"id": "m"}]})
    (found,) = await find_local_servers([LocalServerKind("vLLM", server.port, "vllm")])
    config = found.config().validated()
    assert (config.id, config.name, config.base_url) == ("vllm", "vLLM", server.base_url)
    assert config.api_key_env == "VLLM_API_KEY"  # from the vLLM preset
    assert config.models == ()  # listed afresh by the app, so new models show up
