"""asyncio inside Qt: the qasync loop, with the async-generator hooks qasync leaves out."""

from __future__ import annotations

import asyncio
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
