"""`chat` as a subprocess against servers that end early, send web pages, redirect or say
"retry later": one clear line, the printed text kept, the thread saved as it really ended."""

from __future__ import annotations

import os
from pathlib import Path

from llms_desktop.store import Store
from tests.support.cli import chat_args, one_error_line, run_cli
from tests.support.loopback import (
    LoopbackServer,
    Reply,
    Request,
    chunk,
    json_reply,
    sse_reply,
    text_chunks,
)


def stored_answers() -> list[tuple[str, str]]:
    with Store.open(Path(os.environ["LLMS_DESKTOP_HOME"])) as store:
        (thread,) = store.list_threads()
        return [(m.status, m.content) for m in store.messages(thread.id) if m.role == "assistant"]


def test_done_without_finish_reason_is_reported_and_saved_as_an_error(
    loopback: LoopbackServer,
) -> None:
    # llama-cpp-python, when a second request interrupts the first one's stream.
    loopback.handler = lambda r: sse_reply([chunk("cut "), chunk("short")], done=True)
    result = run_cli(*chat_args(loopback.base_url, "x"))
    line = one_error_line(result)
    assert "ended ([DONE]) before the model finished" in line
    assert result.stdout == "cut short\n"
    assert stored_answers() == [("error", "cut short")]


def test_a_web_page_where_the_api_should_be_is_one_line(loopback: LoopbackServer) -> None:
    page = b"<!doctype html><html><head><title>Ollama WebUI</title></head><body></body></html>"
    loopback.handler = lambda r: Reply(
        headers=[("Content-Type", "text/html")], pieces=[page], framing="length"
    )
    for extra in ((), ("--no-stream",)):
        line = one_error_line(run_cli(*chat_args(loopback.url, *extra, "x")))
        assert f"{loopback.url}/chat/completions returned an HTML page ('Ollama WebUI')" in line
        assert "does the base URL end in /v1?" in line


def test_retry_after_is_shown(loopback: LoopbackServer) -> None:
    reply = json_reply({"error": {"message": "Rate limit reached"}}, status=429)
    reply.headers.append(("Retry-After", "20"))
    loopback.handler = lambda r: reply
    line = one_error_line(run_cli(*chat_args(loopback.base_url, "x")))
    assert line == "llms-desktop: error: HTTP 429: Rate limit reached (retry in 20 s)"


def test_a_same_host_redirect_is_followed_and_noted(loopback: LoopbackServer) -> None:
    def handler(request: Request) -> Reply:
        if request.path.startswith("/v1/"):
            return Reply(status=308, headers=[("Location", "/api" + request.path)])
        return sse_reply(text_chunks(["moved ", "on"]))

    loopback.handler = handler
    result = run_cli(*chat_args(loopback.base_url, "x"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "moved on\n"
    (note,) = result.stderr.strip().splitlines()
    assert note.startswith("llms-desktop: note: ")
    assert f"set the base URL to {loopback.url}/api/v1" in note


def test_llms_py_errors_read_plainly(loopback: LoopbackServer) -> None:
    loopback.handler = lambda r: json_reply(
        {"responseStatus": {"errorCode": "NotFound", "message": "Provider ollama is offline"}},
        status=502,
    )
    line = one_error_line(run_cli(*chat_args(loopback.base_url, "x")))
    assert line == "llms-desktop: error: HTTP 502: Provider ollama is offline"
