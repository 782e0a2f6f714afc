"""Store writes off the event loop: one writer thread with its own connection, in order.

The window and the server share their thread with an asyncio loop; a write that waits for a
lock another process holds (a big `threads import`, `serve --store`) would freeze them for up to
the busy timeout. A `StoreWriter` runs every write on its own thread, over its own connection,
one after another, so the loop only awaits. Reads stay on the caller's connection: in WAL mode
they never wait for a writer. `InlineWriter` has the same shape and writes at once, for
commands that have no loop to keep free.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from llms_desktop.store.store import Store

T = TypeVar("T")


class Writer(Protocol):
    """Runs writes against a store, in the order they were given."""

    async def run(self, write: Callable[[Store], T]) -> T:
        """Run `write` and wait for it; its exception is raised here."""
        ...

    def submit(self, write: Callable[[Store], T]) -> concurrent.futures.Future[T]:
        """Queue `write` without waiting; the future holds its result or exception."""
        ...


class StoreWriter:
    """One thread and one connection that carry out every write, first come first served."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="store-writer"
        )

    @classmethod
    def beside(cls, store: Store) -> StoreWriter:
        """A writer with a second connection to `store`'s database (the caller keeps reading
        on `store`'s own)."""
        from llms_desktop.store.store import Store

        return cls(Store.open(store.path.parent, busy_timeout=store.busy_timeout))

    async def run(self, write: Callable[[Store], T]) -> T:
        return await asyncio.wrap_future(self.submit(write))

    def submit(self, write: Callable[[Store], T]) -> concurrent.futures.Future[T]:
        return self._executor.submit(write, self.store)

    def close(self) -> None:
        """Finish the queued writes, then close the connection."""
        self._executor.shutdown(wait=True)
        self.store.close()


class InlineWriter:
    """Writes at once on the caller's thread (the CLI: nothing else shares its loop)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def run(self, write: Callable[[Store], T]) -> T:
        return write(self.store)

    def submit(self, write: Callable[[Store], T]) -> concurrent.futures.Future[T]:
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        try:
            future.set_result(write(self.store))
        except Exception as exc:
            future.set_exception(exc)
        return future


def writer_for(store: Store | Writer) -> Writer:
    """A Writer as given, or an InlineWriter over a plain Store."""
    from llms_desktop.store.store import Store

    return InlineWriter(store) if isinstance(store, Store) else store
