"""mcp.json: Claude Desktop / Cursor / VS Code shapes in, our edits out, bad entries named."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from llms_desktop.errors import ConfigError
from llms_desktop.tools import config as mcp_config
from llms_desktop.tools.config import ConfigFile, ServerConfig, ToolsConfig, import_servers

CLAUDE_DESKTOP = {
    "mcpServers": {
        "time": {"command": "uvx", "args": ["mcp-server-time"], "env": {"TZ": "UTC"}},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer t"}},
    },
    "globalShortcut": "Ctrl+Space",
}


def test_a_claude_desktop_file_reads_as_stdio_and_http_servers(tmp_path: Path) -> None:
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(CLAUDE_DESKTOP))
    config = mcp_config.load(path)
    time, remote = config.servers
    assert (time.transport, time.command, time.args, dict(time.env)) == (
        "stdio",
        "uvx",
        ("mcp-server-time",),
        {"TZ": "UTC"},
    )
    assert (remote.transport, remote.url, dict(remote.headers)) == (
        "http",
        "https://example.com/mcp",
        {"Authorization": "Bearer t"},
    )
    assert time.enabled
    assert time.timeout == mcp_config.DEFAULT_TOOL_TIMEOUT


def test_switches_round_trip_and_unknown_keys_survive(tmp_path: Path) -> None:
    document = {
        "mcpServers": {
            "files": {
                "command": "npx",
                "args": ["-y", "server-files"],
                "disabled": True,
                "disabledTools": ["delete"],
                "alwaysAllow": ["read"],
                "timeout": 5,
                "autoApprove": ["x"],
            }
        },
        "other": 1,
    }
    file = ConfigFile(tmp_path / "mcp.json")
    file.path.write_text(json.dumps(document))
    config = file.load()
    (files,) = config.servers
    assert not files.enabled
    assert not files.tool_enabled("delete")
    assert files.tool_enabled("read")
    assert files.always_allow == {"read"}
    assert files.timeout == 5
    file.save(config.with_server(files.with_tool_enabled("delete", True)))
    saved = json.loads(file.path.read_text())
    assert saved["other"] == 1
    assert saved["mcpServers"]["files"] == {
        "autoApprove": ["x"],
        "command": "npx",
        "args": ["-y", "server-files"],
        "disabled": True,
        "alwaysAllow": ["read"],
        "timeout": 5,
    }
    assert not list(tmp_path.glob("*.partial"))
    # Environments and headers often hold keys: only the owner reads the file.
    assert file.path.stat().st_mode & 0o777 == 0o600


def test_a_vs_code_servers_file_and_streamable_http_type() -> None:
    config = mcp_config.parse(
        {"servers": {"web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}
    )
    assert config.require("web").transport == "http"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"args": []}, 'give a "command" to run, or a "url"'),
        ({"type": "sse", "url": "http://x/sse"}, "legacy SSE transport is not supported"),
        ({"url": "ftp://x"}, '"url" must be an http:// or https:// address'),
        ({"command": "x", "args": "-v"}, '"args" must be a list of strings'),
        ({"command": "x", "env": {"A": 1}}, '"env" must be an object of strings'),
        ({"command": "x", "timeout": 0}, '"timeout" must be a number of seconds above 0'),
        ({"command": "x", "type": "websocket"}, "unknown type 'websocket'"),
        ({"command": "x", "disabled": "no"}, '"disabled" must be true or false, not "no".'),
        ({"command": "x", "disabled": 1}, '"disabled" must be true or false, not 1.'),
        ({"command": "x", "disabled": None}, '"disabled" must be true or false, not null.'),
        ({"command": "x", "disabled": [True]}, '"disabled" must be true or false, not a list.'),
    ],
)
def test_a_bad_entry_is_named(entry: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match="MCP server 'bad'") as caught:
        mcp_config.parse({"mcpServers": {"bad": entry}})
    assert message in str(caught.value)


def test_disabled_as_the_string_true_or_false_reads_as_it_spells() -> None:
    config = mcp_config.parse(
        {
            "mcpServers": {
                "on": {"command": "x", "disabled": "false"},
                "off": {"command": "x", "disabled": " True "},
            }
        }
    )
    assert (config.require("on").enabled, config.require("off").enabled) == (True, False)


def test_a_missing_file_is_empty_and_broken_json_is_reported(tmp_path: Path) -> None:
    assert ConfigFile(tmp_path / "absent.json").load() == ToolsConfig()
    broken = tmp_path / "mcp.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match=r"mcp\.json is not valid JSON"):
        mcp_config.load(broken)
    broken.write_text("[" * 100_000)  # parses no better: nested too deeply for Python
    with pytest.raises(ConfigError, match=r"mcp\.json is JSON nested too deeply"):
        mcp_config.load(broken)


def test_arguments_nested_too_deeply_are_a_message_to_the_model() -> None:
    from llms_desktop.tools.loop import parse_arguments

    assert "nested too deeply" in str(parse_arguments("[" * 100_000))


def test_import_adds_new_servers_and_keeps_configured_ones(tmp_path: Path) -> None:
    source = tmp_path / "cursor.json"
    source.write_text(json.dumps(CLAUDE_DESKTOP))
    mine = ToolsConfig((ServerConfig("time", command="my-time", always_allow=frozenset({"a"})),))
    result = import_servers(mine, source)
    assert result.added == ("remote",)
    assert result.skipped == ("time",)
    assert result.config.require("time").command == "my-time"
    assert [s.name for s in result.config.servers] == ["time", "remote"]
    with pytest.raises(ConfigError, match="does not exist"):
        import_servers(mine, tmp_path / "nope.json")


def test_a_change_merges_into_the_file_as_it_is_now() -> None:
    a, b = ServerConfig("a", command="a"), ServerConfig("b", command="b")
    base = ToolsConfig((a, b))
    # Elsewhere: b removed, c added, a's tool x switched off, a top-level key added.
    theirs = ToolsConfig(
        (replace(a, disabled_tools=frozenset({"x"})), ServerConfig("c", command="c")),
        {"theme": "dark"},
    )
    # Here: a's tool y switched off and a timeout set, b's switch flipped, d added.
    ours = ToolsConfig(
        (
            replace(a, disabled_tools=frozenset({"y"}), timeout=5.0),
            replace(b, enabled=False),
            ServerConfig("d", url="http://127.0.0.1:9/mcp"),
        )
    )
    merged = mcp_config.merge_change(base, ours, theirs)
    assert [s.name for s in merged.servers] == ["a", "c", "d"]  # b stays removed
    assert merged.require("a").disabled_tools == {"x", "y"}
    assert merged.require("a").timeout == 5.0
    assert merged.extra == {"theme": "dark"}
    # Renamed here: the old name goes, the new one comes.
    renamed = mcp_config.merge_change(base, ToolsConfig((replace(a, name="a2"), b)), theirs)
    assert [s.name for s in renamed.servers] == ["c", "a2"]
