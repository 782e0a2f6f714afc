"""HTML for an answer's tool calls: each call's name and arguments, live or final."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from llms_desktop.markdown_stream import PIECE
from llms_desktop.ui.theme import ChatColors

# While a call streams, only the end of its arguments is shown (the growing part): the block
# is re-rendered every frame and must cost the same however long the arguments get.
LIVE_SHOWN = 1_500
# A finished call shows at most this much of its (pretty-printed) arguments; Copy copies all.
FINAL_SHOWN_CHARS = 20_000
FINAL_SHOWN_LINES = 400


def call_parts(call: Mapping[str, Any]) -> tuple[str, str]:
    """A call's function name and arguments (OpenAI shape), tolerating missing fields."""
    function = call.get("function")
    if not isinstance(function, Mapping):
        function = {}
    name = function.get("name") or call.get("name") or "tool"
    arguments = function.get("arguments")
    if arguments is None:
        arguments = ""
    elif not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return str(name), arguments


def pretty_arguments(arguments: str) -> str:
    """Arguments as indented JSON when they parse, else as they came."""
    try:
        parsed = json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments
    return json.dumps(parsed, indent=2, ensure_ascii=False)


def tool_calls_html(
    calls: Sequence[Mapping[str, Any]],
    colors: ChatColors,
    *,
    live: bool,
    link_prefix: str,
    codes: dict[str, str],
) -> str:
    """One block listing the calls; each call's exact arguments are registered in `codes`
    under its Copy link (`{link_prefix}{n}`)."""
    parts: list[str] = []
    muted = colors.muted
    for number, call in enumerate(calls):
        name, arguments = call_parts(call)
        link = f"{link_prefix}{number}"
        codes[link] = arguments
        state = "Calling" if live else "Tool call"
        parts.append(
            f'<p style="margin-top:6px;margin-bottom:2px"><span style="color:{muted}">'
            f"{state}</span> <b>{html.escape(name)}</b>"
            + ("…" if live else "")
            + f'&nbsp;&nbsp;<a href="{link}" style="color:{colors.code.link};font-size:small;'
            'text-decoration:none">Copy</a></p>'
        )
        lines = _shown_lines(arguments, live=live)
        rows = "".join(
            f'<p style="margin:0;font-family:monospace;white-space:pre-wrap">'
            f"{html.escape(line) or '&nbsp;'}</p>"
            for line in lines
        )
        parts.append(
            f'<table width="100%" cellspacing="0" cellpadding="6" border="0" '
            f'style="background-color:{colors.reasoning_background}"><tr><td>{rows}</td></tr>'
            "</table>"
        )
    return "".join(parts)


def _shown_lines(arguments: str, *, live: bool) -> list[str]:
    if live:
        shown = arguments[-LIVE_SHOWN:]
        if len(arguments) > LIVE_SHOWN:
            shown = "… " + shown
        return _pieces(shown)
    text = pretty_arguments(arguments)
    lines = _pieces(text[:FINAL_SHOWN_CHARS])
    hidden = len(text) - FINAL_SHOWN_CHARS
    if len(lines) > FINAL_SHOWN_LINES or hidden > 0:
        lines = lines[:FINAL_SHOWN_LINES]
        lines.append(f"… ({len(text):,} characters in all: Copy copies them)")
    return lines


def _pieces(text: str) -> list[str]:
    """Lines, a long one cut in pieces: one huge block takes Qt ages to lay out."""
    pieces: list[str] = []
    for line in text.split("\n"):
        pieces.extend(line[start : start + PIECE] for start in range(0, max(len(line), 1), PIECE))
    return pieces
