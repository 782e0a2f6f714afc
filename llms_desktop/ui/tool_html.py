"""HTML units for tool calls (under an answer, growing live) and tool results (collapsed)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from llms_desktop.tools.loop import DENIED
from llms_desktop.types import Message
from llms_desktop.ui.theme import ChatColors

TOOL_LINK = "tool:"
# A gear from DejaVu Sans and most UI fonts (an emoji needs a colour font few systems have).
CALL_MARK = "⚙"
# An expanded result shows this much; the model got all of it.
SHOWN_RESULT = 4000


def tool_calls(colors: ChatColors, calls: Iterable[Mapping[str, Any]], *, live: bool) -> str:
    """One line per call: the tool's name and its arguments (as they stream in, when live)."""
    lines = []
    for call in calls:
        function = call.get("function") or {}
        name = html.escape(str(function.get("name") or "…"))
        arguments = html.escape(_compact(str(function.get("arguments") or "")))
        cursor = "▍" if live else ""
        lines.append(
            f'<p style="margin-top:2px;margin-bottom:2px;color:{colors.muted}">{CALL_MARK} '
            f'<span style="font-weight:600">{name}</span> '
            f'<span style="font-family:monospace">{arguments}{cursor}</span></p>'
        )
    return "".join(lines)


def tool_result(colors: ChatColors, message: Message, *, expanded: bool) -> str:
    """A tool result: a toggle line naming the tool; the text, when expanded."""
    arrow = "▾" if expanded else "▸"
    name = html.escape(message.name or "tool")
    if message.status == "cancelled":
        what, color = "stopped", colors.warning
    elif message.error == DENIED:
        what, color = "denied", colors.warning
    elif message.error:
        what, color = "failed", colors.error
    else:
        what, color = f"{len(message.content):,} characters", colors.muted
    toggle = (
        f'<p style="margin-top:2px;margin-bottom:2px"><a href="{TOOL_LINK}{message.id}" '
        f'style="color:{color};text-decoration:none">{arrow} Result of {name} ({what})</a></p>'
    )
    if not expanded:
        return toggle
    text = message.content
    if len(text) > SHOWN_RESULT:
        text = text[:SHOWN_RESULT] + f"\n… ({len(message.content) - SHOWN_RESULT:,} more)"
    # Kept as the tool wrote it (JSON's indentation), long lines wrapped.
    return (
        f"{toggle}"
        f'<table width="100%" cellspacing="0" cellpadding="8" border="0" '
        f'style="background-color:{colors.reasoning_background}"><tr><td>'
        f'<p style="font-family:monospace;white-space:pre-wrap;margin:0">{html.escape(text)}</p>'
        "</td></tr></table>"
    )


def _compact(arguments: str) -> str:
    """Arguments on one line: re-dumped compactly when they are whole JSON."""
    try:
        return json.dumps(json.loads(arguments), ensure_ascii=False)
    except ValueError:
        return " ".join(arguments.split())
