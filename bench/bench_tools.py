"""Measure MCP tools: first start (SDK import, server start, tool list), call latency, close.

    .venv/bin/python bench/bench_tools.py [--calls 200]

Each run starts a fresh interpreter, so the `mcp` SDK's import is part of the first start,
as it is in the app. Servers: mcp-server-time (PyPI) and our test server, both over stdio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import asyncio, json, sys, time
from llms_desktop.tools.config import ServerConfig, ToolsConfig
from llms_desktop.tools.manager import ToolManager

SERVER, ARGS, TOOL, ARGUMENTS, CALLS = json.loads(sys.argv[1])

async def main():
    manager = ToolManager(ToolsConfig((ServerConfig("s", command=SERVER, args=tuple(ARGS)),)))
    started = time.perf_counter()
    tools, problems = await manager.enabled_tools()
    first = time.perf_counter() - started
    assert not problems, problems
    latencies = []
    for _ in range(CALLS):
        t = time.perf_counter()
        await manager.call("s", TOOL, ARGUMENTS)
        latencies.append(time.perf_counter() - t)
    t = time.perf_counter()
    await manager.aclose()
    closed = time.perf_counter() - t
    print(json.dumps({"first": first, "tools": len(tools), "calls": latencies, "close": closed}))

asyncio.run(main())
"""


def run(server: str, args: list[str], tool: str, arguments: dict[str, object], calls: int) -> None:
    spec = json.dumps([server, args, tool, arguments, calls])
    out = subprocess.run(
        [sys.executable, "-c", PROBE, spec], cwd=ROOT, capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    latencies = sorted(result["calls"])
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    name = Path(server).name if not args or args[0] != "-m" else args[1]
    print(
        f"{name}: first start + list ({result['tools']} tools) {result['first']:.2f} s; "
        f"{tool} call p50 {p50:.1f} ms, p99 {p99:.1f} ms over {len(latencies)}; "
        f"close {result['close']:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=200)
    options = parser.parse_args()
    time_server = str(Path(sys.executable).with_name("mcp-server-time"))
    run(time_server, ["--local-timezone", "UTC"], "get_current_time", {"timezone": "UTC"},
        options.calls)  # fmt: skip
    run(sys.executable, ["-m", "tests.support.mcp_server", "stdio"], "echo", {"text": "hi"},
        options.calls)  # fmt: skip


if __name__ == "__main__":
    main()
