"""A thread as one QTextDocument: finished messages render once, a live answer only its tail."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from PySide6.QtGui import QColor, QTextBlockFormat, QTextCharFormat, QTextCursor, QTextDocument

from llms_desktop.accumulate import Accumulator
from llms_desktop.chunk_render import SPACER_STYLE, AnswerRender
from llms_desktop.markdown_stream import Chunk, MarkdownStream, reference_definitions
from llms_desktop.render_cache import RenderCache, Rendered
from llms_desktop.types import Message, ToolCallDelta
from llms_desktop.ui.message_html import MessageHtml, with_spacer

CURSOR_GLYPH = "▍"
# Work per frame is bounded: text that arrives faster (a whole answer in one delta) is fed
# in slices until this much time has gone, the rest at the next frame.
FLUSH_BUDGET_S = 0.005
FEED_SLICE = 512
# An answer that ends with more than this not yet shown goes on being shown frame by frame
# (a whole answer can arrive in one delta): it ends when all of it is in.
BIG_BACKLOG = 16_384


@dataclass
class _Live:
    """An answer that is still streaming."""

    message: Message
    render: AnswerRender
    stream: MarkdownStream = field(default_factory=MarkdownStream)
    pending_text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: Accumulator = field(default_factory=Accumulator)  # its tool calls
    committed: list[Chunk] = field(default_factory=list)  # chunks already in the document
    committed_length: int = 0  # characters in them
    references: bool = False  # one of them defines a link reference
    started: bool = False  # text or a tool call arrived: the reasoning above is final
    tail_start: int = 0  # document position where the re-rendered tail begins
    final: Message | None = None  # the answer ended; its text is still being shown
    tail_units: list[str] = field(default_factory=list)  # the tail's units in the document
    tail_starts: list[int] = field(default_factory=list)  # and where each begins


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
        # Chats rendered before (see render_cache); None renders every time.
        self.cache: RenderCache | None = None
        self._shown_key: str | None = None

    def _render_inputs(self) -> list[object]:
        """Everything the finished messages' HTML depends on, for the render cache's key."""
        versions = sorted((key, repr(value)) for key, value in self.builder.versions.items())
        return [self.messages, sorted(self.expanded), versions, self.builder.colors]

    def keep_rendered(self) -> None:
        """Keep what the document shows for the next start, if it is a whole rendered chat
        (nothing streamed or appended since)."""
        if self.cache is not None and self._shown_key is not None and self._live is None:
            self.cache.keep(self._shown_key)

    # Whole-thread rendering -------------------------------------------------------------
    def show(self, messages: list[Message]) -> None:
        """Render finished messages in one pass (a thread opened or re-themed)."""
        self.messages = list(messages)
        self._live = None
        self.rebuild()

    def rebuild(self) -> None:
        """Render everything again (after a theme or expand/collapse change), live tail included."""
        self.builder.codes.clear()
        live = self._live
        cache = self.cache if live is None else None
        key = cache.key(self._render_inputs()) if cache is not None else None
        rendered = cache.get(key) if cache is not None and key is not None else None
        if rendered is not None:
            self.builder.codes.update(rendered.codes)
        else:
            units: list[str] = []
            for message in self.messages:
                units.extend(
                    self.builder.message_units(message, expanded=message.id in self.expanded)
                )
            rendered = Rendered("".join(with_spacer(unit) for unit in units), {})
            if cache is not None and key is not None:
                cache.put(key, Rendered(rendered.html, dict(self.builder.codes)))
        self.document.setHtml(rendered.html)
        self._shown_key = key  # the document is exactly that entry, until something is added
        if live is not None:
            live.tail_units.clear()
            live.tail_starts.clear()
            self._append(self.builder.header(live.message))
            live.render = self.builder.answer(live.message)
            if live.started and live.reasoning:
                self._append(self._reasoning_unit(live, live_now=False))
            for chunk in live.committed:
                for unit in live.render.units(chunk):
                    self._append(unit)
            live.tail_start = self._end()
            self._render_tail(live)

    # Streaming ------------------------------------------------------------------------------
    @property
    def live_message_id(self) -> str | None:
        """The id of the answer streaming into this document, if any."""
        return self._live.message.id if self._live else None

    @property
    def backlog(self) -> bool:
        """Streamed text waits for a later flush (more arrived than one frame's budget)."""
        return bool(self._live and self._live.pending_text)

    def begin_live(self, message: Message) -> None:
        """Start an answer: its header appears now, its text as it streams."""
        self.finish_now()
        live = _Live(message=message, render=self.builder.answer(message))
        self._live = live
        self._shown_key = None
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
        """Queue a fragment of a tool call (its name, or more of its arguments)."""
        if self._live is not None:
            self._live.calls.add(delta)

    def flush(self, budget: float | None = FLUSH_BUDGET_S) -> bool:
        """Render what arrived since the last flush, for at most `budget` seconds of feeding
        (None: all of it); returns whether anything changed."""
        live = self._live
        if live is None:
            return False
        # One edit block: the layout and the view hear of the frame's changes once.
        cursor = QTextCursor(self.document)
        cursor.beginEditBlock()
        try:
            self._flush(live, budget)
        finally:
            cursor.endEditBlock()
        if live.final is not None and not live.pending_text:
            self._finish(live, live.final)
        return True

    def _flush(self, live: _Live, budget: float | None) -> None:
        text = "".join(live.pending_text)
        live.pending_text.clear()
        if (text or live.calls.tool_calls) and not live.started:
            live.started = True
            self._remove_tail(live)
            if live.reasoning:
                self._append(self._reasoning_unit(live, live_now=False))
            live.tail_start = self._end()
        if text:
            deadline = None if budget is None else time.perf_counter() + budget
            position = 0
            while position < len(text):
                piece = text[position : position + FEED_SLICE]
                position += len(piece)
                for chunk in live.stream.feed(piece):
                    self._commit(live, chunk)
                if deadline is not None and time.perf_counter() > deadline:
                    break
            if position < len(text):
                live.pending_text.append(text[position:])
        self._render_tail(live)

    def end_live(self, final: Message) -> None:
        """The answer ended: render its last chunk and footer; it becomes a finished message.

        If much of its text is not shown yet, that goes on at the next flushes (`backlog`).
        """
        live = self._live
        if live is None:
            self.messages.append(final)
            self.rebuild()
            return
        live.final = final
        if sum(map(len, live.pending_text)) <= BIG_BACKLOG:
            self.flush(budget=None)

    def finish_now(self) -> None:
        """Show at once the rest of an answer that has ended (before anything else changes)."""
        live = self._live
        if live is not None and live.final is not None:
            self.flush(budget=None)

    def _finish(self, live: _Live, final: Message) -> None:
        if live.reasoning and not live.started and final.reasoning:
            self._remove_tail(live)
            self._append(self._reasoning_unit(live, live_now=False))
            live.tail_start = self._end()
        for chunk in live.stream.finish():
            self._commit(live, chunk)
        self._remove_tail(live)
        self._live = None
        self.messages.append(final)
        # (Checked as chunks came in: the whole answer again here would stall the last frame.)
        same = len(final.content) == live.committed_length and final.content == "".join(
            chunk.text for chunk in live.committed
        )
        if not same or live.references:
            # The store's final text differs from what streamed (a non-streamed answer, or a
            # provider correction): the stored message wins. Link references defined at the
            # end only resolve in chunks rendered knowing them: render the answer again.
            self.rebuild()
            return
        if final.tool_calls:
            self._append(self.builder.tool_calls(final, final.tool_calls, live=False))
        self._append(self.builder.footer(final))

    def append_message(self, message: Message) -> None:
        """Add a finished message at the end (no answer may be streaming)."""
        self.finish_now()
        if self._live is not None:
            raise RuntimeError("cannot append a message while an answer streams")
        self.messages.append(message)
        self._shown_key = None
        for unit in self.builder.message_units(message, expanded=message.id in self.expanded):
            self._append(unit)

    def replace_message(self, message: Message) -> None:
        """Swap in a newer version of a finished message (e.g. its status changed)."""
        self.finish_now()
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
        committed = "".join(chunk.text for chunk in live.committed)
        return committed + live.stream.tail + "".join(live.pending_text)

    # Internals ------------------------------------------------------------------------------
    def _reasoning_unit(self, live: _Live, *, live_now: bool) -> str:
        message = replace(live.message, reasoning="".join(live.reasoning))
        return self.builder.reasoning(
            message, message.reasoning or "", expanded=message.id in self.expanded, live=live_now
        )

    def _commit(self, live: _Live, chunk: Chunk) -> None:
        """A chunk is finished: its units go in for good where the tail was. Those the tail
        already shows exactly (code lines, table rows) stay; only the rest is inserted."""
        units = live.render.units(chunk)
        same = 0
        for shown, unit in zip(live.tail_units, units, strict=False):
            if shown != unit:
                break
            same += 1
        if same == len(units) and same < len(live.tail_units):
            live.tail_start = live.tail_starts[same]
            del live.tail_units[:same], live.tail_starts[:same]
        else:
            if same < len(live.tail_starts):
                self._remove_from(live.tail_starts[same] if same else live.tail_start)
            live.tail_units.clear()
            live.tail_starts.clear()
            for unit in units[same:]:
                self._append(unit)
            live.tail_start = self._end()
        live.committed.append(chunk)
        live.committed_length += len(chunk.text)
        if "]:" in chunk.text and reference_definitions(chunk.text):
            live.references = True

    def _render_tail(self, live: _Live) -> None:
        """Show the tail; units that did not change since the last frame stay as they are."""
        units: list[str] = []
        if live.started:
            calls = live.calls.tool_call_dicts()
            chunk = live.stream.tail_chunk()
            if chunk is not None or not calls:
                units.extend(live.render.tail(chunk or Chunk(""), CURSOR_GLYPH))
            if calls:
                units.append(self.builder.tool_calls(live.message, calls, live=True))
        elif live.reasoning:
            units.append(self._reasoning_unit(live, live_now=True))
        else:
            units.append(f"<p>{CURSOR_GLYPH}</p>")
        kept = 0
        for old, new in zip(live.tail_units, units, strict=False):
            if old != new:
                break
            kept += 1
        if kept == len(units) == len(live.tail_units):
            return
        if kept < len(live.tail_units):
            self._remove_from(live.tail_starts[kept])
        else:
            self._remove_from(self._end())
        del live.tail_units[kept:], live.tail_starts[kept:]
        for unit in units[kept:]:
            live.tail_starts.append(self._end())
            live.tail_units.append(unit)
            self._append(unit)

    def _remove_tail(self, live: _Live) -> None:
        self._remove_from(live.tail_start)
        live.tail_units.clear()
        live.tail_starts.clear()

    def _remove_from(self, position: int) -> None:
        if self._end() <= position:
            return
        # Deleting from the end of a block through the next ones can hand the surviving block
        # the format of a deleted one (seen after tables): put its own format back.
        block = self.document.findBlock(position)
        block_format, char_format = block.blockFormat(), block.charFormat()
        cursor = QTextCursor(self.document)
        cursor.setPosition(position)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        cursor.setBlockFormat(block_format)
        cursor.setBlockCharFormat(char_format)

    def _end(self) -> int:
        return self.document.characterCount() - 1

    def _append(self, unit: str) -> None:
        self._shown_key = None  # the document is more than a rendered chat now
        cursor = QTextCursor(self.document)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        unit = with_spacer(unit)
        if not self.document.isEmpty():
            # A fresh block with plain formats: insertBlock() alone would inherit the
            # previous block's format (a heading's size, a code block's font). The unit's
            # spacer merges into it and would lose its own block format: give it that.
            block_format = QTextBlockFormat()
            spacer = SPACER_STYLE.match(unit)
            if spacer and spacer.group(1):
                block_format.setBackground(QColor(spacer.group(1)))
            if spacer and spacer.group(2):
                block_format.setBottomMargin(int(spacer.group(2)))
            cursor.insertBlock(block_format, QTextCharFormat())
        cursor.insertHtml(unit)
