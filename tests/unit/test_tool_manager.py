"""ToolManager against real MCP servers: stdio and streamable HTTP, lazy starts, failures."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llms_desktop.errors import ConfigError, ToolError
from llms_desktop.tools.config import ConfigFile, ServerConfig, ToolsConfig
from llms_desktop.tools.manager import ToolInfo, ToolManager
from llms_desktop.tools.toolbox import Toolbox

SERVER = (sys.executable, "-m", "tests.support.mcp_server")


def ours(name: str = "ours", **kwargs: object) -> ServerConfig:
    return ServerConfig(name, command=SERVER[0], args=(*SERVER[1:], "stdio"), **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def http_server() -> Iterator[str]:
    """Our test server on streamable HTTP; its URL."""
    process = subprocess.Popen(
        [*SERVER, "http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[ToolManager]:
    tools = ToolManager(ToolsConfig(), log_dir=tmp_path / "logs", start_timeout=10)
    try:
        yield tools
    finally:
        await tools.aclose()


async def test_nothing_starts_until_a_tool_is_needed(manager: ToolManager) -> None:
    manager.set_config(ToolsConfig((ours(),)))
    assert manager._runner is None
    assert manager.status("ours").state == "stopped"
    tools = await manager.list_tools("ours")
    assert [tool.name for tool in tools] == ["echo", "add", "hang", "crash", "fail"]
    assert tools[1].parameters["required"] == ["a", "b"]
    assert manager.status("ours").state == "running"


async def test_streamable_http_server_lists_and_calls(
    manager: ToolManager, http_server: str
) -> None:
    manager.set_config(ToolsConfig((ServerConfig("web", url=http_server),)))
    assert "add" in [tool.name for tool in await manager.list_tools("web")]
    assert (await manager.call("web", "add", {"a": 40, "b": 2})).text == "42"
    wrong = await manager.call("web", "add", {"a": "forty"})
    assert wrong.is_error


async def test_broken_servers_are_reported_and_never_hide_the_others(
    manager: ToolManager, tmp_path: Path
) -> None:
    manager.set_config(
        ToolsConfig(
            (
                ours(),
                ServerConfig("missing", command=str(tmp_path / "no-such-program")),
                ours("dies", env={"MCP_TEST_EXIT_AT_START": "4", "MCP_TEST_STDERR": "no config"}),
                ServerConfig("nobody", url="http://127.0.0.1:9/mcp"),
                ours("off", enabled=False),
                ours("picky", disabled_tools=frozenset({"crash", "hang"})),
            )
        )
    )
    tools, problems = await manager.enabled_tools()
    assert sorted(problems) == sorted(
        [
            f"Could not start the MCP server 'missing': {tmp_path / 'no-such-program'}: "
            "No such file or directory.",
            "The MCP server 'dies' exited. Its error output: no config",
            "The MCP server 'nobody' failed: All connection attempts failed",
        ]
    )
    assert [(t.server, t.name) for t in tools if t.server == "picky"] == [
        ("picky", "echo"),
        ("picky", "add"),
        ("picky", "fail"),
    ]
    assert manager.status("off").state == "disabled"
    assert manager.status("dies").state == "failed"
    # The stderr of each server is kept in the data folder's logs.
    log = tmp_path / "logs" / "mcp-dies.log"
    assert log.read_text() == "no config\n"
    assert log.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ToolError, match="No MCP server is named 'ghost'"):
        await manager.call("ghost", "echo", {})


async def test_a_changed_command_restarts_the_server_and_switches_do_not(
    manager: ToolManager,
) -> None:
    manager.set_config(ToolsConfig((ours(),)))
    await manager.list_tools("ours")
    first = manager._connections["ours"]
    manager.set_config(ToolsConfig((ours(disabled_tools=frozenset({"add"})),)))
    await manager.call("ours", "echo", {"text": "b"})
    assert manager._connections["ours"] is first
    assert not manager.status("ours").tools[1].enabled
    manager.set_config(ToolsConfig((ours(env={"X": "1"}),)))
    assert (await manager.call("ours", "echo", {"text": "c"})).text == "echo: c"
    assert manager._connections["ours"] is not first


def test_toolbox_names_clashing_tools_after_their_server() -> None:
    from llms_desktop.tools.manager import ToolInfo

    box = Toolbox(
        [
            ToolInfo("a", "search", "Search A"),
            ToolInfo("b", "search"),
            ToolInfo("b", "read.file", parameters={"type": "object", "properties": {"p": {}}}),
        ]
    )
    assert list(box.by_name) == ["a_search", "b_search", "read_file"]
    assert box.find("b_search") == ToolInfo("b", "search")
    specs = {spec["function"]["name"]: spec["function"] for spec in box.specs()}
    assert specs["a_search"]["description"] == "Search A"
    assert specs["b_search"]["parameters"] == {"type": "object", "properties": {}}
    assert specs["read_file"]["parameters"]["properties"] == {"p": {}}


def test_close_without_a_loop_stops_every_server(tmp_path: Path) -> None:
    import asyncio

    manager = ToolManager(ToolsConfig((ours(),)))

    async def use() -> None:
        await manager.call("ours", "echo", {"text": "x"})

    asyncio.run(use())
    runner = manager._runner
    assert runner is not None
    manager.close()
    assert not runner.thread.is_alive()


async def test_changes_made_here_keep_what_others_wrote_to_mcp_json(tmp_path: Path) -> None:
    from tests.support.cli import run_cli

    data = tmp_path / "data"
    ConfigFile.in_folder(data).save(ToolsConfig((ours(), ours("two"))))
    mcp_json = data / "mcp.json"
    manager = ToolManager.in_folder(data)  # as the window: read once, then kept

    def outside(*args: str) -> None:
        result = run_cli("--data-dir", data, "tools", *args)
        assert result.returncode == 0, result.stderr

    def saved() -> dict[str, Any]:
        servers: dict[str, Any] = json.loads(mcp_json.read_text())["mcpServers"]
        return servers

    try:
        outside("add", "web", "--url", "http://127.0.0.1:9/mcp")
        outside("disable", "two", "crash")
        await manager.allow_always(ToolInfo("ours", "echo"))  # "Always allow" in the window
        assert list(saved()) == ["ours", "two", "web"]
        assert saved()["ours"]["alwaysAllow"] == ["echo"]
        assert saved()["two"]["disabledTools"] == ["crash"]
        assert saved()["web"] == {"type": "http", "url": "http://127.0.0.1:9/mcp"}
        assert [s.name for s in manager.config.servers] == ["ours", "two", "web"]

        # A switch flipped here on a server changed outside changes only that switch.
        outside("disable", "two", "hang")
        two = manager.config.require("two")
        await manager.save_config(manager.config.with_server(two.with_tool_enabled("add", False)))
        assert saved()["two"]["disabledTools"] == ["add", "crash", "hang"]

        # Servers added or removed outside are picked up when asked for (one stat otherwise).
        outside("remove", "web")
        outside("add", "late", "--url", "http://127.0.0.1:9/late")
        await manager.refresh()
        assert [s.name for s in manager.config.servers] == ["ours", "two", "late"]
        assert manager.config.require("two").disabled_tools == {"add", "crash", "hang"}
        stamp = mcp_json.stat()
        await manager.refresh()
        assert mcp_json.stat() == stamp

        # Two quick changes (the second made before the first is written) both land.
        first = asyncio.create_task(
            manager.save_config(manager.config.with_server(ours(enabled=False)))
        )
        await asyncio.sleep(0)
        late = manager.config.require("late")
        await manager.save_config(manager.config.with_server(replace(late, timeout=5.0)))
        await first
        assert saved()["ours"]["disabled"] is True
        assert saved()["late"]["timeout"] == 5.0
        assert not manager.config.require("ours").enabled
        assert manager.config.require("late").timeout == 5.0
    finally:
        await manager.aclose()


async def test_an_unreadable_change_outside_is_reported_and_never_overwritten(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ConfigFile.in_folder(data).save(ToolsConfig((ours(),)))
    manager = ToolManager.in_folder(data)
    (data / "mcp.json").write_text('{"mcpServers": {"ours": ')  # an editor mid-save
    with pytest.raises(ConfigError, match="not valid JSON"):
        await manager.refresh()
    with pytest.raises(ConfigError, match="not valid JSON"):
        await manager.allow_always(ToolInfo("ours", "echo"))
    assert (data / "mcp.json").read_text() == '{"mcpServers": {"ours": '
    assert manager.config.require("ours").command == sys.executable
