"""Chats rendered to HTML, kept for reopening: the last few in memory, the last one on disk (pure).

Reopening a chat (and the last chat at start-up) then needs neither markdown-it nor pygments:
importing one and building the other's lexers costs ~75 ms, before any rendering. An entry is
found by a key over everything the HTML depends on (the messages, the colours, this version's
renderer), so a stale entry is never shown: anything that changes makes another key.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import sys
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llms_desktop import __version__

# The modules whose code decides the HTML: an edited one (a development checkout) is another
# renderer, so its entries are not reused.
RENDERER_MODULES = (
    "llms_desktop.markdown_render",
    "llms_desktop.markdown_stream",
    "llms_desktop.chunk_render",
    "llms_desktop.code_render",
    "llms_desktop.code_highlight",
    "llms_desktop.ui.message_html",
    "llms_desktop.ui.tool_html",
    "llms_desktop.ui.attachment_html",
    "llms_desktop.ui.theme",
    "llms_desktop.render_cache",
)
MEMORY_ENTRIES = 8
MEMORY_BYTES = 16_000_000  # characters of HTML kept in memory, all entries together
DISK_BYTES = 4_000_000  # a chat longer than this is not kept on disk


@dataclass(frozen=True, slots=True)
class Rendered:
    """A chat's HTML as it went into the document, and its code blocks by Copy link."""

    html: str
    codes: dict[str, str]


class RenderCache:
    """Rendered chats by key: the last few in memory, one (`keep`) in `folder` across runs."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder
        self._memory: OrderedDict[str, Rendered] = OrderedDict()
        self._renderer = ""
        self._writes: list[concurrent.futures.Future[None]] = []

    def key(self, inputs: Iterable[object]) -> str:
        """A key over `inputs` (by their repr), this renderer and the local time zone."""
        if not self._renderer:
            self._renderer = _renderer_identity()
        digest = hashlib.sha256(self._renderer.encode())
        digest.update(f"{time.tzname}|{os.environ.get('TZ', '')}".encode())  # times shown
        for item in inputs:
            digest.update(b"\x00")
            digest.update(repr(item).encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def get(self, key: str) -> Rendered | None:
        """The entry for `key`, from memory or else from disk; None if there is none."""
        found = self._memory.get(key)
        if found is not None:
            self._memory.move_to_end(key)
            return found
        found = self._read(key)
        if found is not None:
            self.put(key, found)
        return found

    def put(self, key: str, rendered: Rendered) -> None:
        """Keep `rendered` in memory (the oldest entries go past the bounds)."""
        self._memory[key] = rendered
        self._memory.move_to_end(key)
        while len(self._memory) > MEMORY_ENTRIES or (
            len(self._memory) > 1 and sum(len(r.html) for r in self._memory.values()) > MEMORY_BYTES
        ):
            self._memory.popitem(last=False)

    def keep(self, key: str) -> None:
        """Write the entry for `key` to disk, in place of the one kept before, on a worker
        thread (the window's never waits on the disk); `wait()` waits for it.

        A cache: a folder that cannot be written to only means the next start renders.
        """
        rendered = self._memory.get(key)
        if self.folder is None or rendered is None or len(rendered.html) > DISK_BYTES:
            return
        self._writes.append(_WRITER.submit(_write, self.folder, self._path(key), key, rendered))

    def wait(self) -> None:
        """Wait for the entries being written to disk."""
        writes, self._writes = self._writes, []
        for write in writes:
            write.result()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{key}.json"

    def _read(self, key: str) -> Rendered | None:
        if self.folder is None:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None  # none kept for this key, or a damaged file: render as usual
        if not isinstance(data, dict) or data.get("key") != key:
            return None
        html, codes = data.get("html"), data.get("codes")
        if not isinstance(html, str) or not isinstance(codes, dict):
            return None
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in codes.items()):
            return None
        return Rendered(html, codes)


# One thread writes entries, in order; the interpreter waits for it at exit.
_WRITER = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="render-cache")


def _write(folder: Path, path: Path, key: str, rendered: Rendered) -> None:
    """Write one entry (0600, in a 0700 folder) and remove the one kept before."""
    if path.exists():
        return
    text = json.dumps({"key": key, "html": rendered.html, "codes": rendered.codes})
    with contextlib.suppress(OSError):
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, path)
        for other in folder.iterdir():
            if other != path:
                other.unlink(missing_ok=True)


def _renderer_identity() -> str:
    """This version, and when each renderer module's source last changed (where there is one)."""
    parts = [__version__]
    for name in RENDERER_MODULES:
        source = getattr(sys.modules.get(name), "__file__", None)
        try:
            parts.append(f"{name}:{os.stat(source).st_mtime_ns}" if source else name)
        except OSError:
            parts.append(name)
    return "|".join(parts)
