"""A real HTTP/1.1 server on 127.0.0.1 that sends exactly the bytes a test scripts, when it says.

It runs its own asyncio loop in a thread, so in-process async tests, Qt tests and subprocesses
(the CLI) can all talk to it. Each reply is a status, headers and a list of body pieces; each
piece is written and flushed on its own, with optional pauses, so tests control how the bytes
are split on the wire. The server notices when a client hangs up mid-reply.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class Request:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Pause:
    """Wait this many seconds before the next body piece."""

    seconds: float


@dataclass
class Reply:
    """What to send back. `pieces` are bytes written one at a time, or Pauses."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    pieces: list[bytes | Pause] = field(default_factory=list)
    # "chunked": Transfer-Encoding chunked; "length": Content-Length; "close": body until close.
    framing: str = "chunked"
    # Hang up without finishing the body (no final chunk): a server that died mid-answer.
    abort: bool = False


Handler = Callable[[Request], Reply]


def sse_reply(
    events: Iterable[str | dict[str, Any]],
    *,
    line_end: str = "\n",
    done: bool = True,
    pause: float = 0.0,
    prefix: bytes = b"",
) -> Reply:
    """An event-stream reply: each item a `data:` payload (dicts become JSON), then `[DONE]`."""
    pieces: list[bytes | Pause] = []
    if prefix:
        pieces.append(prefix)
    for item in events:
        data = item if isinstance(item, str) else json.dumps(item)
        pieces.append(f"data: {data}{line_end}{line_end}".encode())
        if pause:
            pieces.append(Pause(pause))
    if done:
        pieces.append(f"data: [DONE]{line_end}{line_end}".encode())
    return Reply(headers=[("Content-Type", "text/event-stream")], pieces=pieces)


def json_reply(payload: Any, status: int = 200) -> Reply:
    """A JSON reply with a Content-Length."""
    return Reply(
        status=status,
        headers=[("Content-Type", "application/json")],
        pieces=[json.dumps(payload).encode()],
        framing="length",
    )


def chunk(
    content: str | None = None,
    *,
    finish: str | None = None,
    reasoning: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    no_choices: bool = False,
    model: str = "test-model",
) -> dict[str, Any]:
    """A `chat.completion.chunk` dict."""
    delta: dict[str, Any] = {}
    if content is not None:
        delta["content"] = content
    if reasoning is not None:
        delta["reasoning_content"] = reasoning
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    payload: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": model,
        "choices": [] if no_choices else [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = usage
    return payload


def text_chunks(
    words: Iterable[str], *, usage: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Chunks streaming `words`, a stop chunk and optionally a usage chunk with no choices."""
    chunks = [chunk(word) for word in words]
    chunks.append(chunk(finish="stop"))
    if usage is not None:
        chunks.append(chunk(usage=usage, no_choices=True))
    return chunks


def fixture_reply(name: str, *, line_end: str | None = None) -> Reply:
    """Replay a raw capture from tests/fixtures/sse (status line and headers optional)."""
    raw = (FIXTURES / "sse" / name).read_bytes()
    status = 200
    headers: list[tuple[str, str]] = [("Content-Type", "text/event-stream")]
    if raw.startswith(b"HTTP/1."):
        head, _, raw = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() not in (
                "transfer-encoding",
                "content-length",
                "connection",
                "keep-alive",
            ):
                headers.append((name, value.strip()))
    if line_end is not None:
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", line_end.encode())
    return Reply(status=status, headers=headers, pieces=[raw])


def split_pieces(reply: Reply, cuts: Iterable[int]) -> Reply:
    """The same reply with its body cut at the given byte offsets (pauses keep writes apart)."""
    body = b"".join(p for p in reply.pieces if isinstance(p, bytes))
    pieces: list[bytes | Pause] = []
    last = 0
    for cut in sorted(set(c for c in cuts if 0 < c < len(body))):
        pieces.extend([body[last:cut], Pause(0.002)])
        last = cut
    pieces.append(body[last:])
    return Reply(reply.status, list(reply.headers), pieces, reply.framing, reply.abort)


class LoopbackServer:
    """Serves scripted replies; `requests` records what arrived, `disconnects` who hung up early."""

    def __init__(self, handler: Handler | None = None, *, port: int = 0) -> None:
        self.handler: Handler = handler or (lambda request: json_reply({"ok": True}))
        self.requests: list[Request] = []
        self.disconnected = threading.Event()
        self.disconnect_times: list[float] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = port  # 0: a free port, chosen when the server starts

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def start(self) -> LoopbackServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        future.result(timeout=10)
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def open_connections(self) -> int:
        """Client connections the server has open right now (kept alive between requests)."""
        return len(self._writers)

    def wait_for_disconnect(self, timeout: float = 10.0) -> bool:
        return self.disconnected.wait(timeout)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                self.requests.append(request)
                reply = self.handler(request)
                keep_open = await self._send(reply, reader, writer)
                if not keep_open:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _send(
        self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        from http import HTTPStatus

        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = "Unknown"
        body_length = sum(len(p) for p in reply.pieces if isinstance(p, bytes))
        head = [f"HTTP/1.1 {reply.status} {phrase}"]
        head += [f"{name}: {value}" for name, value in reply.headers]
        if reply.framing == "chunked":
            head.append("Transfer-Encoding: chunked")
        elif reply.framing == "length":
            head.append(f"Content-Length: {body_length}")
        if reply.framing == "close" or reply.abort:
            head.append("Connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()

        # The stream reader gets EOF when the client hangs up, even while nobody reads it.
        def hung_up() -> bool:
            return reader.at_eof() or writer.is_closing()

        try:
            for piece in reply.pieces:
                if hung_up():
                    break
                if isinstance(piece, Pause):
                    deadline = time.monotonic() + piece.seconds
                    while not hung_up() and time.monotonic() < deadline:  # noqa: ASYNC110
                        await asyncio.sleep(min(0.005, piece.seconds))
                    continue
                if not piece:
                    continue
                if reply.framing == "chunked":
                    writer.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                else:
                    writer.write(piece)
                await writer.drain()
            if hung_up():
                self._record_disconnect()
                return False
            if reply.abort:
                return False
            if reply.framing == "chunked":
                writer.write(b"0\r\n\r\n")
                await writer.drain()
            return reply.framing != "close"
        except ConnectionError:
            self._record_disconnect()
            return False

    def _record_disconnect(self) -> None:
        self.disconnect_times.append(time.monotonic())
        self.disconnected.set()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    return Request(method, path, headers, body)


def tool_call_chunks(
    calls: list[tuple[str, str]], *, text: str | None = None
) -> list[dict[str, Any]]:
    """Chunks of an answer that asks for tools: per call, its id and name first, then its
    arguments in two pieces (as OpenAI streams them), then `finish_reason: tool_calls`."""
    chunks = [chunk(text)] if text else []
    for index, (name, arguments) in enumerate(calls):
        head = {"index": index, "id": f"call_{index}", "type": "function"}
        chunks.append(chunk(tool_calls=[{**head, "function": {"name": name, "arguments": ""}}]))
        half = len(arguments) // 2
        for piece in (arguments[:half], arguments[half:]):
            chunks.append(chunk(tool_calls=[{"index": index, "function": {"arguments": piece}}]))
    chunks.append(chunk(finish="tool_calls"))
    return chunks


def tool_model(calls: list[tuple[str, str]], *, rounds: int = 1, pause: float = 0.0) -> Handler:
    """A scripted model that asks for `calls` ((name, arguments JSON text) pairs) when the
    conversation does not yet hold `rounds` rounds of tool results, then answers
    "Tool said: " and the results of the last round, joined by " | "."""

    def handle(request: Request) -> Reply:
        if request.method == "GET":
            return json_reply({"object": "list", "data": [{"id": "m", "object": "model"}]})
        messages = request.json()["messages"]
        done = sum(1 for m in messages if m["role"] == "assistant" and m.get("tool_calls"))
        if done < rounds:
            return sse_reply(tool_call_chunks(calls), pause=pause)
        results: list[str] = []
        for message in reversed(messages):
            if message["role"] != "tool":
                break
            results.insert(0, message["content"])
        return sse_reply(text_chunks(["Tool said: ", " | ".join(results)]), pause=pause)

    return handle
