"""HTML for the chunks of one answer, in order: what a later chunk needs is kept here (pure)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from llms_desktop.code_highlight import LexState
from llms_desktop.markdown_render import BlockLook, MarkdownRenderer
from llms_desktop.markdown_stream import Chunk

# Every unit of the chat document starts with a tiny paragraph: inserting HTML into a
# QTextDocument merges the first block of the HTML into the current block and loses its
# format; with a throw-away first block, an incremental document and a one-shot render come
# out block-for-block the same. A later group of a code block gets one in the code's colour,
# so the block reads as one.
SPACER_START = '<p style="margin-top:0px;margin-bottom:0px;font-size:1px'
SPACER = f'{SPACER_START}">&#8203;</p>'
# A spacer's own background and bottom margin, if any (see code_spacer).
SPACER_STYLE = re.compile(
    re.escape(SPACER_START)
    + r'(?:;background-color:(#[0-9a-fA-F]{6}))?(?:;margin-bottom:(\d+)px)?"'
)
# A token (a string, a comment) reaching this far back keeps no restart point: lexing would
# otherwise start that far back for every group.
MAX_LEX_BACK = 16_384
_THEAD = re.compile(r"<thead>.*?</thead>\n?", re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")


def code_spacer(background: str, bottom: int = 0) -> str:
    """A spacer that belongs to a code block (its background colour)."""
    margin = f";margin-bottom:{bottom}px" if bottom else ""
    return f'{SPACER_START};background-color:{background}{margin}">&#8203;</p>'


def with_spacer(unit: str) -> str:
    """A unit as it goes into the document: after its own spacer, or the plain one."""
    unit = unit.strip()
    return unit if unit.startswith(SPACER_START) else SPACER + unit


@dataclass
class _OpenCode:
    """The fenced code block being rendered group by group."""

    key: str  # its Copy link (and key in the codes registry)
    label: str
    state: LexState  # the lexer's state at `source`'s start
    source: str = ""  # code from the restart point to the end of the committed groups
    text: str = ""  # all its code so far, for Copy


class AnswerRender:
    """Turns an answer's chunks into HTML units: `unit()` for a finished chunk (in order),
    `tail()` for the open tail (re-rendered each frame, changing nothing kept here).

    Code blocks are registered in `codes` under their Copy links (`{link_prefix}{n}`); a code
    block split in groups is registered whole.
    """

    def __init__(
        self,
        renderer: MarkdownRenderer,
        *,
        link_prefix: str,
        codes: dict[str, str],
        references: str = "",
    ) -> None:
        self.renderer = renderer
        self.link_prefix = link_prefix
        self.codes = codes
        self.references = references
        self.code_count = 0
        self._code: _OpenCode | None = None
        self._widths: tuple[int, ...] = ()

    def unit(self, chunk: Chunk) -> str:
        """HTML for a finished chunk."""
        return self._render(chunk, commit=True, glyph="")

    def tail(self, chunk: Chunk, glyph: str) -> str:
        """HTML for the open tail, `glyph` (the typing cursor) at its end."""
        return self._render(chunk, commit=False, glyph=glyph)

    def _render(self, chunk: Chunk, *, commit: bool, glyph: str) -> str:
        if chunk.kind == "code":
            return self._render_code(chunk, commit=commit, glyph=glyph)
        if chunk.kind == "long":
            top = "" if chunk.first else "margin-top:0px;"
            bottom = "" if chunk.last else "margin-bottom:0px"
            style = f' style="{top}{bottom}"' if top or bottom else ""
            return f"<p{style}>{html.escape(chunk.text.rstrip(chr(10)))}{glyph}</p>"
        return self._render_markdown(chunk, commit=commit, glyph=glyph)

    def _render_markdown(self, chunk: Chunk, *, commit: bool, glyph: str) -> str:
        markdown = chunk.head + chunk.text + glyph
        if self.references:
            markdown = f"{markdown.rstrip()}\n\n{self.references}\n"
        look = None
        if chunk.block:
            if chunk.block == "table":
                widths = self._widths if not chunk.first else ()
                if not widths:
                    widths = column_widths(chunk.head + chunk.text)
                if commit and chunk.first:
                    self._widths = widths
            else:
                widths = ()
            look = BlockLook(
                widths=widths,
                list_start=chunk.start,
                joins_previous=not chunk.first,
                joins_next=not chunk.last,
            )
        rendered = self.renderer.render(
            markdown, code_link_prefix=self.link_prefix, first_code=self.code_count, look=look
        )
        for offset, code in enumerate(rendered.code_blocks):
            self.codes[f"{self.link_prefix}{self.code_count + offset}"] = code
        if commit:
            self.code_count += len(rendered.code_blocks)
        body = rendered.html
        if chunk.head:
            # The header row came along only so the rows parse as a table: the first group
            # already shows it.
            body = _THEAD.sub("", body, count=1)
        return body

    def _render_code(self, chunk: Chunk, *, commit: bool, glyph: str) -> str:
        code = self._code
        if chunk.first or code is None:
            words = chunk.info.split()
            language = words[0] if words else ""
            code = _OpenCode(
                key=f"{self.link_prefix}{self.code_count}",
                label=language or "code",
                state=self.renderer.highlighter.start(language),
            )
            if commit:
                self._code = code
                self.code_count += 1
        if chunk.plain:
            lines = [html.escape(chunk.code.rstrip("\r\n"))]
            if commit:
                # The lexer picks up after the piece as if at a fresh line.
                code.source = ""
        elif not chunk.code:
            lines = []
        else:
            source = code.source
            begin, end = len(source), len(source) + len(chunk.code)
            text = source + chunk.code + chunk.lookahead
            lines, restart, state = self.renderer.highlighter.window(code.state, text, begin, end)
            if commit:
                consumed = source + chunk.code
                if len(consumed) - restart > MAX_LEX_BACK:
                    restart = len(consumed)
                code.source = consumed[restart:]
                code.state = state
        if glyph:
            if chunk.code.endswith("\n") or not lines:
                lines.append(glyph)
            else:
                lines[-1] += glyph
        if commit:
            code.text += chunk.code
            self.codes[code.key] = code.text
            if chunk.last:
                self._code = None
        else:
            self.codes[code.key] = code.text + chunk.code
        background = self.renderer.palette.background
        if not chunk.first and not lines:
            # Only the closing fence line: the block ends, no empty line. (An empty <pre>
            # vanishes in setHtml but not in insertHtml.)
            return code_spacer(background, 6 if chunk.last else 0)
        block = self.renderer.code_block(
            lines, label=code.label, link=code.key, first=chunk.first, last=chunk.last
        )
        if chunk.first:
            return block
        return code_spacer(background) + block


def column_widths(table: str) -> tuple[int, ...]:
    """Column widths (percent) from a table's header and rows: one long table is shown as
    several tables (one per group of rows) that must line up."""
    lengths: list[int] = []
    for number, line in enumerate(table.splitlines()):
        if number == 1 or not line.strip():
            continue  # the delimiter row
        cells = _CELL_SPLIT.split(line.strip())
        if cells and not cells[0].strip():
            cells = cells[1:]
        if cells and not cells[-1].strip():
            cells = cells[:-1]
        for column, cell in enumerate(cells):
            size = min(max(len(cell.strip()), 3), 40)
            if column < len(lengths):
                lengths[column] = max(lengths[column], size)
            elif number == 0:
                lengths.append(size)
    total = sum(lengths) or 1
    return tuple(max(1, 100 * size // total) for size in lengths)
