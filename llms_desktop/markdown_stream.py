"""Split growing markdown into finished chunks and an open tail, so each renders once (pure)."""

from __future__ import annotations

import re

# A fence opener or closer: up to any indentation (fences nested in list items are indented),
# three or more backticks or tildes.
_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})")
# A link reference definition: `[label]: url "optional title"` on its own line.
_REFERENCE = re.compile(
    r"""^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$""",
    re.MULTILINE,
)


def reference_definitions(markdown: str) -> str:
    """The link reference definitions in a message, one per line ("" when there are none).

    Chunks render separately, so `[text][1]` in one chunk needs `[1]: url` from another:
    appended to each chunk, they resolve there and render as nothing themselves.
    """
    return "\n".join(match.group(0).strip() for match in _REFERENCE.finditer(markdown))


class MarkdownStream:
    """Feed text as it streams in; `feed()` returns markdown chunks that can no longer change.

    A chunk ends at a blank line outside any fenced code block, when the next line starts in
    column 0: after such a point no later text can change how the earlier text renders (an
    indented line could still belong to a list item, so it does not end a chunk). What is not
    yet finished is `tail`; `finish()` returns it when the stream ends.
    """

    def __init__(self) -> None:
        self._pending = ""  # finished lines not yet returned as a chunk (awaiting a boundary)
        self._line = ""  # the current, unterminated line
        self._fence: str | None = None  # the open fence's marker, e.g. "```" or "~~~~"
        self._blank_seen = False  # the last complete line was blank, outside a fence

    @property
    def tail(self) -> str:
        """Text received but not yet part of a finished chunk."""
        return self._pending + self._line

    def feed(self, text: str) -> list[str]:
        """Add streamed text; returns the chunks it finished, in order."""
        chunks: list[str] = []
        start = 0
        while True:
            newline = text.find("\n", start)
            if newline < 0:
                self._line += text[start:]
                break
            line = self._line + text[start : newline + 1]
            self._line = ""
            start = newline + 1
            self._take_line(line, chunks)
        # A partial line that already starts with a non-space character after a blank line
        # proves the boundary: no need to wait for its line end.
        if self._line and self._boundary_before(self._line):
            chunks.append(self._pending)
            self._pending = ""
            self._blank_seen = False
        return chunks

    def finish(self) -> str:
        """End of stream: the remaining tail, which is now final too."""
        rest = self.tail
        self._pending = ""
        self._line = ""
        self._fence = None
        self._blank_seen = False
        return rest

    def _boundary_before(self, line: str) -> bool:
        return (
            self._blank_seen
            and self._fence is None
            and bool(self._pending)
            and not line[0].isspace()
        )

    def _take_line(self, line: str, chunks: list[str]) -> None:
        if self._boundary_before(line):
            chunks.append(self._pending)
            self._pending = ""
        self._pending += line
        stripped = line.strip()
        if self._fence is not None:
            match = _FENCE.match(line)
            # A closer uses the opener's character, at least as many, and nothing after it.
            if (
                match
                and match.group(1)[0] == self._fence[0]
                and len(match.group(1)) >= len(self._fence)
                and not line[match.end() :].strip()
            ):
                self._fence = None
            self._blank_seen = False
            return
        match = _FENCE.match(line)
        if match and not (match.group(1)[0] == "`" and "`" in line[match.end() :]):
            self._fence = match.group(1)
            self._blank_seen = False
            return
        self._blank_seen = not stripped
