"""`llms-desktop tools`: list MCP servers and their tools; add, remove, import, enable, disable."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop import errors

if TYPE_CHECKING:
    from llms_desktop.tools.config import ConfigFile
    from llms_desktop.tools.manager import ServerStatus, ToolInfo

EXIT_SERVER_FAILED = 1
DESCRIPTION_WIDTH = 70


def register(commands: Any) -> None:
    """Add the `tools` command and its subcommands."""
    parser = commands.add_parser(
        "tools",
        help="MCP servers and their tools (mcp.json in the data folder)",
        description="MCP servers live in mcp.json in the data folder, in the mcpServers shape "
        "Claude Desktop and Cursor use. `chat --tools` offers their enabled tools to the model.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list", help="servers and their tools (starts the enabled servers to ask them)"
    )
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=run_list)

    add = actions.add_parser(
        "add",
        help="add a server: a command line (stdio) or --url (streamable HTTP)",
        description="Add a server: `tools add time --command 'uvx mcp-server-time'` or "
        "`tools add web --url http://127.0.0.1:9000/mcp`.",
    )
    add.add_argument("name", metavar="NAME")
    where = add.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--command", metavar="'COMMAND ARGS'", help="the command line, split as a shell would"
    )
    where.add_argument("--url", help="a streamable-HTTP endpoint")
    add.add_argument(
        "--header", action="append", default=[], metavar="NAME:VALUE", help="HTTP header"
    )
    add.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="environment variable"
    )
    add.add_argument("--timeout", type=float, metavar="SECONDS", help="per tool call")
    add.set_defaults(handler=run_add)

    remove = actions.add_parser("remove", help="remove a server")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=run_remove)

    importing = actions.add_parser(
        "import", help="add the servers of a Claude Desktop, Cursor or VS Code file"
    )
    importing.add_argument("file", type=Path, metavar="FILE")
    importing.set_defaults(handler=run_import)

    for action, enabled in (("enable", True), ("disable", False)):
        switch = actions.add_parser(action, help=f"{action} a server, or one of its tools")
        switch.add_argument("name", metavar="SERVER")
        switch.add_argument("tool", metavar="TOOL", nargs="?")
        switch.set_defaults(handler=run_switch, enabled=enabled)


def _file(args: argparse.Namespace) -> ConfigFile:
    from llms_desktop.paths import data_dir
    from llms_desktop.tools.config import ConfigFile

    return ConfigFile.in_folder(data_dir(getattr(args, "data_dir", None)))


def run_list(args: argparse.Namespace) -> int:
    import asyncio  # per command: `--version` and `--help` start fast

    return asyncio.run(_list(args))


async def _list(args: argparse.Namespace) -> int:
    from llms_desktop.paths import data_dir
    from llms_desktop.tools.manager import ToolManager

    manager = ToolManager.in_folder(data_dir(getattr(args, "data_dir", None)))
    try:
        await manager.enabled_tools()
        statuses = [manager.status(server.name) for server in manager.config.servers]
    finally:
        await manager.aclose()
    if args.json:
        import json

        print(json.dumps([_status_json(manager, s) for s in statuses], indent=2))
    elif not statuses:
        path = manager.config_file.path if manager.config_file else "mcp.json"
        print(f"No MCP servers. Add one with `llms-desktop tools add`, or edit {path}.")
    else:
        for status in statuses:
            _print_status(manager, status)
    return EXIT_SERVER_FAILED if any(s.state == "failed" for s in statuses) else 0


def _print_status(manager: Any, status: ServerStatus) -> None:
    server = manager.config.require(status.name)
    state = {"running": "ready", "stopped": "ready"}.get(status.state, status.state)
    print(f"{status.name}  ({server.transport}: {server.describe()})  {state}")
    if status.error:
        print(f"  error: {status.error}")
    for tool in status.tools:
        mark = "x" if tool.enabled else " "
        always = "  (always allowed)" if tool.name in server.always_allow else ""
        print(f"  [{mark}] {tool.name}{always}  {_first_line(tool)}")


def _first_line(tool: ToolInfo) -> str:
    line = tool.description.strip().splitlines()[0] if tool.description.strip() else ""
    return line if len(line) <= DESCRIPTION_WIDTH else line[: DESCRIPTION_WIDTH - 1] + "…"


def _status_json(manager: Any, status: ServerStatus) -> dict[str, Any]:
    server = manager.config.require(status.name)
    return {
        "name": status.name,
        "transport": server.transport,
        "target": server.describe(),
        "enabled": server.enabled,
        "state": status.state,
        "error": status.error,
        "tools": [
            {
                "name": tool.name,
                "enabled": tool.enabled,
                "always_allowed": tool.name in server.always_allow,
                "description": tool.description,
            }
            for tool in status.tools
        ],
    }


def run_add(args: argparse.Namespace) -> int:
    from llms_desktop.tools.config import server_from_json

    file = _file(args)
    config = file.load()
    if config.server(args.name) is not None:
        raise errors.ConfigError(f"An MCP server is already named {args.name!r}.")
    import shlex

    try:
        command = shlex.split(args.command) if args.command else []
    except ValueError as exc:
        raise errors.ConfigError(f"--command: {exc}.") from None
    if args.command is not None and not command:
        raise errors.ConfigError("--command is empty.")
    entry: dict[str, Any] = (
        {"url": args.url}
        if args.url
        else {
            "command": command[0],
            "args": command[1:],
        }
    )
    if args.header:
        entry["headers"] = dict(_pair(item, ":", "--header") for item in args.header)
    if args.env:
        entry["env"] = dict(_pair(item, "=", "--env") for item in args.env)
    if args.timeout is not None:
        entry["timeout"] = args.timeout
    server = server_from_json(args.name, entry)
    file.save(config.with_server(server))
    print(f"Added {server.name} ({server.transport}: {server.describe()}).")
    return 0


def _pair(item: str, separator: str, flag: str) -> tuple[str, str]:
    name, found, value = item.partition(separator)
    if not found or not name.strip():
        raise errors.ConfigError(f"{flag} takes NAME{separator}VALUE, not {item!r}.")
    return name.strip(), value.strip() if separator == ":" else value


def run_remove(args: argparse.Namespace) -> int:
    file = _file(args)
    config = file.load()
    config.require(args.name)
    file.save(config.without(args.name))
    print(f"Removed {args.name}.")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from llms_desktop.tools.config import import_servers

    file = _file(args)
    result = import_servers(file.load(), args.file)
    if result.added:
        file.save(result.config)
    print(f"Imported {len(result.added)} server(s): {', '.join(result.added) or 'none'}.")
    if result.skipped:
        print(
            f"Kept the servers already named {', '.join(result.skipped)}.",
            file=sys.stderr,
        )
    for reason in result.refused:
        print(f"Skipped {reason}", file=sys.stderr)
    # Some servers could not be read and none was imported: the import did nothing useful.
    return EXIT_SERVER_FAILED if result.refused and not result.added else 0


def run_switch(args: argparse.Namespace) -> int:
    from dataclasses import replace

    file = _file(args)
    config = file.load()
    server = config.require(args.name)
    if args.tool:
        server = server.with_tool_enabled(args.tool, args.enabled)
        what = f"{args.name}/{args.tool}"
    else:
        server = replace(server, enabled=args.enabled)
        what = args.name
    file.save(config.with_server(server))
    print(f"{'Enabled' if args.enabled else 'Disabled'} {what}.")
    return 0
