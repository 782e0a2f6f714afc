"""QSettings (INI format, in the data directory) as the settings backend."""

from __future__ import annotations

import contextlib
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

from llms_desktop.paths import create_private_file, ensure_data_dir, make_private

SETTINGS_FILE = "settings.ini"


class QSettingsBackend:
    """Stores settings in `<data dir>/settings.ini`; values come back as strings after a restart."""

    def __init__(self, data_dir: Path) -> None:
        ensure_data_dir(data_dir)  # 0700 when created here
        self.path = data_dir / SETTINGS_FILE
        # QSettings rewrites the file keeping its mode: start it 0600, private like the rest.
        with contextlib.suppress(OSError):
            create_private_file(self.path)
        make_private(self.path)
        self.qsettings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def get(self, key: str) -> object | None:
        value = self.qsettings.value(key)
        return None if value is None else value

    def put(self, key: str, value: object) -> None:
        self.qsettings.setValue(key, value)
        self.qsettings.sync()

    def get_bytes(self, key: str) -> QByteArray | None:
        """Window geometry and splitter state are opaque byte arrays."""
        value = self.qsettings.value(key)
        return value if isinstance(value, QByteArray) else None

    def put_bytes(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(key, value)
