"""Waiting in async tests for a condition another task makes true, with a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(condition: Callable[[], bool], *, within: float = 10.0) -> None:
    """Poll `condition` on the loop until it holds; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.005)
