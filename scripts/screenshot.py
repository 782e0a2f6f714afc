"""Grab the real window to a PNG (for the README): loopback server, temp data dir.

Mid-stream:  xvfb-run -a .venv/bin/python scripts/screenshot.py docs/window.png
First run (no provider yet):  xvfb-run -a .venv/bin/python scripts/screenshot.py --first-run \
    docs/first-run.png
Versions and this chat's settings:  xvfb-run -a .venv/bin/python scripts/screenshot.py \
    --versions docs/versions.png
or offscreen:  QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/screenshot.py out.png

With --first-run the welcome page really probes this computer's usual ports; a loopback server
stands in for Ollama on port 11434 (when that port is free) so the page has a server to offer.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.loopback import LoopbackServer, Pause, Reply, chunk, json_reply

ANSWER = """Here is a small **Python** function that streams tokens from an
OpenAI-compatible server:

```python
async def stream(client, prompt):
    async with client.stream("POST", "/chat/completions", json=body(prompt)) as response:
        async for line in response.aiter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                yield json.loads(line[6:])
```

Why it works:

1. `client.stream` keeps the connection open while tokens arrive.
2. Each `data:` line carries one `chat.completion.chunk`.
3. Cancelling the task closes the connection at once.

| Setting | Default |
|---------|---------|
| Streaming | on |
| Timeout | 120 s |

The answer keeps growing while you read it, and **Stop** keeps whatever arrived so far"""


def qt_app() -> Any:
    """The application, light or dark as SHOT_DARK=1 asks, kept running between windows."""
    from PySide6.QtWidgets import QApplication

    from llms_desktop.ui.theme import apply_palette

    app = QApplication(sys.argv[:1])
    app.setQuitOnLastWindowClosed(False)
    apply_palette(app, dark=os.environ.get("SHOT_DARK") == "1")
    return app


def shown_window(store: Any, data: Path, *, height: int) -> tuple[Any, Any]:
    """The real main window (and its services) on `store`, shown at 1180 x `height`."""
    from llms_desktop.app import AppServices
    from llms_desktop.providers.setup import ProviderSetup
    from llms_desktop.settings import Settings
    from llms_desktop.ui.main_window import MainWindow
    from llms_desktop.ui.qsettings_backend import QSettingsBackend
    from llms_desktop.ui.stream_registry import StreamRegistry

    services = AppServices(
        store, Settings(QSettingsBackend(data)), StreamRegistry(), ProviderSetup(data)
    )
    window = MainWindow(services)
    window.resize(1180, height)
    window.show()
    return window, services


def script(stop_after: int) -> Reply:
    words = ANSWER.split(" ")
    pieces: list[bytes | Pause] = [
        f"data: {json.dumps(chunk(reasoning='Planning the example. '))}\n\n".encode()
    ]
    for index, word in enumerate(words):
        text = word if index == 0 else " " + word
        pieces += [f"data: {json.dumps(chunk(text, model='llama-3.1-8b'))}\n\n".encode()]
        pieces.append(Pause(0.01 if index < stop_after else 60))
    return Reply(headers=[("Content-Type", "text/event-stream")], pieces=pieces)


def main() -> int:
    modes = {"--first-run", "--versions"}
    args = [arg for arg in sys.argv[1:] if arg not in modes]
    mode = next((arg for arg in sys.argv[1:] if arg in modes), "")
    default = {"--first-run": "docs/first-run.png", "--versions": "docs/versions.png"}
    out = Path(args[0] if args else default.get(mode, "docs/window.png")).resolve()
    if mode == "--first-run":
        return shoot_first_run(out)
    if mode == "--versions":
        return shoot_versions(out)
    data = Path(tempfile.mkdtemp(prefix="llms-desktop-shot-"))
    server = LoopbackServer()

    def handler(request: object) -> Reply:
        if getattr(request, "path", "").endswith("/models"):
            return json_reply({"data": [{"id": "llama-3.1-8b"}, {"id": "qwen2.5-7b"}]})
        return script(stop_after=int(len(ANSWER.split(" ")) * 0.85))

    server.handler = handler
    server.start()
    os.environ["OPENAI_BASE_URL"] = server.base_url
    os.environ["LLMS_DESKTOP_HOME"] = str(data)

    import qasync

    from llms_desktop.store import Store

    app = qt_app()
    store = Store.open(data)
    earlier = store.create_thread("Packing list for a weekend hike", model="qwen2.5-7b")
    store.add_message(earlier.id, "user", "Packing list for a weekend hike?")
    store.add_message(earlier.id, "assistant", "- Tent\n- Water filter", model="qwen2.5-7b")
    store.set_pinned(earlier.id, True)
    store.create_thread("Explain SSE line endings", model="llama-3.1-8b")
    window, services = shown_window(store, data, height=800)

    async def shoot() -> None:
        await asyncio.sleep(0.3)
        window.composer.set_model("llama-3.1-8b")
        window.controller.send(
            "Show me how to stream tokens from an OpenAI-compatible API in Python."
        )
        await asyncio.sleep(2.8)
        window.grab().save(str(out))
        print(f"saved {out}")
        await services.registry.stop_all()
        await services.aclose()

    asyncio.run(shoot(), loop_factory=lambda: qasync.QEventLoop(app))
    server.stop()
    return 0


def shoot_first_run(out: Path) -> int:
    """The window as a new user first sees it: no provider, the welcome page."""
    import socket

    data = Path(tempfile.mkdtemp(prefix="llms-desktop-first-run-"))
    os.environ["LLMS_DESKTOP_HOME"] = str(data)
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "AIREFINERY_API_KEY"):
        os.environ.pop(name, None)
    stand_in: LoopbackServer | None = None
    with socket.socket() as probe:
        free = probe.connect_ex(("127.0.0.1", 11434)) != 0
    if free:
        stand_in = LoopbackServer(
            lambda request: json_reply(
                {"data": [{"id": "llama3.2:3b"}, {"id": "qwen2.5:7b"}, {"id": "gemma3:4b"}]}
            ),
            port=11434,
        ).start()

    import qasync

    from llms_desktop.store import Store

    app = qt_app()
    store = Store.open(data)
    window, services = shown_window(store, data, height=800)

    async def shoot() -> None:
        window.start_background_work()
        await asyncio.sleep(1.2)  # the probe gives up on each port after 0.6 s
        window.grab().save(str(out))
        print(f"saved {out}")
        await services.aclose()

    asyncio.run(shoot(), loop_factory=lambda: qasync.QEventLoop(app))
    store.close()
    if stand_in is not None:
        stand_in.stop()
    return 0


def shoot_versions(out: Path) -> int:
    """A finished answer with a second version, its actions, and the Chat Settings panel."""
    data = Path(tempfile.mkdtemp(prefix="llms-desktop-versions-"))
    server = LoopbackServer(lambda request: json_reply({"data": [{"id": "llama-3.1-8b"}]}))
    server.start()
    os.environ["OPENAI_BASE_URL"] = server.base_url
    os.environ["LLMS_DESKTOP_HOME"] = str(data)

    import qasync

    from llms_desktop.store import Store

    app = qt_app()
    store = Store.open(data)
    thread = store.create_thread(
        "A haiku about autumn",
        model="llama-3.1-8b",
        system_prompt="You are a poet. Answer in verse.",
        params={"temperature": 1.1, "max_tokens": 512},
    )
    question = store.add_message(thread.id, "user", "Write a haiku about autumn.")
    for text in (
        "Crisp leaves drift and fall,\nthe maple lets go of red,\ncold wind keeps the rest.",
        "Amber afternoon,\na squirrel buries the light\nfor a colder day.",
    ):
        answer = store.add_message(
            thread.id,
            "assistant",
            "",
            status="streaming",
            model="llama-3.1-8b",
            parent_id=question.id,
        )
        store.finish_message(
            answer.id,
            "complete",
            content=text,
            usage={
                "prompt_tokens": 31,
                "completion_tokens": 22,
                "estimated": False,
                "ttft_ms": 180.0,
                "duration_ms": 640.0,
            },
        )
    window, services = shown_window(store, data, height=640)

    async def shoot() -> None:
        window.controller.open_thread(thread.id)
        window.composer.set_model("llama-3.1-8b")
        window.settings_panel_action.setChecked(True)
        await asyncio.sleep(0.5)
        window.grab().save(str(out))
        print(f"saved {out}")
        await services.aclose()

    asyncio.run(shoot(), loop_factory=lambda: qasync.QEventLoop(app))
    store.close()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
