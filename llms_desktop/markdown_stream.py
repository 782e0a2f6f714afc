"""Split growing markdown into finished chunks and an open tail, so each renders once (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# Big blocks are committed in groups, so the open tail (re-rendered every frame) stays small
# however long a code fence, table or list grows.
CODE_GROUP = 8  # lines of an open code fence per committed group
CODE_LOOKAHEAD = 16  # lines after a group that must have arrived before it is committed
TABLE_GROUP = 16  # table rows per group
LIST_GROUP = 16  # top-level list items per group
# A line longer than LONG_LINE is shown as plain text in pieces of at most PIECE characters:
# Qt's layout of one huge line costs far more than linear time (1M characters: minutes).
LONG_LINE = 4_000
PIECE = 1_000


@dataclass(frozen=True)
class Limits:
    """Group sizes and the long-line limits (tests use small ones to reach every case)."""

    code_group: int = CODE_GROUP
    code_lookahead: int = CODE_LOOKAHEAD
    table_group: int = TABLE_GROUP
    list_group: int = LIST_GROUP
    long_line: int = LONG_LINE
    piece: int = PIECE


# A fence opener or closer: up to any indentation (fences nested in list items are indented),
# three or more backticks or tildes.
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})")
# A link reference definition: `[label]: url "optional title"` on its own line.
_REFERENCE = re.compile(
    r"""^ {0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?[ \t]*$""",
    re.MULTILINE,
)
# A top-level list item with some text after its marker.
_LIST_ITEM = re.compile(r"^(?:([-+*])|(\d{1,9})([.)]))[ \t]+\S")
_THEMATIC_BREAK = re.compile(r"^(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_TABLE_ROW = re.compile(r"^ {0,3}\|")

ChunkKind = Literal["markdown", "code", "long"]


def reference_definitions(markdown: str) -> str:
    """The link reference definitions in a message, one per line ("" when there are none).

    Chunks render separately, so `[text][1]` in one chunk needs `[1]: url` from another:
    appended to each chunk, they resolve there and render as nothing themselves.
    """
    return "\n".join(match.group(0).strip() for match in _REFERENCE.finditer(markdown))


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a message that renders on its own; all chunks' texts add up to the message.

    kind: "markdown" (render as markdown), "code" (lines of a top-level fence: `code` holds
    them without the fence lines, `info` is the opener's info string) or "long" (a piece of a
    very long line, shown as plain text). `first`/`last` say whether the chunk starts/ends its
    block: a fence, table or list committed in groups, or a long line cut in pieces, keeps one
    look across chunks. `head` (a later group of table rows: the header and delimiter rows) and
    `start` (a later group of an ordered list: its first number) let a group render alone.
    `block` names the kind of block split in groups ("table" or "list", "" otherwise).
    `lookahead`: the code lines after a group (not part of it), so the lexer sees a string or
    comment that goes on into the next group. `plain`: code that is a piece of a very long
    line, shown without highlighting.
    """

    text: str
    kind: ChunkKind = "markdown"
    first: bool = True
    last: bool = True
    info: str = ""
    code: str = ""
    head: str = ""
    start: int | None = None
    block: str = ""
    lookahead: str = ""
    plain: bool = False


@dataclass
class _Fence:
    marker: str  # e.g. "```" or "~~~~"
    info: str = ""
    grouped: bool = False  # a top-level fence, committed in groups of lines
    opener: int = -1  # index of the opener line in the pending lines (-1: already committed)
    count: int = 0  # code lines pending

    def closes(self, line: str) -> bool:
        # A closer uses the opener's character, at least as many, and nothing after it.
        match = _FENCE.match(line)
        return bool(
            match
            and match.group(2)[0] == self.marker[0]
            and len(match.group(2)) >= len(self.marker)
            and not line[match.end() :].strip()
            and (not self.grouped or len(match.group(1).expandtabs(4)) <= 3)
        )


@dataclass
class _Group:
    kind: Literal["table", "list"]
    marker: str = ""  # a list's bullet or delimiter; items with another one start a new list
    number: int = 1  # an ordered list's first number
    head: str = ""  # a table's header and delimiter rows
    count: int = 0  # rows or items in the pending group
    done: int = 0  # items in groups already committed
    first: bool = True  # the pending group is the block's first
    frozen: bool = False  # something else joined the block: keep the rest whole


@dataclass
class _Long:
    fence: _Fence | None  # the fence the long line is in, if any
    rest: str = ""  # received but not yet cut into a piece
    first: bool = True
    info: str = ""


@dataclass
class _Pending:
    lines: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)  # the non-blank lines, up to two

    def add(self, line: str) -> int:
        """Keep a finished line; returns its number among the non-blank ones if it is one of
        the first two (1 or 2), else 0."""
        self.lines.append(line)
        if line.strip() and len(self.content) < 2:
            self.content.append(line)
            return len(self.content)
        return 0

    def take(self) -> str:
        text = "".join(self.lines)
        self.lines.clear()
        self.content.clear()
        return text


class MarkdownStream:
    """Feed text as it streams in; `feed()` returns chunks that can no longer change.

    A chunk ends at a blank line outside any fenced code block, when the next line starts in
    column 0: after such a point no later text can change how the earlier text renders (an
    indented line could still belong to a list item, so it does not end a chunk). A top-level
    fence is its own chunks, a group of CODE_GROUP lines at a time, each once CODE_LOOKAHEAD
    more lines have arrived (the lexer sees what follows it); a table or tight list that
    starts a chunk is committed TABLE_GROUP rows / LIST_GROUP items at a time; a line longer
    than LONG_LINE is cut into pieces. The same text gives the same chunks however it is split
    into `feed()` calls. What is not yet finished is the tail (`tail`, `tail_chunk()`);
    `finish()` returns it as chunks when the stream ends.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._reset()

    def _reset(self) -> None:
        self._pending = _Pending()  # finished lines not yet returned as a chunk
        self._line = ""  # the current, unterminated line
        self._fence: _Fence | None = None
        self._group: _Group | None = None
        self._long: _Long | None = None
        self._blank_seen = False  # the last complete line was blank, outside a fence

    @property
    def tail(self) -> str:
        """Text received but not yet part of a finished chunk."""
        if self._long is not None:
            return self._long.rest
        return "".join(self._pending.lines) + self._line

    def tail_chunk(self) -> Chunk | None:
        """The tail as a chunk to render for now (None when there is no tail)."""
        if self._long is not None:
            if not self._long.rest:
                return None
            return self._piece(self._long.rest, last=True, commit=False)
        if not self._pending.lines and not self._line:
            return None
        if self._fence is not None and self._fence.grouped:
            return self._code_chunk(self._line, last=True, commit=False)
        return self._markdown_chunk("".join(self._pending.lines) + self._line, last=True)

    def feed(self, text: str) -> list[Chunk]:
        """Add streamed text; returns the chunks it finished, in order."""
        chunks: list[Chunk] = []
        pos, size = 0, len(text)
        while pos < size:
            newline = text.find("\n", pos)
            end = size if newline < 0 else newline + 1
            if self._long is not None:
                self._cut(text[pos:end], chunks)
            elif newline < 0:
                if len(self._line) + end - pos > self.limits.long_line:
                    self._start_long(self._line + text[pos:end], chunks)
                    self._line = ""
                else:
                    self._line += text[pos:end]
            else:
                line = self._line + text[pos:end]
                self._line = ""
                if len(line) - 1 > self.limits.long_line:
                    self._start_long(line, chunks)
                else:
                    self._take_line(line, chunks)
            pos = end
        # A partial line that already starts with a non-space character after a blank line
        # proves the boundary: no need to wait for its line end.
        if self._line and self._boundary_before(self._line):
            chunks.append(self._end_markdown())
        return chunks

    def finish(self) -> list[Chunk]:
        """End of stream: the rest as chunks, which are now final too."""
        chunks: list[Chunk] = []
        if self._long is not None:
            if self._long.rest:
                chunks.append(self._piece(self._long.rest, last=True, commit=True))
        else:
            if self._line:
                # The last line, without its line end, is a line like any other.
                line, self._line = self._line, ""
                self._take_line(line, chunks)
            if self._fence is not None and self._fence.grouped:
                if self._pending.lines:
                    self._commit_fence(chunks, last=True)
            elif self._pending.lines:
                chunks.append(self._end_markdown())
        self._reset()
        return chunks

    # Lines ----------------------------------------------------------------------------------
    def _boundary_before(self, line: str) -> bool:
        return (
            self._blank_seen
            and self._fence is None
            and bool(self._pending.content)
            and not line[0].isspace()
        )

    def _take_line(self, line: str, chunks: list[Chunk]) -> None:
        fence = self._fence
        if fence is not None and fence.grouped:
            if fence.closes(line):
                self._commit_groups(chunks)
                self._pending.add(line)
                chunks.append(self._code_chunk(last=True, closed=True))
                self._fence = None
                self._blank_seen = False
                return
            if fence.count >= self.limits.code_group + self.limits.code_lookahead:
                # A group is committed once the lines after it (its lookahead) have arrived.
                chunks.append(self._code_chunk(last=False, lines=self.limits.code_group))
            self._pending.add(line)
            fence.count += 1
            return
        if fence is not None:
            # A fence inside a list item: it stays in its markdown chunk.
            self._pending.add(line)
            if fence.closes(line):
                self._fence = None
            self._blank_seen = False
            return
        if self._boundary_before(line):
            chunks.append(self._end_markdown())
        opener = _FENCE.match(line)
        if opener and not (opener.group(2)[0] == "`" and "`" in line[opener.end() :]):
            if not opener.group(1):
                # A top-level fence: nothing after it can change the text before it.
                if self._pending.content:
                    chunks.append(self._end_markdown())
                self._group = None
                info = line[opener.end() :].strip()
                self._fence = _Fence(opener.group(2), info, grouped=True)
                self._fence.opener = len(self._pending.lines)
            else:
                self._fence = _Fence(opener.group(2))
                if self._group is not None:
                    self._group.frozen = True
            self._pending.add(line)
            self._blank_seen = False
            return
        self._grow_group(line, chunks)
        number = self._pending.add(line)
        self._blank_seen = not line.strip()
        if number:
            self._start_group(number, line)

    def _grow_group(self, line: str, chunks: list[Chunk]) -> None:
        """Commit the pending group of a long table or list before `line` if it is full."""
        group = self._group
        if group is None or group.frozen:
            return
        if not line.strip():
            group.frozen = True  # a blank line in a list makes it loose; a table ends
            return
        if group.kind == "table":
            if not _TABLE_ROW.match(line):
                group.frozen = True
                return
            limit = self.limits.table_group
        else:
            item = _list_item(line)
            if item is None:
                # A nested line belongs to the current item; anything else in column 0 ends
                # the list or continues a paragraph lazily: keep the rest whole.
                group.frozen = not line[0].isspace()
                return
            if item[0] != group.marker:
                group.frozen = True
                return
            limit = self.limits.list_group
        if group.count >= limit:
            chunks.append(self._markdown_chunk(self._pending.take(), last=False))
            group.first = False
            group.done += group.count
            group.count = 0
        group.count += 1

    def _start_group(self, number: int, line: str) -> None:
        """A table or list that opens the chunk (its first or second non-blank line) may be
        committed in groups."""
        group = self._group
        if group is not None and (not group.first or group.kind == "table"):
            return
        if number == 1:
            item = _list_item(line)
            if item is not None:
                self._group = _Group("list", marker=item[0], number=item[1], count=1)
        elif _is_table(self._pending.content[0], line):
            self._group = _Group("table", head=self._pending.content[0] + line)

    # Chunks ---------------------------------------------------------------------------------
    def _markdown_chunk(self, text: str, *, last: bool) -> Chunk:
        group = self._group
        if group is None or (group.first and last):
            return Chunk(text, first=True, last=last)
        if group.first:
            return Chunk(text, first=True, last=last, block=group.kind)
        start = group.number + group.done if group.kind == "list" and group.marker in ".)" else None
        head = group.head if group.kind == "table" else ""
        return Chunk(text, first=False, last=last, head=head, start=start, block=group.kind)

    def _end_markdown(self) -> Chunk:
        chunk = self._markdown_chunk(self._pending.take(), last=True)
        self._group = None
        self._fence = None
        self._blank_seen = False
        return chunk

    def _code_chunk(
        self,
        partial: str = "",
        *,
        last: bool,
        closed: bool = False,
        lines: int | None = None,
        commit: bool = True,
    ) -> Chunk:
        """The open top-level fence's pending code lines (the first `lines` of them, the rest
        being its lookahead), plus `partial`, an unfinished line; committed (taken from the
        pending lines) unless `commit` is False."""
        fence = self._fence
        assert fence is not None
        pending = self._pending.lines
        first = fence.opener >= 0
        head = fence.opener + 1 if first else 0
        stop = len(pending) - 1 if closed else len(pending)
        mine_end = stop if lines is None else min(stop, head + lines)
        code = "".join(pending[head:mine_end]) + partial
        taken = len(pending) if lines is None else mine_end
        text = "".join(pending[:taken]) + partial
        lookahead = "".join(pending[mine_end:stop])
        if commit:
            del pending[:taken]
            self._pending.content.clear()
            fence.opener = -1
            fence.count = len(pending)
        return Chunk(
            text, "code", first=first, last=last, info=fence.info, code=code, lookahead=lookahead
        )

    def _commit_groups(self, chunks: list[Chunk]) -> None:
        """Commit the open fence's full groups but the last (each has the rest as lookahead)."""
        fence = self._fence
        assert fence is not None
        while fence.count > self.limits.code_group:
            chunks.append(self._code_chunk(last=False, lines=self.limits.code_group))

    def _commit_fence(self, chunks: list[Chunk], *, last: bool) -> None:
        """Commit every pending line of the open fence: full groups, then the rest."""
        self._commit_groups(chunks)
        chunks.append(self._code_chunk(last=last))

    def _start_long(self, text: str, chunks: list[Chunk]) -> None:
        """A line too long to lay out in one piece: commit what is pending, then cut it."""
        fence = self._fence if self._fence is not None and self._fence.grouped else None
        if fence is not None:
            if self._pending.lines:
                self._commit_fence(chunks, last=False)
        elif self._pending.lines:
            chunks.append(self._end_markdown())
        self._fence = fence
        self._group = None
        self._long = _Long(fence, info=fence.info if fence else "")
        self._cut(text, chunks)

    def _cut(self, text: str, chunks: list[Chunk]) -> None:
        """Cut the long line into pieces of at most PIECE characters, at a space if one is near."""
        long = self._long
        assert long is not None
        buffer = long.rest + text
        complete = buffer.endswith("\n")
        content_end = len(buffer) - 1 if complete else len(buffer)
        pos = 0
        piece = self.limits.piece
        while content_end - pos > piece:
            space = buffer.rfind(" ", pos + piece // 2, pos + piece)
            end = space + 1 if space >= 0 else pos + piece
            chunks.append(self._piece(buffer[pos:end], last=False, commit=True))
            pos = end
        if complete:
            chunks.append(self._piece(buffer[pos:], last=long.fence is None, commit=True))
            self._long = None
            self._blank_seen = False
        else:
            long.rest = buffer[pos:]

    def _piece(self, text: str, *, last: bool, commit: bool) -> Chunk:
        long = self._long
        assert long is not None
        if long.fence is not None:
            chunk = Chunk(text, "code", False, last, long.info, text, plain=True)
        else:
            chunk = Chunk(text, "long", first=long.first, last=last)
        if commit:
            long.first = False
        return chunk


def _list_item(line: str) -> tuple[str, int] | None:
    """A column-0 list item's marker kind (bullet, or "." / ")") and number, else None."""
    match = _LIST_ITEM.match(line)
    if match is None or _THEMATIC_BREAK.match(line.strip()):
        return None
    if match.group(1):
        return match.group(1), 1
    return match.group(3), int(match.group(2))


def _cells(line: str) -> int:
    """How many cells a table row has (pipes escaped with a backslash do not count)."""
    cells = re.split(r"(?<!\\)\|", line.strip())
    if cells and not cells[0].strip():
        cells = cells[1:]
    if cells and not cells[-1].strip():
        cells = cells[:-1]
    return len(cells)


def _is_table(header: str, delimiter: str) -> bool:
    """Whether two lines open a table (GFM: a header row, then a matching delimiter row)."""
    return (
        "|" in header
        and bool(_TABLE_DELIMITER.match(delimiter.rstrip("\n")))
        and ("|" in delimiter or "|" in header.strip()[1:-1])
        and _cells(header) == _cells(delimiter)
    )
