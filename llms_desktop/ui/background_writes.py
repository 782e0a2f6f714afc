"""A window's store writes (rename, pin, delete, versions, chat settings), off the UI thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from llms_desktop.errors import StoreError
from llms_desktop.store import Store
from llms_desktop.store.writer import Writer, writer_for

T = TypeVar("T")


class BackgroundWrites(QObject):
    """Hands writes to the app's Writer (its own thread) and reports back on the UI thread.

    The result comes back through a queued Qt signal, so this works whether or not an asyncio
    loop is running at the moment (a modal dialog runs its own).

    Signals:
        failed(object): a write could not be saved (the StoreError says why).
    """

    failed = Signal(object)
    _completed = Signal(object, object)  # the future, and what to call with its result

    def __init__(self, writer: Store | Writer, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._writer = writer_for(writer)
        self._pending: set[concurrent.futures.Future[Any]] = set()
        self._completed.connect(self._on_completed)

    def write(self, write: Callable[[Store], T], then: Callable[[T], None] | None = None) -> None:
        """Queue `write`; `then(result)` runs on the UI thread once it is saved."""
        future = self._writer.submit(write)
        self._pending.add(future)
        future.add_done_callback(lambda done: self._report(done, then))

    def _report(self, future: concurrent.futures.Future[Any], then: object) -> None:
        # On the writer's thread: the signal carries the result over to the UI thread.
        with contextlib.suppress(RuntimeError):  # the window was closed meanwhile
            self._completed.emit(future, then)

    def _on_completed(self, future: concurrent.futures.Future[Any], then: object) -> None:
        self._pending.discard(future)
        error = future.exception()
        if error is not None:
            self.failed.emit(error if isinstance(error, StoreError) else StoreError(str(error)))
        elif callable(then):
            then(future.result())

    async def drain(self) -> None:
        """Until every queued write has been saved and reported (tests, closing)."""
        while self._pending:
            waiting = [asyncio.wrap_future(future) for future in self._pending]
            await asyncio.gather(*waiting, return_exceptions=True)
            await asyncio.sleep(0.001)  # let the queued reports arrive
