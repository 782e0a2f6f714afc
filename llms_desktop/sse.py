"""Incremental Server-Sent Events decoder following the WHATWG `text/event-stream` rules (pure)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    """One dispatched event: its type (default "message"), data, last event id and retry hint."""

    event: str = "message"
    data: str = ""
    id: str = ""
    retry: int | None = None


class SSEDecoder:
    """Feed it bytes as they arrive from the network; it returns the events each chunk completes.

    Chunk boundaries may fall anywhere: inside a UTF-8 sequence, between a CR and its LF, inside a
    field name. Per the spec an event only dispatches on a blank line, and an unfinished event at
    the end of the stream is discarded.
    """

    def __init__(self) -> None:
        # errors="replace": the spec decodes with UTF-8 decode, which replaces invalid sequences.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pieces: list[str] = []  # the current line, not yet ended
        self._at_start = True
        self._skip_lf = False  # the previous chunk ended with CR: a leading LF belongs to it
        self._data: list[str] = []
        self._event_type = ""
        self._last_event_id = ""
        self._retry: int | None = None
        self._have_data = False

    @property
    def last_event_id(self) -> str:
        """The id a reconnecting client would send as Last-Event-ID."""
        return self._last_event_id

    @property
    def retry(self) -> int | None:
        """The reconnection time in milliseconds, if the server set one."""
        return self._retry

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one network chunk; returns the events it completed, in order."""
        text = self._decoder.decode(chunk)
        return self._feed_text(text)

    def close(self) -> list[ServerSentEvent]:
        """The stream ended: flush the decoder; an event missing its blank line is dropped."""
        events = self._feed_text(self._decoder.decode(b"", final=True))
        # "Once the end of the file is reached, any pending data must be discarded": a last line
        # without its line end, and an event without its blank line, never dispatch.
        self._pieces = []
        self._reset_event()
        return events

    def _feed_text(self, text: str) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        if not text:
            return events
        if self._at_start:
            self._at_start = False
            if text.startswith("\ufeff"):
                text = text[1:]
        if self._skip_lf:
            self._skip_lf = False
            if text.startswith("\n"):
                text = text[1:]
        # Only the new text is scanned for line ends, and an unfinished line is kept as pieces
        # joined once it ends: a multi-megabyte `data:` line (an image) stays linear.
        pos = 0
        for match in _LINE_END.finditer(text):
            end = match.start()
            if match.group() == "\r" and match.end() == len(text):
                # A CR at the very end: the line is complete now, but an LF in the next chunk
                # is the second half of a CRLF and must not count as an empty line.
                self._skip_lf = True
            if self._pieces:
                self._pieces.append(text[pos:end])
                line = "".join(self._pieces)
                self._pieces = []
            else:
                line = text[pos:end]
            self._process_line(line, events)
            pos = match.end()
        if pos < len(text):
            self._pieces.append(text[pos:])
        return events

    def _process_line(self, line: str, events: list[ServerSentEvent]) -> None:
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return  # a comment, e.g. ": ping" keep-alives
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._have_data = True
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\x00" not in value:
                self._last_event_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        # Any other field name is ignored, as the spec says.

    def _dispatch(self, events: list[ServerSentEvent]) -> None:
        if not self._have_data:
            self._reset_event()
            return
        events.append(
            ServerSentEvent(
                event=self._event_type or "message",
                data="\n".join(self._data),
                id=self._last_event_id,
                retry=self._retry,
            )
        )
        self._reset_event()

    def _reset_event(self) -> None:
        self._data = []
        self._have_data = False
        self._event_type = ""
