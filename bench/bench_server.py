"""API server benchmark: concurrent streams through the server versus straight from the upstream.

    .venv/bin/python bench/bench_server.py [--streams 100] [--chunks 200] [--interval 0.01]

Three processes, as in real use: a fast loopback upstream (aiohttp) that stamps every chunk
with the time it wrote it, the API server (LocalServer, like `llms-desktop serve`) in front of
it, and this client opening all the streams at once. Each chunk's latency is its arrival time
minus its stamp (CLOCK_MONOTONIC is shared by processes on Linux and macOS). The same load runs
twice, direct and through the server; the difference is what the server adds per chunk. A
stream is dropped unless it delivers every chunk, in order, and then `[DONE]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
MODEL = "bench"


# -- the upstream (own process) ----------------------------------------------------------------


async def upstream_main(chunks: int, interval: float) -> None:
    """A fast OpenAI-compatible upstream: `chunks` stamped text chunks per stream."""

    async def completions(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for seq in range(chunks):
            chunk = {
                "id": "bench",
                "object": "chat.completion.chunk",
                "model": MODEL,
                "choices": [{"index": 0, "delta": {"content": f"{seq}:{time.monotonic_ns()} "}}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            if interval:
                await asyncio.sleep(interval)
        end = {"id": "bench", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        await response.write(f"data: {json.dumps(end)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    await _serve_forever(web.AppRunner(app, access_log=None))


async def server_main(upstream: str) -> None:
    """The API server in front of the upstream, as `llms-desktop serve` runs it."""
    from llms_desktop.providers.config import OPENAI_COMPATIBLE, ProviderConfig
    from llms_desktop.providers.registry import ProviderRegistry
    from llms_desktop.server import LocalServer

    config = ProviderConfig("up", OPENAI_COMPATIBLE, "up", upstream, models=(MODEL,))
    registry = ProviderRegistry([config], None, env={})
    server = LocalServer(registry, port=0)
    await server.start()
    print(server.base_url, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()
        await registry.aclose()


async def _serve_forever(runner: web.AppRunner) -> None:
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"http://127.0.0.1:{runner.addresses[0][1]}/v1", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Run this script in ROLE mode in a new process; returns it and the base URL it printed."""
    process = subprocess.Popen(
        [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time a process has used (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the client (this process) -----------------------------------------------------------------


@dataclass
class Run:
    """What one load run measured."""

    latencies_ms: list[float] = field(default_factory=list)
    first_chunk_ms: list[float] = field(default_factory=list)
    completed: int = 0
    dropped: int = 0
    seconds: float = 0.0


async def one_stream(session: aiohttp.ClientSession, url: str, chunks: int, run: Run) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True}
    started = time.monotonic_ns()
    expected = 0
    done = False
    latencies: list[float] = []
    try:
        async with session.post(f"{url}/chat/completions", json=body) as response:
            buffer = b""
            async for data in response.content.iter_any():
                now = time.monotonic_ns()
                buffer += data
                *events, buffer = buffer.split(b"\n\n")
                for raw in events:
                    payload = raw.removeprefix(b"data: ")
                    if payload == b"[DONE]":
                        done = True
                        continue
                    choices = json.loads(payload).get("choices") or [{}]
                    text = choices[0].get("delta", {}).get("content") or ""
                    if not text:
                        continue
                    seq, stamp = text.split(":")
                    if int(seq) != expected:
                        raise AssertionError(f"chunk {seq} arrived when {expected} was due")
                    if expected == 0:
                        run.first_chunk_ms.append((now - started) / 1e6)
                    expected += 1
                    latencies.append((now - int(stamp)) / 1e6)
    except (aiohttp.ClientError, AssertionError, ValueError) as exc:
        print(f"  stream failed: {exc!r}", file=sys.stderr)
    if done and expected == chunks:
        run.completed += 1
        run.latencies_ms.extend(latencies)
    else:
        run.dropped += 1


async def load(url: str, streams: int, chunks: int) -> Run:
    run = Run()
    connector = aiohttp.TCPConnector(limit=0)  # every stream at once, no client-side queue
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await one_stream(session, url, 5, Run())  # warm up: connections, imports, caches
        started = time.perf_counter()
        await asyncio.gather(*(one_stream(session, url, chunks, run) for _ in range(streams)))
        run.seconds = time.perf_counter() - started
    return run


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def report(args: argparse.Namespace, direct: Run, proxied: Run, server_cpu: float | None) -> None:
    print(
        f"\n{args.streams} concurrent streams x {args.chunks} chunks, upstream writes a chunk "
        f"every {args.interval * 1000:g} ms per stream\n"
    )
    head = f"{'':<22}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'1st p50':>9}{'done':>6}{'dropped':>9}"
    print(head)
    print("-" * len(head))
    for name, run in (("direct to upstream", direct), ("through the server", proxied)):
        lat = run.latencies_ms
        print(
            f"{name:<22}{percentile(lat, 50):>9.2f}{percentile(lat, 99):>9.2f}"
            f"{max(lat, default=float('nan')):>9.2f}{percentile(run.first_chunk_ms, 50):>9.2f}"
            f"{run.completed:>6}{run.dropped:>9}"
        )
    added50 = percentile(proxied.latencies_ms, 50) - percentile(direct.latencies_ms, 50)
    added99 = percentile(proxied.latencies_ms, 99) - percentile(direct.latencies_ms, 99)
    print(f"{'added by the server':<22}{added50:>9.2f}{added99:>9.2f}")
    chunks = proxied.completed * args.chunks
    print(
        f"\nthrough the server: {chunks:,} chunks in {proxied.seconds:.2f} s "
        f"({chunks / proxied.seconds:,.0f} chunks/s); streams dropped: {proxied.dropped}"
    )
    if server_cpu is not None and chunks:
        print(
            f"server CPU: {server_cpu:.2f} s, {server_cpu / chunks * 1e6:.0f} µs per chunk "
            f"({os.cpu_count()} CPUs shared by upstream, server and client)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.01, help="seconds between chunks")
    parser.add_argument("role", nargs="?", choices=["upstream", "server"], help=argparse.SUPPRESS)
    parser.add_argument("target", nargs="?", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "upstream":
        asyncio.run(upstream_main(args.chunks, args.interval))
        return 0
    if args.role == "server":
        asyncio.run(server_main(args.target))
        return 0
    passing = ["--chunks", str(args.chunks), "--interval", str(args.interval)]
    upstream, upstream_url = start(*passing, "upstream")
    server, server_url = start("server", upstream_url)
    try:
        direct = asyncio.run(load(upstream_url, args.streams, args.chunks))
        before = cpu_seconds(server.pid)
        proxied = asyncio.run(load(server_url, args.streams, args.chunks))
        after = cpu_seconds(server.pid)
    finally:
        for process in (server, upstream):
            process.terminate()
            process.wait(timeout=30)
    server_cpu = after - before if before is not None and after is not None else None
    report(args, direct, proxied, server_cpu)
    return 0 if direct.dropped == proxied.dropped == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
