"""Measure what importing the AI Refinery SDK costs: wall time and resident memory, per process."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs in a fresh interpreter each time, so nothing is imported yet. Current RSS comes from
# /proc (Linux); elsewhere the peak RSS is the best stand-in.
PROBE = """
import json, resource, sys, time

def rss_mib():
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        import os
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 2**20 if sys.platform == "darwin" else peak / 2**10

module = sys.argv[1]
before = rss_mib()
started = time.perf_counter()
__import__(module)
seconds = time.perf_counter() - started
after = rss_mib()
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"air", "pandas", "numpy", "aiohttp"})
print(json.dumps({"seconds": seconds, "rss_before": before, "rss_after": after, "heavy": heavy}))
"""


def measure(module: str, cache_dir: str) -> tuple[float, float, list[str]]:
    """Import `module` in a fresh interpreter: seconds, RSS growth in MiB, heavy packages loaded."""
    env = dict(os.environ, AIR_SILENT="1", AIR_CACHE_DIR=cache_dir, PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        capture_output=True,
        text=True,
        env=env,
        cwd=cache_dir,  # so a stray .air/ would land in the temporary folder
        check=True,
        timeout=120,
    )
    data = json.loads(result.stdout.splitlines()[-1])
    return float(data["seconds"]), data["rss_after"] - data["rss_before"], list(data["heavy"])


def report(module: str, runs: int, cache_dir: str) -> None:
    """Print each run and the median."""
    samples = [measure(module, cache_dir) for _ in range(runs)]
    print(f"import {module}")
    for index, (seconds, grown, _) in enumerate(samples, 1):
        print(f"  run {index}: {seconds * 1000:7.0f} ms   RSS +{grown:6.1f} MiB")
    median_s = statistics.median(s for s, _, _ in samples)
    median_mib = statistics.median(g for _, g, _ in samples)
    loads = ", ".join(samples[-1][2]) or "nothing heavy"
    print(f"  median : {median_s * 1000:7.0f} ms   RSS +{median_mib:6.1f} MiB   loads: {loads}")


def main() -> None:
    """Time `import air` (the whole SDK) against importing our provider module, which is lazy."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per module")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} on {sys.platform}; {args.runs} fresh processes each")
    with tempfile.TemporaryDirectory() as cache_dir:
        for module in ("air.chat.client", "llms_desktop.providers.airefinery"):
            report(module, args.runs, cache_dir)


if __name__ == "__main__":
    main()
