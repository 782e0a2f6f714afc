"""Where llms-desktop keeps its data: `--data-dir`, else $LLMS_DESKTOP_HOME, else the OS default."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "llms-desktop"
HOME_ENV = "LLMS_DESKTOP_HOME"
DB_FILENAME = "llms-desktop.db"


def data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: an explicit path, else $LLMS_DESKTOP_HOME, else the platform's.

    The platform default is e.g. ~/.local/share/llms-desktop on Linux,
    ~/Library/Application Support/llms-desktop on macOS, %LOCALAPPDATA%\\llms-desktop on Windows.
    The folder is not created here.
    """
    if explicit is not None and str(explicit):
        return Path(explicit).expanduser()
    from_env = os.environ.get(HOME_ENV)
    if from_env:
        return Path(from_env).expanduser()
    import platformdirs  # loaded only when needed: it costs ~10 ms at start-up

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def db_path(folder: Path) -> Path:
    """The thread database inside a data folder."""
    return folder / DB_FILENAME


# Conversations and provider settings are private: the folder we create is the owner's alone,
# and so is every file we write in it (SQLite gives the -wal and -shm files the database's mode).
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def ensure_data_dir(folder: Path) -> Path:
    """The data folder, created (mode 0700, parents as usual) when it does not exist yet.

    An existing folder keeps its mode: it may be one the user chose and shares on purpose.
    """
    folder = folder.expanduser()
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        folder.mkdir(mode=PRIVATE_DIR_MODE)
    except FileExistsError:
        if not folder.is_dir():
            raise
        return folder  # another process made it a moment ago
    os.chmod(folder, PRIVATE_DIR_MODE)  # the umask could only have narrowed it; be exact
    return folder


def create_private_file(path: Path) -> bool:
    """Create `path` empty with mode 0600 unless it exists; returns whether it was created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def make_private(path: Path) -> None:
    """Take group and other access away from an existing file of ours (best effort: a file on
    a read-only disk, or someone else's, stays as it is)."""
    try:
        mode = path.stat().st_mode
        if mode & 0o077:
            os.chmod(path, mode & ~0o077 & 0o7777)
    except OSError:
        pass


def write_private_text(path: Path, text: str) -> None:
    """Write a file that only its owner can read (0600, whatever the umask)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), PRIVATE_FILE_MODE)  # an older file of that name keeps its mode
        file.write(text)
