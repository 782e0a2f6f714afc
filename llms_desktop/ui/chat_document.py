"""A thread as one QTextDocument: finished messages render once, a live answer only its tail."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from PySide6.QtGui import QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

from llms_desktop.accumulate import Accumulator
from llms_desktop.markdown_stream import MarkdownStream, reference_definitions
from llms_desktop.types import Message, ToolCallDelta
from llms_desktop.ui import tool_html
from llms_desktop.ui.message_html import SPACER, MessageHtml

CURSOR_GLYPH = "▍"


@dataclass
class _Live:
    """An answer that is still streaming."""

    message: Message
    stream: MarkdownStream = field(default_factory=MarkdownStream)
    pending_text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)  # units already in the document
    code_count: int = 0
    text_started: bool = False
    tail_start: int = 0  # document position where the re-rendered tail begins
    tool_calls: Accumulator = field(default_factory=Accumulator)  # calls as they stream


class ChatDocument:
    """Owns the document's content. Per frame, only the open tail block is re-rendered.

    Units (a header, a finished markdown chunk, a footer) are appended as HTML, each after a
    fresh block; the tail unit is removed and re-inserted on each flush. Nothing before the
    tail is touched while an answer streams, so the cost per frame does not grow with length.
    """

    def __init__(self, document: QTextDocument, builder: MessageHtml) -> None:
        self.document = document
        self.builder = builder
        self.messages: list[Message] = []
        self.expanded: set[str] = set()
        self._live: _Live | None = None

    # Whole-thread rendering -------------------------------------------------------------
    def show(self, messages: list[Message]) -> None:
        """Render finished messages in one pass (a thread opened or re-themed)."""
        self.messages = list(messages)
        self._live = None
        self.rebuild()

    def rebuild(self) -> None:
        """Render everything again (after a theme or expand/collapse change), live tail included."""
        self.builder.codes.clear()
        units: list[str] = []
        for message in self.messages:
            units.extend(self.builder.message_units(message, expanded=message.id in self.expanded))
        self.document.setHtml("".join(SPACER + unit.strip() for unit in units))
        live = self._live
        if live is not None:
            self._append(self.builder.header(live.message))
            live.code_count = 0
            committed, live.committed = live.committed, []
            if live.text_started and live.reasoning:
                self._append(self._reasoning_unit(live, live_now=False))
            for markdown in committed:
                self._commit_markdown(live, markdown)
            live.tail_start = self._end()
            self._render_tail(live)

    # Streaming ------------------------------------------------------------------------------
    @property
    def live_message_id(self) -> str | None:
        """The id of the answer streaming into this document, if any."""
        return self._live.message.id if self._live else None

    def begin_live(self, message: Message) -> None:
        """Start an answer: its header appears now, its text as it streams."""
        live = _Live(message=message)
        self._live = live
        self._append(self.builder.header(message))
        live.tail_start = self._end()
        self._render_tail(live)

    def add_text(self, text: str) -> None:
        """Queue streamed answer text; it shows at the next `flush()`."""
        if self._live is not None and text:
            self._live.pending_text.append(text)

    def add_reasoning(self, text: str) -> None:
        """Queue streamed reasoning text."""
        if self._live is not None and text:
            self._live.reasoning.append(text)

    def add_tool_call(self, delta: ToolCallDelta) -> None:
        """Queue a tool-call fragment: the call's name, then its arguments growing."""
        if self._live is not None:
            self._live.tool_calls.add(delta)

    def flush(self) -> bool:
        """Render what arrived since the last flush; returns whether anything changed."""
        live = self._live
        if live is None:
            return False
        text = "".join(live.pending_text)
        live.pending_text.clear()
        if text and not live.text_started:
            live.text_started = True
            self._remove_tail(live)
            if live.reasoning:
                self._append(self._reasoning_unit(live, live_now=False))
            live.tail_start = self._end()
        if text:
            chunks = live.stream.feed(text)
            if chunks:
                self._remove_tail(live)
                for markdown in chunks:
                    self._commit_markdown(live, markdown)
                live.tail_start = self._end()
        self._render_tail(live)
        return True

    def end_live(self, final: Message) -> None:
        """The answer ended: render its last chunk and footer; it becomes a finished message."""
        live = self._live
        if live is None:
            self.messages.append(final)
            self.rebuild()
            return
        self.flush()
        self._remove_tail(live)
        if live.reasoning and not live.text_started and final.reasoning:
            self._append(self._reasoning_unit(live, live_now=False))
        rest = live.stream.finish()
        if rest:
            self._commit_markdown(live, rest)
        streamed = "".join(live.committed)
        if final.content != streamed or reference_definitions(final.content) or final.tool_calls:
            # The store's final text differs from what streamed (a non-streamed answer, or a
            # provider correction): the stored message wins. Link references defined at the
            # end only resolve in chunks rendered knowing them; tool calls are rendered with
            # the finished message: render the answer again.
            self._live = None
            self.messages.append(final)
            self.rebuild()
            return
        self._append(self.builder.footer(final))
        self._live = None
        self.messages.append(final)

    def append_message(self, message: Message) -> None:
        """Add a finished message at the end (no answer may be streaming)."""
        if self._live is not None:
            raise RuntimeError("cannot append a message while an answer streams")
        self.messages.append(message)
        for unit in self.builder.message_units(message, expanded=message.id in self.expanded):
            self._append(unit)

    def replace_message(self, message: Message) -> None:
        """Swap in a newer version of a finished message (e.g. its status changed)."""
        self.messages = [message if m.id == message.id else m for m in self.messages]
        self.rebuild()

    def toggle_reasoning(self, message_id: str) -> None:
        """Expand or collapse a finished answer's reasoning."""
        self.expanded ^= {message_id}
        self.rebuild()

    def live_text(self) -> str:
        """The streamed answer text so far (committed, tail and not yet flushed)."""
        live = self._live
        if live is None:
            return ""
        return "".join(live.committed) + live.stream.tail + "".join(live.pending_text)

    # Internals ------------------------------------------------------------------------------
    def _reasoning_unit(self, live: _Live, *, live_now: bool) -> str:
        message = replace(live.message, reasoning="".join(live.reasoning))
        return self.builder.reasoning(
            message, message.reasoning or "", expanded=message.id in self.expanded, live=live_now
        )

    def _commit_markdown(self, live: _Live, markdown: str) -> None:
        unit, codes = self.builder.chunk(live.message, markdown, live.code_count)
        live.code_count += codes
        self._append(unit)
        live.committed.append(markdown)

    def _render_tail(self, live: _Live) -> None:
        self._remove_tail(live)
        if live.text_started:
            markdown = live.stream.tail + CURSOR_GLYPH
            unit, _ = self.builder.chunk(live.message, markdown, live.code_count)
        elif live.reasoning:
            unit = self._reasoning_unit(live, live_now=True)
        elif live.tool_calls.tool_calls:
            unit = ""
        else:
            unit = f"<p>{CURSOR_GLYPH}</p>"
        if live.tool_calls.tool_calls:
            calls = live.tool_calls.tool_call_dicts()
            unit += tool_html.tool_calls(self.builder.colors, calls, live=True)
        self._append(unit)

    def _remove_tail(self, live: _Live) -> None:
        if self._end() <= live.tail_start:
            return
        # Deleting from the end of a block through the next ones can hand the surviving block
        # the format of a deleted one (seen after tables): put its own format back.
        block = self.document.findBlock(live.tail_start)
        block_format, char_format = block.blockFormat(), block.charFormat()
        cursor = QTextCursor(self.document)
        cursor.setPosition(live.tail_start)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(block_format)
        cursor.setBlockCharFormat(char_format)

    def _end(self) -> int:
        return self.document.characterCount() - 1

    def _append(self, unit: str) -> None:
        cursor = QTextCursor(self.document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.document.isEmpty():
            # A fresh block with plain formats: insertBlock() alone would inherit the
            # previous block's format (a heading's size, a code block's font).
            cursor.insertBlock(QTextBlockFormat(), QTextCharFormat())
        # Trailing whitespace after the last tag would become a space in the last block.
        cursor.insertHtml(SPACER + unit.strip())
