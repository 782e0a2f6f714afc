"""Replies shaped like AI Refinery's `/v1/chat/completions` and `/v1/models`, for the loopback."""

from __future__ import annotations

import json
from typing import Any

from tests.support.loopback import Pause, Reply, chunk, json_reply

USAGE = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
PING = b": ping\n\n"


def frame(payload: dict[str, Any] | str) -> bytes:
    """One `data:` frame (dicts become JSON)."""
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def event_stream(*pieces: bytes | Pause | dict[str, Any]) -> Reply:
    """An event stream of frames (dicts), raw bytes (comments, `[DONE]`) and pauses."""
    body: list[bytes | Pause] = [frame(p) if isinstance(p, dict) else p for p in pieces]
    return Reply(headers=[("Content-Type", "text/event-stream")], pieces=body)


def answer(
    words: list[str],
    *,
    finish: str | None = "stop",
    usage: dict[str, Any] | None = USAGE,
    ping_after: int | None = None,
    done: bool = True,
) -> Reply:
    """A streamed answer as AI Refinery sends it: a role chunk, words, finish, usage, [DONE].

    `ping_after=n` puts a `: ping` keep-alive comment after the n-th word.
    """
    first = chunk("", model="air-test")
    first["choices"][0]["delta"]["role"] = "assistant"
    pieces: list[bytes | Pause | dict[str, Any]] = [first]
    for index, word in enumerate(words):
        if ping_after is not None and index == ping_after:
            pieces.append(PING)
        pieces.append(chunk(word, model="air-test"))
    if finish is not None:
        pieces.append(chunk(finish=finish, model="air-test"))
    if usage is not None:
        pieces.append(chunk(usage=usage, no_choices=True, model="air-test"))
    if done:
        pieces.append(b"data: [DONE]\n\n")
    return event_stream(*pieces)


def endless(count: int = 300, pause: float = 0.1) -> Reply:
    """A slow stream of `count` words a `pause` apart (30 s by default), never finishing soon."""
    pieces: list[bytes | Pause | dict[str, Any]] = []
    for index in range(count):
        pieces += [chunk(f"w{index} ", model="air-test"), Pause(pause)]
    return event_stream(*pieces)


def completion(
    content: str | None,
    *,
    reasoning: str | None = None,
    finish: str = "stop",
    usage: dict[str, Any] | None = USAGE,
    tool_calls: list[dict[str, Any]] | None = None,
) -> Reply:
    """A non-streamed `chat.completion` JSON reply."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    payload: dict[str, Any] = {
        "id": "chatcmpl-air",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "air-test",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    }
    if usage is not None:
        payload["usage"] = usage
    return json_reply(payload)


def models(*ids: str) -> Reply:
    """The `/v1/models` list in the vLLM-style shape the SDK's `Model` type requires."""
    return json_reply(
        {
            "object": "list",
            "data": [
                {
                    "id": model_id,
                    "object": "model",
                    "created": 1700000000,
                    "owned_by": "AIRefinery",
                    "root": model_id,
                    "parent": None,
                    "permission": [
                        {
                            "id": f"modelperm-{index}",
                            "object": "model_permission",
                            "created": 1700000000,
                            "allow_create_engine": False,
                            "allow_sampling": True,
                            "allow_logprobs": True,
                            "allow_search_indices": False,
                            "allow_view": True,
                            "allow_fine_tuning": False,
                            "organization": "*",
                            "group": None,
                            "is_blocking": False,
                        }
                    ],
                }
                for index, model_id in enumerate(ids)
            ],
        }
    )


def error(status: int, message: str, *, headers: list[tuple[str, str]] | None = None) -> Reply:
    """An HTTP error with an OpenAI-style JSON body (which the SDK never reads)."""
    reply = json_reply({"error": {"message": message, "code": status}}, status=status)
    reply.headers.extend(headers or [])
    return reply
