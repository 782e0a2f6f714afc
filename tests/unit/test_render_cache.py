"""The render cache: keys follow every input, memory stays bounded, one entry on disk, private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from llms_desktop import render_cache
from llms_desktop.render_cache import MEMORY_ENTRIES, RenderCache, Rendered


def test_the_key_changes_with_any_input() -> None:
    cache = RenderCache(None)
    base = cache.key(["messages", ["expanded"], {"v": 1}])
    assert cache.key(["messages", ["expanded"], {"v": 1}]) == base
    assert cache.key(["messages!", ["expanded"], {"v": 1}]) != base
    assert cache.key(["messages", [], {"v": 1}]) != base
    assert cache.key(["messages", ["expanded"], {"v": 2}]) != base
    # The inputs are separated: moving text from one to the next is another key.
    assert cache.key(["ab", "c"]) != cache.key(["a", "bc"])


def test_memory_keeps_the_most_recent_entries_only() -> None:
    cache = RenderCache(None)
    for number in range(MEMORY_ENTRIES + 3):
        cache.put(f"k{number}", Rendered(f"<p>{number}</p>", {}))
    assert cache.get("k0") is None
    assert cache.get(f"k{MEMORY_ENTRIES + 2}") == Rendered(f"<p>{MEMORY_ENTRIES + 2}</p>", {})


def test_memory_is_bounded_by_size_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render_cache, "MEMORY_BYTES", 100)
    cache = RenderCache(None)
    cache.put("a", Rendered("x" * 60, {}))
    cache.put("b", Rendered("y" * 60, {}))
    assert cache.get("a") is None
    assert cache.get("b") is not None


def test_kept_entry_is_read_back_by_a_new_cache_and_replaces_the_last(tmp_path: Path) -> None:
    folder = tmp_path / "render-cache"
    first = RenderCache(folder)
    first.put("one", Rendered("<p>one</p>", {"copy:m0": "print(1)"}))
    first.keep("one")
    first.put("two", Rendered("<p>two</p>", {}))
    first.keep("two")
    first.wait()  # written on a worker thread
    assert [p.name for p in folder.iterdir()] == ["two.json"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "two.json").stat().st_mode) == 0o600

    later = RenderCache(folder)
    assert later.get("one") is None
    assert later.get("two") == Rendered("<p>two</p>", {})


def test_a_damaged_or_foreign_file_is_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "render-cache"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    (folder / "other.json").write_text('{"key": "someone-else", "html": "<p>x</p>", "codes": {}}')
    cache = RenderCache(folder)
    assert cache.get("bad") is None
    assert cache.get("other") is None


def test_a_folder_that_cannot_be_made_only_means_no_cache(tmp_path: Path) -> None:
    blocked = tmp_path / "render-cache"
    blocked.write_text("a file where the folder would be")  # fails even for root
    cache = RenderCache(blocked)
    cache.put("k", Rendered("<p>k</p>", {}))
    cache.keep("k")
    cache.wait()  # no exception
    assert blocked.read_text() == "a file where the folder would be"
    assert cache.get("k") is not None


def test_a_chat_too_long_for_the_disk_stays_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(render_cache, "DISK_BYTES", 10)
    cache = RenderCache(tmp_path / "render-cache")
    cache.put("long", Rendered("<p>" + "x" * 20 + "</p>", {}))
    cache.keep("long")
    cache.wait()
    assert not (tmp_path / "render-cache").exists()
    assert cache.get("long") is not None
