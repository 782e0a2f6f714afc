"""The window's side of MCP tools: which tools go with a message, and asking to run one."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from llms_desktop import errors
from llms_desktop.ui.chat_services import ChatServices, WindowParts

if TYPE_CHECKING:
    from llms_desktop.tools.loop import Decision, PendingCall
    from llms_desktop.tools.manager import ToolManager
    from llms_desktop.tools.toolbox import Toolbox


async def enabled_tools(
    services: ChatServices, notify: Callable[[str], None]
) -> tuple[ToolManager, Toolbox] | None:
    """The enabled MCP tools, their servers started (on the tool thread) if need be. A broken
    mcp.json turns tools off for this message (said in the status bar), no more."""
    try:
        manager = await services.tool_manager()
    except errors.ConfigError as exc:
        notify(f"Tools are off: {exc}")
        return None
    if manager is None or not any(server.enabled for server in manager.config.servers):
        return None
    from llms_desktop.tools.toolbox import Toolbox

    tools, problems = await manager.enabled_tools()
    if problems:
        notify("Tools unavailable: " + " ".join(problems))
    return (manager, Toolbox(tools)) if tools else None


async def approve(call: PendingCall, parts: WindowParts) -> Decision:
    """Ask the user whether to run a tool call (Allow once / Always / Deny)."""
    from llms_desktop.ui.tool_approval import ask

    parts.status.clear_status(f"Waiting for your approval to run {call.tool.name}…")
    return await ask(call, parts.chat_view.window())
