"""The tools offered to the model in one exchange, under names OpenAI accepts (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from llms_desktop.tools.manager import ToolInfo

# OpenAI's rule for function names.
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
MAX_NAME = 64


class Toolbox:
    """Enabled tools by the function name the model sees: the tool's own name, or
    `server_tool` when two servers offer the same name."""

    def __init__(self, tools: Iterable[ToolInfo], problems: Iterable[str] = ()) -> None:
        self.problems = tuple(problems)
        tools = list(tools)
        counts: dict[str, int] = {}
        for tool in tools:
            counts[_clean(tool.name)] = counts.get(_clean(tool.name), 0) + 1
        self.by_name: dict[str, ToolInfo] = {}
        for tool in tools:
            name = _clean(tool.name)
            if counts[name] > 1:
                name = _clean(f"{tool.server}_{tool.name}")
            base, number = name, 2
            while name in self.by_name:
                suffix = f"_{number}"
                name = base[: MAX_NAME - len(suffix)] + suffix
                number += 1
            self.by_name[name] = tool

    def __bool__(self) -> bool:
        return bool(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def find(self, function_name: str | None) -> ToolInfo | None:
        return self.by_name.get(function_name or "")

    def specs(self) -> list[dict[str, Any]]:
        """The OpenAI `tools` parameter."""
        return [
            {
                "type": "function",
                "function": {
                    "name": name,
                    "description": tool.description or f"{tool.name} (MCP server {tool.server})",
                    "parameters": dict(tool.parameters) or {"type": "object", "properties": {}},
                },
            }
            for name, tool in self.by_name.items()
        ]


def _clean(name: str) -> str:
    return _NOT_ALLOWED.sub("_", name)[:MAX_NAME] or "tool"
