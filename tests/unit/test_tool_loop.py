"""The tool loop end to end: a scripted loopback model, real MCP servers, a real store."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from llms_desktop import turns
from llms_desktop.errors import ToolError
from llms_desktop.history import NO_RESULT, history_messages
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_compat import OpenAICompatProvider
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.tools.config import ConfigFile, ServerConfig, ToolsConfig
from llms_desktop.tools.loop import DENIED, STOPPED, Decision, PendingCall, ToolLoop
from llms_desktop.tools.manager import ToolManager
from llms_desktop.tools.toolbox import Toolbox
from llms_desktop.types import ChatMessage, Delta, Message, Thread, ToolCallDelta
from tests.support.loopback import LoopbackServer, tool_model
from tests.support.waiting import wait_until

TIME_SERVER = str(Path(sys.executable).with_name("mcp-server-time"))
OUR_SERVER = ServerConfig(
    "ours", command=sys.executable, args=("-m", "tests.support.mcp_server", "stdio")
)


@dataclass
class Events:
    """A ToolListener recording what the loop reported."""

    started: list[Message] = field(default_factory=list)
    finished: list[Message] = field(default_factory=list)
    tool_deltas: list[ToolCallDelta] = field(default_factory=list)
    tools_started: list[PendingCall] = field(default_factory=list)
    tool_results: list[Message] = field(default_factory=list)

    def on_started(self, thread: Thread, user: Message | None, answer: Message) -> None:
        self.started.append(answer)

    def on_delta(self, delta: Delta) -> None:
        if isinstance(delta, ToolCallDelta):
            self.tool_deltas.append(delta)

    def on_finished(self, message: Message) -> None:
        self.finished.append(message)

    def on_tool_started(self, call: PendingCall) -> None:
        self.tools_started.append(call)

    def on_tool_finished(self, result: Message) -> None:
        self.tool_results.append(result)


class Approver:
    """Answers approval requests with scripted decisions, recording what it was shown."""

    def __init__(self, *decisions: Decision) -> None:
        self.decisions = list(decisions)
        self.asked: list[PendingCall] = []

    async def __call__(self, call: PendingCall) -> Decision:
        self.asked.append(call)
        return self.decisions.pop(0) if self.decisions else "once"


@pytest.fixture
async def provider(loopback: LoopbackServer) -> AsyncIterator[OpenAICompatProvider]:
    async with OpenAICompatProvider(loopback.base_url, "k", timeouts=Timeouts(read=10)) as p:
        yield p


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[ToolManager]:
    config = ToolsConfig(
        (
            ServerConfig("time", command=TIME_SERVER, args=("--local-timezone", "UTC")),
            ServerConfig(
                OUR_SERVER.name, command=OUR_SERVER.command, args=OUR_SERVER.args, timeout=3
            ),
        )
    )
    file = ConfigFile(tmp_path / "mcp.json")
    file.save(config)
    tools = ToolManager(config, config_file=file, log_dir=tmp_path / "logs")
    try:
        yield tools
    finally:
        await tools.aclose()


async def loop_for(
    provider: OpenAICompatProvider,
    store: Store | None,
    manager: ToolManager,
    approve: Approver,
    **kwargs: Any,
) -> ToolLoop:
    tools, problems = await manager.enabled_tools()
    assert problems == []
    return ToolLoop(ChatSession(provider, store), manager, Toolbox(tools), approve, **kwargs)


def send(store: Store | None, text: str, thread_id: str | None = None) -> turns.Turn:
    return turns.plan_send(store, thread_id=thread_id, text=text, model="m", provider_id="p")


async def test_the_model_gets_the_time_servers_result_and_answers_with_it(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("get_current_time", '{"timezone": "Asia/Tokyo"}')])
    approve = Approver("once")
    events = Events()
    loop = await loop_for(provider, store, manager, approve)

    final = await loop.run(send(store, "What time is it in Tokyo?"), events)

    # The tools went out as OpenAI `tools`, every round.
    first, second = (request.json() for request in loopback.requests)
    names = {tool["function"]["name"] for tool in first["tools"]}
    assert {"get_current_time", "convert_time", "echo", "hang"} <= names
    assert second["tools"] == first["tools"]
    # The user saw the tool, its server and the parsed arguments before it ran.
    (asked,) = approve.asked
    assert (asked.tool.server, asked.tool.name) == ("time", "get_current_time")
    assert asked.arguments == {"timezone": "Asia/Tokyo"}
    assert '"timezone": "Asia/Tokyo"' in asked.pretty_arguments()
    # The call streamed in fragments: the name first, then the arguments growing.
    assert events.tool_deltas[0].name == "get_current_time"
    assert "".join(d.arguments for d in events.tool_deltas) == '{"timezone": "Asia/Tokyo"}'
    # The second request resends the answer's call and the tool's real result.
    assistant, result = second["messages"][-2:]
    assert assistant["tool_calls"][0]["id"] == "call_0"
    assert assistant["content"] is None
    assert result["role"] == "tool"
    assert result["tool_call_id"] == "call_0"
    assert json.loads(result["content"])["timezone"] == "Asia/Tokyo"
    assert final.content == "Tool said: " + result["content"]
    # Stored: user, the answer with its call, the result with the call's id, the final answer.
    path = store.messages(final.thread_id)
    assert [(m.role, m.status) for m in path] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "complete"),
        ("assistant", "complete"),
    ]
    assert (path[2].tool_call_id, path[2].name) == ("call_0", "get_current_time")
    assert path[2].content == result["content"]
    # Rebuilding the history from the store gives exactly what the loop sent.
    sent = [ChatMessage.from_openai(m) for m in second["messages"]]
    assert history_messages(path[:3]) == sent


async def test_a_continued_thread_resends_tool_calls_and_results(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "one"}')])
    loop = await loop_for(provider, store, manager, Approver())
    final = await loop.run(send(store, "echo one"), Events())
    # A reopened thread (a new session, as after a restart) continues with the tool history.
    loop = await loop_for(provider, store, manager, Approver())
    await loop.run(send(store, "and again?", final.thread_id), Events())
    third = loopback.requests[2].json()["messages"]
    assert [(m["role"], m.get("tool_call_id")) for m in third] == [
        ("user", None),
        ("assistant", None),
        ("tool", "call_0"),
        ("assistant", None),
        ("user", None),
    ]
    assert third[1]["tool_calls"][0]["function"] == {
        "name": "echo",
        "arguments": '{"text": "one"}',
    }
    assert third[2]["content"] == "echo: one"


async def test_regenerating_the_last_round_answers_from_the_tool_results(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "again"}')])
    loop = await loop_for(provider, store, manager, Approver())
    final = await loop.run(send(store, "echo"), Events())
    turn = turns.plan_regenerate(
        store, thread_id=final.thread_id, message_id=None, model="m", provider_id="p"
    )
    loop = await loop_for(provider, store, manager, Approver())
    again = await loop.run(turn, Events())
    assert again.content == "Tool said: echo: again"
    assert again.parent_id == final.parent_id  # a second version of the last answer
    sent = loopback.requests[-1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool"]
    assert len(loopback.requests) == 3  # the tool did not run again


async def test_a_denied_call_does_not_run_and_the_model_is_told(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("crash", "{}")])
    events = Events()
    loop = await loop_for(provider, store, manager, Approver("deny"))
    final = await loop.run(send(store, "crash it"), events)
    assert final.content == f"Tool said: {DENIED}"
    assert events.tools_started == []
    # The server did not crash: it never got the call.
    assert manager.status("ours").state == "running"
    (result,) = events.tool_results
    assert (result.content, result.error, result.tool_call_id) == (DENIED, DENIED, "call_0")


async def test_always_allow_is_remembered_in_mcp_json(
    tmp_path: Path,
    loopback: LoopbackServer,
    provider: OpenAICompatProvider,
    store: Store,
    manager: ToolManager,
) -> None:
    loopback.handler = tool_model([("add", '{"a": 2, "b": 3}')], rounds=2)
    approve = Approver("always")
    loop = await loop_for(provider, store, manager, approve)
    final = await loop.run(send(store, "add twice"), Events())
    assert final.content == "Tool said: 5"
    assert len(approve.asked) == 1  # the second round did not ask
    saved = json.loads((tmp_path / "mcp.json").read_text())
    assert saved["mcpServers"]["ours"]["alwaysAllow"] == ["add"]
    assert "alwaysAllow" not in saved["mcpServers"]["time"]


async def test_malformed_arguments_go_back_to_the_model_as_an_error(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "unterminated')])
    approve = Approver()
    loop = await loop_for(provider, store, manager, approve)
    final = await loop.run(send(store, "echo"), Events())
    assert approve.asked == []  # nothing to approve: nothing can run
    assert final.content.startswith("Tool said: Error: The arguments are not valid JSON")
    path = store.messages(final.thread_id)
    assert path[2].role == "tool"
    assert "not valid JSON" in (path[2].error or "")
    # The stored call keeps the model's text as it was.
    assert path[1].tool_calls[0]["function"]["arguments"] == '{"text": "unterminated'


async def test_an_unknown_tool_and_a_tool_error_are_results_not_crashes(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("no_such_tool", "{}"), ("fail", "{}")])
    loop = await loop_for(provider, store, manager, Approver())
    final = await loop.run(send(store, "go"), Events())
    unknown, failed = final.content.removeprefix("Tool said: ").split(" | ")
    assert unknown.startswith("Error: There is no tool named 'no_such_tool'")
    assert "this tool always fails" in failed


async def test_a_hanging_tool_times_out_and_the_model_is_told(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("hang", "{}")])
    loop = await loop_for(provider, store, manager, Approver())
    final = await loop.run(send(store, "wait"), Events())
    assert final.content == "Tool said: Error: The tool 'hang' of 'ours' did not finish within 3 s."
    # The server lives on.
    assert (await manager.call("ours", "echo", {"text": "still here"})).text == "echo: still here"


async def test_stop_cancels_a_running_tool_and_keeps_the_thread_sendable(
    tmp_path: Path,
    loopback: LoopbackServer,
    provider: OpenAICompatProvider,
    store: Store,
    manager: ToolManager,
) -> None:
    marker = tmp_path / "marker"
    ours = manager.config.require("ours")
    watched = dataclasses.replace(ours, env={"MCP_TEST_MARKER": str(marker)})
    manager.set_config(manager.config.with_server(watched))
    loopback.handler = tool_model([("hang", "{}")])
    events = Events()
    loop = await loop_for(provider, store, manager, Approver())
    task = asyncio.create_task(loop.run(send(store, "wait"), events))
    await wait_until(lambda: marker.exists() and marker.read_text() == "started")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The server was told to stop the call, and did.
    await wait_until(lambda: marker.read_text() == "cancelled")
    (result,) = events.tool_results
    assert (result.status, result.content) == ("cancelled", STOPPED)
    path = store.messages(result.thread_id)
    assert [m.role for m in path] == ["user", "assistant", "tool"]
    # The next message resends the call with its "stopped" result.
    history = history_messages(path)
    assert history[-1] == ChatMessage("tool", STOPPED, tool_call_id="call_0")


async def test_the_round_limit_stops_a_model_that_keeps_asking(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "x"}')], rounds=99)
    loop = await loop_for(provider, store, manager, Approver(), max_rounds=2)
    with pytest.raises(ToolError, match="after 2 rounds"):
        await loop.run(send(store, "loop"), Events())
    assert len(loopback.requests) == 3
    (thread,) = store.list_threads()
    path = store.messages(thread.id)
    assert [m.role for m in path] == ["user", *["assistant", "tool"] * 2, "assistant"]
    # The last answer's call never ran: a continued thread says so instead of failing.
    assert history_messages(path)[-1] == ChatMessage("tool", NO_RESULT, tool_call_id="call_0")


async def test_a_crashed_server_is_an_error_result_and_starts_again(
    loopback: LoopbackServer, provider: OpenAICompatProvider, store: Store, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("crash", "{}")])
    loop = await loop_for(provider, store, manager, Approver())
    final = await loop.run(send(store, "crash"), Events())
    assert final.content == (
        "Tool said: Error: The MCP server 'ours' exited. "
        "Its error output: test server: crashing on purpose"
    )
    assert manager.status("ours").state == "failed"
    assert (await manager.call("ours", "echo", {"text": "back"})).text == "echo: back"
    assert manager.status("ours").state == "running"


async def test_without_a_store_the_loop_runs_in_memory(
    loopback: LoopbackServer, provider: OpenAICompatProvider, manager: ToolManager
) -> None:
    loopback.handler = tool_model([("echo", '{"text": "mem"}')])
    events = Events()
    loop = await loop_for(provider, None, manager, Approver())
    final = await loop.run(send(None, "hi"), events)
    assert final.content == "Tool said: echo: mem"
    first, second = events.started
    assert second.thread_id == first.thread_id
    assert second.parent_id == events.tool_results[0].id
