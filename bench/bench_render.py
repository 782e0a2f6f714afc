"""Streaming render cost: prose, one long code fence, one long table and huge lines.

Streams answers at 2,000 tokens/s into the real ChatView in a visible (offscreen) window and
prints, per run: the worst and p99 event-loop stall (gap between ticks of a 2 ms heartbeat
timer), CPU time per token and the process RSS.

- prose: mixed markdown (paragraphs, lists, small tables, small code blocks, quotes);
- code: one ```python fence of 5,000 lines (~10 tokens a line: 50k tokens);
- table: one table of 2,000 rows (~25 tokens a row: 50k tokens);
each at 1k and 50k tokens, with CPU per token at 50k vs 1k. Floors: worst stall <= 16 ms at
50k tokens and CPU per token at 50k <= 1.2x that at 1k, for each.

- long line: one line of 100k, 300k and 1M characters, with and without spaces, arriving as
one delta (a non-streamed answer) and as 4 KB deltas (200 a second), then the thread is
re-opened: the time until it is all on screen, and the worst stall.

A naive baseline (setMarkdown of the whole answer on every delta; --baseline) shows why.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_render.py [--sizes 1000,50000]
        [--kinds prose,code,table] [--long 100000,300000,1000000] [--baseline]
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import QElapsedTimer, QEventLoop, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTextBrowser

from llms_desktop.types import Message, TextDelta
from llms_desktop.ui.chat_view import ChatView

RATE = 2000  # tokens per second
FEED_MS = 5
LONG_DELTA = 4096  # characters per delta when a long line streams
LONG_RATE = 200  # such deltas per second

SECTIONS = [
    "## Overview\n\nStreaming keeps the interface responsive while a model is still writing. "
    "Each token arrives as a small delta, and the view should only pay for what changed. "
    "This paragraph is ordinary prose with *emphasis*, **strong text** and `inline code`.\n\n",
    "- first point about latency and throughput\n- second point with a [link](https://example.com)"
    "\n- third point that wraps onto another line when the window is narrow enough\n\n",
    "1. Parse the event stream\n2. Decode each chunk\n3. Render the tail\n\n",
    "| Tokens | Worst stall | p99 |\n|-------:|------------:|----:|\n| 1k | 4 ms | 3 ms |\n"
    "| 10k | 5 ms | 3 ms |\n| 50k | 6 ms | 4 ms |\n\n",
    "```python\ndef render_tail(document, text):\n    chunks = splitter.feed(text)\n"
    "    for chunk in chunks:\n        document.append(render(chunk))\n"
    "    return document.replace_tail(render(splitter.tail))\n```\n\n",
    "> A quoted remark about performance budgets and frame times, kept short.\n\n",
]


def words_of(text: str) -> list[str]:
    """Word-sized tokens (each ends at a space or a line end)."""
    tokens: list[str] = []
    word = ""
    for char in text:
        word += char
        if char in " \n":
            tokens.append(word)
            word = ""
    if word:
        tokens.append(word)
    return tokens


def prose_tokens(count: int) -> list[str]:
    """`count` word-sized tokens of mixed markdown."""
    tokens: list[str] = []
    index = 0
    while len(tokens) < count:
        tokens.extend(words_of(SECTIONS[index % len(SECTIONS)]))
        index += 1
    return tokens[:count]


def code_tokens(count: int, lines: int = 5000) -> list[str]:
    """The first `count` tokens of an answer that is one Python fence of `lines` lines
    (about 10 tokens a line: 5,000 lines are 50k tokens)."""
    body = []
    for n in range(lines // 10 + 1):
        body.append(
            f"def handler_{n}(request, *, retries=3, log=None):\n"
            f'    """Handle request {n}, retrying a few times before giving up."""\n'
            f"    for attempt in range(retries):  # try again\n"
            f"        result = send(request, timeout=attempt * 2.5)\n"
            f"        if result.status == {200 + n % 5} and result.body is not None:\n"
            '            return result.json()["data"]  # the payload\n'
            f"        log.warning('attempt %d of %d failed', attempt, retries)\n"
            f'    raise RuntimeError(f"gave up after {{retries}} tries: {{request!r}}")\n'
            "\n\n"
        )
    code = "".join(body).splitlines(keepends=True)[:lines]
    text = "Here is the module:\n\n```python\n" + "".join(code) + "```\n"
    return words_of(text)[:count]


def table_tokens(count: int, rows: int = 2000) -> list[str]:
    """The first `count` tokens of an answer that is one table of `rows` rows (about 25
    tokens a row: 2,000 rows are 50k tokens)."""
    head = "| Host | Region | Latency (ms) | Status | Notes |\n|:--|:--|--:|:-:|:--|\n"
    body = "".join(
        f"| host-{n:04d}.example.net | eu-west-{n % 3 + 1} | {10 + n % 90}.{n % 10} | "
        f"{'up' if n % 7 else '**down**'} | checked at 12:{n % 60:02d} by the probe in the "
        f"north rack, second try after a timeout |\n"
        for n in range(rows)
    )
    return words_of("Results:\n\n" + head + body + "\nDone.\n")[:count]


KINDS: dict[str, Callable[[int], list[str]]] = {
    "prose": prose_tokens,
    "code": code_tokens,
    "table": table_tokens,
}


@dataclass
class Result:
    name: str
    tokens_planned: int
    tokens_sent: int
    seconds: float
    worst_stall_ms: float
    p99_stall_ms: float
    cpu_us_per_token: float
    rss_mb: float
    worst_busy_ms: float = 0.0


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Heartbeat:
    """Gaps between ticks of a 2 ms timer: how long the event loop was busy at a stretch.

    Also the main thread's CPU time between ticks: on a machine shared with other work, a gap
    also counts time the process waited for a core; the CPU time is the work itself.
    """

    def __init__(self) -> None:
        self.gaps: list[float] = []
        self.busy: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(2)
        self._timer.timeout.connect(self._beat)

    def start(self) -> None:
        self._clock.start()
        self._last = self._clock.nsecsElapsed()
        self._last_cpu = time.thread_time()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _beat(self) -> None:
        now = self._clock.nsecsElapsed()
        self.gaps.append((now - self._last) / 1e6)
        self._last = now
        cpu = time.thread_time()
        self.busy.append((cpu - self._last_cpu) * 1e3)
        self._last_cpu = cpu

    def worst_and_p99(self, values: list[float] | None = None) -> tuple[float, float]:
        ordered = sorted((self.gaps if values is None else values)[1:]) or [0.0]
        return ordered[-1], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def run(
    app: QApplication,
    name: str,
    tokens: list[str],
    feed: Callable[[str], None],
    finish: Callable[[], None],
    time_limit: float,
    rate: float = RATE,
    done: Callable[[], bool] = lambda: True,
) -> Result:
    heartbeat = Heartbeat()
    sent = [0]
    loop = QEventLoop()
    start = time.perf_counter()
    cpu_start = time.process_time()

    def on_feed() -> None:
        elapsed = time.perf_counter() - start
        due = min(len(tokens), int(elapsed * rate) + 1)
        while sent[0] < due and time.perf_counter() - start < time_limit:
            feed(tokens[sent[0]])
            sent[0] += 1
        if sent[0] >= len(tokens) or time.perf_counter() - start > time_limit:
            feeder.stop()
            finish()
            wait_until_done()

    def wait_until_done() -> None:
        if done() or time.perf_counter() - start > time_limit:
            QTimer.singleShot(50, loop.quit)
        else:
            QTimer.singleShot(10, wait_until_done)

    feeder = QTimer()
    feeder.setTimerType(Qt.TimerType.PreciseTimer)
    feeder.setInterval(FEED_MS)
    feeder.timeout.connect(on_feed)
    heartbeat.start()
    feeder.start()
    loop.exec()
    heartbeat.stop()
    seconds = time.perf_counter() - start - 0.05
    cpu = time.process_time() - cpu_start
    worst, p99 = heartbeat.worst_and_p99()
    worst_busy, _ = heartbeat.worst_and_p99(heartbeat.busy)
    app.processEvents()
    return Result(
        name=name,
        tokens_planned=len(tokens),
        tokens_sent=sent[0],
        seconds=seconds,
        worst_stall_ms=worst,
        p99_stall_ms=p99,
        cpu_us_per_token=cpu / max(1, sent[0]) * 1e6,
        rss_mb=rss_mb(),
        worst_busy_ms=worst_busy,
    )


def new_view(app: QApplication) -> ChatView:
    view = ChatView()
    view.resize(900, 700)
    view.show()
    app.processEvents()
    view._builder.renderer.warm_up()
    # As the app does once its window is up: what exists by now is not garbage-collected.
    gc.collect()
    gc.freeze()
    return view


def answer(content: str, status: str = "complete") -> Message:
    return Message(
        id="bench",
        thread_id="t",
        role="assistant",
        content=content,
        status=status,  # type: ignore[arg-type]
        model="bench",
        created_at=time.time(),
    )


def close(app: QApplication, view: QTextBrowser) -> None:
    view.close()
    view.deleteLater()
    app.processEvents()


def bench_chat_view(app: QApplication, kind: str, count: int) -> Result:
    view = new_view(app)
    view.begin_answer(answer("", "streaming"))
    tokens = KINDS[kind](count)

    def finish() -> None:
        view.end_answer(answer("".join(tokens)))

    result = run(app, kind, tokens, lambda t: view.add_delta(TextDelta(t)), finish, 600)
    close(app, view)
    return result


def bench_naive(app: QApplication, count: int, limit: float) -> Result:
    view = QTextBrowser()
    view.resize(900, 700)
    view.show()
    app.processEvents()
    text: list[str] = []

    def feed(token: str) -> None:
        text.append(token)
        view.setMarkdown("".join(text))
        view.verticalScrollBar().setValue(view.verticalScrollBar().maximum())

    result = run(app, "naive setMarkdown", prose_tokens(count), feed, lambda: None, limit)
    close(app, view)
    return result


def long_line(size: int, spaces: bool) -> str:
    if not spaces:
        return "x" * size
    unit = "lorem ipsum dolor sit amet consectetur "
    return (unit * (size // len(unit) + 1))[:size]


def bench_long_line(app: QApplication, size: int, spaces: bool, streamed: bool) -> Result:
    """A huge line as one delta or as 4 KB deltas; then the thread is opened again."""
    content = long_line(size, spaces) + "\n"
    view = new_view(app)
    view.begin_answer(answer("", "streaming"))
    if streamed:
        tokens = [content[n : n + LONG_DELTA] for n in range(0, len(content), LONG_DELTA)]
        rate: float = LONG_RATE
    else:
        tokens, rate = [content], 1000.0
    label = f"{size // 1000}k {'words' if spaces else 'no spaces'} {'4KB' if streamed else 'x1'}"
    ended = [False]

    def finish() -> None:
        view.end_answer(answer(content))
        ended[0] = True

    result = run(
        app,
        label,
        tokens,
        lambda t: view.add_delta(TextDelta(t)),
        finish,
        300,
        rate,
        lambda: ended[0] and not view.chat.backlog,
    )
    result.tokens_planned = result.tokens_sent = len(content)
    close(app, view)
    return result


def bench_reopen(app: QApplication, size: int, spaces: bool) -> Result:
    content = long_line(size, spaces) + "\n"
    user = Message(id="u", thread_id="t", role="user", content="go", created_at=time.time())
    view = new_view(app)
    opened = [False]

    def open_thread(_token: str) -> None:
        view.show_thread([user, answer(content)])
        opened[0] = True

    label = f"{size // 1000}k {'words' if spaces else 'no spaces'} reopen"
    result = run(app, label, ["open"], open_thread, lambda: None, 300, 1000.0, lambda: opened[0])
    result.tokens_planned = result.tokens_sent = len(content)
    close(app, view)
    return result


def print_table(title: str, results: list[Result], unit: str = "tokens") -> None:
    header = (
        f"{'case':<26} {unit:>15} {'secs':>6} {'worst stall':>12} {'p99 stall':>10} "
        f"{'worst CPU':>10} {'CPU/token':>10} {'RSS':>7}"
    )
    print(title)
    print(header)
    print("-" * len(header))
    for r in results:
        sent = f"{r.tokens_sent}/{r.tokens_planned}" if unit == "tokens" else f"{r.tokens_sent:,}"
        cpu = f"{r.cpu_us_per_token:>7.0f} µs" if unit == "tokens" else f"{'':>10}"
        print(
            f"{r.name:<26} {sent:>15} {r.seconds:>6.1f} {r.worst_stall_ms:>9.1f} ms "
            f"{r.p99_stall_ms:>7.1f} ms {r.worst_busy_ms:>7.1f} ms {cpu} {r.rss_mb:>4.0f} MB"
        )
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--kinds", default="prose,code,table")
    parser.add_argument("--long", default="100000,300000,1000000", help="'' to skip")
    parser.add_argument("--baseline", action="store_true")
    parser.add_argument("--baseline-seconds", type=float, default=10.0)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    sizes = [int(size) for size in args.sizes.split(",")]
    kinds = [kind for kind in args.kinds.split(",") if kind]
    results: list[Result] = []
    for kind in kinds:
        for size in sizes:
            result = bench_chat_view(app, kind, size)
            result.name = f"{kind} ({'ChatView'})"
            results.append(result)
    if args.baseline:
        for size in sizes:
            results.append(bench_naive(app, size, args.baseline_seconds))
    long_results: list[Result] = []
    for size in [int(size) for size in args.long.split(",") if size]:
        for spaces in (True, False):
            long_results.append(bench_long_line(app, size, spaces, streamed=False))
            long_results.append(bench_long_line(app, size, spaces, streamed=True))
            long_results.append(bench_reopen(app, size, spaces))

    if results:
        print_table(
            f"Streaming at {RATE} tokens/s; stalls are gaps between ticks of a 2 ms timer.",
            results,
        )
        print("Floors at the largest size: worst stall <= 16 ms; CPU/token <= 1.2x the smallest.")
        print(
            f"Machine load while measuring: {os.getloadavg()[0]:.2f} (1 min), "
            f"{os.cpu_count()} cores"
        )
        for kind in kinds:
            runs = [r for r in results if r.name.startswith(f"{kind} ")]
            if len(runs) >= 2:
                ratio = runs[-1].cpu_us_per_token / runs[0].cpu_us_per_token
                worst = runs[-1].worst_stall_ms
                verdict = "ok" if worst <= 16 and ratio <= 1.2 else "MISSED"
                print(
                    f"  {kind:<6} CPU/token {runs[-1].tokens_planned} vs {runs[0].tokens_planned}: "
                    f"{ratio:.2f}x; worst stall {worst:.1f} ms, p99 {runs[-1].p99_stall_ms:.1f} ms,"
                    f" worst CPU stretch {runs[-1].worst_busy_ms:.1f} ms  [{verdict}]"
                )
        print()
    if long_results:
        print_table(
            f"One huge line: as one delta (x1), as {LONG_DELTA} B deltas at {LONG_RATE}/s (4KB), "
            "and the thread opened again (reopen); secs = until all of it is on screen.",
            long_results,
            unit="characters",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
