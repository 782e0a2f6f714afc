"""Tools through the AI Refinery SDK: sent as given, tool calls and results round-trip."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from llms_desktop import errors, turns
from llms_desktop.accumulate import accumulate
from llms_desktop.providers.airefinery import AIRefineryProvider, sdk_reads_tool_calls
from llms_desktop.providers.base import Timeouts
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.tools.config import ServerConfig, ToolsConfig
from llms_desktop.tools.loop import ToolLoop, approve_all
from llms_desktop.tools.manager import ToolManager
from llms_desktop.tools.toolbox import Toolbox
from llms_desktop.types import ChatMessage, ChatRequest
from tests.support import air_server
from tests.support.loopback import LoopbackServer, chunk, json_reply, tool_model
from tests.unit.test_tool_loop import Events


@pytest.fixture
async def manager() -> AsyncIterator[ToolManager]:
    ours = ServerConfig(
        "ours", command=sys.executable, args=("-m", "tests.support.mcp_server", "stdio")
    )
    tools = ToolManager(ToolsConfig((ours,)))
    try:
        yield tools
    finally:
        await tools.aclose()


async def test_the_tool_loop_runs_through_the_sdk(
    loopback: LoopbackServer, manager: ToolManager, tmp_path: Path
) -> None:
    loopback.handler = tool_model([("add", '{"a": 1, "b": 2}')])
    provider = AIRefineryProvider(loopback.url, "air-key", timeouts=Timeouts(read=5))
    tools, _ = await manager.enabled_tools()
    with Store.open(tmp_path / "data") as store:
        loop = ToolLoop(ChatSession(provider, store), manager, Toolbox(tools), approve_all)
        turn = turns.plan_send(store, thread_id=None, text="1+2?", model="m", provider_id="air")
        final = await loop.run(turn, Events())
    assert final.content == "Tool said: 3"
    first, second = (request.json() for request in loopback.requests)
    assert [tool["function"]["name"] for tool in first["tools"]][:2] == ["echo", "add"]
    assert second["messages"][-1] == {"role": "tool", "content": "3", "tool_call_id": "call_0"}
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "add"


async def test_a_tool_call_without_index_is_named_as_the_sdks_limit(
    loopback: LoopbackServer,
) -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    loopback.handler = lambda r: air_server.event_stream(
        chunk(tool_calls=[call]), chunk(finish="tool_calls"), b"data: [DONE]\n\n"
    )
    provider = AIRefineryProvider(loopback.url, "air-key", timeouts=Timeouts(read=5))
    request = ChatRequest(
        "m", (ChatMessage("user", "hi"),), params={"tools": [{"type": "function"}]}
    )
    with pytest.raises(errors.ProtocolError, match=r"tool_calls\.0\.index: Field required"):
        async for _ in provider.stream(request):
            pass


def test_the_installed_sdk_keeps_tool_calls() -> None:
    from llms_desktop.providers.airefinery import _import_sdk, prepare_sdk_environment

    prepare_sdk_environment()
    _import_sdk()
    assert sdk_reads_tool_calls()


async def test_whole_answers_with_tool_calls_come_back(loopback: LoopbackServer) -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    completion = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
    }
    loopback.handler = lambda r: json_reply(completion)
    provider = AIRefineryProvider(loopback.url, "air-key", timeouts=Timeouts(read=5))
    request = ChatRequest(
        "m", (ChatMessage("user", "hi"),), stream=False, params={"tools": [{"type": "function"}]}
    )
    deltas = [delta async for delta in provider.stream(request)]
    assert accumulate(deltas)["choices"][0]["message"]["tool_calls"] == [call]
