"""Thread database benchmark: 5,000 threads and 100,000 messages; prints timings against floors.

    .venv/bin/python bench/bench_store.py [--threads 5000] [--messages 100000] [--keep DIR]

Each number is the median of repeated runs on a warm database; the first (cold) run is shown
too. The text is random words with Zipf-like frequencies, so common words are in most messages.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from llms_desktop.store import Store
from llms_desktop.store.rows import MESSAGE_COLUMNS, THREAD_COLUMNS

BIG_THREAD = 2000
FLOORS_MS = {
    "open a 2,000-message thread": 50.0,
    "FTS search": 20.0,
    "list newest 100 threads": 10.0,
}
SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "ze", "qu", "ar", "en", "is", "on"]


def vocabulary(size: int = 20000) -> list[str]:
    """Made-up words, most common first."""
    rng = random.Random(1)
    words = {"".join(rng.choices(SYLLABLES, k=rng.randint(1, 4))) for _ in range(size * 2)}
    ordered = sorted(words)[:size]
    rng.shuffle(ordered)
    return ordered


class Writer:
    """Random sentences whose word frequencies fall off like natural language (Zipf)."""

    def __init__(self, words: list[str], seed: int = 7) -> None:
        self.words = words
        self.cumulative = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(words))))
        self.rng = random.Random(seed)

    def text(self, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cumulative, k=count)) + "."


def generate(store: Store, threads: int, messages: int, writer: Writer) -> str:
    """Fill the store through its own schema and triggers; returns the big thread's id."""
    per_thread = (messages - BIG_THREAD) // (threads - 1)
    now = time.time() - threads * 60
    big_id = ""
    placeholders = ", ".join("?" * 18)
    with store.transaction("generate") as db:
        for t in range(threads):
            thread_id = f"{t:08d}" + "0" * 24
            count = BIG_THREAD if t == threads // 2 else per_thread
            if count == BIG_THREAD:
                big_id = thread_id
            created = now + t * 60
            db.execute(
                f"INSERT INTO threads ({THREAD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    thread_id,
                    writer.text(3, 8),
                    created,
                    created + 30,
                    "m",
                    "openai",
                    None,
                    "{}",
                    0,
                    0,
                ),
            )
            rows = []
            for p in range(count):
                user = p % 2 == 0
                content = writer.text(5, 40) if user else writer.text(40, 250)
                role = "user" if user else "assistant"
                message_id = f"{t:08d}{p:08d}" + "0" * 16
                identity = (message_id, thread_id, role, content, "complete", p)
                details = (None, None, None, None, "m", "openai", 10, 100, 0, 200.0, 2000.0)
                rows.append((*identity, *details, created + p))
            db.executemany(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ({placeholders})", rows
            )
    return big_id


def measure(function: Callable[[], object], runs: int = 15) -> tuple[float, float]:
    """(first, median of the rest) in milliseconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append((time.perf_counter() - started) * 1000)
    return times[0], statistics.median(times[1:])


def report(name: str, first: float, median: float) -> None:
    floor = next((ms for key, ms in FLOORS_MS.items() if name.startswith(key)), None)
    verdict = ""
    if floor is not None:
        verdict = f"  {'ok' if median <= floor else 'OVER'} (floor {floor:g} ms)"
    print(f"{name:<48} median {median:8.2f} ms   first {first:8.2f} ms{verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=5000)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build the database in DIR and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="llms-bench-"))
    words = vocabulary()

    started = time.perf_counter()
    with Store.open(folder) as store:
        big_id = generate(store, args.threads, args.messages, Writer(words))
    size = (folder / "llms-desktop.db").stat().st_size / 1e6
    print(
        f"generated {args.threads} threads, {args.messages} messages in "
        f"{time.perf_counter() - started:.1f} s; database {size:.0f} MB at {folder}\n"
    )

    report("Store.open (existing database)", *measure(lambda: Store.open(folder).close(), 5))
    with Store.open(folder) as store:
        assert len(store.messages(big_id)) == BIG_THREAD
        report("open a 2,000-message thread", *measure(lambda: store.messages(big_id)))
        common, middling, rare = words[0], words[30], words[3000]
        queries = [common, middling, rare, f"{common} {middling}", f"{middling} {rare}"]
        queries.append(f"{rare[:4]}*")  # a prefix the user asked for
        for query in queries:
            hits = len(store.search(query))
            label = f"FTS search {query!r} ({hits} hits)"
            report(label, *measure(functools.partial(store.search, query)))
        # What the sidebar types as the user types: every word a prefix (see thread_list.py).
        for prefix in (common[:2], middling[:3], rare[:4]):
            query = f"{prefix}*"
            hits = len(store.search(query, limit=100))
            # Runs in a worker thread (the UI keeps going), so the UI floor does not apply.
            label = f"sidebar prefix search {query!r} ({hits} hits)"
            report(label, *measure(functools.partial(store.search, query, 100)))
        report("list newest 100 threads", *measure(lambda: store.list_threads(limit=100)))
        for thread_id in [t.id for t in store.list_threads(limit=20, offset=2000)]:
            store.set_pinned(thread_id, True)

        def sidebar_first_page() -> None:
            store.list_threads(limit=-1, pinned=True)
            store.list_threads(limit=100, pinned=False)

        report("sidebar's first page: 20 pinned + newest 100", *measure(sidebar_first_page))

        thread = store.create_thread("bench")
        answer = store.add_message(thread.id, "assistant", "", status="streaming")
        base = " ".join(words[:500])
        content = ""
        tick = itertools.count()
        for size_kb in (1, 16, 64):
            content = (base * (size_kb * 1024 // len(base) + 1))[: size_kb * 1024]

            def checkpoint(text: str = content) -> None:
                # A little more text each time, as while streaming.
                store.update_message_content(answer.id, f"{text} {next(tick)}")

            report(f"checkpoint write, {size_kb} KB answer so far", *measure(checkpoint, 31))
        report(
            "final save (text, status, index), 64 KB",
            *measure(lambda: store.finish_message(answer.id, "complete", content=content), 7),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
