"""The request parameters a saved chat keeps and sends again: sampling settings, well typed (pure).

A request through the API server may carry anything: its own `tools`, `tool_choice`,
`response_format`, `stream_options`, a `user` id, or a value of the wrong type. A chat keeps
only what shapes the next answer the same way, so continuing it never sends the client's
stale tools (which would also hide the MCP tools of `chat --tools`) nor a value the provider
refuses (`"temperature": "hot"`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

_INT64 = 2**63


def _number(low: float | None = None, high: float | None = None) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (low is None or value >= low)
            and (high is None or value <= high)
        )

    return check


def _whole(low: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value < _INT64

    return check


def _stop(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and all(isinstance(item, str) and item for item in value)


def _word(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


REUSABLE: Mapping[str, Callable[[Any], bool]] = {
    "temperature": _number(0),
    "top_p": _number(0, 1),
    "top_k": _whole(0),
    "min_p": _number(0, 1),
    "max_tokens": _whole(1),
    "max_completion_tokens": _whole(1),
    "presence_penalty": _number(),
    "frequency_penalty": _number(),
    "repetition_penalty": _number(0),
    "seed": _whole(-_INT64),
    "stop": _stop,
    "reasoning_effort": _word,
}


def reusable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of `params` a chat keeps: the sampling settings in REUSABLE whose value
    has the right type and range; anything else is left out."""
    return {key: value for key, value in params.items() if key in REUSABLE and REUSABLE[key](value)}
