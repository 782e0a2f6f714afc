"""Deltas out as OpenAI `chat.completion.chunk` events, and the `chat.completion` answer (pure)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import replace
from typing import Any

from llms_desktop.accumulate import Accumulator, ToolCallIndexes, usage_dict
from llms_desktop.types import (
    Delta,
    Finish,
    ReasoningDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
)

DONE = b"data: [DONE]\n\n"
# Set (true) beside a usage block we estimated because the upstream sent none. A top-level
# field: OpenAI clients ignore fields they do not know, and a flag inside `usage` could be
# summed with the token counts by clients that add every number there.
USAGE_ESTIMATED = "usage_estimated"


def event(payload: dict[str, Any]) -> bytes:
    """One server-sent event carrying `payload` as JSON."""
    # Compact JSON keeps each event small; non-ASCII text stays readable in `curl -N`.
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + data.encode() + b"\n\n"


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


class ChunkEncoder:
    """Builds the chunks of one streamed answer; every chunk names the model the client asked."""

    def __init__(self, model: str, info: ResponseInfo | None = None) -> None:
        info = info or ResponseInfo()
        self.model = model
        self.id = info.id or new_completion_id()
        self.created = info.created or int(time.time())
        self.system_fingerprint = info.system_fingerprint
        # The client sees each call under one index, as the accumulator stores it.
        self.tool_indexes = ToolCallIndexes()

    def _chunk(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        chunk: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }
        if self.system_fingerprint:
            chunk["system_fingerprint"] = self.system_fingerprint
        chunk["choices"] = choices
        return chunk

    def _choice(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return event(
            self._chunk(
                [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
            )
        )

    def role(self) -> bytes:
        """The first chunk: the assistant's role, as OpenAI sends it before any text."""
        return self._choice({"role": "assistant", "content": ""})

    def delta(self, delta: Delta) -> bytes | None:
        """The chunk for one delta; None for deltas that are not sent as they come."""
        match delta:
            case TextDelta(text=text):
                return self._choice({"content": text})
            case ReasoningDelta(text=text):
                return self._choice({"reasoning_content": text})
            case ToolCallDelta():
                index = self.tool_indexes.index(delta)
                return self._choice({"tool_calls": [tool_call(replace(delta, index=index))]})
            case Finish(reason=reason):
                return self._choice({}, reason)
        return None  # Usage goes last (see usage()), ResponseInfo only names the answer

    def usage(self, usage: Usage, *, estimated: bool = False) -> bytes:
        """The usage chunk: no choices, just the token counts (marked when estimated)."""
        chunk = self._chunk([])
        chunk["usage"] = usage_dict(usage)
        if estimated:
            chunk[USAGE_ESTIMATED] = True
        return event(chunk)


def estimated_usage(prompt: str, answer: str) -> Usage:
    """Token counts guessed from the text, as the window and the CLI do when none are sent."""
    from llms_desktop.session import estimate_tokens

    prompt_tokens = estimate_tokens(prompt)
    completion_tokens = estimate_tokens(answer)
    return Usage(
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=prompt_tokens + completion_tokens,
    )


def answer_text(delta: Delta) -> str:
    """The text a delta adds to the answer, for estimating its tokens."""
    match delta:
        case TextDelta(text=text) | ReasoningDelta(text=text):
            return text
        case ToolCallDelta():
            return (delta.name or "") + delta.arguments
    return ""


def tool_call(delta: ToolCallDelta) -> dict[str, Any]:
    """A tool call fragment as OpenAI streams it: id, type and name only where known."""
    out: dict[str, Any] = {"index": delta.index}
    if delta.id is not None:
        out["id"] = delta.id
    if delta.type is not None or delta.id is not None:
        out["type"] = delta.type or "function"
    function: dict[str, Any] = {}
    if delta.name is not None:
        function["name"] = delta.name
    function["arguments"] = delta.arguments
    out["function"] = function
    return out


def completion(accumulator: Accumulator, model: str, prompt: str = "") -> dict[str, Any]:
    """The whole `chat.completion` for a non-streamed answer, naming the model the client asked;
    usage is estimated (and marked so) when the upstream sent none."""
    result = accumulator.completion()
    if accumulator.usage is None:
        calls = "".join(
            str(call["function"]["name"] or "") + call["function"]["arguments"]
            for call in accumulator.tool_call_dicts()
        )
        answer = accumulator.text + accumulator.reasoning_text + calls
        result["usage"] = usage_dict(estimated_usage(prompt, answer))
        result[USAGE_ESTIMATED] = True
    if not accumulator.info.id:
        result["id"] = new_completion_id()
    result["model"] = model
    result["choices"][0].setdefault("logprobs", None)
    return result
