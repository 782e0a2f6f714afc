"""HTML for a fenced code block that arrives in groups of lines: units and the live tail (pure)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from llms_desktop.code_highlight import LexState
from llms_desktop.markdown_render import MarkdownRenderer
from llms_desktop.markdown_stream import Chunk

SPACER_START = '<p style="margin-top:0px;margin-bottom:0px;font-size:1px'
# A spacer's own background and bottom margin, if any (see code_spacer).
SPACER_STYLE = re.compile(
    re.escape(SPACER_START)
    + r'(?:;background-color:(#[0-9a-fA-F]{6}))?(?:;margin-bottom:(\d+)px)?"'
)
# A token (a string, a comment) reaching this far back keeps no restart point: lexing would
# otherwise start that far back for every group.
MAX_LEX_BACK = 16_384
# The live tail of a code block is shown in pieces of this many lines: pieces already on
# screen stay as they are, so a frame re-renders only the last one.
TAIL_LINES = 8


def code_spacer(background: str, bottom: int = 0) -> str:
    """A spacer that belongs to a code block (its background colour)."""
    margin = f";margin-bottom:{bottom}px" if bottom else ""
    return f'{SPACER_START};background-color:{background}{margin}">&#8203;</p>'


@dataclass
class _TailLines:
    """Highlighted complete lines of the live tail, kept between frames (and across commits:
    offsets count from the block's first code character)."""

    start: int  # where the first kept line starts
    end: int  # where the kept lines end
    restart: int  # where lexing can go on
    state: LexState
    lines: list[str] = field(default_factory=list)


@dataclass
class OpenCode:
    """The fenced code block being rendered group by group."""

    key: str  # its Copy link (and key in the codes registry)
    label: str
    state: LexState  # the lexer's state at `source`'s start
    source: str = ""  # code from the restart point to the end of the committed groups
    text: str = ""  # all its code so far, for Copy
    tail: _TailLines | None = None


class CodeRender:
    """Renders the chunks of code blocks: `units()` commits a group, `tail()` shows the rest.

    Both show lines in pieces of TAIL_LINES lines from the start of a group, so a committed
    group's pieces are usually exactly the pieces the tail already shows (the document keeps
    them instead of inserting them again).
    """

    def __init__(self, renderer: MarkdownRenderer) -> None:
        self.renderer = renderer

    def open(self, chunk: Chunk, key: str) -> OpenCode:
        words = chunk.info.split()
        language = words[0] if words else ""
        return OpenCode(key, language or "code", self.renderer.highlighter.start(language))

    def units(self, code: OpenCode, chunk: Chunk) -> list[str]:
        """A finished group: highlighted from the restart point with its lookahead."""
        if chunk.plain:
            lines = [html.escape(chunk.code.rstrip("\r\n"))]
            code.source = ""  # the lexer picks up after the piece as if at a fresh line
        elif not chunk.code:
            lines = []
        else:
            source = code.source
            begin, end = len(source), len(source) + len(chunk.code)
            text = source + chunk.code + chunk.lookahead
            lines, restart, state = self.renderer.highlighter.window(code.state, text, begin, end)
            consumed = source + chunk.code
            if len(consumed) - restart > MAX_LEX_BACK:
                restart = len(consumed)
            code.source = consumed[restart:]
            code.state = state
        code.text += chunk.code
        if chunk.plain:
            code.tail = None
        return self._pieces(code, lines, first=chunk.first, last=chunk.last)

    def tail(self, code: OpenCode, chunk: Chunk, glyph: str) -> list[str]:
        """The live tail; each complete line is lexed once."""
        if chunk.plain:
            lines = [html.escape(chunk.code.rstrip("\r\n")) + glyph]
            return self._pieces(code, lines, first=chunk.first, last=True)
        base = len(code.text)
        full = code.text + chunk.code
        complete = base + chunk.code.rfind("\n") + 1
        kept = self._kept(code, full, base)
        highlighter = self.renderer.highlighter
        if complete > kept.end:
            start = kept.restart
            lines, restart, state = highlighter.window(
                kept.state, full[start:], kept.end - start, complete - start
            )
            kept.lines.extend(lines)
            kept.end = complete
            kept.restart, kept.state = start + restart, state
        partial = [glyph]
        if complete < len(full):
            start = kept.restart
            partial, _, _ = highlighter.window(
                kept.state, full[start:], complete - start, len(full) - start
            )
            partial[-1] += glyph
        # The unfinished line is a piece of its own: a frame re-inserts only that line.
        pieces = self._pieces(code, kept.lines, first=chunk.first, last=False) if kept.lines else []
        pieces.append(self._block(code, partial, first=chunk.first and not kept.lines, last=True))
        return pieces

    def _kept(self, code: OpenCode, full: str, base: int) -> _TailLines:
        """The kept tail lines, those before `base` (committed since) dropped."""
        kept = code.tail
        if kept is not None and kept.start < base <= kept.end:
            dropped = full.count("\n", kept.start, base)
            if full[base - 1] == "\n" and dropped <= len(kept.lines):
                del kept.lines[:dropped]
                kept.start = base
        if kept is None or kept.start != base:
            restart = base - len(code.source)
            kept = _TailLines(start=base, end=base, restart=restart, state=code.state)
            code.tail = kept
        return kept

    def _pieces(self, code: OpenCode, lines: list[str], *, first: bool, last: bool) -> list[str]:
        """Lines as blocks of TAIL_LINES lines (one visual block)."""
        if not lines:
            return [self._block(code, [], first=first, last=last)]
        count = len(lines)
        return [
            self._block(
                code,
                lines[number : number + TAIL_LINES],
                first=first and number == 0,
                last=last and number + TAIL_LINES >= count,
            )
            for number in range(0, count, TAIL_LINES)
        ]

    def _block(self, code: OpenCode, lines: list[str], *, first: bool, last: bool) -> str:
        background = self.renderer.palette.background
        if not first and not lines:
            # Only the closing fence line: the block ends, no empty line. (An empty <pre>
            # vanishes in setHtml but not in insertHtml.)
            return code_spacer(background, 6 if last else 0)
        block = self.renderer.code_block(
            lines, label=code.label, link=code.key, first=first, last=last
        )
        return block if first else code_spacer(background) + block
