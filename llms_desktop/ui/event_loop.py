"""asyncio inside Qt: the qasync loop, with the async-generator hooks qasync leaves out."""

from __future__ import annotations

import asyncio
import contextlib
import sys


def install_asyncgen_hooks() -> None:
    """Let the running loop finalize async generators left early (httpx streams).

    qasync's loop never installs asyncio's async-generator hooks, so an `async for` over an
    httpx stream left early printed "async generator ignored GeneratorExit" / "no running
    event loop". Installing the loop's own hooks once it runs fixes it (see DESIGN.md).
    """
    loop = asyncio.get_running_loop()
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
        finalizer=loop._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
    )


async def cancel_leftover_tasks() -> None:
    """Cancel the tasks still running at quit (a model list, a look for local servers) and
    let them unwind while the loop still runs.

    Left to `asyncio.run`, they are cancelled after the qasync loop stopped running, and
    anyio's cancel scopes inside httpx then raise "no running event loop": a screen of
    tracebacks when the app is quit within a second of starting.
    """
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        # return_exceptions: each task's outcome is collected, none is logged as unretrieved.
        # A task that ignores cancellation for 2 s is left to asyncio.run.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*leftovers, return_exceptions=True), 2.0)
