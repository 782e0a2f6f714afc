"""Memory while browsing: RSS as the real window opens 50 threads of 200 messages in turn.

A thread not shown must not keep memory: the window has one chat document, replaced on each
open, and every cache the renderer keeps has a bound. Opens each thread once, then all of
them again, and prints the process RSS and the number of live Python objects after 1, 10,
20 and 50 opens and after the second pass. Floor: RSS after 100 opens within 10% of RSS
after 20.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_memory.py [--threads 50]
        [--messages 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qasync
from PySide6.QtWidgets import QApplication

from llms_desktop.app import AppServices
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.ui.main_window import MainWindow
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from llms_desktop.ui.stream_registry import StreamRegistry

ANSWERS = [
    "Here is how it works.\n\n1. Parse the input\n2. Render the **result**\n3. Check it\n\n"
    "The first step reads the file line by line and keeps a running count of `tokens`.",
    "A small table:\n\n| name | size | kind |\n|:--|--:|:--|\n| alpha | 12 | file |\n"
    "| beta | 340 | folder |\n| gamma | 7 | link |\n\nAnd a closing remark.",
    "Code:\n\n```python\ndef count(lines):\n    total = 0\n    for line in lines:\n"
    "        total += len(line.split())  # words\n    return total\n```\n\nThat is all.",
    "> A quote about memory.\n\nSome prose that goes on for a while, with [a link]"
    "(https://example.com) and *emphasis*, long enough to wrap in a narrow window.",
]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def populate(store: Store, threads: int, messages: int) -> list[str]:
    ids = []
    for number in range(threads):
        thread = store.create_thread(f"Thread {number}", model="bench-model")
        ids.append(thread.id)
        for position in range(messages):
            if position % 2 == 0:
                store.add_message(thread.id, "user", f"Question {position} in thread {number}?")
            else:
                answer = ANSWERS[(number + position) % len(ANSWERS)]
                store.add_message(thread.id, "assistant", f"{answer}\n\n({number}/{position})")
    return ids


async def browse(
    window: MainWindow, ids: list[str], marks: set[int]
) -> list[tuple[int, float, int]]:
    app = QApplication.instance()
    assert app is not None
    results = []
    for count, thread_id in enumerate(ids, start=1):
        window.controller.open_thread(thread_id)
        app.processEvents()
        await asyncio.sleep(0)
        if count in marks:
            gc.collect()
            app.processEvents()
            results.append((count, rss_mb(), len(gc.get_objects())))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        store = Store.open(data)
        started = time.perf_counter()
        ids = populate(store, args.threads, args.messages)
        print(
            f"{args.threads} threads x {args.messages} messages written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        backend = QSettingsBackend(data)
        services = AppServices(store, Settings(backend), StreamRegistry(), ProviderSetup(data))
        window = MainWindow(services)
        window.resize(1000, 750)
        window.show()
        app.processEvents()
        before = rss_mb()
        total = len(ids)
        marks = {1, 10, 20, total, 2 * total}
        started = time.perf_counter()
        results = loop.run_until_complete(browse(window, ids + ids, marks))
        seconds = time.perf_counter() - started
        print(f"RSS with the window open, before any thread: {before:.0f} MB")
        print(f"{'threads opened':>15} {'RSS':>9} {'Python objects':>15}")
        for count, rss, objects in results:
            print(f"{count:>15} {rss:>6.0f} MB {objects:>15,}")
        by_count = {count: rss for count, rss, _ in results}
        growth = by_count[2 * total] / by_count[min(20, total)]
        verdict = "ok" if growth <= 1.10 else "GROWING"
        print(
            f"RSS after {2 * total} opens vs after {min(20, total)}: {growth:.2f}x [{verdict}]; "
            f"{seconds / (2 * total) * 1000:.0f} ms per open (gc.collect at the marks included)"
        )
        loop.run_until_complete(services.aclose())
        window.close()
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
