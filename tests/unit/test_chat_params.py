"""Which request parameters a saved chat keeps: sampling settings of valid types only."""

from __future__ import annotations

from typing import Any

import pytest

from llms_desktop.chat_params import reusable_params


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("temperature", 0.7),
        ("temperature", 0),
        ("top_p", 1),
        ("max_tokens", 1),
        ("max_completion_tokens", 4096),
        ("presence_penalty", -0.5),
        ("frequency_penalty", 1.5),
        ("seed", -7),
        ("stop", "END"),
        ("stop", ["a", "b"]),
        ("top_k", 40),
        ("min_p", 0.05),
        ("repetition_penalty", 1.1),
        ("reasoning_effort", "low"),
    ],
)
def test_sampling_settings_are_kept(key: str, value: Any) -> None:
    assert reusable_params({key: value}) == {key: value}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("temperature", "hot"),
        ("temperature", float("nan")),
        ("temperature", float("inf")),
        ("temperature", -1),
        ("temperature", True),
        ("top_p", 1.5),
        ("max_tokens", 0),
        ("max_tokens", 2.5),
        ("max_tokens", "100"),
        ("seed", 2**70),
        ("stop", ""),
        ("stop", ["a", 1]),
        ("reasoning_effort", " "),
        ("tools", [{"type": "function", "function": {"name": "f"}}]),
        ("tool_choice", "auto"),
        ("parallel_tool_calls", True),
        ("response_format", {"type": "json_object"}),
        ("stream_options", {"include_usage": True}),
        ("n", 1),
        ("user", "someone"),
        ("logprobs", True),
        ("metadata", {"a": "b"}),
    ],
)
def test_everything_else_is_left_out(key: str, value: Any) -> None:
    assert reusable_params({key: value, "top_p": 0.5}) == {"top_p": 0.5}
