"""A slow keychain (D-Bus, an unlock prompt) never stalls the window's event loop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from llms_desktop.app import AppServices
from llms_desktop.providers.config import ProviderConfig
from llms_desktop.providers.setup import ProviderSetup
from llms_desktop.secrets import KeyStore
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.ui.main_window import MainWindow
from llms_desktop.ui.providers_page import ProvidersPage
from llms_desktop.ui.qsettings_backend import QSettingsBackend
from llms_desktop.ui.stream_registry import StreamRegistry
from tests.ui.conftest import QtLoop, wait_until
from tests.ui.test_store_lock import TickGaps

# Measures event-loop stalls: runs after the parallel part of the suite, alone on the machine.
pytestmark = pytest.mark.timing

DELAY = 0.8  # seconds each keychain call takes


class SlowKeyring(KeyringBackend):
    """A real keyring backend (keyring's plugin API) whose every call takes DELAY seconds."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[str, str] = {}
        self.calls = 0

    def _wait(self) -> None:
        self.calls += 1
        time.sleep(DELAY)

    def get_password(self, service: str, username: str) -> str | None:
        self._wait()
        return self.passwords.get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        self._wait()
        self.passwords[username] = password

    def delete_password(self, service: str, username: str) -> None:
        self._wait()
        if self.passwords.pop(username, None) is None:
            raise PasswordDeleteError("not found")


class KeychainApp:
    def __init__(self, data_dir: Path, keyring: SlowKeyring) -> None:
        self.store = Store.open(data_dir)
        keys = KeyStore(data_dir.parent / "keys.json", backend=keyring)
        self.setup = ProviderSetup(data_dir, keys=keys)
        self.services = AppServices(
            self.store, Settings(QSettingsBackend(data_dir)), StreamRegistry(), self.setup
        )
        self.window = MainWindow(self.services)
        self.window.show()

    async def close(self) -> None:
        await self.services.aclose()
        self.window.close()
        self.store.close()


@pytest.fixture
def keyring() -> SlowKeyring:
    return SlowKeyring()


@pytest.fixture
def app(qloop: QtLoop, tmp_path: Path, keyring: SlowKeyring) -> Iterator[KeychainApp]:
    instance = KeychainApp(tmp_path / "data", keyring)
    yield instance
    qloop.run(instance.close())


def test_showing_storing_removing_and_importing_keys_never_waits_on_the_keychain(
    app: KeychainApp, keyring: SlowKeyring, qloop: QtLoop, tmp_path: Path
) -> None:
    app.setup.add(
        ProviderConfig(
            id="local", type="openai-compatible", name="Local", base_url="http://127.0.0.1:9/v1"
        )
    )
    keyring.passwords["local"] = "sk-stored"
    llms_json = tmp_path / "llms.json"
    llms_json.write_text(
        json.dumps(
            {"providers": {"groq": {"base_url": "https://api.groq.com/openai/v1", "api_key": "k"}}}
        )
    )

    async def scenario() -> int:
        gaps = TickGaps()
        dialog = app.window.open_preferences()
        page = dialog.findChild(ProvidersPage)
        assert page is not None
        page.list.setCurrentRow(0)  # shows "local": is a key stored?
        await wait_until(lambda: "A key is stored" in page.key_status.text(), seconds=10)
        page.key_edit.setText("sk-new")
        page.key_edit.editingFinished.emit()
        await wait_until(lambda: "Stored the key" in page.message.text(), seconds=10)
        page.remove_button.click()
        await wait_until(lambda: "Removed Local" in page.message.text(), seconds=10)
        page.import_file(str(llms_json))
        await wait_until(lambda: "Imported: groq" in page.message.text(), seconds=10)
        gaps.stop()
        return gaps.worst_ms

    worst_ms = qloop.run(scenario(), timeout=60)
    assert keyring.calls >= 4  # each step asked the (slow) keychain
    assert keyring.passwords == {"groq": "k"}
    assert worst_ms < DELAY * 1000 / 2, f"the event loop stalled for {worst_ms} ms"
