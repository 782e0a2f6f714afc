"""`chat --tools`: the enabled MCP tools, approval on the terminal (y/a/N), and what runs."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from llms_desktop import errors
from llms_desktop.tools import DEFAULT_MAX_ROUNDS

if TYPE_CHECKING:
    import asyncio

    from llms_desktop.tools.loop import Approver, Decision, PendingCall
    from llms_desktop.tools.manager import ToolManager
    from llms_desktop.tools.toolbox import Toolbox

# A result this long is cut when echoed to stderr (the model gets all of it).
ECHO_LIMIT = 200


def add_tool_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("tools (MCP servers in mcp.json in the data folder)")
    group.add_argument(
        "--tools", action="store_true", help="offer the enabled MCP tools to the model"
    )
    group.add_argument(
        "--yes",
        action="store_true",
        help="with --tools: run every tool call without asking (else ask on the terminal)",
    )
    group.add_argument(
        "--max-rounds",
        type=_rounds,
        default=DEFAULT_MAX_ROUNDS,
        metavar="N",
        help=f"with --tools: stop after N rounds of tool calls (default: {DEFAULT_MAX_ROUNDS})",
    )


def _rounds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be 1 to 100")
    return value


@dataclass
class ToolSetup:
    """What `chat --tools` runs with."""

    manager: ToolManager
    toolbox: Toolbox
    approve: Approver


async def open_tools(args: argparse.Namespace, prompt_from_stdin: bool) -> ToolSetup:
    """Start the enabled servers and list their tools; a server that fails is a warning, no
    tool at all an error."""
    from llms_desktop.paths import data_dir
    from llms_desktop.tools.loop import approve_all
    from llms_desktop.tools.manager import ToolManager
    from llms_desktop.tools.toolbox import Toolbox

    folder = data_dir(getattr(args, "data_dir", None))
    manager = ToolManager.in_folder(folder)
    try:
        tools, problems = await manager.enabled_tools()
    except BaseException:
        await manager.aclose()
        raise
    for problem in problems:
        print(f"llms-desktop: warning: {problem}", file=sys.stderr)
    if not tools:
        await manager.aclose()
        where = manager.config_file.path if manager.config_file else folder / "mcp.json"
        raise errors.ConfigError(
            f"--tools: no MCP tool is enabled (servers are set up in {where}; "
            "see `llms-desktop tools list`)."
        )
    approve: Approver = approve_all if args.yes else TerminalApprover(_answers(prompt_from_stdin))
    return ToolSetup(manager, Toolbox(tools), approve)


def _answers(prompt_from_stdin: bool) -> IO[str] | None:
    """Where the y/a/N answers come from: stdin, or the terminal when stdin held the prompt."""
    if not prompt_from_stdin:
        return sys.stdin
    try:
        return open("/dev/tty", encoding="utf-8")
    except OSError:
        return None


class TerminalApprover:
    """Asks on stderr, reads y (once), a (always) or N from `answers`; no answer denies."""

    def __init__(self, answers: IO[str] | None) -> None:
        self.answers = answers

    async def __call__(self, call: PendingCall) -> Decision:
        arguments = call.pretty_arguments()
        sys.stderr.write(
            f"\nThe model wants to run {call.tool.name} (MCP server {call.tool.server}) "
            f"with:\n{arguments}\n"
        )
        if self.answers is None:
            sys.stderr.write("No terminal to ask on: denied (use --yes to allow every call).\n")
            return "deny"
        sys.stderr.write("Allow? [y]es once / [a]lways for this tool / [N]o: ")
        sys.stderr.flush()
        line = await _read_line(self.answers)
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return "once"
        if answer in ("a", "always"):
            return "always"
        if not line:
            sys.stderr.write("\n")
        return "deny"


async def _read_line(stream: IO[str]) -> str:
    """One line, read on a daemon thread: Ctrl+C cancels the wait at once (a blocked read in
    the loop's own thread would hold it until Enter)."""
    import asyncio
    import threading

    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()

    def read() -> None:
        try:
            line = stream.readline()
        except (OSError, ValueError):
            line = ""
        if not loop.is_closed():
            loop.call_soon_threadsafe(_settle, future, line)

    threading.Thread(target=read, name="approval-input", daemon=True).start()
    return await future


def _settle(future: asyncio.Future[str], line: str) -> None:
    if not future.done():
        future.set_result(line)


def echo_call(call: PendingCall) -> None:
    """What runs, on stderr (stdout keeps only the answer)."""
    arguments = call.pretty_arguments().replace("\n", " ")
    sys.stderr.write(f"[tool] {call.tool.server}/{call.tool.name} {arguments}\n")
    sys.stderr.flush()


def echo_result(text: str, error: str | None) -> None:
    line = " ".join(text.split())
    if len(line) > ECHO_LIMIT:
        line = line[: ECHO_LIMIT - 1] + "…"
    label = "[tool error]" if error else "[tool result]"
    sys.stderr.write(f"{label} {line}\n")
    sys.stderr.flush()
