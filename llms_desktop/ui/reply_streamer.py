"""The bridge: runs one chat session as a task on the qasync loop and re-emits it as Qt signals."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from llms_desktop.accumulate import Accumulator
from llms_desktop.errors import LlmsDesktopError
from llms_desktop.types import Delta, Message, ReasoningDelta, TextDelta, Thread

# Runs the session with this object as its listener; returns the final message.
SessionRunner = Callable[["ReplyStreamer"], Coroutine[Any, Any, Message]]


class ReplyStreamer(QObject):
    """One answer in flight. Widgets connect to its signals; only this class touches asyncio.

    It keeps what has streamed so far, so a second window that opens the same thread mid-answer
    can catch up and follow along.

    Signals:
        started(object, object, object): the thread, the saved user message (None on a retry),
            and the assistant message (status "streaming").
        delta_received(object): one Delta from the provider.
        finished(object): the final assistant Message (status "complete").
        cancelled(object): the final Message with its partial text (status "cancelled"), or
            None when stopped before it was created.
        failed(object, object): the final Message (status "error") or None, and the exception.
        ended(): after any of finished, cancelled or failed.
        answer_finished(object): one answer ended (with tools, each round's; then `started`
            again for the next round, with no user message).
        tool_started(object): an approved tool call (a PendingCall) starts running.
        tool_finished(object): a tool's result was saved (a Message, role "tool").
    """

    started = Signal(object, object, object)
    delta_received = Signal(object)
    finished = Signal(object)
    cancelled = Signal(object)
    failed = Signal(object, object)
    ended = Signal()
    answer_finished = Signal(object)
    tool_started = Signal(object)
    tool_finished = Signal(object)

    def __init__(self, runner: SessionRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._runner = runner
        self._task: asyncio.Task[None] | None = None
        self.chat_thread: Thread | None = None
        self.user_message: Message | None = None
        self.assistant_message: Message | None = None
        self.final_message: Message | None = None
        self.accumulated = Accumulator()
        self.first_delta_at: float | None = None
        self.started_at: float | None = None
        self.delta_count = 0
        self._reported = False
        # An answer is streaming now (with tools, none is while a tool runs between rounds).
        self.answer_open = False

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Schedule the session on the running event loop."""
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        self._task = loop.create_task(self._run())
        self._task.add_done_callback(self._on_task_done)

    def stop(self) -> None:
        """Cancel the answer: the connection closes at once and the partial text is kept."""
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def wait(self) -> None:
        """Until the session has ended (for shutdown and tests)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        try:
            message = await self._runner(self)
        except asyncio.CancelledError:
            self.cancelled.emit(self.final_message)
        except LlmsDesktopError as exc:
            self.failed.emit(self.final_message, exc)
        except Exception as exc:  # a bug: shown with its traceback (exc.__traceback__)
            self.failed.emit(self.final_message, exc)
        else:
            self.final_message = message
            self.finished.emit(message)
        self._reported = True

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        # A task cancelled before its first step never enters _run: report it here.
        if not self._reported:
            self._reported = True
            self.cancelled.emit(self.final_message)
        self.ended.emit()

    # SessionListener ----------------------------------------------------------------------
    def on_started(self, thread: Thread, user_message: Message | None, assistant: Message) -> None:
        self.chat_thread = thread
        if user_message is not None:
            self.user_message = user_message
        self.assistant_message = assistant
        self.answer_open = True
        self.accumulated = Accumulator()  # a window catching up shows this round's answer
        # A continued answer starts with its earlier text: a window catching up shows it too.
        if assistant.reasoning:
            self.accumulated.add(ReasoningDelta(assistant.reasoning))
        if assistant.content:
            self.accumulated.add(TextDelta(assistant.content))
        self.started.emit(thread, user_message, assistant)

    def on_delta(self, delta: Delta) -> None:
        if self.first_delta_at is None:
            self.first_delta_at = asyncio.get_running_loop().time()
        self.delta_count += 1
        self.accumulated.add(delta)
        self.delta_received.emit(delta)

    def on_finished(self, message: Message) -> None:
        self.final_message = message
        self.answer_open = False
        self.answer_finished.emit(message)

    # ToolListener (the tool loop's rounds) ------------------------------------------------
    def on_tool_started(self, call: object) -> None:
        self.tool_started.emit(call)

    def on_tool_finished(self, result: Message) -> None:
        self.tool_finished.emit(result)
