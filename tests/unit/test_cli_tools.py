"""`chat --tools` and `tools ...` as real subprocesses: real MCP servers, a scripted model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from llms_desktop.store import Store
from tests.support.cli import chat_args, one_error_line, run_cli
from tests.support.loopback import LoopbackServer, sse_reply, text_chunks, tool_model
from tests.support.server_harness import (
    body,
    client,
    provider_config,
    registry_of,
    serving,
    upstream_routes,
)

TIME_SERVER = Path(sys.executable).with_name("mcp-server-time")
OURS = f"{sys.executable} -m tests.support.mcp_server stdio"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    result = run_cli(
        "tools", "add", "time", "--data-dir", folder,
        "--command", f"{TIME_SERVER} --local-timezone UTC",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return folder


def test_tools_add_list_switch_import_and_remove(data: Path, tmp_path: Path) -> None:
    assert run_cli("--data-dir", data, "tools", "add", "ours", "--command", OURS).returncode == 0
    assert run_cli("--data-dir", data, "tools", "disable", "ours", "crash").returncode == 0
    claude = tmp_path / "claude_desktop_config.json"
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "time": {"command": "elsewhere"},
                    "broken": {"command": str(tmp_path / "missing-program")},
                }
            }
        )
    )
    imported = run_cli("--data-dir", data, "tools", "import", claude)
    assert imported.stdout == "Imported 1 server(s): broken.\n"
    assert imported.stderr == "Kept the servers already named time.\n"

    listed = run_cli("--data-dir", data, "tools", "list")
    assert listed.returncode == 1  # one server could not start
    lines = listed.stdout.splitlines()
    assert lines[0] == f"time  (stdio: {TIME_SERVER} --local-timezone UTC)  ready"
    assert lines[1].startswith("  [x] get_current_time  Get current time")
    assert "  [ ] crash  Exit the server process at once." in lines
    assert "  [x] echo  Say the text back." in lines
    assert f"broken  (stdio: {tmp_path / 'missing-program'})  failed" in lines
    assert (
        f"  error: Could not start the MCP server 'broken': {tmp_path / 'missing-program'}: "
        "No such file or directory." in lines
    )

    assert run_cli("--data-dir", data, "tools", "remove", "broken").returncode == 0
    as_json = json.loads(run_cli("--data-dir", data, "tools", "list", "--json").stdout)
    assert [(s["name"], s["state"]) for s in as_json] == [("time", "running"), ("ours", "running")]
    crash = next(t for t in as_json[1]["tools"] if t["name"] == "crash")
    assert crash["enabled"] is False


def test_tools_import_takes_the_servers_it_can_read_and_says_why_it_skipped_others(
    data: Path, tmp_path: Path
) -> None:
    claude = tmp_path / "claude_desktop_config.json"
    claude.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
                    "files": {"command": "npx", "args": ["-y", "files"], "disabled": "false"},
                    "off": {"command": "off", "disabled": "TRUE"},
                    "odd": {"command": "odd", "disabled": 0},
                    "web": {"url": "http://127.0.0.1:9/mcp"},
                }
            }
        )
    )
    imported = run_cli("--data-dir", data, "tools", "import", claude)
    assert imported.returncode == 0
    assert imported.stdout == "Imported 3 server(s): files, off, web.\n"
    assert imported.stderr.splitlines() == [
        "Skipped MCP server 'old': the legacy SSE transport is not supported; use streamable "
        'HTTP ("type": "http") or a command.',
        "Skipped MCP server 'odd': \"disabled\" must be true or false, not 0.",
    ]
    saved = json.loads((data / "mcp.json").read_text())["mcpServers"]
    assert list(saved) == ["time", "files", "off", "web"]
    assert "disabled" not in saved["files"]  # the string "false" is false
    assert saved["off"]["disabled"] is True

    # Nothing readable to import: nothing changes, and the command fails.
    claude.write_text(json.dumps({"mcpServers": {"old": {"type": "sse", "url": "http://x"}}}))
    before = (data / "mcp.json").read_text()
    refused = run_cli("--data-dir", data, "tools", "import", claude)
    assert (refused.returncode, refused.stdout) == (1, "Imported 0 server(s): none.\n")
    assert refused.stderr.startswith("Skipped MCP server 'old': the legacy SSE transport")
    assert (data / "mcp.json").read_text() == before


def test_tools_add_refuses_a_bad_entry(data: Path) -> None:
    taken = run_cli("--data-dir", data, "tools", "add", "time", "--url", "http://x/mcp")
    assert one_error_line(taken) == "llms-desktop: error: An MCP server is already named 'time'."
    bad = run_cli("--data-dir", data, "tools", "add", "web", "--url", "ftp://x")
    assert '"url" must be an http:// or https:// address' in one_error_line(bad)


def test_chat_tools_yes_runs_the_tool_and_prints_the_final_answer(
    loopback: LoopbackServer, data: Path
) -> None:
    loopback.handler = tool_model([("get_current_time", '{"timezone": "UTC"}')])
    result = run_cli(*chat_args(loopback.base_url, "--data-dir", data, "--tools", "--yes", "t?"))
    assert result.returncode == 0, result.stderr
    sent = loopback.requests[-1].json()["messages"][-1]
    assert sent["role"] == "tool"
    assert result.stdout == f"Tool said: {sent['content']}\n"
    assert '[tool] time/get_current_time {   "timezone": "UTC" }' in result.stderr
    assert '[tool result] { "timezone": "UTC", "datetime":' in result.stderr
    # The thread keeps the call and its result.
    exported = run_cli("--data-dir", data, "threads", "export", "--all", "--format", "json")
    (thread,) = json.loads(exported.stdout)["threads"]
    messages = thread["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    assert messages[1]["tool_calls"][0]["id"] == messages[2]["tool_call_id"] == "call_0"
    assert messages[2]["name"] == "get_current_time"


@pytest.mark.parametrize(
    ("answer", "ran"), [("y\n", True), ("a\n", True), ("n\n", False), ("", False)]
)
def test_chat_tools_asks_on_the_terminal(
    loopback: LoopbackServer, data: Path, answer: str, ran: bool
) -> None:
    loopback.handler = tool_model([("get_current_time", '{"timezone": "UTC"}')])
    result = run_cli(
        *chat_args(loopback.base_url, "--data-dir", data, "--tools", "t?"), stdin=answer
    )
    assert result.returncode == 0, result.stderr
    assert "The model wants to run get_current_time (MCP server time) with:" in result.stderr
    assert "Allow? [y]es once / [a]lways for this tool / [N]o: " in result.stderr
    assert ("[tool] time/get_current_time" in result.stderr) is ran
    if not ran:
        assert result.stdout == "Tool said: The user denied this tool call.\n"
    saved = json.loads((data / "mcp.json").read_text())["mcpServers"]["time"]
    assert ("alwaysAllow" in saved) is (answer == "a\n")


def test_chat_tools_without_servers_or_with_yes_alone_is_an_error(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    result = run_cli(*chat_args(loopback.base_url, "--data-dir", empty, "--tools", "hi"))
    assert one_error_line(result).startswith(
        f"llms-desktop: error: --tools: no MCP tool is enabled (servers are set up in "
        f"{empty / 'mcp.json'}"
    )
    alone = run_cli(*chat_args(loopback.base_url, "--yes", "hi"))
    assert (
        one_error_line(alone)
        == "llms-desktop: error: --yes approves tool calls: it goes with --tools."
    )
    assert loopback.requests == []


async def test_a_chat_saved_by_serve_keeps_sampling_settings_and_continues_with_mcp_tools(
    loopback: LoopbackServer, data: Path
) -> None:
    loopback.handler = upstream_routes(sse_reply(text_chunks(["Noted."])))
    client_tool = {"type": "function", "function": {"name": "client_only", "parameters": {}}}
    request = body(
        stream=True,
        tools=[client_tool],
        tool_choice="required",
        response_format={"type": "json_object"},
        stream_options={"include_usage": True},
        user="someone",
        temperature="hot",
        top_p=0.5,
        max_tokens=300,
        seed=7,
        stop=["END"],
    )
    with Store.open(data) as store:
        async with (
            serving(registry_of(provider_config("up", loopback)), store=store) as server,
            client(server) as http,
        ):
            response = await http.post("/v1/chat/completions", json=request)
        assert response.status_code == 200
        (thread,) = store.list_threads()
    # The client's tools, choices and ids went upstream for that request only.
    assert loopback.requests[-1].json()["tools"] == [client_tool]
    assert dict(thread.params) == {"top_p": 0.5, "max_tokens": 300, "seed": 7, "stop": ["END"]}

    loopback.handler = tool_model([("get_current_time", '{"timezone": "UTC"}')])
    continued = run_cli(
        *chat_args(
            loopback.base_url, "--data-dir", data, "--thread", thread.id, "--tools", "--yes", "t?"
        )
    )
    assert continued.returncode == 0, continued.stderr
    sent = loopback.requests[-2].json()
    assert [tool["function"]["name"] for tool in sent["tools"]] == [
        "get_current_time",
        "convert_time",
    ]
    assert not {"tool_choice", "response_format", "user", "temperature"} & set(sent)
    assert (sent["top_p"], sent["max_tokens"], sent["seed"]) == (0.5, 300, 7)
    assert continued.stdout.startswith("Tool said: ")


async def test_a_thread_an_older_serve_saved_with_client_tools_gets_the_mcp_tools(
    loopback: LoopbackServer, data: Path
) -> None:
    with Store.open(data) as store:
        thread = store.create_thread(
            "old",
            params={"tools": [{"type": "function", "function": {"name": "x"}}], "top_p": 0.9},
        )
    loopback.handler = tool_model([("get_current_time", '{"timezone": "UTC"}')])
    result = run_cli(
        *chat_args(
            loopback.base_url, "--data-dir", data, "--thread", thread.id, "--tools", "--yes", "t?"
        )
    )
    assert result.returncode == 0, result.stderr
    first = loopback.requests[-2].json()
    assert "get_current_time" in [tool["function"]["name"] for tool in first["tools"]]
    assert first["top_p"] == 0.9
    with Store.open(data) as store:
        assert dict(store.get_thread(thread.id).params) == {"top_p": 0.9}
