"""Blocking calls (the keychain, files) in a worker thread, their results back on the UI thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

T = TypeVar("T")

# Keychain calls are few and short-lived; two workers keep one slow call from queueing others.
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="off-thread")
# Heavier work awaited from the event loop (attachments read and downscaled, plans that load
# stored attachments): plain threads of their own, not qasync's default executor, whose QThreads
# outlive the loop that made them.
_WORK = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="ui-work")


async def off_loop[R](work: Callable[..., R], *args: Any) -> R:
    """`work(*args)` on a worker thread, awaited without blocking the loop."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_WORK, functools.partial(work, *args))


class OffThread(QObject):
    """Runs a function in a worker thread and calls back on the UI thread with its result.

    The result crosses threads by a queued Qt signal, so no asyncio loop needs to be running.

    Signals:
        _done(object, object, object): internal; the future and the two callbacks.
    """

    _done = Signal(object, object, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._done.connect(self._on_done)

    def call(
        self,
        work: Callable[[], T],
        then: Callable[[T], None],
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `work()` off the UI thread; then `then(result)` or `failed(error)` on it."""
        future = _POOL.submit(work)
        future.add_done_callback(lambda done: self._report(done, then, failed))

    def _report(self, future: concurrent.futures.Future[Any], then: object, failed: object) -> None:
        with contextlib.suppress(RuntimeError):  # the page was closed meanwhile
            self._done.emit(future, then, failed)

    def _on_done(self, future: concurrent.futures.Future[Any], then: Any, failed: Any) -> None:
        error = future.exception()
        if error is None:
            then(future.result())
        elif failed is not None:
            failed(error)
        else:
            raise error
