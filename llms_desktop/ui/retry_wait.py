"""Retry after what the provider asked (Retry-After), counting down; Esc cancels the wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtCore import QObject

from llms_desktop.ui.stream_status import StreamStatus


class RetryWait(QObject):
    """Holds a retry until the time the provider gave with its error, showing a countdown."""

    def __init__(self, status: StreamStatus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._status = status
        self._not_before = 0.0  # loop time
        self._timer: asyncio.TimerHandle | None = None

    def asked(self, seconds: float | None) -> None:
        """A request failed; the provider asked to wait `seconds` (None: no wait)."""
        loop_now = asyncio.get_running_loop().time()
        self._not_before = loop_now + seconds if seconds is not None else 0.0

    def run(self, retry: Callable[[], None]) -> None:
        """Call `retry` now, or once the wait the provider asked for is over."""
        self.cancel()
        loop = asyncio.get_running_loop()
        wait = self._not_before - loop.time()
        if wait <= 0:
            retry()
            return
        self._status.waiting_to_retry(wait)
        self._timer = loop.call_later(wait, self._on_time, retry)

    def cancel(self) -> bool:
        """Drop a waiting retry; whether there was one."""
        if self._timer is None:
            return False
        self._timer.cancel()
        self._timer = None
        self._status.clear_status()
        return True

    def _on_time(self, retry: Callable[[], None]) -> None:
        self._timer = None
        self._status.clear_status()
        retry()
