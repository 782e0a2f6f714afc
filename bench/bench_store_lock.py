"""Worst event-loop stall while another process holds the database's write lock.

    .venv/bin/python bench/bench_store_lock.py [--hold 3] [--runs 3]

One answer streams (40 deltas, 50 ms apart) through ChatSession on an asyncio loop, as in the
window; after the first deltas another process takes the write lock (BEGIN IMMEDIATE) and
holds it for --hold seconds, so the answer's checkpoints and its final save meet the lock.
A 5 ms ticker on the same loop records the longest gap between ticks: how long the window
would have frozen. "before" writes on the loop's thread (a plain Store, as wave 1 did);
"after" writes through a StoreWriter (its own thread and connection).
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from llms_desktop import turns
from llms_desktop.session import ChatSession
from llms_desktop.store import Store
from llms_desktop.store.writer import StoreWriter, Writer
from llms_desktop.types import ChatRequest, Delta, Finish, ModelInfo, TextDelta

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


class PacedProvider:
    """An in-process provider: `count` text deltas `gap` seconds apart, then stop."""

    id = "bench"

    def __init__(self, count: int = 40, gap: float = 0.05) -> None:
        self.count = count
        self.gap = gap
        self.under_way = asyncio.Event()  # set after the first few deltas

    async def stream(self, request: ChatRequest) -> AsyncIterator[Delta]:
        for index in range(self.count):
            await asyncio.sleep(self.gap)
            if index == 5:
                self.under_way.set()
            yield TextDelta(f"word{index} ")
        yield Finish("stop")

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo("bench")]

    async def aclose(self) -> None:
        pass


async def worst_stall(store: Store, writes: Store | Writer, hold: float) -> float:
    """The worst gap between ticks in ms, while the answer streams, ends and is saved."""
    provider = PacedProvider()
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            worst = max(worst, now - last)
            last = now

    turn = turns.plan_send(store, thread_id=None, text="hi", model="bench", provider_id="bench")
    tick = asyncio.create_task(ticker())
    answer = asyncio.create_task(ChatSession(provider, writes).run(turn))
    await provider.under_way.wait()
    holder = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOLD_LOCK, str(store.path), str(hold), stdout=subprocess.PIPE
    )
    assert holder.stdout is not None
    await holder.stdout.readline()  # "locked"
    message = await answer
    await holder.wait()
    saved = store.get_message(message.id)
    if saved is None or saved.status != "complete":
        raise SystemExit(f"the answer was not saved: {saved}")
    running = False
    await tick
    return worst * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold", type=float, default=3.0, help="seconds the lock is held")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"write lock held {args.hold:.1f} s by another process while an answer streams")
    print(f"{'':8} {'worst stall (ms), each run':>34}")
    for label in ("before", "after"):
        stalls = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder)) as store:
                if label == "before":
                    stall = asyncio.run(worst_stall(store, store, args.hold))
                else:
                    writer = StoreWriter.beside(store)
                    try:
                        stall = asyncio.run(worst_stall(store, writer, args.hold))
                    finally:
                        writer.close()
            stalls.append(stall)
        shown = "  ".join(f"{stall:7.1f}" for stall in stalls)
        print(f"{label:8} {shown:>34}   (worst {max(stalls):.1f} ms)")


if __name__ == "__main__":
    main()
