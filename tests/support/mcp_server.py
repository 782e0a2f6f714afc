"""A tiny MCP server of our own for tests: stdio or streamable HTTP, with tools that behave badly.

    python -m tests.support.mcp_server stdio
    python -m tests.support.mcp_server http      # prints its port on the first line of stdout

Tools: `echo` (its text back), `add` (two integers), `hang` (sleeps until cancelled, then
writes "cancelled" to $MCP_TEST_MARKER), `crash` (the process exits at once, after a line on
stderr), `fail` (a tool error).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

from mcp.server.fastmcp import FastMCP

server = FastMCP("test-tools", log_level="WARNING")


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
async def hang(seconds: float = 3600.0) -> str:
    """Sleep (for an hour by default)."""
    _mark("started")
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        _mark("cancelled")
        raise
    return "woke up"


def _mark(state: str) -> None:
    marker = os.environ.get("MCP_TEST_MARKER")
    if marker:
        Path(marker).write_text(state, encoding="utf-8")


@server.tool()
def crash() -> str:
    """Exit the server process at once."""
    print("test server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def fail() -> str:
    """Always fails."""
    raise ValueError("this tool always fails")


def main(argv: list[str]) -> None:
    if sys.stderr is not None and os.environ.get("MCP_TEST_STDERR"):
        print(os.environ["MCP_TEST_STDERR"], file=sys.stderr, flush=True)
    if os.environ.get("MCP_TEST_EXIT_AT_START"):
        sys.exit(int(os.environ["MCP_TEST_EXIT_AT_START"]))
    if argv[:1] == ["http"]:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        # Listening before the port is printed: connections wait in the backlog while uvicorn
        # starts, instead of being refused.
        sock.listen(128)
        print(sock.getsockname()[1], flush=True)
        config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
        uvicorn.Server(config).run(sockets=[sock])
    else:
        server.run("stdio")


if __name__ == "__main__":
    main(sys.argv[1:])
