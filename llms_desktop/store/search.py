"""Full-text search over message content: safe FTS5 queries from what a user types, and hits."""

from __future__ import annotations

from dataclasses import dataclass

from llms_desktop.types import Role

# The snippet marks each matched term with these control characters, which never occur in
# typed text, so callers can render them (bold, brackets...) without parsing ambiguity.
HIGHLIGHT_START = "\x02"
HIGHLIGHT_END = "\x03"
ELLIPSIS = "…"
SNIPPET_TOKENS = 12


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One matching message; `snippet` wraps matches in HIGHLIGHT_START/HIGHLIGHT_END."""

    thread_id: str
    thread_title: str
    message_id: str
    role: Role
    snippet: str


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for what the user typed, or None when there is nothing to find.

    Every word must appear, in any order; a word ending in `*` matches as a prefix (`comp*`).
    Each word is quoted, so FTS5 syntax a user types (quotes, -, :, AND/OR/NOT, parentheses)
    is matched literally instead of parsed. Prefixes are not added implicitly: a short prefix
    matches thousands of words and costs a second on 100,000 messages.
    """
    terms = []
    for word in text.split():
        prefix = word.endswith("*")
        word = word.rstrip("*")
        if any(char.isalnum() for char in word):
            terms.append('"' + word.replace('"', '""') + '"' + ("*" if prefix else ""))
    return " ".join(terms) or None


def highlight(snippet: str, start: str = "[", end: str = "]") -> str:
    """The snippet with its match markers replaced, e.g. by brackets or terminal bold."""
    return snippet.replace(HIGHLIGHT_START, start).replace(HIGHLIGHT_END, end)
