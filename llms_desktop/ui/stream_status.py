"""Status-bar readout: typing indicator, live tokens per second, then the answer's timings."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QWidget

from llms_desktop.types import Message

TICK_MS = 100
DOTS = ("●○○", "○●○", "○○●", "○●○")


class StreamStatus(QLabel):
    """Shows what the current answer is doing; updates itself on a timer while it streams."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("streamStatus")
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._on_tick)
        self._started = 0.0
        self._first_token: float | None = None
        self._tokens = 0
        self._tick = 0
        self._model = ""
        self._retry_at: float | None = None  # counting down to a retry the provider asked for

    def waiting_to_retry(self, seconds: float) -> None:
        """Counting down to a retry, as long as the provider asked (Retry-After)."""
        self._retry_at = time.monotonic() + seconds
        self._timer.start()
        self._render()

    def waiting(self, model: str) -> None:
        """Request sent; nothing back yet."""
        self._retry_at = None
        self._model = model
        self._started = time.monotonic()
        self._first_token = None
        self._tokens = 0
        self._tick = 0
        self._timer.start()
        self._render()

    def resume(
        self, model: str, started_ago: float, first_token_ago: float | None, tokens: int
    ) -> None:
        """Follow an answer that was already streaming (another window opened its thread)."""
        now = time.monotonic()
        self.waiting(model)
        self._started = now - started_ago
        self._first_token = None if first_token_ago is None else now - first_token_ago
        self._tokens = tokens
        self._render()

    def token(self) -> None:
        """One more delta arrived (about one token)."""
        if self._first_token is None:
            self._first_token = time.monotonic()
        self._tokens += 1

    def finished(self, message: Message) -> None:
        """The answer ended: its final figures."""
        self._timer.stop()
        parts: list[str] = []
        if message.status == "cancelled":
            parts.append("Stopped")
        elif message.status == "error":
            parts.append("Failed")
        if message.ttft_ms is not None:
            parts.append(f"first token {message.ttft_ms / 1000:.2f} s")
        if message.completion_tokens is not None:
            estimate = " (est.)" if message.tokens_estimated else ""
            parts.append(f"{message.completion_tokens:,} tokens{estimate}")
        rate = message.tokens_per_second
        if rate is not None:
            parts.append(f"{rate:.1f} tok/s")
        if message.duration_ms is not None:
            parts.append(f"{message.duration_ms / 1000:.2f} s")
        self.setText(" · ".join(parts))

    def clear_status(self, text: str = "") -> None:
        self._retry_at = None
        self._timer.stop()
        self.setText(text)

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def _on_tick(self) -> None:
        self._tick += 1
        self._render()

    def _render(self) -> None:
        now = time.monotonic()
        if self._retry_at is not None:
            left = max(0.0, self._retry_at - now)
            self.setText(f"Retrying in {left:.0f} s, as the provider asked (Esc cancels)…")
            return
        elapsed = now - self._started
        if self._first_token is None:
            dots = DOTS[self._tick % len(DOTS)]
            self.setText(f"{dots}  {self._model} is thinking… {elapsed:.1f} s")
            return
        generating = now - self._first_token
        rate = self._tokens / generating if generating > 0.05 else 0.0
        self.setText(f"Streaming · {rate:.1f} tok/s · {self._tokens:,} tokens · {elapsed:.1f} s")
