"""Keep PySide6 from caching the source of every module imported after it (10 MB, 25 ms)."""

from __future__ import annotations

import sys
from types import ModuleType


def mentions_pyside(module: ModuleType) -> bool:
    """Whether the module's source file contains "PySide6", read as bytes and not kept."""
    spec = getattr(module, "__spec__", None)
    origin = getattr(spec, "origin", None) or getattr(module, "__file__", None)
    if not isinstance(origin, str) or not origin.endswith(".py"):
        return False  # built in, compiled or bundled: PySide6's own check says False too
    try:
        with open(origin, "rb") as source:
            return b"PySide6" in source.read()
    except OSError:
        return False


def stop_caching_sources() -> None:
    """Replace PySide6's check of each newly imported module with one that keeps nothing.

    PySide6's `__feature__` support asks, for every module imported after PySide6, whether
    its source mentions "PySide6"; it does so with `inspect.getsource`, which leaves every
    line of every such module in `linecache` for the life of the process: about 10 MB and
    25 ms of the window's start-up here. The answer is the same; only the cache is gone. A
    PySide6 without this hook is left alone.
    """
    feature = sys.modules.get("PySide6.support.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        setattr(feature, "_mod_uses_pyside", mentions_pyside)  # noqa: B010 (a private name)
