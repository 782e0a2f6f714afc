"""App-wide hub: answers in flight (any window can follow one), changes to threads and providers."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QObject, Signal

from llms_desktop.types import Message, Thread
from llms_desktop.ui.reply_streamer import ReplyStreamer, SessionRunner


class StreamRegistry(QObject):
    """Owns every ReplyStreamer, so closing a window never stops another window's answer.

    Signals:
        stream_started(str, object): a thread (id) began streaming through a ReplyStreamer.
        stream_ended(str): that thread's answer ended.
        threads_changed(): a thread was created, renamed, pinned, deleted or answered in;
            every window's sidebar refreshes.
        messages_changed(str, object): a thread's messages changed other than by an answer
            (a version switched, a message deleted): every window showing it (but the one
            given, which did it) shows it again.
        providers_changed(): a provider was added, edited or removed (in any window); every
            window lists the models again.
    """

    stream_started = Signal(str, object)
    stream_ended = Signal(str)
    threads_changed = Signal()
    providers_changed = Signal()
    messages_changed = Signal(str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._by_thread: dict[str, ReplyStreamer] = {}
        self._all: set[ReplyStreamer] = set()

    def start(self, runner: SessionRunner) -> ReplyStreamer:
        """Create and start a streamer; connect to it before the loop runs again."""
        streamer = ReplyStreamer(runner, self)
        self._all.add(streamer)

        def on_started(thread: Thread, _user: Message | None, _assistant: Message) -> None:
            self._by_thread[thread.id] = streamer
            self.stream_started.emit(thread.id, streamer)

        def on_ended() -> None:
            self._all.discard(streamer)
            thread = streamer.chat_thread
            if thread is not None and self._by_thread.get(thread.id) is streamer:
                del self._by_thread[thread.id]
                self.stream_ended.emit(thread.id)
            streamer.deleteLater()

        streamer.started.connect(on_started)
        streamer.ended.connect(on_ended)
        streamer.start()
        return streamer

    def streamer_for(self, thread_id: str | None) -> ReplyStreamer | None:
        """The live answer of a thread, if one is streaming."""
        return self._by_thread.get(thread_id) if thread_id else None

    @property
    def active(self) -> list[ReplyStreamer]:
        return [streamer for streamer in self._all if streamer.running]

    async def stop_all(self) -> None:
        """Stop every answer and wait until each has saved its partial text."""
        streamers = self.active
        for streamer in streamers:
            streamer.stop()
        if streamers:
            await asyncio.gather(*(s.wait() for s in streamers), return_exceptions=True)
