"""HTML units for tool calls (under an answer, growing live) and tool results (collapsed)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

from llms_desktop.markdown_stream import PIECE
from llms_desktop.tools.loop import DENIED
from llms_desktop.types import Message
from llms_desktop.ui.theme import ChatColors

TOOL_LINK = "tool:"
# A gear from DejaVu Sans and most UI fonts (an emoji needs a colour font few systems have).
CALL_MARK = "⚙"
# An expanded result shows this much; the model got all of it.
SHOWN_RESULT = 4000
# While a call streams, its line shows the end of the arguments (the growing part).
LIVE_SHOWN = 1_500
# A finished call's line shows this much of its arguments; longer ones follow pretty-printed,
# at most so many lines or characters (Copy copies them all).
LINE_SHOWN = 160
FINAL_SHOWN_CHARS = 20_000
FINAL_SHOWN_LINES = 400


def tool_calls(
    colors: ChatColors,
    calls: Iterable[Mapping[str, Any]],
    *,
    live: bool,
    link_prefix: str = "",
    codes: dict[str, str] | None = None,
) -> str:
    """One line per call: the tool's name and its arguments (the end of them as they stream
    in, when live). A finished call whose arguments are long or span several lines as JSON
    also shows them pretty-printed below, like a reasoning block. With `codes`, each call's
    exact arguments are registered under a Copy link `{link_prefix}{n}`."""
    parts = []
    for number, call in enumerate(calls):
        name, arguments = call_parts(call)
        link = f"{link_prefix}{number}"
        copy = ""
        if codes is not None:
            codes[link] = arguments
            copy = (
                f'&nbsp;&nbsp;<a href="{link}" style="color:{colors.code.link};font-size:small;'
                'text-decoration:none">Copy</a>'
            )
        if live:
            # Only the end, the growing part: the line is re-rendered every frame and must
            # cost the same however long the arguments get.
            shown = " ".join(arguments[-LIVE_SHOWN:].split())
            if len(arguments) > LIVE_SHOWN:
                shown = "… " + shown
            shown += "▍"
        else:
            shown = _compact(arguments)
        below = "" if live else _arguments_block(colors, arguments, shown)
        if below and len(shown) > LINE_SHOWN:
            shown = shown[:LINE_SHOWN] + " …"
        parts.append(
            f'<p style="margin-top:2px;margin-bottom:2px;color:{colors.muted}">{CALL_MARK} '
            f'<span style="font-weight:600">{html.escape(name or "…")}</span> '
            f'<span style="font-family:monospace">{html.escape(shown)}</span>{copy}</p>'
            f"{below}"
        )
    return "".join(parts)


def call_parts(call: Mapping[str, Any]) -> tuple[str, str]:
    """A call's function name and arguments (OpenAI shape), tolerating missing fields."""
    function = call.get("function")
    if not isinstance(function, Mapping):
        function = {}
    name = function.get("name") or call.get("name") or ""
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return str(name), arguments


def pretty_arguments(arguments: str) -> str | None:
    """Arguments as indented JSON when they parse, else None."""
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return None
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def _arguments_block(colors: ChatColors, arguments: str, line: str) -> str:
    """The arguments in a tinted block under the line, when that says more than the line:
    pretty-printed when they are JSON of several lines, as they came when they are too long
    for the line and not JSON."""
    text = pretty_arguments(arguments)
    if text is None:
        if len(line) <= LINE_SHOWN:
            return ""
        text = arguments
    elif text.count("\n") < 3 and len(text) <= LINE_SHOWN:
        return ""
    lines = _pieces(text[:FINAL_SHOWN_CHARS])
    if len(lines) > FINAL_SHOWN_LINES or len(text) > FINAL_SHOWN_CHARS:
        lines = lines[:FINAL_SHOWN_LINES]
        lines.append(f"… ({len(text):,} characters in all: Copy copies them)")
    rows = "".join(
        '<p style="margin:0;font-family:monospace;white-space:pre-wrap">'
        f"{html.escape(line) or '&nbsp;'}</p>"
        for line in lines
    )
    return (
        f'<table width="100%" cellspacing="0" cellpadding="6" border="0" '
        f'style="background-color:{colors.reasoning_background}"><tr><td>{rows}</td></tr>'
        "</table>"
    )


def _pieces(text: str) -> list[str]:
    """Lines, a long one cut in pieces: one huge block takes Qt ages to lay out."""
    pieces: list[str] = []
    for line in text.split("\n"):
        pieces.extend(line[start : start + PIECE] for start in range(0, max(len(line), 1), PIECE))
    return pieces


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
