"""`llms-desktop serve` as a real subprocess: listening, signals, keys, `--store`, refusals."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import openai
import pytest

from llms_desktop.store import Store
from tests.support.cli import one_error_line, run_cli
from tests.support.loopback import LoopbackServer, chunk, sse_reply, text_chunks
from tests.support.server_cli import serve
from tests.support.server_harness import body, upstream_routes


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_ends_the_open_stream_cleanly_and_exits_0(
    loopback: LoopbackServer, signum: signal.Signals
) -> None:
    loopback.handler = upstream_routes(
        sse_reply([chunk("first "), chunk("second", finish="stop")], pause=30)
    )
    with (
        serve("--base-url", loopback.base_url) as server,
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST", f"{server.base_url}/chat/completions", json=body(stream=True)
        ) as response,
    ):
        lines = response.iter_lines()
        seen = [next(lines), next(lines), next(lines), next(lines)]  # role, "", first, ""
        assert "first " in seen[2]
        server.process.send_signal(signum)
        # httpx raises if the body is cut off: reading to the end proves a clean finish.
        rest = [line for line in lines if line]
        code = server.process.wait(timeout=30)
        stderr = server.finish()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert len(rest) == 1
    assert json.loads(rest[0].removeprefix("data: "))["error"]["code"] == "server_shutting_down"
    assert loopback.wait_for_disconnect(5)


def test_openai_client_through_serve_with_keys(loopback: LoopbackServer) -> None:
    words = ["Same ", "text ", "as ", "upstream"]
    loopback.handler = upstream_routes(sse_reply(text_chunks(words)))
    with serve(
        "--base-url", loopback.base_url, "--upstream-api-key", "sk-upstream", "--api-key", "tok"
    ) as server:
        assert server.providers == 1
        oai = openai.OpenAI(base_url=server.base_url, api_key="tok")
        stream = oai.chat.completions.create(
            model="upstream/m1", messages=[{"role": "user", "content": "x"}], stream=True
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0).models.list()
        oai.close()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert text == "".join(words)
    sent = loopback.requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-upstream"
    assert sent.json()["model"] == "m1"


def test_upstream_key_defaults_to_openai_api_key(loopback: LoopbackServer) -> None:
    loopback.handler = upstream_routes(sse_reply(text_chunks(["ok"])))
    env = {"OPENAI_API_KEY": "sk-env"}
    with serve("--base-url", loopback.base_url, env=env) as server:
        response = httpx.post(f"{server.base_url}/chat/completions", json=body("upstream/m1"))
        models = httpx.get(f"{server.base_url}/models").json()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    assert response.json()["choices"][0]["message"]["content"] == "ok"
    assert loopback.requests[-1].headers["authorization"] == "Bearer sk-env"
    # The key is the upstream's: no provider for api.openai.com is set up with it.
    assert {model["owned_by"] for model in models["data"]} == {"upstream"}


def test_store_saves_threads(loopback: LoopbackServer, tmp_path: Path) -> None:
    loopback.handler = upstream_routes(sse_reply(text_chunks(["saved ", "answer"])))
    data = tmp_path / "data"
    with serve("--base-url", loopback.base_url, "--store", "--data-dir", data) as server:
        request = body("upstream/m1", stream=True)
        request["messages"] = [{"role": "user", "content": "keep this"}]
        httpx.post(f"{server.base_url}/chat/completions", json=request)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
    store = Store.open(data)
    try:
        (thread,) = store.list_threads()
        assert thread.title == "keep this"
        assert [m.content for m in store.messages(thread.id)] == ["keep this", "saved answer"]
    finally:
        store.close()


def test_port_in_use_is_one_error_line(loopback: LoopbackServer) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--base-url", loopback.base_url, "--port", str(port))
    assert f"Port {port} on 127.0.0.1 is already in use" in one_error_line(result)


def test_non_loopback_host_without_key_is_refused(loopback: LoopbackServer) -> None:
    result = run_cli("serve", "--base-url", loopback.base_url, "--host", "0.0.0.0")
    assert "without an API key" in one_error_line(result)


def test_no_provider_is_one_error_line() -> None:
    assert "No provider is set up" in one_error_line(run_cli("serve"))


def test_help_explains_the_two_keys() -> None:
    result = run_cli("serve", "--help")
    assert result.returncode == 0
    assert "--upstream-api-key" in result.stdout
    assert "Bearer" in result.stdout


def test_registering_serve_does_not_load_aiohttp() -> None:
    code = (
        "import argparse, sys\n"
        "from llms_desktop.cli import serve\n"
        "serve.register(argparse.ArgumentParser().add_subparsers())\n"
        "print('aiohttp' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
