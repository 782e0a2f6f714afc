"""The `chat`, `models` and `--version` commands as real subprocesses against a loopback server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from typing import Any

import pytest

from tests.support.loopback import (
    LoopbackServer,
    Pause,
    Reply,
    chunk,
    fixture_reply,
    json_reply,
    split_pieces,
    sse_reply,
    text_chunks,
)


def run_cli(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "llms_desktop", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def routes(chat: Reply, models: Reply | None = None) -> Any:
    def handler(request: Any) -> Reply:
        if request.path.endswith("/models"):
            return models or json_reply({"object": "list", "data": [{"id": "m1"}, {"id": "m0"}]})
        return chat

    return handler


@pytest.mark.parametrize("line_end", ["\n", "\r", "\r\n"])
def test_chat_prints_exactly_the_streamed_content(loopback: LoopbackServer, line_end: str) -> None:
    words = ["Hello", ",", " wörld", " 🎉", "\n\nsecond line"]
    reply = sse_reply(
        text_chunks(words, usage={"prompt_tokens": 1, "completion_tokens": 5}),
        line_end=line_end,
        prefix=f": ping{line_end}{line_end}".encode(),
    )
    body_length = sum(len(p) for p in reply.pieces if isinstance(p, bytes))
    loopback.handler = routes(split_pieces(reply, range(1, body_length, 7)))
    result = run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "hi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "".join(words) + "\n"
    assert result.stderr == ""


def test_chat_no_stream_prints_the_same_text(loopback: LoopbackServer) -> None:
    loopback.handler = routes(fixture_reply("llama_server_nonstream.txt"))
    result = run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "--no-stream", "x")
    assert result.returncode == 0, result.stderr
    expected = json.loads(
        b"".join(
            p for p in fixture_reply("llama_server_nonstream.txt").pieces if isinstance(p, bytes)
        )
    )["choices"][0]["message"]["content"]
    assert result.stdout == expected + "\n"
    assert loopback.requests[-1].json()["stream"] is False


def test_chat_json_prints_the_accumulated_completion(loopback: LoopbackServer) -> None:
    loopback.handler = routes(
        sse_reply(text_chunks(["a", "b"], usage={"prompt_tokens": 2, "completion_tokens": 2}))
    )
    result = run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "--json", "x")
    assert result.returncode == 0, result.stderr
    completion = json.loads(result.stdout)
    assert completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "ab"
    assert completion["choices"][0]["finish_reason"] == "stop"
    assert completion["usage"]["total_tokens"] == 4


def test_chat_reads_prompt_from_stdin_and_sends_system(loopback: LoopbackServer) -> None:
    loopback.handler = routes(sse_reply(text_chunks(["ok"])))
    result = run_cli(
        "chat",
        "--base-url",
        loopback.base_url,
        "--model",
        "m",
        "--system",
        "terse",
        "-",
        stdin="from stdin\n\nsecond paragraph\n",
    )
    assert result.returncode == 0, result.stderr
    messages = loopback.requests[-1].json()["messages"]
    assert messages == [
        {"role": "system", "content": "terse"},
        # The newline that ends the input is not part of the prompt; the rest is as read.
        {"role": "user", "content": "from stdin\n\nsecond paragraph"},
    ]


def test_model_falls_back_to_env_then_first_listed(loopback: LoopbackServer) -> None:
    loopback.handler = routes(sse_reply(text_chunks(["ok"])))
    env = {"OPENAI_BASE_URL": loopback.base_url, "OPENAI_API_KEY": "sk-env"}
    assert run_cli("chat", "x", env=env).returncode == 0
    assert loopback.requests[-1].json()["model"] == "m0"  # first id, sorted
    assert loopback.requests[-1].headers["authorization"] == "Bearer sk-env"
    assert run_cli("chat", "x", env={**env, "LLMS_DESKTOP_MODEL": "from-env"}).returncode == 0
    assert loopback.requests[-1].json()["model"] == "from-env"


def test_models_lists_ids(loopback: LoopbackServer) -> None:
    loopback.handler = routes(Reply(), fixture_reply("llama_server_models.txt"))
    result = run_cli("models", "--base-url", loopback.base_url, "--api-key", "k")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "gemma-3-270m\n"


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("llms-desktop ")


def _assert_one_clear_line(result: Any, *needles: str) -> None:
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_http_error_is_one_line_with_status_and_message(loopback: LoopbackServer) -> None:
    loopback.handler = routes(fixture_reply("llama_server_401_wrong_key.txt"))
    result = run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "x")
    _assert_one_clear_line(result, "401", "Invalid API Key")
    assert result.stdout == ""


def test_mid_stream_error_keeps_printed_text(loopback: LoopbackServer) -> None:
    loopback.handler = routes(
        sse_reply([chunk("partial "), {"error": {"message": "upstream died"}}], done=False)
    )
    result = run_cli("chat", "--base-url", loopback.base_url, "--model", "m", "x")
    _assert_one_clear_line(result, "upstream died")
    assert result.stdout == "partial \n"


def test_connection_refused_is_one_line() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run_cli("chat", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m", "x")
    _assert_one_clear_line(result, "Connection refused")


def test_bad_base_url_is_one_line() -> None:
    _assert_one_clear_line(run_cli("chat", "--base-url", "localhost:1234", "x"), "http://")


def test_read_timeout_is_one_line(loopback: LoopbackServer) -> None:
    loopback.handler = routes(
        Reply(headers=[("Content-Type", "text/event-stream")], pieces=[Pause(5)])
    )
    result = run_cli(
        "chat", "--base-url", loopback.base_url, "--model", "m", "--timeout", "0.5", "x"
    )
    _assert_one_clear_line(result, "read timeout")


def test_a_finished_answer_then_a_stalled_server_is_saved_complete(
    loopback: LoopbackServer, tmp_path: Any
) -> None:
    usage = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    events = [*text_chunks(["Done", "."]), chunk(usage=usage, no_choices=True)]
    loopback.handler = routes(
        Reply(
            headers=[("Content-Type", "text/event-stream")],
            pieces=[*(f"data: {json.dumps(e)}\n\n".encode() for e in events), Pause(30)],
        )
    )
    data = tmp_path / "data"
    result = run_cli(
        "--data-dir", str(data), "chat", "--base-url", loopback.base_url, "--model", "m",
        "--timeout", "0.5", "x",
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, "Done.\n"), result.stderr
    exported = run_cli("--data-dir", str(data), "threads", "export", "--all", "--format", "json")
    answer = json.loads(exported.stdout)["threads"][0]["messages"][1]
    assert (answer["status"], answer["error"], answer["completion_tokens"]) == ("complete", None, 2)


def test_ctrl_c_stops_keeps_output_closes_connection_and_exits_130(
    loopback: LoopbackServer,
) -> None:
    pieces: list[bytes | Pause] = []
    for i in range(200):
        pieces += [f"data: {json.dumps(chunk(f'w{i} '))}\n\n".encode(), Pause(0.1)]
    loopback.handler = routes(Reply(headers=[("Content-Type", "text/event-stream")], pieces=pieces))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llms_desktop",
            "chat",
            "--base-url",
            loopback.base_url,
            "--model",
            "m",
            "x",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    received = process.stdout.read(6)  # "w0 w1 " : at least two deltas printed
    assert received.startswith(b"w0 ")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert b"Traceback" not in err
    text = (received + out).decode()
    assert text.startswith("w0 w1 ")
    assert loopback.wait_for_disconnect(5)
    # Everything the server sent before the hang-up was printed, nothing after.
    assert len(text.split()) < 200


def test_prompt_bytes_that_are_not_utf8_do_not_crash(loopback: LoopbackServer) -> None:
    loopback.handler = routes(sse_reply(text_chunks(["ok"])))
    result = subprocess.run(
        [
            sys.executable.encode(),
            b"-m",
            b"llms_desktop",
            b"chat",
            b"--base-url",
            loopback.base_url.encode(),
            b"--model",
            b"m",
            b"caf\xe9",
        ],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert loopback.requests[-1].json()["messages"][-1]["content"] == "caf\ufffd"
