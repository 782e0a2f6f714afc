"""Parse and check an OpenAI `POST /v1/chat/completions` body (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from llms_desktop.server.api_errors import bad_request
from llms_desktop.types import ChatMessage

# Fields the server reads itself; every other field goes to the upstream untouched.
_OWN_FIELDS = ("model", "messages", "stream", "stream_options")


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A checked chat completion request. `model` is the id exactly as the client sent it."""

    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = False
    include_usage: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)


def parse_completion(body: bytes) -> CompletionRequest:
    """The request in `body`; raises a 400 ApiError naming what is wrong."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise bad_request(
            "The JSON body of your request is nested too deeply to read.", code="invalid_json"
        ) from None
    except ValueError as exc:
        raise bad_request(
            f"We could not parse the JSON body of your request ({exc}). The body must be a "
            'JSON object such as {"model": ..., "messages": [...]}.',
            code="invalid_json",
        ) from None
    if not isinstance(payload, dict):
        raise bad_request("The request body must be a JSON object.", code="invalid_json")
    model = payload.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_request("You must provide a model (a non-empty string).", param="model")
    stream = payload.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false.", param="stream")
    options = payload.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", param="stream_options")
    include_usage = (options or {}).get("include_usage")
    if include_usage is not None and not isinstance(include_usage, bool):
        raise bad_request(
            "'stream_options.include_usage' must be true or false.",
            param="stream_options.include_usage",
        )
    n = payload.get("n")
    if n is not None and n != 1:
        raise bad_request("Only one choice per request is supported ('n' must be 1).", param="n")
    params = {key: value for key, value in payload.items() if key not in _OWN_FIELDS}
    return CompletionRequest(
        model=model,
        messages=_messages(payload.get("messages")),
        stream=bool(stream),
        include_usage=bool(include_usage),
        params=params,
    )


def _messages(raw: Any) -> tuple[ChatMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list of messages.", param="messages")
    return tuple(_message(item, index) for index, item in enumerate(raw))


def _message(item: Any, index: int) -> ChatMessage:
    where = f"messages[{index}]"
    if not isinstance(item, dict):
        raise bad_request(f"{where} must be an object.", param=where)
    if item.get("role") == "developer":
        # OpenAI's newer name for the system role; upstreams other than OpenAI only know "system".
        item = {**item, "role": "system"}
    for key in ("name", "tool_call_id"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise bad_request(f"{where}.{key} must be a string.", param=f"{where}.{key}")
    calls = item.get("tool_calls")
    if calls is not None and not (
        isinstance(calls, list) and all(isinstance(call, dict) for call in calls)
    ):
        raise bad_request(
            f"{where}.tool_calls must be a list of objects.", param=f"{where}.tool_calls"
        )
    try:
        return ChatMessage.from_openai(item)
    except ValueError as exc:
        raise bad_request(f"{where}: {exc}.", param=where) from None


def content_text(content: Any) -> str:
    """A message's text: the string, or the text parts of a list of content parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""
