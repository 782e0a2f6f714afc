"""Time the app's start: ms until the window shows (as the app reports it) and the whole process.

Usage: measure_start.py BINARY [--runs N] [--cold]. Runs BINARY with LLMS_DESKTOP_QUIT_AFTER_SHOW=1
(the window opens, the app prints "window shown in N ms" and quits) on the offscreen platform,
with a throw-away data folder. --cold drops the page cache before every run (root on Linux),
so libraries come from disk as on a first start after boot.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHOWN = re.compile(r"window shown in (\d+) ms")


def drop_page_cache() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def run_once(binary: str, data_dir: str) -> tuple[float, float, float]:
    """Milliseconds: to the window as the app measures it (from `run_gui`), from launch until
    the app said so (what a user waits for), and for the whole process (with shutting down)."""
    env = {
        **os.environ,
        "LLMS_DESKTOP_QUIT_AFTER_SHOW": "1",
        "LLMS_DESKTOP_HOME": data_dir,
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
    }
    started = time.perf_counter()
    with subprocess.Popen(
        [binary], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        launch_ms = (time.perf_counter() - started) * 1000
        rest, errors = process.communicate(timeout=60)
    total_ms = (time.perf_counter() - started) * 1000
    match = SHOWN.search(first_line)
    if process.returncode != 0 or match is None:
        raise SystemExit(f"{binary} failed ({process.returncode}): {first_line}{rest}{errors}")
    return float(match.group(1)), launch_ms, total_ms


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each run")
    args = parser.parse_args(argv)
    window: list[float] = []
    launch: list[float] = []
    total: list[float] = []
    with tempfile.TemporaryDirectory(prefix="llms-desktop-start-") as data_dir:
        run_once(args.binary, data_dir)  # creates the database, as the user's first start did
        for _ in range(args.runs):
            if args.cold:
                drop_page_cache()
            shown, launched, whole = run_once(args.binary, data_dir)
            window.append(shown)
            launch.append(launched)
            total.append(whole)
    kind = "cold (page cache dropped)" if args.cold else "warm"
    print(
        f"{kind}, {args.runs} runs, median (max) in ms: launch to window "
        f"{statistics.median(launch):.0f} ({max(launch):.0f}); app-reported window "
        f"{statistics.median(window):.0f} ({max(window):.0f}); whole process with quitting "
        f"{statistics.median(total):.0f} ({max(total):.0f})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
