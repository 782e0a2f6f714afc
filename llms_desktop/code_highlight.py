"""Highlight code a group of lines at a time, carrying the lexer's state across groups (pure)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# pygments is imported on first use: the first frame of the window does not need it.


@dataclass(frozen=True, slots=True)
class LexState:
    """Where the lexer stands after a group of lines: its state stack (None: no carried state)."""

    language: str
    stack: tuple[str, ...] | None = None


class CodeHighlighter:
    """Turns code into HTML lines with inline colours from a pygments style.

    A fence streamed in groups of lines is lexed a window at a time: from a restart point (the
    start of a token, with the lexer's state stack there) through the group, the regexes also
    seeing the text after it (`window`). The next group restarts at the start of the token that
    reached past the group's end, so a string or comment that spans groups lexes as one token,
    and a group costs the same however long the fence already is.
    """

    def __init__(self, style: str) -> None:
        self.style = style
        self._css: dict[Any, str] = {}

    def start(self, language: str) -> LexState:
        """The state before a fence's first line."""
        return LexState(language, ("root",) if _regex_lexer(language) else None)

    def lines(self, state: LexState, code: str) -> tuple[list[str], LexState]:
        """HTML for each line of `code` (a trailing newline ends the last line)."""
        rendered, _, after = self.window(state, code, 0, len(code))
        return rendered, after

    def window(
        self, state: LexState, text: str, begin: int, end: int
    ) -> tuple[list[str], int, LexState]:
        """Lex `text` from `state`; returns HTML for the lines of text[begin:end], where a later
        window may restart (a token start at or before `end`) and the state there."""
        lexer = _lexer(state.language) if state.language else None
        if lexer is None:
            return [html.escape(line) for line in _split(text[begin:end])], end, state
        if state.stack is None:
            tokens = []
            for pos, token, value in lexer.get_tokens_unprocessed(text):
                if pos >= end:
                    break
                tokens.append((pos, token, value))
            return self._format(tokens, text, begin, end), end, state
        tokens, restart, stack = _regex_tokens(lexer, text, list(state.stack), end)
        return self._format(tokens, text, begin, end), restart, LexState(state.language, stack)

    def _format(
        self, tokens: list[tuple[int, Any, str]], text: str, begin: int, end: int
    ) -> list[str]:
        lines: list[str] = []
        current: list[str] = []
        span_css = ""
        span_text: list[str] = []

        def close_span() -> None:
            if span_text:
                escaped = html.escape("".join(span_text))
                current.append(
                    f'<span style="{span_css}">{escaped}</span>' if span_css else escaped
                )
                span_text.clear()

        for pos, token, value in tokens:
            stop = pos + len(value)
            if stop <= begin:
                continue
            if pos < begin or stop > end:
                value = value[max(begin - pos, 0) : end - pos]
            css = self._css_for(token)
            for number, part in enumerate(value.split("\n")):
                if number:
                    close_span()
                    lines.append("".join(current))
                    current.clear()
                if part:
                    if css != span_css:
                        close_span()
                        span_css = css
                    span_text.append(part)
        close_span()
        if current or not text[begin:end].endswith("\n"):
            lines.append("".join(current))
        return [line.replace("\r", "") for line in lines] if "\r" in text else lines

    def _css_for(self, token: Any) -> str:
        css = self._css.get(token)
        if css is None:
            css = _css(self.style, token)
            self._css[token] = css
        return css


def _split(code: str) -> list[str]:
    lines = code.split("\n")
    if code.endswith("\n"):
        lines.pop()
    return [line.rstrip("\r") for line in lines]


@lru_cache(maxsize=32)
def _lexer(language: str) -> Any:
    """A lexer for a fence's language (None if pygments does not know it)."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def _regex_lexer(language: str) -> bool:
    from pygments.lexer import ExtendedRegexLexer, RegexLexer

    lexer = _lexer(language) if language else None
    return isinstance(lexer, RegexLexer) and not isinstance(lexer, ExtendedRegexLexer)


def _css(style_name: str, token: Any) -> str:
    from pygments.styles import get_style_by_name

    style = get_style_by_name(style_name).style_for_token(token)
    parts = []
    if style["color"]:
        parts.append(f"color:#{style['color']}")
    if style["bgcolor"]:
        parts.append(f"background-color:#{style['bgcolor']}")
    if style["bold"]:
        parts.append("font-weight:bold")
    if style["italic"]:
        parts.append("font-style:italic")
    if style["underline"]:
        parts.append("text-decoration:underline")
    return ";".join(parts)


def _regex_tokens(
    lexer: Any, text: str, stack: list[str], end: int
) -> tuple[list[tuple[int, Any, str]], int, tuple[str, ...]]:
    """pygments' RegexLexer loop from `stack`, stopping at the first match at or after `end`.

    Returns the tokens before that point, and the start of the last match at or before `end`
    with the state stack there: where lexing can restart exactly. (`RegexLexer.
    get_tokens_unprocessed` takes a start stack but does not tell where it ended.)
    """
    from pygments.token import Error, Whitespace, _TokenType

    tokens: list[tuple[int, Any, str]] = []
    pos = 0
    restart, restart_stack = 0, tuple(stack)
    tokendefs = lexer._tokens
    statetokens = tokendefs[stack[-1]]
    while pos < end:
        restart, restart_stack = pos, tuple(stack)
        for rexmatch, action, new_state in statetokens:
            match = rexmatch(text, pos)
            if match:
                if action is not None:
                    if type(action) is _TokenType:
                        tokens.append((pos, action, match.group()))
                    else:
                        tokens.extend(action(lexer, match))
                pos = match.end()
                if new_state is not None:
                    if isinstance(new_state, tuple):
                        for state in new_state:
                            if state == "#pop":
                                if len(stack) > 1:
                                    stack.pop()
                            elif state == "#push":
                                stack.append(stack[-1])
                            else:
                                stack.append(state)
                    elif isinstance(new_state, int):
                        # Pop, but keep at least one state on the stack.
                        if abs(new_state) >= len(stack):
                            del stack[1:]
                        else:
                            del stack[new_state:]
                    elif new_state == "#push":
                        stack.append(stack[-1])
                    statetokens = tokendefs[stack[-1]]
                break
        else:
            if pos >= len(text):
                break
            if text[pos] == "\n":
                # At a line end with no rule matching, pygments resets to "root".
                stack[:] = ["root"]
                statetokens = tokendefs["root"]
                tokens.append((pos, Whitespace, "\n"))
            else:
                tokens.append((pos, Error, text[pos]))
            pos += 1
    if pos == end:
        restart, restart_stack = pos, tuple(stack)
    return tokens, restart, restart_stack
