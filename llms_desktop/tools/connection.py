"""One MCP server's session, opened and closed inside one task (anyio's task groups insist).

The SDK's transports (`stdio_client`, `streamable_http_client`) and `ClientSession` run anyio
task groups, which must be entered and exited by the same task. So a host task opens them all,
then waits to be told to close; requests from other tasks use the session meanwhile. This
module imports the `mcp` SDK (about a second): only the tool runner's thread loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio
import mcp.types as mcp_types
from mcp import ClientSession, McpError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from llms_desktop.errors import ToolError
from llms_desktop.paths import PRIVATE_FILE_MODE, ensure_data_dir
from llms_desktop.tools.config import ServerConfig

log = logging.getLogger(__name__)

# How much of a crashed server's stderr goes into the error shown to the user.
STDERR_TAIL = 600


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returned, as text for the model; `is_error` when the tool reported a failure."""

    text: str
    is_error: bool = False


class Connection:
    """A running MCP server (a child process or an HTTP session) and its client session."""

    def __init__(self, config: ServerConfig, log_dir: Path | None = None) -> None:
        self.config = config
        self.log_dir = log_dir
        self.session: ClientSession | None = None
        self._host: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._stderr: TextIO | None = None
        self.broken: str | None = None  # why the connection can no longer be used

    @property
    def alive(self) -> bool:
        return self.session is not None and self.broken is None and not self._done()

    def _done(self) -> bool:
        return self._host is None or self._host.done()

    async def open(self, start_timeout: float) -> None:
        """Start the server and run the MCP handshake; raises ToolError."""
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._host = asyncio.create_task(self._run(ready), name=f"mcp:{self.config.name}")
        try:
            async with asyncio.timeout(start_timeout):
                await asyncio.shield(ready)
        except TimeoutError:
            message = (
                f"The MCP server {self.config.name!r} did not answer within {start_timeout:g} s "
                f"({self.config.describe()}).{self._stderr_tail()}"
            )
            await self.close()
            raise ToolError(message) from None
        except BaseException:
            await self.close()
            raise

    async def _run(self, ready: asyncio.Future[None]) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._transport(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                await session.initialize()
                self.session = session
                ready.set_result(None)
                await self._closing.wait()
        except BaseException as exc:  # anyio wraps failures in groups; cancellation ends here too
            message = self._failure(exc)
            if not ready.done():
                ready.set_exception(ToolError(message))
            elif self.broken is None and not self._closing.is_set():
                self.broken = message
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.session = None

    async def _transport(self, stack: contextlib.AsyncExitStack) -> tuple[Any, Any]:
        config = self.config
        if config.url:
            client = await stack.enter_async_context(
                create_mcp_http_client(headers=dict(config.headers) or None)
            )
            read, write, _ = await stack.enter_async_context(
                streamable_http_client(config.url, http_client=client)
            )
            return read, write
        # Kept open until close(): a failure's message quotes the end of it.
        self._stderr = self._stderr_file()
        parameters = StdioServerParameters(
            command=config.command or "",
            args=list(config.args),
            env=dict(config.env) or None,
            cwd=config.cwd,
        )
        read, write = await stack.enter_async_context(stdio_client(parameters, self._stderr))
        return read, write

    def _stderr_file(self) -> TextIO:
        """Where the server's stderr goes: a log in the data folder, else a temporary file."""
        if self.log_dir is not None:
            with contextlib.suppress(OSError):
                ensure_data_dir(self.log_dir)
                path = self.log_dir / f"mcp-{self.config.name}.log"
                # Private like the rest of the data folder: servers may log secrets.
                flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
                descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
                os.fchmod(descriptor, PRIVATE_FILE_MODE)
                return open(descriptor, "w+", encoding="utf-8")
        return tempfile.TemporaryFile("w+", encoding="utf-8")

    def _stderr_tail(self) -> str:
        stream = self._stderr
        if stream is None or stream.closed:
            return ""
        try:
            stream.flush()
            stream.seek(0)
            text = stream.read()
        except (OSError, ValueError):
            return ""
        text = " ".join(text.split())
        if not text:
            return ""
        if len(text) > STDERR_TAIL:
            text = "…" + text[-STDERR_TAIL:]
        return f" Its error output: {text}"

    def _failure(self, exc: BaseException) -> str:
        name = self.config.name
        leaf = _leaf(exc)
        if isinstance(leaf, FileNotFoundError | PermissionError):
            return (
                f"Could not start the MCP server {name!r}: {self.config.command}: "
                f"{leaf.strerror or leaf}."
            )
        if isinstance(leaf, OSError):
            return f"Could not start the MCP server {name!r}: {leaf.strerror or leaf}."
        if isinstance(leaf, asyncio.CancelledError):
            return f"The MCP server {name!r} was stopped."
        if _closed(leaf):
            return f"The MCP server {name!r} exited.{self._stderr_tail()}"
        return f"The MCP server {name!r} failed: {_message(leaf)}{self._stderr_tail()}"

    async def list_tools(self) -> list[mcp_types.Tool]:
        session = self._session()
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        while True:
            try:
                page = await session.list_tools(cursor=cursor)
            except Exception as exc:
                raise self._call_failed(exc, "listing its tools") from None
            tools.extend(page.tools)
            cursor = page.nextCursor
            if not cursor:
                return tools

    async def call(self, tool: str, arguments: Mapping[str, Any], limit: float) -> ToolResult:
        """Call `tool`; a timeout or a cancellation tells the server to stop the request."""
        session = self._session()
        # send_request takes the next id synchronously: it is the one this call will use.
        request_id = getattr(session, "_request_id", None)
        try:
            async with asyncio.timeout(limit):
                result = await session.call_tool(tool, dict(arguments))
        except TimeoutError:
            await self._cancel_request(request_id, "timed out")
            raise ToolError(
                f"The tool {tool!r} of {self.config.name!r} did not finish within {limit:g} s."
            ) from None
        except asyncio.CancelledError:
            await self._cancel_request(request_id, "stopped by the user")
            raise
        except Exception as exc:
            raise self._call_failed(exc, f"running {tool!r}") from None
        return ToolResult(result_text(result), bool(result.isError))

    async def _cancel_request(self, request_id: Any, reason: str) -> None:
        session = self.session
        if session is None or not isinstance(request_id, int):
            return
        notice = mcp_types.ClientNotification(
            mcp_types.CancelledNotification(
                params=mcp_types.CancelledNotificationParams(requestId=request_id, reason=reason)
            )
        )
        # Best effort, and quick: a stuck server must not hold up the Stop button.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await session.send_notification(notice)

    def _session(self) -> ClientSession:
        if self.session is None or not self.alive:
            raise ToolError(self.broken or f"The MCP server {self.config.name!r} is not running.")
        return self.session

    def _call_failed(self, exc: BaseException, doing: str) -> ToolError:
        leaf = _leaf(exc)
        if _closed(leaf) or self._done():
            self.broken = f"The MCP server {self.config.name!r} exited.{self._stderr_tail()}"
            return ToolError(self.broken)
        return ToolError(f"The MCP server {self.config.name!r} failed {doing}: {_message(leaf)}")

    async def close(self) -> None:
        """Close the session and stop the server (the host task exits its own contexts)."""
        self._closing.set()
        host = self._host
        if host is None:
            return
        try:
            await self._stop(host)
        finally:
            if self._stderr is not None:
                self._stderr.close()

    async def _stop(self, host: asyncio.Task[None]) -> None:
        try:
            # The SDK gives a stdio server 2 s to exit after stdin closes, then terminates it.
            async with asyncio.timeout(10):
                await asyncio.shield(host)
        except TimeoutError:
            host.cancel()
            with contextlib.suppress(BaseException):
                await host
        except BaseException:  # its failure was recorded by _run
            pass


def result_text(result: mcp_types.CallToolResult) -> str:
    """A tool result as text for the model: text parts joined, other parts named."""
    parts: list[str] = []
    for item in result.content:
        if isinstance(item, mcp_types.TextContent):
            parts.append(item.text)
        elif isinstance(item, mcp_types.ImageContent | mcp_types.AudioContent):
            parts.append(f"[{item.type}: {item.mimeType}, not shown]")
        elif isinstance(item, mcp_types.EmbeddedResource):
            resource = item.resource
            if isinstance(resource, mcp_types.TextResourceContents):
                parts.append(resource.text)
            else:
                parts.append(f"[resource {resource.uri}, {resource.mimeType or 'binary'}]")
        elif isinstance(item, mcp_types.ResourceLink):
            parts.append(f"[resource link {item.uri}]")
    if not parts and result.structuredContent is not None:
        import json

        parts.append(json.dumps(result.structuredContent, ensure_ascii=False))
    return "\n".join(parts)


def _leaf(exc: BaseException) -> BaseException:
    """The first real error inside (possibly nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _closed(exc: BaseException) -> bool:
    if isinstance(exc, McpError):
        return exc.error.code == mcp_types.CONNECTION_CLOSED
    return isinstance(
        exc, anyio.ClosedResourceError | anyio.BrokenResourceError | anyio.EndOfStream
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, McpError):
        return exc.error.message
    text = str(exc).strip()
    return text or type(exc).__name__
