"""HTML for the chunks of one answer, in order: what a later chunk needs is kept here (pure)."""

from __future__ import annotations

import html
import re

from llms_desktop.code_render import SPACER_START, SPACER_STYLE, CodeRender, OpenCode, code_spacer
from llms_desktop.markdown_render import BlockLook, MarkdownRenderer
from llms_desktop.markdown_stream import Chunk

__all__ = ["SPACER", "SPACER_STYLE", "AnswerRender", "code_spacer", "column_widths", "with_spacer"]

# Every unit of the chat document starts with a tiny paragraph: inserting HTML into a
# QTextDocument merges the first block of the HTML into the current block and loses its
# format; with a throw-away first block, an incremental document and a one-shot render come
# out block-for-block the same. A later group of a code block gets one in the code's colour,
# so the block reads as one.
SPACER = f'{SPACER_START}">&#8203;</p>'
# The live tail of a long table is shown in tables of this many rows (see TAIL_LINES).
TAIL_ROWS = 8
_THEAD = re.compile(r"<thead>.*?</thead>\n?", re.DOTALL)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_ROW = re.compile(r"^ {0,3}\|")


def with_spacer(unit: str) -> str:
    """A unit as it goes into the document: after its own spacer, or the plain one."""
    unit = unit.strip()
    return unit if unit.startswith(SPACER_START) else SPACER + unit


class AnswerRender:
    """Turns an answer's chunks into HTML units: `units()` for a finished chunk (in order),
    `tail()` for the open tail (re-rendered each frame; it only fills caches here).

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
        self._code_render = CodeRender(renderer)
        self._code: OpenCode | None = None
        self._widths: tuple[int, ...] = ()

    def unit(self, chunk: Chunk) -> str:
        """HTML for a finished chunk (its pieces each after a spacer, as the document has them)."""
        return "".join(with_spacer(unit) for unit in self.units(chunk))

    def units(self, chunk: Chunk) -> list[str]:
        """HTML for a finished chunk, in the pieces the tail showed it in (see `tail()`)."""
        if chunk.kind == "code":
            code = self._code_for(chunk, commit=True)
            units = self._code_render.units(code, chunk)
            self.codes[code.key] = code.text
            if chunk.last:
                self._code = None
            return units
        if chunk.kind == "long":
            return [_long_piece(chunk, "")]
        if _table_rows(chunk):
            return self._table(chunk, "")
        return [self._render_markdown(chunk, commit=True, glyph="")]

    def tail(self, chunk: Chunk, glyph: str) -> list[str]:
        """HTML units for the open tail, `glyph` (the typing cursor) at its end.

        Code and table rows come in small pieces; a frame re-inserts only the pieces that
        changed since the last one, and a committed group whose pieces equal the tail's stays.
        """
        if chunk.kind == "code":
            code = self._code_for(chunk, commit=False)
            self.codes[code.key] = code.text + chunk.code
            return self._code_render.tail(code, chunk, glyph)
        if chunk.kind == "long":
            return [_long_piece(chunk, glyph)]
        if _table_rows(chunk):
            return self._table(chunk, glyph)
        return [self._render_markdown(chunk, commit=False, glyph=glyph)]

    def _code_for(self, chunk: Chunk, *, commit: bool) -> OpenCode:
        code = self._code
        if chunk.first or code is None:
            code = self._code_render.open(chunk, f"{self.link_prefix}{self.code_count}")
            if commit:
                self._code = code
                self.code_count += 1
        return code

    def _render_markdown(self, chunk: Chunk, *, commit: bool, glyph: str) -> str:
        markdown = chunk.head + chunk.text + glyph
        if self.references:
            markdown = f"{markdown.rstrip()}\n\n{self.references}\n"
        look = None
        if chunk.block:
            widths = self._table_widths(chunk, commit=commit) if chunk.block == "table" else ()
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

    def _table_widths(self, chunk: Chunk, *, commit: bool) -> tuple[int, ...]:
        widths = self._widths if not chunk.first else ()
        if not widths:
            widths = column_widths(chunk.head + chunk.text)
        if commit and chunk.first:
            self._widths = widths
        return widths

    def _table(self, chunk: Chunk, glyph: str) -> list[str]:
        """A later group of a long table's rows, in tables of TAIL_ROWS rows that line up (each
        row is rendered once: rows are cached)."""
        widths = self._table_widths(chunk, commit=False)
        lines = chunk.text.splitlines(keepends=True)
        partial = lines.pop() if not lines[-1].endswith("\n") else ""
        rows = [
            self.renderer.table_row(chunk.head, line.rstrip("\n"), widths)
            for line in lines
            if line.strip()
        ]
        tables = [
            self.renderer.table_open(widths) + "".join(rows[start : start + TAIL_ROWS])
            for start in range(0, len(rows), TAIL_ROWS)
        ]
        if partial:
            # The unfinished row is a table of its own: a frame re-inserts only that row.
            row = self.renderer.table_row(chunk.head, partial + glyph, widths, keep=False)
            tables.append(self.renderer.table_open(widths) + row)
        return [table + "</table>" for table in tables]


def _long_piece(chunk: Chunk, glyph: str) -> str:
    """A piece of a very long line, as plain text."""
    top = "" if chunk.first else "margin-top:0px;"
    bottom = "" if chunk.last else "margin-bottom:0px"
    style = f' style="{top}{bottom}"' if top or bottom else ""
    return f"<p{style}>{html.escape(chunk.text.rstrip(chr(10)))}{glyph}</p>"


def _table_rows(chunk: Chunk) -> bool:
    """A later group of a long table that is rows only (blank lines at its end aside)."""
    rows = chunk.text.rstrip("\n").splitlines()
    return bool(chunk.head and rows and all(_ROW.match(line) for line in rows))


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
