"""Real store faults: a write lock held elsewhere, a private tmpfs (full or read-only)."""

from __future__ import annotations

import functools
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


@contextmanager
def write_lock(db: Path) -> Iterator[sqlite3.Connection]:
    """Another connection holding the database's write lock until the block ends."""
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield connection
        connection.execute("ROLLBACK")
    finally:
        connection.close()


# Mount a tmpfs at $2 with options $1, optionally copy $3's contents in and make it read-only
# ($4 = ro), then run the rest. Only this process tree sees the mount.
_SCRIPT = """
set -e
mount -t tmpfs -o "$1" tmpfs "$2"
if [ -n "$3" ]; then cp -a "$3"/. "$2"/; fi
if [ "$4" = ro ]; then mount -o remount,ro "$2"; fi
shift 4
exec "$@"
"""


@functools.cache
def _unshare_prefix() -> tuple[str, ...] | None:
    if shutil.which("unshare") is None:
        return None
    for prefix in (("unshare", "--mount"), ("unshare", "--mount", "--map-root-user")):
        probe = subprocess.run(
            [*prefix, "sh", "-c", _SCRIPT, "sh", "size=64k", "/mnt", "", "", "true"],
            capture_output=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return prefix
    return None


def run_on_tmpfs(
    target: Path,
    command: Sequence[str],
    *,
    size: str = "4m",
    read_only: bool = False,
    seed: Path | None = None,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `command` with a private tmpfs of `size` at `target`; skips where mounting is denied."""
    prefix = _unshare_prefix()
    if prefix is None:
        pytest.skip("cannot mount a private tmpfs here (needs unshare and mount namespaces)")
    target.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [
            *prefix,
            "sh",
            "-c",
            _SCRIPT,
            "sh",
            f"size={size}",
            str(target),
            str(seed or ""),
            "ro" if read_only else "",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


@contextmanager
def sqlite_connection(path: Path | str) -> Iterator[sqlite3.Connection]:
    """A plain second connection, committed on success and always closed.

    `with sqlite3.connect(...)` commits but never closes; Python 3.13 warns about that.
    """
    connection = sqlite3.connect(path)
    try:
        with connection:
            yield connection
    finally:
        connection.close()
