"""history_messages replays tool calls and results the way chat APIs accept them."""

from __future__ import annotations

from typing import Any

from llms_desktop.history import NO_RESULT, history_messages
from llms_desktop.types import ChatMessage, Message


def call(call_id: str, name: str = "f", arguments: str = "{}") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def msg(role: Any, content: str = "", status: Any = "complete", **kw: Any) -> Message:
    return Message(
        id=f"{role}{content}{kw}", thread_id="t", role=role, content=content, status=status, **kw
    )


def test_calls_and_their_results_are_replayed_in_order() -> None:
    path = [
        msg("user", "weather?"),
        msg("assistant", "", tool_calls=(call("a"), call("b", "g"))),
        msg("tool", "sunny", tool_call_id="a", name="f"),
        msg("tool", "warm", tool_call_id="b", name="g"),
        msg("assistant", "Sunny and warm."),
    ]
    assert history_messages(path) == [
        ChatMessage("user", "weather?"),
        ChatMessage("assistant", None, tool_calls=(call("a"), call("b", "g"))),
        ChatMessage("tool", "sunny", tool_call_id="a"),
        ChatMessage("tool", "warm", tool_call_id="b"),
        ChatMessage("assistant", "Sunny and warm."),
    ]


def test_a_call_without_a_result_gets_one_and_an_orphan_result_is_dropped() -> None:
    path = [
        msg("user", "q"),
        msg("assistant", "Let me look.", tool_calls=(call("a"), call("b"))),
        msg("tool", "found", tool_call_id="a"),
        msg("tool", "stray", tool_call_id="zzz"),
        msg("user", "never mind"),
    ]
    assert history_messages(path) == [
        ChatMessage("user", "q"),
        ChatMessage("assistant", "Let me look.", tool_calls=(call("a"), call("b"))),
        ChatMessage("tool", "found", tool_call_id="a"),
        ChatMessage("tool", NO_RESULT, tool_call_id="b"),
        ChatMessage("user", "never mind"),
    ]


def test_a_stopped_answers_half_calls_are_not_replayed_nor_their_results() -> None:
    path = [
        msg("user", "q"),
        msg("assistant", "Partial", "cancelled", tool_calls=(call("a", arguments='{"x'),)),
        msg("tool", "result", tool_call_id="a"),
        msg("user", "again"),
    ]
    assert history_messages(path) == [
        ChatMessage("user", "q"),
        ChatMessage("assistant", "Partial"),
        ChatMessage("user", "again"),
    ]


def test_text_before_a_tool_asking_answer_merges_into_it() -> None:
    path = [
        msg("user", "q"),
        msg("assistant", "First try"),
        msg("assistant", "", tool_calls=(call("a"),)),
        msg("tool", "r", tool_call_id="a"),
    ]
    assert history_messages(path) == [
        ChatMessage("user", "q"),
        ChatMessage("assistant", "First try", tool_calls=(call("a"),)),
        ChatMessage("tool", "r", tool_call_id="a"),
    ]
