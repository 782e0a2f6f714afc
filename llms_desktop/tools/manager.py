"""ToolManager: starts MCP servers when first needed, lists and calls their tools, closes them.

Every server lives on one private asyncio loop in a daemon thread ("the runner"): the SDK's
anyio task groups, child processes and its one-second import stay off the caller's loop (the
Qt thread in the window), and a loop of our own has asyncio's async-generator hooks, which
qasync's lacks. Callers on any loop await the runner's work through `asyncio.wrap_future`;
cancelling that await (Stop) cancels the work on the runner too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from llms_desktop.errors import ToolError
from llms_desktop.tools.config import (
    ConfigFile,
    ServerConfig,
    Stamp,
    ToolsConfig,
    merge_change,
)

if TYPE_CHECKING:
    from llms_desktop.tools.connection import Connection, ToolResult

T = TypeVar("T")

# A server that has not finished its handshake by then is reported as not answering.
START_TIMEOUT = 30.0

ServerState = Literal["stopped", "starting", "running", "failed", "disabled"]


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A tool a server offers, with its JSON-schema parameters, and whether it is enabled."""

    server: str
    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """What the manager knows about one server (its tools once it ran)."""

    name: str
    state: ServerState = "stopped"
    error: str | None = None
    tools: tuple[ToolInfo, ...] = ()


class _Runner:
    """A thread running an asyncio loop forever, until stopped."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name="mcp-tools", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self, timeout: float = 10.0) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if threading.current_thread() is not self.thread:
            self.thread.join(timeout)


class ToolManager:
    """The configured MCP servers, started lazily on the runner, never at app start."""

    def __init__(
        self,
        config: ToolsConfig,
        *,
        log_dir: Path | None = None,
        start_timeout: float = START_TIMEOUT,
        config_file: ConfigFile | None = None,
    ) -> None:
        self._config = config
        self.config_file = config_file
        self.log_dir = log_dir
        self.start_timeout = start_timeout
        self._runner: _Runner | None = None
        self._lock = threading.Lock()
        # Touched on the runner's loop only.
        self._connections: dict[str, Connection] = {}
        self._starting: dict[str, asyncio.Task[Connection]] = {}
        self._background: set[asyncio.Task[None]] = set()  # strong refs: the loop keeps weak ones
        # Replaced whole (never mutated), so other threads may read it.
        self._status: dict[str, ServerStatus] = {}
        # mcp.json as last read or written (its stamp tells whether it changed since): the
        # configuration in use is that plus the changes still being written. Reads and
        # writes of the file take turns, in the order they were asked for.
        self._disk = config
        self._stamp: Stamp | None = None
        self._file_turn = asyncio.Lock()

    # Configuration -------------------------------------------------------------------------

    @classmethod
    def in_folder(cls, folder: Path) -> ToolManager:
        """The servers of `mcp.json` in the data folder (read now; none start), their stderr
        logged under `logs/`; raises ConfigError for an unreadable file."""
        config_file = ConfigFile.in_folder(folder)
        stamp = config_file.stamp()  # before reading: a write in between is read again later
        manager = cls(config_file.load(), log_dir=folder / "logs", config_file=config_file)
        manager._stamp = stamp
        return manager

    @property
    def config(self) -> ToolsConfig:
        return self._config

    async def save_config(self, config: ToolsConfig) -> None:
        """Use `config`, and write what changed (from the configuration in use to `config`)
        into mcp.json as the file is now, off the caller's thread: servers added or edited
        outside since the file was read (`tools add`, an editor) are kept, and used from
        then on. Raises ConfigError when the file cannot be read or written."""
        base = self._config
        self.set_config(config)
        if self.config_file is None:
            return
        async with self._file_turn:
            written, stamp = await asyncio.to_thread(self._write_change, base, config)
            self._disk, self._stamp = written, stamp
            # A change made here while this one was written (a second quick click) stays.
            self.set_config(merge_change(config, self._config, written))

    def _write_change(
        self, base: ToolsConfig, ours: ToolsConfig
    ) -> tuple[ToolsConfig, Stamp | None]:
        assert self.config_file is not None
        merged = merge_change(base, ours, self.config_file.load())
        self.config_file.save(merged)
        return merged, self.config_file.stamp()

    async def refresh(self) -> None:
        """Use mcp.json as changed outside since it was last read or written (one stat when
        it was not); changes still being written here are kept. Raises ConfigError when the
        changed file cannot be read (the configuration in use stays)."""
        if self.config_file is None:
            return
        async with self._file_turn:
            read = await asyncio.to_thread(self._read_if_changed, self._stamp)
            if read is not None:
                theirs, self._stamp = read
                self.set_config(merge_change(self._disk, self._config, theirs))
                self._disk = theirs

    def _read_if_changed(self, seen: Stamp | None) -> tuple[ToolsConfig, Stamp | None] | None:
        assert self.config_file is not None
        stamp = self.config_file.stamp()
        if stamp == seen:
            return None
        return self.config_file.load(), stamp

    def always_allowed(self, tool: ToolInfo) -> bool:
        server = self._config.server(tool.server)
        return server is not None and tool.name in server.always_allow

    async def allow_always(self, tool: ToolInfo) -> None:
        """Remember that `tool` runs without asking (in mcp.json's `alwaysAllow`)."""
        server = self._config.server(tool.server)
        if server is not None and tool.name not in server.always_allow:
            await self.save_config(self._config.with_server(server.with_always_allowed(tool.name)))

    def set_config(self, config: ToolsConfig) -> None:
        """Use a new configuration; servers whose command, URL or environment changed (or that
        were removed or disabled) are closed and start again when next needed."""
        old = self._config
        self._config = config
        stale = [
            server.name
            for server in old.servers
            if not _same_process(server, config.server(server.name))
        ]
        if stale and self._runner is not None:
            for name in stale:
                self._set_status(ServerStatus(name))
            self._runner.submit(self._close_servers(stale))

    # Status --------------------------------------------------------------------------------

    def status(self, name: str) -> ServerStatus:
        server = self._config.server(name)
        known = self._status.get(name, ServerStatus(name))
        if server is not None and not server.enabled and known.state != "running":
            return replace(known, state="disabled")
        if server is not None:
            # Per-tool switches apply at once, without asking the server again.
            tools = tuple(replace(t, enabled=server.tool_enabled(t.name)) for t in known.tools)
            return replace(known, tools=tools)
        return known

    def _set_status(self, status: ServerStatus) -> None:
        self._status = {**self._status, status.name: status}

    # Work, from any loop ---------------------------------------------------------------------

    async def list_tools(self, name: str) -> list[ToolInfo]:
        """The server's tools, starting it if needed; raises ToolError."""
        return await self._on_runner(self._list_tools(name))

    async def enabled_tools(self) -> tuple[list[ToolInfo], list[str]]:
        """Every enabled tool of every enabled server (starting them as needed, in parallel),
        and one line per server that failed: a broken server never hides the others."""
        servers = [server.name for server in self._config.servers if server.enabled]
        if not servers:
            return [], []
        results = await self._on_runner(self._list_many(servers))
        tools: list[ToolInfo] = []
        problems: list[str] = []
        for result in results:
            if isinstance(result, str):
                problems.append(result)
            else:
                tools.extend(tool for tool in result if tool.enabled)
        return tools, problems

    async def call(self, server: str, tool: str, arguments: Mapping[str, Any]) -> ToolResult:
        """Run one tool (starting its server if needed) within the server's timeout; raises
        ToolError for a server that cannot be reached, crashed, or a call that timed out."""
        return await self._on_runner(self._call(server, tool, dict(arguments)))

    async def stop(self, name: str) -> None:
        """Close one server (it starts again when next needed)."""
        if self._runner is not None:
            await self._on_runner(self._close_servers([name]))

    async def aclose(self) -> None:
        """Close every server and end the runner's thread."""
        runner = self._runner
        if runner is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(runner.submit(self._close_servers(None)))
        self._runner = None
        await asyncio.to_thread(runner.stop)

    def close(self, timeout: float = 15.0) -> None:
        """`aclose` for callers without a loop (the CLI's end, the app's exit)."""
        runner = self._runner
        if runner is None:
            return
        with contextlib.suppress(Exception):
            runner.submit(self._close_servers(None)).result(timeout)
        self._runner = None
        runner.stop()

    async def _on_runner(self, work: Coroutine[Any, Any, T]) -> T:
        with self._lock:
            if self._runner is None:
                self._runner = _Runner()
            runner = self._runner
        return await asyncio.wrap_future(runner.submit(work))

    # On the runner's loop ----------------------------------------------------------------------

    async def _connection(self, name: str) -> Connection:
        server = self._config.server(name)
        if server is None:
            raise ToolError(f"No MCP server is named {name!r}.")
        current = self._connections.get(name)
        if current is not None and current.alive and current.config == server:
            return current
        if (
            current is not None
            and current.config != server
            and _same_process(current.config, server)
        ):
            current.config = server  # only switches changed: keep the running server
            if current.alive:
                return current
        pending = self._starting.get(name)
        if pending is None:
            pending = asyncio.create_task(self._start(server))
            self._starting[name] = pending
            pending.add_done_callback(lambda _: self._starting.pop(name, None))
        return await asyncio.shield(pending)

    async def _start(self, server: ServerConfig) -> Connection:
        from llms_desktop.tools.connection import Connection

        old = self._connections.pop(server.name, None)
        if old is not None:
            await old.close()
        self._set_status(ServerStatus(server.name, "starting"))
        connection = Connection(server, self.log_dir)
        try:
            await connection.open(self.start_timeout)
        except ToolError as exc:
            self._set_status(ServerStatus(server.name, "failed", str(exc)))
            raise
        self._connections[server.name] = connection
        self._set_status(ServerStatus(server.name, "running"))
        return connection

    async def _list_tools(self, name: str) -> list[ToolInfo]:
        connection = await self._connection(name)
        try:
            listed = await connection.list_tools()
        except ToolError as exc:
            self._failed(name, connection, str(exc))
            raise
        server = connection.config
        tools = [
            ToolInfo(
                server=name,
                name=tool.name,
                description=tool.description or "",
                parameters=dict(tool.inputSchema or {}),
                enabled=server.tool_enabled(tool.name),
            )
            for tool in listed
        ]
        self._set_status(ServerStatus(name, "running", None, tuple(tools)))
        return tools

    async def _list_many(self, names: list[str]) -> list[list[ToolInfo] | str]:
        async def one(name: str) -> list[ToolInfo] | str:
            try:
                return await self._list_tools(name)
            except ToolError as exc:
                return str(exc)

        return list(await asyncio.gather(*(one(name) for name in names)))

    async def _call(self, name: str, tool: str, arguments: dict[str, Any]) -> ToolResult:
        connection = await self._connection(name)
        try:
            return await connection.call(tool, arguments, connection.config.timeout)
        except ToolError as exc:
            if connection.broken is not None:
                self._failed(name, connection, str(exc))
            raise

    def _failed(self, name: str, connection: Connection, error: str) -> None:
        known = self._status.get(name, ServerStatus(name))
        self._set_status(replace(known, state="failed", error=error))
        if self._connections.get(name) is connection:
            del self._connections[name]
            # Close in the background: the caller gets its error now.
            task = asyncio.get_running_loop().create_task(connection.close())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _close_servers(self, names: list[str] | None) -> None:
        chosen = list(self._connections) if names is None else names
        closing = [self._connections.pop(name) for name in chosen if name in self._connections]
        for name in chosen:
            task = self._starting.get(name)
            if task is not None:
                task.cancel()
        await asyncio.gather(*(c.close() for c in closing), return_exceptions=True)
        for name in chosen:
            if name in self._status:
                self._set_status(replace(self._status[name], state="stopped", error=None))


def _same_process(old: ServerConfig, new: ServerConfig | None) -> bool:
    """Whether `new` runs the same server as `old` (only switches or the timeout differ)."""
    if new is None or not new.enabled:
        return False
    return (old.command, old.args, dict(old.env), old.cwd, old.url, dict(old.headers)) == (
        new.command,
        new.args,
        dict(new.env),
        new.cwd,
        new.url,
        dict(new.headers),
    )
