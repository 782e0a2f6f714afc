"""HTML units for one message (header, body chunks, footer) in the chat document's HTML subset."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from llms_desktop.branches import Versions
from llms_desktop.chunk_render import SPACER, AnswerRender, with_spacer
from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.markdown_stream import LONG_LINE, PIECE, MarkdownStream, reference_definitions
from llms_desktop.turns import CUT_OFF, can_continue
from llms_desktop.types import Message
from llms_desktop.ui import attachment_html, tool_html
from llms_desktop.ui.theme import ChatColors

__all__ = [
    "COPY_LINK",
    "MESSAGE_LINK",
    "REASONING_LINK",
    "SPACER",
    "MessageHtml",
    "with_spacer",
]

_RETRY_IN = re.compile(r" \(retry in \d+ (?:s|min)\)")

REASONING_LINK = "reasoning:"
COPY_LINK = "copy:"
# Actions on a message: "msg:<verb>:<message id>" (copy, edit, regenerate, continue, delete,
# version: show that version instead).
MESSAGE_LINK = "msg:"

# Expanded reasoning shows at most this much (it is kept whole in the store).
REASONING_SHOWN = 200_000


class MessageHtml:
    """Builds the units of messages; collects code blocks for the Copy links."""

    def __init__(self, renderer: MarkdownRenderer, colors: ChatColors) -> None:
        self.renderer = renderer
        self.colors = colors
        self.codes: dict[str, str] = {}
        # Messages that have other versions (siblings): where each stands among them.
        self.versions: Mapping[str, Versions] = {}

    def header(self, message: Message) -> str:
        """The name line above a message."""
        when = time.strftime("%H:%M", time.localtime(message.created_at or time.time()))
        if message.role == "user":
            who = f'<span style="color:{self.colors.user_label};font-weight:600">You</span>'
        else:
            name = html.escape(message.model or message.role.capitalize())
            who = f'<span style="color:{self.colors.assistant_label};font-weight:600">{name}</span>'
        return (
            f'<p style="margin-top:14px;margin-bottom:2px"><a name="msg-{message.id}"></a>{who}'
            f'&nbsp;&nbsp;<span style="color:{self.colors.muted};font-size:small">{when}</span></p>'
        )

    def user_body(self, message: Message) -> str:
        """A user's message in a tinted box (rendered once, never streamed), its attachments
        under the text."""
        rendered = self.renderer.render(message.content, code_link_prefix=self._prefix(message))
        self._keep_codes(message, rendered.code_blocks, 0)
        attached = attachment_html.attachments(self.colors, message.attachments)
        return (
            f'<table width="100%" cellspacing="0" cellpadding="8" border="0" '
            f'style="background-color:{self.colors.user_background}"><tr><td>'
            f"{rendered.html}{attached}</td></tr></table>"
        )

    def answer(self, message: Message, references: str = "") -> AnswerRender:
        """Renders an answer's chunks in order (see AnswerRender)."""
        return AnswerRender(
            self.renderer,
            link_prefix=self._prefix(message),
            codes=self.codes,
            references=references,
        )

    def reasoning(self, message: Message, reasoning: str, *, expanded: bool, live: bool) -> str:
        """The collapsible reasoning block: a toggle line, and the text when expanded."""
        words = len(reasoning.split())
        arrow = "▾" if expanded else "▸"
        label = "Thinking…" if live else "Reasoning"
        toggle = (
            f'<p style="margin-top:2px;margin-bottom:2px"><a href="{REASONING_LINK}{message.id}" '
            f'style="color:{self.colors.muted};text-decoration:none">{arrow} {label} '
            f"({words:,} words)</a></p>"
        )
        if not expanded or live:
            return toggle
        # One paragraph per line, long lines in pieces: one huge block takes Qt ages to lay out.
        shown = reasoning.strip()
        cut = len(shown) - REASONING_SHOWN
        paragraphs = "".join(
            f'<p style="color:{self.colors.muted};margin:0">{html.escape(piece)}</p>'
            for piece in display_pieces(shown[:REASONING_SHOWN])
        )
        if cut > 0:
            paragraphs += (
                f'<p style="color:{self.colors.muted};margin:0">… ({cut:,} more characters)</p>'
            )
        return (
            f"{toggle}"
            f'<table width="100%" cellspacing="0" cellpadding="8" border="0" '
            f'style="background-color:{self.colors.reasoning_background}"><tr><td>'
            f"{paragraphs}</td></tr></table>"
        )

    def tool_calls(
        self, message: Message, calls: Sequence[Mapping[str, Any]], *, live: bool
    ) -> str:
        """The tool calls an answer asked for: name and arguments of each, with Copy links."""
        return tool_html.tool_calls(
            self.colors,
            calls,
            live=live,
            link_prefix=f"{self._prefix(message)}tool",
            codes=self.codes,
        )

    def footer(self, message: Message) -> str:
        """Status, usage and timings under an answer."""
        muted = self.colors.muted
        parts: list[str] = []
        if message.completion_tokens is not None:
            estimate = " (est.)" if message.tokens_estimated else ""
            parts.append(f"{message.completion_tokens:,} tokens{estimate}")
        rate = message.tokens_per_second
        if rate is not None:
            parts.append(f"{rate:.1f} tok/s")
        if message.ttft_ms is not None:
            parts.append(f"first token {message.ttft_ms / 1000:.2f} s")
        if message.duration_ms is not None:
            parts.append(f"{message.duration_ms / 1000:.2f} s")
        meta = " · ".join(parts)
        status = ""
        if message.status == "cancelled":
            # An icon, not "⏹": common fonts (DejaVu) lack that glyph (ui/icons.py serves it).
            stop = '<img src="llms-icon:stopped">'
            status = f'{stop} <span style="color:{self.colors.warning}">Stopped</span>'
        elif message.status == "interrupted":
            status = (
                f'<span style="color:{self.colors.warning}">⚠ Interrupted: the app closed '
                "before this answer finished</span>"
            )
        elif message.status == "error":
            # "(retry in 7 s)" was true when it failed; in the saved footer it would go stale.
            error = html.escape(_RETRY_IN.sub("", message.error or "") or "The request failed.")
            status = f'<span style="color:{self.colors.error}">⚠ {error}</span>'
        elif message.finish_reason == CUT_OFF:
            status = (
                f'<span style="color:{self.colors.warning}">Cut off at the token limit '
                "(max tokens): Continue asks for the rest</span>"
            )
        joined = " · ".join(
            item
            for item in (
                status,
                f'<span style="color:{muted}">{meta}</span>' if meta else "",
                self.actions(message),
            )
            if item
        )
        return f'<p style="margin-top:2px;margin-bottom:6px;font-size:small">{joined}</p>'

    def user_footer(self, message: Message) -> str:
        """The action line under a user's message."""
        return (
            f'<p style="margin-top:2px;margin-bottom:6px;font-size:small">'
            f"{self.actions(message)}</p>"
        )

    def actions(self, message: Message) -> str:
        """Links to act on a message, and its version switcher when it has other versions."""
        items: list[str] = []
        versions = self.versions.get(message.id)
        if versions is not None and versions.count > 1:
            items.append(self._switcher(versions))
        items.append(self._action("copy", message.id, "Copy", "Copy this message as markdown"))
        if message.role == "user":
            items.append(self._action("edit", message.id, "Edit", "Edit and send as a new version"))
        elif message.role == "assistant":
            items.append(
                self._action("regenerate", message.id, "Regenerate", "Answer again: a new version")
            )
            if can_continue(message) and message.content:  # nothing to continue otherwise
                items.append(
                    self._action("continue", message.id, "Continue", "Ask for the rest of it")
                )
        items.append(self._action("delete", message.id, "Delete", "Delete this message"))
        return " · ".join(items)

    def _switcher(self, versions: Versions) -> str:
        muted = self.colors.muted
        previous, following = versions.step(-1), versions.step(+1)
        left = (
            self._action("version", previous, "‹", "Previous version")
            if previous
            else f'<span style="color:{muted}">‹</span>'
        )
        right = (
            self._action("version", following, "›", "Next version")
            if following
            else f'<span style="color:{muted}">›</span>'
        )
        return f"{left}&nbsp;{versions.index}/{versions.count}&nbsp;{right}"

    def _action(self, verb: str, message_id: str, label: str, hint: str) -> str:
        return (
            f'<a href="{MESSAGE_LINK}{verb}:{message_id}" title="{html.escape(hint)}" '
            f'style="color:{self.colors.muted};text-decoration:none">{label}</a>'
        )

    def message_units(self, message: Message, *, expanded: bool) -> list[str]:
        """All units of a finished message, exactly as streaming would have produced them."""
        if message.role == "tool":
            return [tool_html.tool_result(self.colors, message, expanded=expanded)]
        units = [self.header(message)]
        if message.role == "user" and not has_long_line(message.content):
            units.append(self.user_body(message))
            units.append(self.user_footer(message))
            return units
        if message.reasoning:
            units.append(self.reasoning(message, message.reasoning, expanded=expanded, live=False))
        stream = MarkdownStream()
        chunks = stream.feed(message.content)
        chunks.extend(stream.finish())
        render = self.answer(message, reference_definitions(message.content))
        units.extend(render.unit(chunk) for chunk in chunks)
        if message.tool_calls:
            units.append(self.tool_calls(message, message.tool_calls, live=False))
        if message.role == "assistant" and message.status != "streaming":
            units.append(self.footer(message))
        elif message.role == "user":
            units.append(self.user_footer(message))
        return units

    def _prefix(self, message: Message) -> str:
        return f"{COPY_LINK}{message.id}:"

    def _keep_codes(self, message: Message, codes: list[str], first: int) -> None:
        prefix = self._prefix(message)
        for offset, code in enumerate(codes):
            self.codes[f"{prefix}{first + offset}"] = code


def has_long_line(text: str) -> bool:
    """Whether a line of `text` is too long to lay out as one block (see LONG_LINE)."""
    if len(text) <= LONG_LINE:
        return False
    return any(len(line) > LONG_LINE for line in text.split("\n"))


def display_pieces(text: str) -> list[str]:
    """The lines of `text`, a line longer than PIECE cut into pieces of PIECE characters."""
    pieces: list[str] = []
    for line in text.split("\n"):
        if len(line) <= PIECE:
            pieces.append(line)
        else:
            pieces.extend(line[start : start + PIECE] for start in range(0, len(line), PIECE))
    return pieces
