"""Folding deltas into a chat.completion: tool calls by index, usage, identity."""

from __future__ import annotations

from llms_desktop.accumulate import accumulate
from llms_desktop.types import Finish, ResponseInfo, TextDelta, ToolCallDelta, Usage


def test_tool_calls_without_index_each_start_with_their_id() -> None:
    completion = accumulate(
        [
            ToolCallDelta(0, id="call_a", name="weather", arguments='{"city":'),
            ToolCallDelta(0, arguments=' "Paris"}'),
            ToolCallDelta(0, id="call_b", name="time", arguments='{"tz":'),
            ToolCallDelta(0, arguments=' "UTC"}'),
            Finish("tool_calls"),
        ]
    )
    calls = completion["choices"][0]["message"]["tool_calls"]
    assert [(c["id"], c["function"]["arguments"]) for c in calls] == [
        ("call_a", '{"city": "Paris"}'),
        ("call_b", '{"tz": "UTC"}'),
    ]


def test_text_usage_and_identity() -> None:
    completion = accumulate(
        [
            ResponseInfo(id="chatcmpl-1", model="m", created=5),
            TextDelta("Hel"),
            TextDelta("lo"),
            Finish("stop"),
            Usage(prompt_tokens=2, completion_tokens=2),
        ]
    )
    assert completion["id"] == "chatcmpl-1"
    assert completion["created"] == 5
    assert completion["choices"][0]["message"]["content"] == "Hello"
    assert completion["usage"]["total_tokens"] == 4
