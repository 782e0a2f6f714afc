"""The data folder: private modes, and reading and export when it is read-only or full."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from llms_desktop.store import Store
from tests.support.cli import COMMAND, run_cli
from tests.support.loopback import LoopbackServer, sse_reply, text_chunks
from tests.support.store_faults import run_on_tmpfs, sqlite_connection


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def private(path: Path) -> int:
    """The mode our files (0600) and folders (0700) in the data folder have."""
    return 0o700 if path.is_dir() else 0o600


def seed(folder: Path) -> Path:
    """A data folder holding two threads, closed cleanly (no -wal or -shm left)."""
    with Store.open(folder / "data") as store:
        first = store.create_thread("first thread")
        store.add_message(first.id, "user", "hello there")
        store.add_message(first.id, "assistant", "general kenobi")
        store.create_thread("second thread")
    return folder


# -- modes ------------------------------------------------------------------------------------


def test_a_folder_we_create_is_0700_and_our_files_0600(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["ok"]))
    data = tmp_path / "fresh" / "data"
    added = run_cli("--data-dir", data, "providers", "add", "up", "--base-url", loopback.base_url)
    assert added.returncode == 0, added.stderr
    chat = run_cli("--data-dir", data, "chat", "--model", "up/m", "hi")
    assert chat.returncode == 0, chat.stderr
    assert mode(data) == 0o700
    files = sorted(path.name for path in data.iterdir())
    assert {"llms-desktop.db", "providers.json"} <= set(files)
    for name in files:
        assert mode(data / name) == private(data / name), name
    # While the database is open, SQLite's -wal and -shm files carry its mode.
    with Store.open(data) as store:
        store.create_thread("while open")
        for suffix in ("-wal", "-shm"):
            assert mode(data / f"llms-desktop.db{suffix}") == 0o600


def test_an_existing_folder_keeps_its_mode_and_old_files_are_tightened(tmp_path: Path) -> None:
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    seed_folder = seed(tmp_path / "seed") / "data"
    for item in (item for item in seed_folder.iterdir() if item.is_file()):
        shutil.copy(item, data / item.name)
        os.chmod(data / item.name, 0o644)  # as an older version left them
    (data / "providers.json").write_text('{"version": 1, "providers": []}')
    os.chmod(data / "providers.json", 0o644)
    assert run_cli("--data-dir", data, "threads", "list").returncode == 0
    assert run_cli("--data-dir", data, "providers", "add", "ollama").returncode == 0
    assert mode(data) == 0o755
    assert mode(data / "llms-desktop.db") == 0o600
    assert mode(data / "providers.json") == 0o600


def test_the_window_keeps_settings_private_too(tmp_path: Path) -> None:
    data = tmp_path / "gui" / "data"
    result = subprocess.run(
        [*COMMAND, "--data-dir", str(data)],
        env={**os.environ, "LLMS_DESKTOP_QUIT_AFTER_SHOW": "1", "QT_QPA_PLATFORM": "offscreen"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    assert (data / "settings.ini").exists()
    for path in data.iterdir():
        assert mode(path) == private(path), path.name


# -- a read-only folder, a full disk ----------------------------------------------------------


def cli(data: Path, *args: str) -> list[str]:
    return [*COMMAND, "--data-dir", str(data), *args]


READING = [
    ("threads", "list"),
    ("threads", "search", "kenobi"),
    ("threads", "export", "--all", "--format", "json"),
]


@pytest.mark.parametrize("args", READING, ids=[" ".join(a) for a in READING])
def test_a_read_only_folder_can_still_be_read_and_exported(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    mount = tmp_path / "mnt"
    result = run_on_tmpfs(
        mount, cli(mount / "data", *args), read_only=True, seed=seed(tmp_path / "seed")
    )
    assert result.returncode == 0, result.stderr
    assert "open read-only (its folder is read-only)" in result.stderr
    assert "Traceback" not in result.stderr
    _assert_read(args, result.stdout)


@pytest.mark.parametrize("args", READING, ids=[" ".join(a) for a in READING])
def test_a_full_disk_can_still_be_read_and_exported(tmp_path: Path, args: tuple[str, ...]) -> None:
    mount = tmp_path / "mnt"
    command = cli(mount / "data", *args)
    fill_then_run = ["sh", "-c", 'cat /dev/zero > "$0/fill" 2>/dev/null; exec "$@"', str(mount)]
    result = run_on_tmpfs(
        mount, [*fill_then_run, *command], size="256k", seed=seed(tmp_path / "seed")
    )
    assert result.returncode == 0, result.stderr
    assert "open read-only (the disk is full)" in result.stderr
    _assert_read(args, result.stdout)


def _assert_read(args: tuple[str, ...], stdout: str) -> None:
    if args[1] == "list":
        assert "first thread" in stdout
        assert "second thread" in stdout
    elif args[1] == "search":
        assert "general [kenobi]" in stdout
    else:
        exported = json.loads(stdout)
        assert sorted(t["title"] for t in exported["threads"]) == ["first thread", "second thread"]


def test_show_on_a_read_only_folder_and_saving_says_why_it_cannot(tmp_path: Path) -> None:
    folder = seed(tmp_path / "seed")
    with Store.open(folder / "data") as store:
        thread_id = store.list_threads()[-1].id
    mount = tmp_path / "mnt"
    shown = run_on_tmpfs(
        mount, cli(mount / "data", "threads", "show", thread_id), read_only=True, seed=folder
    )
    assert shown.returncode == 0, shown.stderr
    assert "general kenobi" in shown.stdout
    deleted = run_on_tmpfs(
        mount, cli(mount / "data", "threads", "delete", thread_id), read_only=True, seed=folder
    )
    assert deleted.returncode == 1
    last = deleted.stderr.strip().splitlines()[-1]
    assert last.startswith("llms-desktop: error: Could not delete the thread: the thread")
    assert "open read-only (its folder is read-only)" in last


def test_a_crash_left_wal_is_read_on_a_read_only_folder(tmp_path: Path) -> None:
    # The last change lives only in the -wal file a killed process left behind.
    folder = seed(tmp_path / "seed")
    db = folder / "data" / "llms-desktop.db"
    copy = tmp_path / "crashed"
    with sqlite_connection(db) as live:
        live.execute("PRAGMA wal_autocheckpoint = 0")
        live.execute(
            "UPDATE threads SET title = 'renamed before the crash' WHERE title = 'first thread'"
        )
        live.commit()
        shutil.copytree(folder, copy)  # the files as they are while it runs
    assert (copy / "data" / "llms-desktop.db-wal").stat().st_size > 0
    mount = tmp_path / "mnt"
    result = run_on_tmpfs(mount, cli(mount / "data", "threads", "list"), read_only=True, seed=copy)
    assert result.returncode == 0, result.stderr
    assert "renamed before the crash" in result.stdout


def test_a_missing_database_in_a_read_only_folder_is_one_clear_line(tmp_path: Path) -> None:
    mount = tmp_path / "mnt"
    empty = tmp_path / "empty"
    (empty / "data").mkdir(parents=True)
    result = run_on_tmpfs(mount, cli(mount / "data", "threads", "list"), read_only=True, seed=empty)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("llms-desktop: error: Cannot create the thread database")
