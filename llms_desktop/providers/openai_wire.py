"""OpenAI chat-completions wire format: request bodies out, typed deltas in (pure, no I/O)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from llms_desktop.text_hygiene import SurrogateJoiner
from llms_desktop.types import (
    ChatRequest,
    Delta,
    Finish,
    ReasoningDelta,
    ResponseInfo,
    TextDelta,
    ToolCallDelta,
    Usage,
)

# Servers name the reasoning text differently: DeepSeek and vLLM `reasoning_content`,
# OpenRouter and Ollama `reasoning`, some proxies `thinking`. The first present one wins so a
# server that sends two aliases of the same text does not show it twice.
REASONING_KEYS = ("reasoning_content", "reasoning", "thinking")


def request_body(request: ChatRequest) -> dict[str, Any]:
    """The JSON body for `POST /chat/completions`."""
    body: dict[str, Any] = dict(request.params)
    body["model"] = request.model
    body["messages"] = [message.to_openai() for message in request.messages]
    body["stream"] = request.stream
    if request.stream:
        options = dict(body.get("stream_options") or {})
        options.setdefault("include_usage", True)
        body["stream_options"] = options
    else:
        body.pop("stream_options", None)
    return body


def info_from(payload: Mapping[str, Any]) -> ResponseInfo | None:
    """The response identity in a chunk or completion, if it carries any."""
    created = payload.get("created")
    info = ResponseInfo(
        id=_str_or_none(payload.get("id")),
        model=_str_or_none(payload.get("model")),
        created=created if isinstance(created, int) else None,
        system_fingerprint=_str_or_none(payload.get("system_fingerprint")),
    )
    return info if (info.id or info.model) else None


def usage_from(payload: Mapping[str, Any]) -> Usage | None:
    """The usage block of a chunk or completion, if present and non-empty."""
    usage = payload.get("usage")
    if not isinstance(usage, Mapping) or not usage:
        return None
    known = ("prompt_tokens", "completion_tokens", "total_tokens")
    return Usage(
        prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
        completion_tokens=_int_or_none(usage.get("completion_tokens")),
        total_tokens=_int_or_none(usage.get("total_tokens")),
        details={key: value for key, value in usage.items() if key not in known},
    )


def _reasoning(container: Mapping[str, Any]) -> str | None:
    for key in REASONING_KEYS:
        value = container.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _text(content: Any) -> str:
    """Content as text: a string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") in ("text", "output_text")
        )
    return ""


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _tool_calls(calls: Any) -> Iterator[ToolCallDelta]:
    if not isinstance(calls, list):
        return
    for position, call in enumerate(calls):
        if not isinstance(call, Mapping):
            continue
        function = _mapping(call.get("function"))
        index = call.get("index")
        arguments = function.get("arguments")
        if isinstance(arguments, dict | list):
            arguments = json.dumps(arguments)  # Ollama sends arguments as an object
        yield ToolCallDelta(
            index=index if isinstance(index, int) else position,
            id=_str_or_none(call.get("id")),
            name=_str_or_none(function.get("name")),
            arguments=arguments if isinstance(arguments, str) else "",
            type=_str_or_none(call.get("type")),
        )


def _message_deltas(message: Mapping[str, Any]) -> Iterator[Delta]:
    """Reasoning, text and tool calls of a streamed `delta` or a whole `message`."""
    reasoning = _reasoning(message)
    if reasoning:
        yield ReasoningDelta(reasoning)
    text = _text(message.get("content"))
    if text:
        yield TextDelta(text)
    yield from _tool_calls(message.get("tool_calls"))


def _finish(choice: Mapping[str, Any]) -> Iterator[Finish]:
    reason = choice.get("finish_reason")
    if isinstance(reason, str) and reason:
        yield Finish(reason)


def deltas_from_chunk(chunk: Mapping[str, Any]) -> list[Delta]:
    """The deltas in one `chat.completion.chunk` (choice 0 only; `n>1` is not supported)."""
    out: list[Delta] = []
    info = info_from(chunk)
    if info is not None:
        out.append(info)
    choices = chunk.get("choices")
    for choice in choices if isinstance(choices, list) else ():
        if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
            continue
        # Some servers put a whole `message` in the final chunk instead of a `delta`.
        out.extend(_message_deltas(_mapping(choice.get("delta") or choice.get("message"))))
        out.extend(_finish(choice))
    usage = usage_from(chunk)
    if usage is not None:
        out.append(usage)
    return out


def deltas_from_completion(completion: Mapping[str, Any]) -> list[Delta]:
    """The deltas equivalent to a whole `chat.completion` (the non-streaming answer)."""
    out: list[Delta] = []
    info = info_from(completion)
    if info is not None:
        out.append(info)
    choices = completion.get("choices")
    if isinstance(choices, list) and choices:
        first = next(
            (c for c in choices if isinstance(c, Mapping) and c.get("index", 0) == 0), choices[0]
        )
        choice = _mapping(first)
        out.extend(_message_deltas(_mapping(choice.get("message"))))
        out.extend(_finish(choice))
    usage = usage_from(completion)
    if usage is not None:
        out.append(usage)
    return out


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class DeltaCleaner:
    """Joins characters a server split across chunks as JSON surrogate escapes, and replaces
    lone halves, so answer and reasoning text can always be stored and printed."""

    def __init__(self) -> None:
        self._text = SurrogateJoiner()
        self._reasoning = SurrogateJoiner()

    def clean(self, delta: Delta) -> Delta | None:
        """The delta with clean text; None when all of it waits for its other half."""
        if isinstance(delta, TextDelta):
            text = self._text.feed(delta.text)
            return TextDelta(text) if text else None
        if isinstance(delta, ReasoningDelta):
            text = self._reasoning.feed(delta.text)
            return ReasoningDelta(text) if text else None
        return delta

    def clean_all(self, deltas: Iterable[Delta]) -> Iterator[Delta]:
        """`clean` each delta; text still held back goes out before a Finish."""
        for raw in deltas:
            delta = self.clean(raw)
            if delta is None:
                continue
            if isinstance(delta, Finish):
                yield from self.flush()
            yield delta

    def flush(self) -> list[Delta]:
        """Deltas for halves still waiting when the stream ends."""
        out: list[Delta] = []
        reasoning = self._reasoning.flush()
        if reasoning:
            out.append(ReasoningDelta(reasoning))
        text = self._text.flush()
        if text:
            out.append(TextDelta(text))
        return out
