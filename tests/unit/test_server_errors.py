"""The API server's errors: OpenAI's shape and status for bad requests, routing and upstreams."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import openai
import pytest

from llms_desktop import errors
from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
from llms_desktop.server import LocalServer
from llms_desktop.server.access import check_local_caller
from llms_desktop.server.api_errors import ApiError
from tests.support.loopback import (
    LoopbackServer,
    Pause,
    Reply,
    chunk,
    fixture_reply,
    json_reply,
    sse_reply,
    text_chunks,
)
from tests.support.server_harness import (
    body,
    chunks,
    client,
    events,
    provider_config,
    registry_of,
    serving,
    streamed_text,
    upstream_routes,
)

OK = sse_reply(text_chunks(["ok"]))


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The `error` object of an OpenAI-shaped error response, after checking its status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["type"], str)
    assert "code" in error
    return dict(error)


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b"\xff\xfe", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "", "messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m1"}', "messages"),
        (b'{"model": "m1", "messages": []}', "messages"),
        (b'{"model": "m1", "messages": ["hi"]}', "messages[0]"),
        (b'{"model": "m1", "messages": [{"role": "robot", "content": "x"}]}', "messages[0]"),
        (b'{"model": "m1", "messages": [{"role": "user", "content": 5}]}', "messages[0]"),
        (
            b'{"model": "m1", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}',
            "stream",
        ),
        (b'{"model": "m1", "messages": [{"role": "user", "content": "x"}], "n": 2}', "n"),
    ],
)
async def test_bad_requests_are_400_in_openai_shape(
    loopback: LoopbackServer, payload: bytes, param: str | None
) -> None:
    loopback.handler = upstream_routes(OK)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post(
            "/v1/chat/completions", content=payload, headers={"Content-Type": "application/json"}
        )
    error = error_of(response, 400)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert not any(r.path.endswith("/chat/completions") for r in loopback.requests)


async def test_routing_by_provider_prefix_and_by_bare_id(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK, models=["listed-a", "shared"])
    with LoopbackServer(upstream_routes(OK, models=["listed-b", "shared"])) as other:
        registry = registry_of(
            provider_config("a", loopback),
            provider_config("b", other),
            provider_config("saved", other, models=["only-saved"]),
        )
        async with serving(registry) as server, client(server) as http:
            for model, upstream, name in [
                ("listed-a", loopback, "listed-a"),
                ("listed-b", other, "listed-b"),
                ("only-saved", other, "only-saved"),
                ("a/shared", loopback, "shared"),
                ("b/any/thing", other, "any/thing"),  # a prefix routes whatever the list says
            ]:
                response = await http.post("/v1/chat/completions", json=body(model))
                assert response.status_code == 200, (model, response.text)
                assert response.json()["model"] == model
                assert upstream.requests[-1].json()["model"] == name
            ambiguous = await http.post("/v1/chat/completions", json=body("shared"))
            unknown = await http.post("/v1/chat/completions", json=body("nope"))
            listings = sum(
                r.path.endswith("/models") for r in (*loopback.requests, *other.requests)
            )
    error = error_of(ambiguous, 404)
    assert "'a/shared'" in error["message"]
    assert "'b/shared'" in error["message"]
    assert error_of(unknown, 404)["code"] == "model_not_found"
    assert listings == 2  # each discovered list was fetched once and reused


async def test_disabled_and_unlisting_providers_do_not_serve(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK, models_reply=Reply(status=500))
    registry = registry_of(
        provider_config("off", loopback, models=["m1"], enabled=False),
        provider_config("broken", loopback),
        provider_config("fine", loopback, models=["other"]),
    )
    async with serving(registry) as server, client(server) as http:
        unlisted = error_of(await http.post("/v1/chat/completions", json=body("m1")), 404)
        disabled = error_of(await http.post("/v1/chat/completions", json=body("off/m1")), 404)
    assert "could not list the models of: broken" in unlisted["message"]
    assert "'off' is disabled" in disabled["message"]
    assert not any(r.path.endswith("/chat/completions") for r in loopback.requests)


async def test_a_bare_id_goes_to_the_only_provider(loopback: LoopbackServer) -> None:
    # llama.cpp and friends without GET /models: the one provider there is gets the id.
    loopback.handler = upstream_routes(OK, models_reply=Reply(status=404))
    async with (
        serving(registry_of(provider_config("solo", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post("/v1/chat/completions", json=body("whatever-it-serves"))
    assert response.status_code == 200, response.text
    assert loopback.requests[-1].json()["model"] == "whatever-it-serves"
    assert not any(r.path.endswith("/models") for r in loopback.requests)


async def test_openai_client_sees_404_for_unknown_model(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    registry = registry_of(provider_config("up", loopback), provider_config("too", loopback))
    async with (
        serving(registry) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as oai,
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            await oai.chat.completions.create(
                model="gpt-nothing", messages=[{"role": "user", "content": "x"}]
            )
    assert "gpt-nothing" in caught.value.message


@pytest.mark.parametrize("stream", [True, False])
async def test_upstream_401_passes_through(loopback: LoopbackServer, stream: bool) -> None:
    loopback.handler = upstream_routes(fixture_reply("llama_server_401_wrong_key.txt"))
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        openai.AsyncOpenAI(base_url=server.base_url, api_key="unused", max_retries=0) as oai,
    ):
        with pytest.raises(openai.AuthenticationError) as caught:
            await oai.chat.completions.create(
                model="m1", messages=[{"role": "user", "content": "x"}], stream=stream
            )
    assert caught.value.status_code == 401
    assert "Invalid API Key" in caught.value.message


async def test_upstream_500_passes_through_with_its_message(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(
        json_reply(
            {"error": {"message": "model crashed", "type": "server_error", "code": "oom"}}, 500
        )
    )
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        for stream in (True, False):
            error = error_of(await http.post("/v1/chat/completions", json=body(stream=stream)), 500)
            assert error["message"] == "model crashed"
            assert error["code"] == "oom"


async def test_unreachable_upstream_is_502() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = ProviderConfig(
        "down", OPENAI_COMPATIBLE, "down", f"http://127.0.0.1:{port}/v1", ("m1",)
    )
    async with serving(registry_of(config)) as server, client(server) as http:
        error = error_of(await http.post("/v1/chat/completions", json=body(stream=True)), 502)
    assert error["code"] == "upstream_unreachable"
    assert "down" in error["message"]


async def test_upstream_timeout_is_504(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(
        Reply(headers=[("Content-Type", "text/event-stream")], pieces=[Pause(5)])
    )
    registry = registry_of(provider_config("slow", loopback, models=["m1"]), read_timeout=0.3)
    async with serving(registry) as server, client(server) as http:
        error = error_of(await http.post("/v1/chat/completions", json=body(stream=True)), 504)
    assert error["code"] == "upstream_timeout"


@pytest.mark.parametrize(
    "reply",
    [
        sse_reply([chunk("partial "), {"error": {"message": "upstream died"}}], done=False),
        Reply(
            headers=[("Content-Type", "text/event-stream")],
            pieces=[b'data: {"choices":[{"index":0,"delta":{"content":"partial "}}]}\n\n'],
            abort=True,
        ),
    ],
    ids=["error-event", "hang-up"],
)
async def test_upstream_failure_mid_stream_is_an_error_event_then_the_end(
    loopback: LoopbackServer, reply: Reply
) -> None:
    loopback.handler = upstream_routes(reply)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        response = await http.post("/v1/chat/completions", json=body(stream=True))
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="unused", max_retries=0
        ) as oai:
            stream = await oai.chat.completions.create(
                model="m1", messages=[{"role": "user", "content": "x"}], stream=True
            )
            with pytest.raises(openai.APIError):
                async for _ in stream:
                    pass
    assert response.status_code == 200
    assert "[DONE]" not in events(response.content)
    assert streamed_text(response.content) == "partial "
    last = chunks(response.content)[-1]
    assert set(last) == {"error"}
    assert {"message", "type", "code"} <= set(last["error"])


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (
            Reply(
                headers=[("Content-Type", "text/event-stream")],
                pieces=[f"data: {json.dumps(chunk('partial '))}\n\n".encode()],
                abort=True,
            ),
            "closed the connection before the answer finished",
        ),
        (sse_reply([chunk("partial ")]), "The stream ended ([DONE]) before the model finished"),
    ],
    ids=["hang-up", "done-without-finish"],
)
async def test_an_upstream_that_stops_mid_answer_is_not_called_unreachable(
    loopback: LoopbackServer, reply: Reply, cause: str
) -> None:
    loopback.handler = upstream_routes(reply)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        streamed = await http.post("/v1/chat/completions", json=body(stream=True))
        whole = await http.post("/v1/chat/completions", json=body(stream=False))
    assert streamed.status_code == 200
    assert streamed_text(streamed.content) == "partial "
    for error in (chunks(streamed.content)[-1]["error"], error_of(whole, 502)):
        assert error["code"] == "upstream_interrupted"
        assert error["message"].startswith("Upstream provider 'up' stopped before finishing its")
        assert cause in error["message"]
        assert "unreachable" not in error["message"]


async def test_api_key_is_required_when_set(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    registry = registry_of(provider_config("up", loopback))
    async with serving(registry, api_key="s3cret") as server, client(server) as http:
        missing = await http.post("/v1/chat/completions", json=body())
        wrong = await http.get("/v1/models", headers={"Authorization": "Bearer nope"})
        basic = await http.get("/v1/models", headers={"Authorization": "Basic s3cret"})
        right = await http.get("/v1/models", headers={"Authorization": "Bearer s3cret"})
        unknown_path = await http.get("/v1/secret-things")
        health = await http.get("/health")
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="s3cret") as oai:
            result = await oai.chat.completions.create(
                model="m1", messages=[{"role": "user", "content": "x"}]
            )
    for response in (missing, wrong, basic, unknown_path):
        assert error_of(response, 401)["code"] == "invalid_api_key"
        assert response.headers["www-authenticate"] == "Bearer"
    assert right.status_code == 200
    assert health.json() == {"status": "ok"}
    assert result.choices[0].message.content == "ok"
    # The server's key is never sent upstream.
    assert all("s3cret" not in str(r.headers) for r in loopback.requests)


async def test_web_pages_are_refused_without_a_key(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        evil_origin = await http.post(
            "/v1/chat/completions", json=body(), headers={"Origin": "https://evil.example"}
        )
        rebound = await http.get("/v1/models", headers={"Host": f"evil.example:{server.port}"})
        local_page = await http.post(
            "/v1/chat/completions", json=body(), headers={"Origin": "http://localhost:3000"}
        )
    assert error_of(evil_origin, 403)["code"] == "forbidden_origin"
    assert error_of(rebound, 403)["code"] == "forbidden_host"
    assert local_page.status_code == 200


async def test_body_limit_is_413(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(OK)
    big = body(messages=[{"role": "user", "content": "x" * 5000}])
    async with (
        serving(registry_of(provider_config("up", loopback)), max_body=4096) as server,
        client(server) as http,
    ):
        declared = await http.post("/v1/chat/completions", json=big)

        async def pieces() -> Any:  # no Content-Length: the limit must hold while reading
            for _ in range(10):
                yield b" " * 1000

        chunked = await http.post("/v1/chat/completions", content=pieces())
        small = await http.post("/v1/chat/completions", json=body())
    assert error_of(declared, 413)["code"] == "request_too_large"
    assert error_of(chunked, 413)["code"] == "request_too_large"
    assert small.status_code == 200


async def test_unknown_paths_and_methods(loopback: LoopbackServer) -> None:
    async with (
        serving(registry_of(provider_config("up", loopback))) as server,
        client(server) as http,
    ):
        missing = await http.get("/v1/embeddings")
        wrong_method = await http.get("/v1/chat/completions")
    assert error_of(missing, 404)["code"] == "unknown_url"
    assert error_of(wrong_method, 405)["code"] == "method_not_allowed"


async def test_non_loopback_host_needs_a_key(loopback: LoopbackServer) -> None:
    registry = registry_of(provider_config("up", loopback))
    for host in ("0.0.0.0", "::", "192.0.2.1", "example.com"):
        with pytest.raises(errors.ConfigError, match="without an API key"):
            await LocalServer(registry, host=host, port=0).start()
    async with serving(registry, host="0.0.0.0", api_key="k") as server:
        assert server.running
        assert server.port > 0


async def test_port_in_use_is_a_clear_config_error(loopback: LoopbackServer) -> None:
    registry = registry_of(provider_config("up", loopback))
    async with serving(registry) as first:
        second = LocalServer(registry, port=first.port)
        with pytest.raises(errors.ConfigError, match=f"Port {first.port} .* already in use"):
            await second.start()
        assert not second.running


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({"Host": "127.0.0.1:8000"}, True),
        ({"Host": "localhost"}, True),
        ({"Host": "[::1]:8000"}, True),
        ({"Host": "127.0.0.1.nip.io"}, False),  # resolves to 127.0.0.1: DNS rebinding
        ({"Host": "[::1"}, False),
        ({"Origin": "http://localhost:3000"}, True),
        ({"Origin": "null"}, False),  # sandboxed frames and file:// pages
        ({"Origin": "https://evil.example"}, False),
    ],
)
def test_local_caller_rules(headers: dict[str, str], allowed: bool) -> None:
    if allowed:
        check_local_caller(headers)
    else:
        with pytest.raises(ApiError) as caught:
            check_local_caller(headers)
        assert caught.value.status == 403
