"""Markdown to the HTML subset QTextDocument understands, with pygments-highlighted code (pure)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict


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


Rule = Callable[[Sequence[Token], int, OptionsDict, EnvType], str]


def _as_rule(method: Rule) -> Callable[..., str]:
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
        self.palette = palette
        self._md = MarkdownIt("commonmark", {"html": False, "breaks": False})
        self._md.enable(["table", "strikethrough"])
        # Code blocks are collected per render call through the env dict.
        for token_type, method in (
            ("fence", self._render_fence),
            ("code_block", self._render_fence),
            ("image", self._render_image),
            ("table_open", self._render_table_open),
            ("th_open", self._render_cell_open),
            ("td_open", self._render_cell_open),
        ):
            self._md.add_render_rule(token_type, _as_rule(method))
        self._formatters: dict[str, Any] = {}

    def render(
        self, markdown: str, *, code_link_prefix: str = "copy:", first_code: int = 0
    ) -> Rendered:
        """HTML for `markdown`; code blocks get Copy links `{prefix}{n}`, n from first_code."""
        env: dict[str, Any] = {"codes": [], "prefix": code_link_prefix, "first": first_code}
        body = self._md.render(markdown, env)
        return Rendered(body, env["codes"])

    def warm_up(self) -> None:
        """Load pygments and a lexer now, so the first code block does not stall a frame."""
        self.render("```python\nx = 1\n```\n\n| a |\n|---|\n| b |\n")

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
        highlighted = self._highlight(code.rstrip("\n"), language)
        palette = self.palette
        label = html.escape(language) if language else "code"
        # A <pre> with a background colours each of its blocks. (A one-cell table would give
        # padding, but every table is a frame and the document's layout cost grows with the
        # number of frames: long answers full of code would slow down.)
        return (
            f'<pre style="background-color:{palette.background};margin-top:6px;'
            f'margin-bottom:6px"><span style="color:gray;font-size:small">{label}</span>'
            f'&nbsp;&nbsp;<a href="{env["prefix"]}{number}" style="color:{palette.link};'
            f'font-size:small;text-decoration:none">Copy</a>\n{highlighted}</pre>\n'
        )

    def _highlight(self, code: str, language: str) -> str:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import get_lexer_by_name
            from pygments.util import ClassNotFound
        except ImportError:  # pragma: no cover - pygments is a dependency
            return html.escape(code)
        if not language:
            return html.escape(code)
        try:
            lexer = get_lexer_by_name(language, stripnl=False, ensurenl=False)
        except ClassNotFound:
            return html.escape(code)
        style = self.palette.pygments_style
        formatter = self._formatters.get(style)
        if formatter is None:
            formatter = HtmlFormatter(nowrap=True, noclasses=True, style=style)
            self._formatters[style] = formatter
        return str(highlight(code, lexer, formatter)).rstrip("\n")

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
        color = self.palette.border
        return (
            f'<table border="1" cellspacing="0" cellpadding="4" '
            f'style="border-collapse:collapse;border-color:{color}">\n'
        )

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
        return f"<{token.tag}{attr}>"
