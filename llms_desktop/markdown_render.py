"""Markdown to the HTML subset QTextDocument understands, with pygments-highlighted code (pure)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from llms_desktop.code_highlight import CodeHighlighter

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token
    from markdown_it.utils import EnvType, OptionsDict

# markdown-it is imported when the first message renders, not when the window opens.


@dataclass(frozen=True)
class CodePalette:
    """Colours for code blocks in one theme."""

    background: str
    border: str
    pygments_style: str
    link: str


LIGHT_CODE = CodePalette("#f4f6f8", "#d0d7de", "friendly", "#0969da")
DARK_CODE = CodePalette("#1f2428", "#3d444d", "monokai", "#58a6ff")


@dataclass
class Rendered:
    """HTML for one chunk and the raw text of each code block in it, in order."""

    html: str
    code_blocks: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BlockLook:
    """How a chunk that is one group of a longer table or list joins its neighbours.

    `widths`: fixed column widths (percent) shared by every group of a table, so the groups
    line up; `list_start`: the number of a later group's first ordered item; `joins_previous`
    / `joins_next`: no margin on that side.
    """

    widths: tuple[int, ...] = ()
    list_start: int | None = None
    joins_previous: bool = False
    joins_next: bool = False


Rule = Callable[..., str]
ROWS_KEPT = 256  # rendered table rows kept (a bound, not a growing cache)
_LIST_OPEN = re.compile(r"^<(ul|ol)((?: start=\"\d+\")?)>")


def _as_rule(method: Callable[..., str]) -> Rule:
    """markdown-it binds a rule to its renderer (`rule.__get__(renderer)`), which would rebind a
    bound method too; a plain function taking the renderer first keeps ours bound to us."""

    def rule(
        _renderer: object, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
    ) -> str:
        return method(tokens, idx, options, env)

    return rule


class MarkdownRenderer:
    """Renders markdown chunks; raw HTML in the text is shown as text, never interpreted."""

    def __init__(self, palette: CodePalette = LIGHT_CODE) -> None:
        self._palette = palette
        self._md: MarkdownIt | None = None
        self.highlighter = CodeHighlighter(palette.pygments_style)
        self._rows: dict[tuple[str, str, tuple[int, ...]], str] = {}

    @property
    def palette(self) -> CodePalette:
        return self._palette

    @palette.setter
    def palette(self, palette: CodePalette) -> None:
        self._palette = palette
        self.highlighter = CodeHighlighter(palette.pygments_style)
        self._rows.clear()

    def render(
        self,
        markdown: str,
        *,
        code_link_prefix: str = "copy:",
        first_code: int = 0,
        look: BlockLook | None = None,
    ) -> Rendered:
        """HTML for `markdown`; code blocks get Copy links `{prefix}{n}`, n from first_code."""
        env: dict[str, Any] = {
            "codes": [],
            "prefix": code_link_prefix,
            "first": first_code,
            "widths": look.widths if look else (),
            "tables": 0,
        }
        body = self._markdown().render(markdown, env)
        if look is not None and (
            look.list_start is not None or look.joins_previous or look.joins_next
        ):
            body = _join_list(body, look)
        return Rendered(body, env["codes"])

    def table_open(self, widths: tuple[int, ...] = ()) -> str:
        """The opening tag of a table (fixed width when its columns have fixed widths)."""
        width = ' width="100%"' if widths else ""
        # No border-collapse: Qt paints collapsed borders about three times slower, and a
        # long table fills the window with them.
        return (
            f'<table border="1" cellspacing="0" cellpadding="4"{width} '
            f'style="border-color:{self.palette.border}">\n'
        )

    def table_row(self, head: str, row: str, widths: tuple[int, ...], *, keep: bool = True) -> str:
        """One body row of a table whose header and delimiter rows are `head`, as <tr>...</tr>.

        A long table's rows are rendered one at a time, each once (the last few are kept), so
        the rows of its live tail cost nothing more per frame.
        """
        key = (head, row, widths)
        cached = self._rows.get(key)
        if cached is None:
            # As markdown-it's table rule reads a body row: cells split at unescaped pipes,
            # as many as the header has, aligned as the delimiter row says.
            from markdown_it.rules_block.table import escapedSplit

            md = self._markdown()
            cells = escapedSplit(row.strip())
            if cells and cells[0] == "":
                cells.pop(0)
            if cells and cells[-1] == "":
                cells.pop()
            parts = ["<tr>\n"]
            for column, align in enumerate(_alignments(head)):
                content = cells[column].strip() if column < len(cells) else ""
                attr = f' align="{align}"' if align else ""
                if column < len(widths):
                    attr += f' width="{widths[column]}%"'
                parts.append(f"<td{attr}>{md.renderInline(content)}</td>\n")
            parts.append("</tr>\n")
            cached = "".join(parts)
            if keep:
                if len(self._rows) >= ROWS_KEPT:
                    self._rows.clear()
                self._rows[key] = cached
        return cached

    def code_block(
        self, lines: list[str], *, label: str, link: str, first: bool, last: bool
    ) -> str:
        """A fenced code block (or one group of its lines) as a <pre> with a background.

        `lines` are HTML; the first group carries the language label and the Copy link.
        """
        palette = self.palette
        rows = list(lines)
        if first:
            rows.insert(
                0,
                f'<span style="color:gray;font-size:small">{html.escape(label)}</span>'
                f'&nbsp;&nbsp;<a href="{link}" style="color:{palette.link};'
                'font-size:small;text-decoration:none">Copy</a>',
            )
        # A <pre> with a background colours each of its blocks. (A one-cell table would give
        # padding, but every table is a frame and the document's layout cost grows with the
        # number of frames: long answers full of code would slow down.) Qt drops one newline
        # after <pre> and one before </pre>: with ours there, empty first/last lines stay.
        return (
            f'<pre style="background-color:{palette.background};'
            f'margin-top:{6 if first else 0}px;margin-bottom:{6 if last else 0}px">\n'
            + "\n".join(rows or [""])
            + "\n</pre>\n"
        )

    def warm_up(self) -> None:
        """Load markdown-it, pygments and a lexer now, so the first answer does not stall."""
        self.render("```python\nx = 1\n```\n\n| a |\n|---|\n| b |\n")

    def _markdown(self) -> MarkdownIt:
        if self._md is None:
            from markdown_it import MarkdownIt

            # A single newline is a line break, as in chat apps: models write poems, addresses
            # and steps one per line without blank lines between them.
            md = MarkdownIt("commonmark", {"html": False, "breaks": True})
            md.enable(["table", "strikethrough"])
            # Code blocks are collected per render call through the env dict.
            for token_type, method in (
                ("fence", self._render_fence),
                ("code_block", self._render_fence),
                ("image", self._render_image),
                ("table_open", self._render_table_open),
                ("tr_open", self._render_row_open),
                ("th_open", self._render_cell_open),
                ("td_open", self._render_cell_open),
            ):
                md.add_render_rule(token_type, _as_rule(method))
            self._md = md
        return self._md

    def _render_fence(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        token = tokens[idx]
        code = token.content
        language = token.info.strip().split()[0] if token.info.strip() else ""
        number = env["first"] + len(env["codes"])
        env["codes"].append(code)
        lines, _ = self.highlighter.lines(self.highlighter.start(language), code)
        link = f"{env['prefix']}{number}"
        return self.code_block(lines, label=language or "code", link=link, first=True, last=True)

    def _render_image(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        # Remote images are never loaded: show a link the user can choose to open.
        token = tokens[idx]
        source = str(token.attrGet("src") or "")
        alt = html.escape(token.content or "image")
        return f'<a href="{html.escape(source, quote=True)}">[image: {alt}]</a>'

    def _render_table_open(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        env["tables"] += 1
        # Groups of one long table share fixed column widths (the first table of the chunk).
        return self.table_open(env["widths"] if env["tables"] == 1 else ())

    def _render_row_open(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        env["column"] = 0
        return "<tr>\n"

    def _render_cell_open(
        self,
        tokens: Sequence[Token],
        idx: int,
        options: OptionsDict,
        env: EnvType,
    ) -> str:
        token = tokens[idx]
        style = str(token.attrGet("style") or "")
        align = style.removeprefix("text-align:") if style.startswith("text-align:") else ""
        attr = f' align="{align}"' if align else ""
        widths = env["widths"]
        column = env.get("column", 0)
        env["column"] = column + 1
        if widths and env["tables"] == 1 and column < len(widths):
            attr += f' width="{widths[column]}%"'
        return f"<{token.tag}{attr}>"


@lru_cache(maxsize=16)
def _alignments(head: str) -> tuple[str, ...]:
    """Each column's alignment from a table's delimiter row (the second line of `head`)."""
    lines = head.splitlines()
    delimiter = lines[1].strip() if len(lines) > 1 else ""
    aligns = []
    for number, column in enumerate(delimiter.split("|")):
        cell = column.strip()
        if not cell and number in (0, delimiter.count("|")):
            continue
        if cell.endswith(":"):
            aligns.append("center" if cell.startswith(":") else "right")
        else:
            aligns.append("left" if cell.startswith(":") else "")
    return tuple(aligns)


def _join_list(body: str, look: BlockLook) -> str:
    """Give the chunk's opening list its start number and drop margins toward its groups."""
    match = _LIST_OPEN.match(body)
    if match is None:
        return body
    tag = match.group(1)
    start = match.group(2)
    if tag == "ol" and look.list_start is not None:
        start = f' start="{look.list_start}"'
    margins = []
    if look.joins_previous:
        margins.append("margin-top:0px")
    if look.joins_next:
        margins.append("margin-bottom:0px")
    style = f' style="{";".join(margins)}"' if margins else ""
    return f"<{tag}{start}{style}>" + body[match.end() :]
