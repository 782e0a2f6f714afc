"""The window's first frame does not wait for modules it does not need (a real start-up)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Loaded later, when they are first used: rendering the reopened chat, talking to a
# provider, the API server, the keychain, the AI Refinery and MCP SDKs, the event loop's glue.
NOT_IN_FIRST_FRAME = {
    "markdown_it",
    "pygments",
    "httpx",
    "aiohttp",
    "keyring",
    "air",
    "qasync",
    "mcp",
    # Attachments: Pillow only when an image must be downscaled, pypdf when a PDF is read.
    "PIL",
    "pypdf",
}

PROBE = """
import json, sys
from pathlib import Path
from llms_desktop import settings as keys
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.ui.qsettings_backend import QSettingsBackend
import llms_desktop.ui.application as application

folder = Path(sys.argv[1])
store = Store.open(folder)
thread = store.create_thread("Earlier chat", model="m")
store.add_message(thread.id, "user", "Show code")
store.add_message(thread.id, "assistant", "Here:\\n\\n```python\\nprint('hi')\\n```\\n")
store.close()
Settings(QSettingsBackend(folder)).set(keys.LAST_THREAD, thread.id)  # reopened at start

seen = {}
real = application.paint_now

def spy(app, window, started):
    shown = real(app, window, started)
    seen["first_frame"] = sorted({name.split(".")[0] for name in sys.modules})
    return shown

application.paint_now = spy
code = application.run_gui(str(folder), quit_after_show=True)
seen["at_exit"] = sorted({name.split(".")[0] for name in sys.modules})
seen["code"] = code
print("RESULT " + json.dumps(seen))
"""


def run_probe(script: str, *args: str, home: Path) -> tuple[dict[str, Any], str]:
    """Run `script` in a fresh process (offscreen, a provider from the environment that
    nothing listens on: no first-run page); its RESULT line, and all it printed."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "LLMS_DESKTOP_HOME": str(home),
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "sk-test",
    }
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT ")), result.stdout


def test_the_first_frame_imports_no_renderer_network_or_keychain_module(tmp_path: Path) -> None:
    seen, printed = run_probe(PROBE, str(tmp_path / "data"), home=tmp_path / "home")
    assert seen["code"] == 0
    assert "window shown in" in printed
    assert NOT_IN_FIRST_FRAME.isdisjoint(seen["first_frame"]), seen["first_frame"]
    # They do load once needed: the chat reopened after the first frame has a code block,
    # and the loop needs qasync.
    assert {"markdown_it", "pygments", "qasync"} <= set(seen["at_exit"])


RELAUNCH = """
import json, sys
from pathlib import Path
from llms_desktop import settings as keys
from llms_desktop.settings import Settings
from llms_desktop.store import Store
from llms_desktop.ui.qsettings_backend import QSettingsBackend
import llms_desktop.ui.application as application
from llms_desktop.ui.chat_controller import ChatController

folder, answer = Path(sys.argv[1]), sys.argv[2]
store = Store.open(folder)
threads = store.list_threads()
if not threads:
    thread = store.create_thread("Earlier chat", model="m")
    store.add_message(thread.id, "user", "Show code")
    store.add_message(thread.id, "assistant", answer)
    Settings(QSettingsBackend(folder)).set(keys.LAST_THREAD, thread.id)
else:
    last = [m for m in store.messages(threads[0].id) if m.role == "assistant"][0]
    if last.content != answer:
        store.finish_message(last.id, "complete", content=answer)
store.close()

shown = {}
real = ChatController.open_last_thread

def spy(self):
    real(self)
    shown["text"] = self.parts.chat_view.toPlainText()

ChatController.open_last_thread = spy
code = application.run_gui(str(folder), quit_after_show=True)
loaded = {name.split(".")[0] for name in sys.modules}
print("RESULT " + json.dumps({"code": code, "text": shown["text"],
                              "rendered": "markdown_it" in loaded or "pygments" in loaded}))
"""


def relaunch(folder: Path, answer: str, home: Path) -> dict[str, Any]:
    outcome, _ = run_probe(RELAUNCH, str(folder), answer, home=home)
    assert outcome["code"] == 0
    return outcome


def test_a_relaunch_shows_the_last_chat_without_rendering_it_again(tmp_path: Path) -> None:
    folder, home = tmp_path / "data", tmp_path / "home"
    first = relaunch(folder, "Here:\n\n```python\nprint('hi')\n```\n", home)
    assert first["rendered"] is True
    assert "print('hi')" in str(first["text"])
    cached = list((folder / "render-cache").iterdir())
    assert len(cached) == 1
    assert oct(cached[0].stat().st_mode & 0o777) == "0o600"

    second = relaunch(folder, "Here:\n\n```python\nprint('hi')\n```\n", home)
    assert second["rendered"] is False  # neither markdown-it nor pygments was needed
    assert second["text"] == first["text"]

    # The stored answer changed (another process, an edit): rendered afresh, never stale.
    third = relaunch(folder, "Changed:\n\n```python\nprint('bye')\n```\n", home)
    assert third["rendered"] is True
    assert "print('bye')" in str(third["text"])
    assert "print('hi')" not in str(third["text"])
    assert len(list((folder / "render-cache").iterdir())) == 1
