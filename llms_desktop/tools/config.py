"""MCP servers as configured in `mcp.json` (Claude Desktop / Cursor `mcpServers` shape) (pure).

    {"mcpServers": {
        "time": {"command": "mcp-server-time", "args": ["--local-timezone", "UTC"]},
        "web": {"type": "http", "url": "http://127.0.0.1:9000/mcp",
                "headers": {"Authorization": "Bearer ..."}},
        "files": {"command": "npx", "args": ["-y", "..."], "env": {"ROOT": "/tmp"},
                  "disabled": true, "disabledTools": ["delete"], "alwaysAllow": ["read"],
                  "timeout": 120}}}

`disabled`, `alwaysAllow` and `disabledTools` are the keys Cline uses; keys we do not know are
kept as they are, so a file shared with another client survives our edits.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from llms_desktop.errors import ConfigError
from llms_desktop.paths import ensure_data_dir, write_private_text

CONFIG_FILENAME = "mcp.json"
# Seconds a tool call may take before it is abandoned and the model told so.
DEFAULT_TOOL_TIMEOUT = 60.0
HTTP_TYPES = ("http", "streamable-http", "streamable_http", "streamableHttp")
_OWN_KEYS = (
    "type",
    "transport",
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "disabled",
    "disabledTools",
    "alwaysAllow",
    "timeout",
)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

Transport = Literal["stdio", "http"]


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One MCP server: a command to run (stdio) or a streamable-HTTP URL."""

    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    disabled_tools: frozenset[str] = frozenset()
    always_allow: frozenset[str] = frozenset()
    timeout: float = DEFAULT_TOOL_TIMEOUT
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def transport(self) -> Transport:
        return "http" if self.url else "stdio"

    def tool_enabled(self, tool: str) -> bool:
        return tool not in self.disabled_tools

    def with_tool_enabled(self, tool: str, enabled: bool) -> ServerConfig:
        tools = self.disabled_tools - {tool} if enabled else self.disabled_tools | {tool}
        return replace(self, disabled_tools=frozenset(tools))

    def with_always_allowed(self, tool: str) -> ServerConfig:
        return replace(self, always_allow=self.always_allow | {tool})

    def describe(self) -> str:
        """Where the server is, in one line: its command line or its URL."""
        if self.url:
            return self.url
        return " ".join([self.command or "", *self.args]).strip()

    def to_json(self) -> dict[str, Any]:
        """The server's entry in `mcpServers`."""
        out: dict[str, Any] = dict(self.extra)
        if self.url:
            out["type"] = "http"
            out["url"] = self.url
            if self.headers:
                out["headers"] = dict(self.headers)
        else:
            out["command"] = self.command
            out["args"] = list(self.args)
            if self.env:
                out["env"] = dict(self.env)
            if self.cwd:
                out["cwd"] = self.cwd
        if not self.enabled:
            out["disabled"] = True
        if self.disabled_tools:
            out["disabledTools"] = sorted(self.disabled_tools)
        if self.always_allow:
            out["alwaysAllow"] = sorted(self.always_allow)
        if self.timeout != DEFAULT_TOOL_TIMEOUT:
            out["timeout"] = self.timeout
        return out


def server_from_json(name: str, entry: Any) -> ServerConfig:
    """A server from its `mcpServers` entry; raises ConfigError naming what is wrong."""
    where = f"MCP server {name!r}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}: a server name is 1 to 64 letters, digits, '_', '-' or '.'.")
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: its settings must be a JSON object.")
    kind = entry.get("type", entry.get("transport"))
    url = entry.get("url")
    command = entry.get("command")
    if kind in ("sse",):
        raise ConfigError(
            f"{where}: the legacy SSE transport is not supported; use streamable HTTP "
            '("type": "http") or a command.'
        )
    if kind is not None and kind != "stdio" and kind not in HTTP_TYPES:
        raise ConfigError(f'{where}: unknown type {kind!r} (expected "stdio" or "http").')
    if url is not None or kind in HTTP_TYPES:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f'{where}: "url" must be an http:// or https:// address.')
        command = None
    elif not isinstance(command, str) or not command.strip():
        raise ConfigError(f'{where}: give a "command" to run, or a "url".')
    timeout = entry.get("timeout", DEFAULT_TOOL_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ConfigError(f'{where}: "timeout" must be a number of seconds above 0.')
    return ServerConfig(
        name=name,
        command=command,
        args=_strings(entry.get("args", []), f'{where}: "args"'),
        env=_string_map(entry.get("env", {}), f'{where}: "env"'),
        cwd=_optional_string(entry.get("cwd"), f'{where}: "cwd"'),
        url=url,
        headers=_string_map(entry.get("headers", {}), f'{where}: "headers"'),
        enabled=not _flag(entry.get("disabled", False), f'{where}: "disabled"'),
        disabled_tools=frozenset(_strings(entry.get("disabledTools", []), f"{where}: tools")),
        always_allow=frozenset(_strings(entry.get("alwaysAllow", []), f"{where}: tools")),
        timeout=float(timeout),
        extra={key: value for key, value in entry.items() if key not in _OWN_KEYS},
    )


@dataclass(frozen=True, slots=True)
class ToolsConfig:
    """Every configured MCP server, in file order, and the file's other top-level keys."""

    servers: tuple[ServerConfig, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def server(self, name: str) -> ServerConfig | None:
        return next((server for server in self.servers if server.name == name), None)

    def require(self, name: str) -> ServerConfig:
        server = self.server(name)
        if server is None:
            raise ConfigError(f"No MCP server is named {name!r}.")
        return server

    def with_server(self, server: ServerConfig) -> ToolsConfig:
        """The server added, or put in place of the one with its name."""
        if self.server(server.name) is None:
            return replace(self, servers=(*self.servers, server))
        servers = tuple(server if s.name == server.name else s for s in self.servers)
        return replace(self, servers=servers)

    def without(self, name: str) -> ToolsConfig:
        return replace(self, servers=tuple(s for s in self.servers if s.name != name))

    def to_json(self) -> dict[str, Any]:
        out = dict(self.extra)
        out["mcpServers"] = {server.name: server.to_json() for server in self.servers}
        return out


def parse(document: Any, source: str = "mcp.json") -> ToolsConfig:
    """The configuration in a parsed `mcp.json` (or Claude Desktop / Cursor / VS Code file)."""
    entries = _entries(document, source)
    servers = tuple(server_from_json(name, entry) for name, entry in entries.items())
    extra = {k: v for k, v in document.items() if k not in ("mcpServers", "servers")}
    return ToolsConfig(servers, extra)


def _entries(document: Any, source: str) -> Mapping[str, Any]:
    """The named server entries of a parsed file; raises ConfigError for another shape."""
    if not isinstance(document, Mapping):
        raise ConfigError(f'{source}: expected a JSON object with "mcpServers".')
    key = "mcpServers" if "mcpServers" in document else "servers"
    entries = document.get(key, {})
    if not isinstance(entries, Mapping):
        raise ConfigError(f'{source}: "{key}" must be an object of named servers.')
    return entries


def load(path: Path) -> ToolsConfig:
    """Read `path`; a missing file is an empty configuration."""
    return parse(_read(path), str(path))


def _read(path: Path) -> Any:
    """The parsed JSON of `path` ({} for a missing or empty file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Could not read {path}: {exc.strerror or exc}.") from None
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}.") from None
    except RecursionError:
        raise ConfigError(f"{path} is JSON nested too deeply to read.") from None


def save(path: Path, config: ToolsConfig) -> None:
    """Write `config` to `path` whole (a new file renamed over the old one), private (0600):
    servers' environments and headers often hold API keys."""
    text = json.dumps(config.to_json(), indent=2, ensure_ascii=False) + "\n"
    partial = path.with_name(path.name + ".partial")
    try:
        ensure_data_dir(path.parent)
        write_private_text(partial, text)
        os.replace(partial, path)
    except OSError as exc:
        raise ConfigError(f"Could not save {path}: {exc.strerror or exc}.") from None


@dataclass(frozen=True, slots=True)
class Imported:
    """What an import did: the merged configuration, the servers added, those skipped as
    already configured, and why each server we cannot read was left out."""

    config: ToolsConfig
    added: tuple[str, ...]
    skipped: tuple[str, ...]
    refused: tuple[str, ...] = ()  # "MCP server 'x': the legacy SSE transport is not ..."


def import_servers(config: ToolsConfig, source: Path) -> Imported:
    """Add the servers of another client's file; a name already configured is kept as it is.

    One server we cannot read (a legacy SSE one, a bad entry) is left out with its reason;
    the others are imported. Raises ConfigError for a file that is not such a file at all.
    """
    if not source.exists():
        raise ConfigError(f"{source} does not exist.")
    added: list[str] = []
    skipped: list[str] = []
    refused: list[str] = []
    for name, entry in _entries(_read(source), str(source)).items():
        try:
            server = server_from_json(name, entry)
        except ConfigError as exc:
            refused.append(str(exc))
            continue
        if config.server(server.name) is not None:
            skipped.append(server.name)
            continue
        config = config.with_server(server)
        added.append(server.name)
    return Imported(config, tuple(added), tuple(skipped), tuple(refused))


def merge_change(base: ToolsConfig, ours: ToolsConfig, theirs: ToolsConfig) -> ToolsConfig:
    """`theirs` (the file as it is now) with the change from `base` to `ours` applied.

    Per server and per field: what the change did not touch stays as `theirs` has it, so
    servers added or edited elsewhere (`tools add`, an editor) survive a switch flipped in
    a window that read the file earlier. A server removed elsewhere stays removed unless the
    change added it.
    """
    merged = theirs
    if ours.extra != base.extra:
        merged = replace(merged, extra=ours.extra)
    for old in base.servers:
        if ours.server(old.name) is None:
            merged = merged.without(old.name)
    for new in ours.servers:
        before = base.server(new.name)
        current = merged.server(new.name)
        if before is None:
            merged = merged.with_server(new)
        elif current is not None and new != before:
            merged = merged.with_server(_merge_server(before, new, current))
    return merged


def _merge_server(old: ServerConfig, new: ServerConfig, current: ServerConfig) -> ServerConfig:
    changes: dict[str, Any] = {}
    for item in fields(ServerConfig):
        before, after = getattr(old, item.name), getattr(new, item.name)
        if before == after:
            continue
        if item.name in ("disabled_tools", "always_allow"):
            # Tool sets: add and remove only the tools the change switched.
            now = getattr(current, item.name)
            changes[item.name] = frozenset((now - (before - after)) | (after - before))
        else:
            changes[item.name] = after
    return replace(current, **changes)


Stamp = tuple[int, int, int]


class ConfigFile:
    """`mcp.json` in the data folder: read on demand, written whole."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_folder(cls, folder: Path) -> ConfigFile:
        return cls(folder / CONFIG_FILENAME)

    def load(self) -> ToolsConfig:
        return load(self.path)

    def save(self, config: ToolsConfig) -> None:
        save(self.path, config)

    def stamp(self) -> Stamp | None:
        """What tells this version of the file from another (inode, mtime, size), or None
        without a file. A save renames a new file over the old, so the inode changes even
        when two writes land within the clock's resolution."""
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_mtime_ns, info.st_size)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(f"{where} must be a list of strings.")
    return tuple(value)


def _string_map(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{where} must be an object of strings.")
    return dict(value)


def _flag(value: Any, where: str) -> bool:
    """true or false; the strings "true" and "false" (any case) read as what they spell, as
    a hand-edited file may have them. Anything else is refused rather than guessed at."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, list | Mapping):
        shown = "a list" if isinstance(value, list) else "an object"
    else:
        shown = json.dumps(value)
    raise ConfigError(f"{where} must be true or false, not {shown}.")


def _optional_string(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    raise ConfigError(f"{where} must be a string.")
