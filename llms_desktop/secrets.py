"""API keys in the OS keychain (keyring); a 0600 key file only where no keychain exists."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from llms_desktop import errors

SERVICE = "llms-desktop"
KEY_FILE = "api-keys.json"


def default_key_file() -> Path:
    """The fallback key file: `$LLMS_DESKTOP_KEY_FILE`, else in the user's config folder."""
    override = os.environ.get("LLMS_DESKTOP_KEY_FILE")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(SERVICE, appauthor=False)) / KEY_FILE


class KeyStore:
    """Stores one API key per provider id.

    The OS keychain (Secret Service, macOS Keychain, Windows Credential Locker) through
    `keyring`. When keyring has no usable backend (a headless Linux without Secret Service),
    keys go to `api-keys.json` in the user's config folder, readable only by the user (0600 in
    a 0700 folder) and, like a keychain, per user rather than per data directory: nothing in
    the data directory ever holds a key. `location` says which, so the settings dialog can tell
    the user. Calls may block (D-Bus): the app makes them off the event loop.
    """

    def __init__(self, fallback_path: Path | None = None, *, backend: Any = None) -> None:
        self._fallback_path = fallback_path or default_key_file()
        self._backend = backend
        self._lock = threading.Lock()

    def _keyring(self) -> Any:
        """The keyring backend, or None when only the fail/null backends are available."""
        if self._backend is None:
            try:
                import keyring
                from keyring.backends import fail
            except ImportError:  # pragma: no cover - keyring is a dependency
                self._backend = False
                return None
            backend = keyring.get_keyring()
            usable = not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 1) > 0
            self._backend = backend if usable else False
        return self._backend or None

    @property
    def uses_keychain(self) -> bool:
        return self._keyring() is not None

    @property
    def location(self) -> str:
        """Where keys are kept, for the user."""
        backend = self._keyring()
        if backend is not None:
            name = getattr(backend, "name", type(backend).__name__)
            return f"the system keychain ({name})"
        return f"{self._fallback_path} (readable only by you; no system keychain was found)"

    def get(self, provider_id: str) -> str | None:
        backend = self._keyring()
        try:
            if backend is not None:
                value = backend.get_password(SERVICE, provider_id)
                return str(value) if value else None
            return self._read_file().get(provider_id) or None
        except Exception as exc:  # keyring backends raise their own error types
            raise errors.ConfigError(
                f"Could not read the API key for {provider_id!r}: {exc}"
            ) from exc

    def set(self, provider_id: str, key: str) -> None:
        key = key.strip()
        if not key:
            self.delete(provider_id)
            return
        backend = self._keyring()
        try:
            if backend is not None:
                backend.set_password(SERVICE, provider_id, key)
                return
            with self._lock:
                keys = self._read_file()
                keys[provider_id] = key
                self._write_file(keys)
        except errors.ConfigError:
            raise
        except Exception as exc:
            raise errors.ConfigError(
                f"Could not store the API key for {provider_id!r}: {exc}"
            ) from exc

    def delete(self, provider_id: str) -> None:
        backend = self._keyring()
        try:
            if backend is not None:
                try:
                    backend.delete_password(SERVICE, provider_id)
                except Exception as exc:
                    if type(exc).__name__ != "PasswordDeleteError":  # nothing stored
                        raise
                return
            with self._lock:
                keys = self._read_file()
                if keys.pop(provider_id, None) is not None:
                    self._write_file(keys)
        except errors.ConfigError:
            raise
        except Exception as exc:
            raise errors.ConfigError(
                f"Could not remove the API key for {provider_id!r}: {exc}"
            ) from exc

    def _read_file(self) -> dict[str, str]:
        try:
            data = json.loads(self._fallback_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as exc:
            raise errors.ConfigError(
                f"The key file {self._fallback_path} is unreadable: {exc}"
            ) from exc
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _write_file(self, keys: dict[str, str]) -> None:
        folder = self._fallback_path.parent
        if not folder.exists():
            # Only a folder we create is made private: LLMS_DESKTOP_KEY_FILE may point into a
            # shared one (never chmod /tmp). The file itself is always 0600.
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)  # mkdir's mode is masked by the umask
        temporary = self._fallback_path.with_name(KEY_FILE + ".tmp")
        # Created 0600 from the start: the key is never readable by others, not even briefly.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump(keys, handle)
        os.replace(temporary, self._fallback_path)
