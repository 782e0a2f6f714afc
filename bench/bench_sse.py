"""SSE decoder throughput: many small chat chunks, and one multi-megabyte data line.

.venv/bin/python bench/bench_sse.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from llms_desktop.sse import SSEDecoder


def decode(body: bytes, chunk: int) -> tuple[int, float]:
    decoder = SSEDecoder()
    start = time.perf_counter()
    events = 0
    for offset in range(0, len(body), chunk):
        events += len(decoder.feed(body[offset : offset + chunk]))
    return events, time.perf_counter() - start


def main() -> int:
    frame = "data: " + json.dumps(
        {"choices": [{"index": 0, "delta": {"content": " token"}, "finish_reason": None}]}
    )
    small = ("\n\n".join([frame] * 50_000) + "\n\n").encode()
    big = b"data: " + b"A" * 4_000_000 + b"\n\n"
    print(f"{'stream':<34} {'chunk':>7} {'events':>8} {'time':>9} {'MB/s':>8}")
    for name, body in (("50,000 chat chunks", small), ("one 4 MB data line", big)):
        for chunk in (64, 16_384):
            events, seconds = decode(body, chunk)
            rate = len(body) / seconds / 1e6
            print(f"{name:<34} {chunk:>7} {events:>8} {seconds * 1000:>7.0f} ms {rate:>8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
