"""Tokens per second: only when the tokens arrived over a stream, never for a one-piece answer."""

from __future__ import annotations

import pytest

from llms_desktop.types import MIN_RATE_WINDOW_MS, Message


def answer(tokens: int | None, ttft_ms: float | None, duration_ms: float | None) -> Message:
    return Message(
        id="m",
        thread_id="t",
        role="assistant",
        content="x",
        completion_tokens=tokens,
        ttft_ms=ttft_ms,
        duration_ms=duration_ms,
    )


def test_a_streamed_answer_has_a_rate_over_its_generation_time() -> None:
    # 40 tokens between the first token (0.5 s) and the end (2.5 s): 20 tokens per second.
    assert answer(40, 500.0, 2500.0).tokens_per_second == pytest.approx(20.0)


@pytest.mark.parametrize(
    ("tokens", "ttft_ms", "duration_ms"),
    [
        (462, 812.0, 812.001),  # not streamed: every token in the same instant
        (5, 300.0, 300.0 + MIN_RATE_WINDOW_MS / 2),  # a burst too short to measure
        (2000, 300.0, 450.0),  # 13,333 tok/s: a buffered burst, not a generation speed
        (0, 100.0, 900.0),  # no tokens
        (12, 100.0, None),  # no timings
    ],
)
def test_no_rate_when_the_tokens_did_not_arrive_over_time(
    tokens: int, ttft_ms: float, duration_ms: float | None
) -> None:
    assert answer(tokens, ttft_ms, duration_ms).tokens_per_second is None
