"""Assemble deltas into one OpenAI `chat.completion` object (the seed's accumulateChunks)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterable, Iterable
from dataclasses import dataclass, field
from typing import Any

from llms_desktop.types import (
    Delta,
    Finish,
    ReasoningDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
)


@dataclass
class _ToolCall:
    id: str | None = None
    type: str | None = None
    name: str | None = None
    arguments: list[str] = field(default_factory=list)


class ToolCallIndexes:
    """Gives each tool call of one response a stable index, whatever the wire says.

    Servers that leave `index` out put every call at list position 0 of its chunk; such a
    server starts each call with its id, so a fragment with a new id under an index already
    used starts a new call at the next free index, and the fragments after it follow it there.
    """

    def __init__(self) -> None:
        self._ids: dict[int, str | None] = {}  # call index -> its id (once known)
        self._remap: dict[int, int] = {}  # wire index -> call index

    def index(self, delta: ToolCallDelta) -> int:
        """The call index for this fragment."""
        index = self._remap.get(delta.index, delta.index)
        if index in self._ids:
            known = self._ids[index]
            if delta.id and known and delta.id != known:
                index = max(self._ids) + 1
                self._remap[delta.index] = index
        if not self._ids.get(index):
            self._ids[index] = delta.id
        return index


@dataclass
class Accumulator:
    """Folds deltas one at a time; `completion()` gives the result so far (usable mid-stream)."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCall] = field(default_factory=dict)
    finish_reason: str | None = None
    usage: Usage | None = None
    info: ResponseInfo = field(default_factory=ResponseInfo)
    _indexes: ToolCallIndexes = field(default_factory=ToolCallIndexes)

    def add(self, delta: Delta) -> None:
        """Fold one delta in."""
        match delta:
            case TextDelta(text=text):
                self.content.append(text)
            case ReasoningDelta(text=text):
                self.reasoning.append(text)
            case ToolCallDelta():
                call = self.tool_calls.setdefault(self._indexes.index(delta), _ToolCall())
                # id, name and type come in the first fragment; later ones carry arguments only.
                call.id = call.id or delta.id
                call.type = call.type or delta.type
                call.name = call.name or delta.name
                if delta.arguments:
                    call.arguments.append(delta.arguments)
            case Usage():
                self.usage = delta  # servers that repeat usage send running totals: keep the last
            case Finish(reason=reason):
                self.finish_reason = reason
            case ResponseInfo():
                self.info = ResponseInfo(
                    id=self.info.id or delta.id,
                    model=self.info.model or delta.model,
                    created=self.info.created or delta.created,
                    system_fingerprint=self.info.system_fingerprint or delta.system_fingerprint,
                )

    @property
    def text(self) -> str:
        """The answer's text so far."""
        return "".join(self.content)

    @property
    def reasoning_text(self) -> str:
        """The reasoning text so far."""
        return "".join(self.reasoning)

    def tool_call_dicts(self) -> list[dict[str, Any]]:
        """Tool calls in OpenAI shape, ordered by index."""
        return [
            {
                "id": call.id,
                "type": call.type or "function",
                "function": {"name": call.name, "arguments": "".join(call.arguments)},
            }
            for _, call in sorted(self.tool_calls.items())
        ]

    def completion(self) -> dict[str, Any]:
        """The OpenAI `chat.completion` object for everything folded in so far."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning_text
        if self.tool_calls:
            message["tool_calls"] = self.tool_call_dicts()
            if not self.content:
                message["content"] = None
        result: dict[str, Any] = {
            "id": self.info.id or "chatcmpl-local",
            "object": "chat.completion",
            "created": self.info.created or int(time.time()),
            "model": self.info.model or "",
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
        }
        if self.info.system_fingerprint:
            result["system_fingerprint"] = self.info.system_fingerprint
        if self.usage is not None:
            result["usage"] = usage_dict(self.usage)
        return result


def usage_dict(usage: Usage) -> dict[str, Any]:
    """Usage in OpenAI shape; the total is derived when the provider left it out."""
    total = usage.total_tokens
    if total is None and usage.prompt_tokens is not None and usage.completion_tokens is not None:
        total = usage.prompt_tokens + usage.completion_tokens
    out: dict[str, Any] = dict(usage.details)
    out.update(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=total,
    )
    return out


def accumulate(deltas: Iterable[Delta]) -> dict[str, Any]:
    """Build the `chat.completion` object from a finished sequence of deltas."""
    acc = Accumulator()
    for delta in deltas:
        acc.add(delta)
    return acc.completion()


async def accumulate_async(deltas: AsyncIterable[Delta]) -> dict[str, Any]:
    """`accumulate` for an async stream of deltas."""
    acc = Accumulator()
    async for delta in deltas:
        acc.add(delta)
    return acc.completion()
