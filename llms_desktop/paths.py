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
