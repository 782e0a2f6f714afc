"""Text that can always be encoded: lone UTF-16 surrogates joined across pieces or replaced."""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def clean_text(text: str) -> str:
    """`text` as valid Unicode: surrogate pairs joined, lone surrogates replaced by U+FFFD.

    JSON lets a server escape half a character (`"\\ud83d"`), and argv undecodable as UTF-8
    arrives as lone surrogates; neither can be written to SQLite, a file or a socket as UTF-8.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


class SurrogateJoiner:
    """Streams split characters across deltas (a high surrogate ends one, its low one starts
    the next): hold a trailing high surrogate back until the next piece arrives."""

    def __init__(self) -> None:
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The part of `pending + piece` that is complete, cleaned."""
        text = self._pending + piece
        self._pending = ""
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._pending, text = text[-1], text[:-1]
        return clean_text(text)

    def flush(self) -> str:
        """What is left at the end of the stream (a lone half becomes U+FFFD)."""
        pending, self._pending = self._pending, ""
        return REPLACEMENT if pending else ""
