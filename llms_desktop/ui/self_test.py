"""`--self-test`: the real window, offscreen, streams one answer from an in-process provider."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llms_desktop.app import AppServices, Resolved
from llms_desktop.types import ChatRequest, Delta, Finish, ModelInfo, TextDelta, Usage

if TYPE_CHECKING:
    from llms_desktop.providers.base import Provider
    from llms_desktop.store import Store
    from llms_desktop.ui.main_window import MainWindow

MODEL = "self-test-model"
PROMPT = "Say hello from the self-test"
# Markdown with a fenced code block: rendering it loads markdown-it and a pygments lexer by
# name, the dynamic imports a bundle is most likely to miss.
PIECES = (
    "Hello from the ",
    "**self-test**",
    ".\n\n```python\n",
    "print('bundled')\n",
    "```\n\nDone.",
)
ANSWER = "".join(PIECES)
SHOWN = ("Hello from the self-test.", "print('bundled')", "Done.")
USAGE = {"prompt_tokens": 7, "completion_tokens": len(PIECES), "total_tokens": 7 + len(PIECES)}
PIECE_GAP = 0.01  # seconds between deltas: several frames, so the view renders progressively
DEFAULT_TIMEOUT = 15.0
# The offscreen plugin cannot resize windows to size hints (tests ignore it too).
IGNORED_QT_MESSAGES = ("This plugin does not support propagateSizeHints",)


class SelfTestFailed(Exception):
    """A check failed; the message is the one line printed to stderr."""


class FakeProvider:
    """Streams `PIECES` with small gaps, then usage and a finish reason; no network."""

    id = "self-test"

    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []  # (model, last message content)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta]:
        self.requests.append((request.model, request.messages[-1].content))
        for piece in PIECES:
            await asyncio.sleep(PIECE_GAP)
            yield TextDelta(piece)
        yield Usage(USAGE["prompt_tokens"], USAGE["completion_tokens"], USAGE["total_tokens"])
        yield Finish("stop")

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(MODEL, "self-test")]

    async def aclose(self) -> None:
        """Nothing to release."""


class AirLoopback:
    """An HTTP server on 127.0.0.1 answering like AI Refinery, for `--airefinery`."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, object]] = []  # (model, last message content)
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        """Listen on a free port; returns the base URL."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            method, path, _version = head.split("\r\n", 1)[0].split(" ", 2)
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            if method == "POST" and path.endswith("/v1/chat/completions"):
                sent = json.loads(body)
                self.requests.append((sent["model"], sent["messages"][-1]["content"]))
                writer.write(_head("200 OK", "text/event-stream", "Transfer-Encoding: chunked"))
                for frame in _air_frames():
                    await asyncio.sleep(PIECE_GAP)
                    writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
                    await writer.drain()
                writer.write(b"0\r\n\r\n")
            elif method == "GET" and path.endswith("/v1/models"):
                payload = json.dumps({"object": "list", "data": [_air_model(MODEL)]}).encode()
                writer.write(
                    _head("200 OK", "application/json", f"Content-Length: {len(payload)}") + payload
                )
            else:
                writer.write(_head("404 Not Found", "text/plain", "Content-Length: 0"))
            await writer.drain()
        finally:
            writer.close()


def _head(status: str, content_type: str, framing: str) -> bytes:
    return (
        f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{framing}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


def _air_frames() -> list[bytes]:
    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
        payload = {
            "id": "chatcmpl-self-test",
            "object": "chat.completion.chunk",
            "created": 1700000000,
            "model": MODEL,
            "choices": choices,
            **extra,
        }
        return f"data: {json.dumps(payload)}\n\n".encode()

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": piece}) for piece in PIECES]
    frames += [chunk({}, "stop"), chunk({}, usage=USAGE), b"data: [DONE]\n\n"]
    return frames


def _air_model(model_id: str) -> dict[str, Any]:
    # The vLLM-style shape the SDK's `Model` type validates.
    return {
        "id": model_id,
        "object": "model",
        "created": 1700000000,
        "owned_by": "AIRefinery",
        "root": model_id,
        "parent": None,
        "permission": [
            {
                "id": "modelperm-0",
                "object": "model_permission",
                "created": 1700000000,
                "allow_create_engine": False,
                "allow_sampling": True,
                "allow_logprobs": True,
                "allow_search_indices": False,
                "allow_view": True,
                "allow_fine_tuning": False,
                "organization": "*",
                "group": None,
                "is_blocking": False,
            }
        ],
    }


class SelfTestServices(AppServices):
    """The app's services; with `fake` set, every model is served by that in-process provider."""

    def __init__(self, *args: Any, fake: Provider | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fake = fake

    async def resolve(self, model_ref: str) -> Resolved:
        if self.fake is None:
            return await super().resolve(model_ref)
        return Resolved(self.fake, self.fake.id, MODEL, {})

    async def list_models(self) -> tuple[list[str], list[str]]:
        if self.fake is None:
            return await super().list_models()
        return [model.id for model in await self.fake.list_models()], []

    def fallback_model(self) -> str:
        return MODEL if self.fake is not None else ""

    def has_provider(self) -> bool:
        return self.fake is not None or super().has_provider()

    async def aclose(self) -> None:
        if self.fake is not None:
            await self.fake.aclose()
        await super().aclose()


def main(argv: list[str]) -> int:
    """Run the self-test; prints `ok` and returns 0, or prints why it failed and returns 1."""
    parser = argparse.ArgumentParser(
        prog="llms-desktop --self-test",
        description="Open the main window offscreen and stream one answer from a fake provider.",
    )
    parser.add_argument(
        "--airefinery",
        action="store_true",
        help="stream through the AI Refinery provider and its SDK, from a server on 127.0.0.1",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"give up after this many seconds (default {DEFAULT_TIMEOUT:g})",
    )
    args = parser.parse_args(argv)
    # A hung Qt call never returns to asyncio's timeout: a watchdog ends the process.
    hard_limit = args.timeout + 5.0
    watchdog = threading.Timer(hard_limit, _hard_exit, (hard_limit,))
    watchdog.daemon = True
    watchdog.start()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="llms-desktop-self-test-") as tmp,
            _scoped_environ(_isolated_environ(Path(tmp))),
        ):
            _check_bundle_environ()
            _run(Path(tmp), args.timeout, airefinery=args.airefinery)
    except SelfTestFailed as exc:
        print(f"llms-desktop self-test failed: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug or a broken bundle: still one line, naming the type
        reason = _one_line(f"{type(exc).__name__}: {exc}")
        print(f"llms-desktop self-test failed: {reason}", file=sys.stderr)
        return 1
    finally:
        watchdog.cancel()
    print("ok", flush=True)
    return 0


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _hard_exit(seconds: float) -> None:
    print(f"llms-desktop self-test failed: hung for {seconds:g} s", file=sys.stderr, flush=True)
    os._exit(1)


def _check_bundle_environ() -> None:
    """In a PyInstaller bundle: programs the app starts must not inherit its library path."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and bundle in os.environ.get("LD_LIBRARY_PATH", ""):
        raise SelfTestFailed(
            "LD_LIBRARY_PATH still points into the bundle, so a browser opened for a link would "
            "load its libraries (packaging/pyinstaller-hooks/runtime/ is missing from the build)"
        )


def _isolated_environ(tmp: Path) -> dict[str, str]:
    # Whatever resolves a default path on its own lands in the temporary folder, not in ~.
    return {
        # No window on the user's screen, unless a platform was asked for.
        "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "LLMS_DESKTOP_HOME": str(tmp / "data"),
        "LLMS_DESKTOP_KEY_FILE": str(tmp / "api-keys.json"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_DATA_HOME": str(tmp / "share"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "AIR_CACHE_DIR": str(tmp / "air-cache"),
        "AIR_SILENT": "1",
    }


@contextlib.contextmanager
def _scoped_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _run(tmp: Path, timeout: float, *, airefinery: bool) -> None:
    import qasync
    from PySide6.QtCore import (
        QCoreApplication,
        QMessageLogContext,
        QtMsgType,
        qInstallMessageHandler,
    )
    from PySide6.QtWidgets import QApplication

    from llms_desktop.providers.base import Timeouts
    from llms_desktop.providers.setup import ProviderSetup
    from llms_desktop.secrets import KeyStore
    from llms_desktop.settings import Settings
    from llms_desktop.store import Store
    from llms_desktop.ui.main_window import MainWindow, WindowState
    from llms_desktop.ui.qsettings_backend import QSettingsBackend
    from llms_desktop.ui.stream_registry import StreamRegistry
    from llms_desktop.ui.theme import apply_palette, resolve_dark

    qt_problems: list[str] = []

    def on_qt_message(kind: QtMsgType, _context: QMessageLogContext, text: str) -> None:
        # Tests fail on Qt warnings; so does the self-test (a missing plugin or font shows here).
        quiet = kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg)
        if not quiet and not any(ignored in text for ignored in IGNORED_QT_MESSAGES):
            qt_problems.append(text)

    previous_handler = qInstallMessageHandler(on_qt_message)
    try:
        QCoreApplication.setOrganizationName("llms-desktop")
        QCoreApplication.setApplicationName("llms-desktop")
        app = QApplication.instance() or QApplication(sys.argv[:1])
        assert isinstance(app, QApplication)
        app.setQuitOnLastWindowClosed(False)
        folder = tmp / "data"
        backend = QSettingsBackend(folder)
        settings = Settings(backend)
        apply_palette(app, resolve_dark(settings.theme))
        store = Store.open(folder)

        async def scenario() -> None:
            from llms_desktop.ui.event_loop import install_asyncgen_hooks

            install_asyncgen_hooks()
            server = AirLoopback()
            env: dict[str, str] = {}
            fake: FakeProvider | None = None
            if airefinery:
                # The real route: the registry builds the AI Refinery provider, as it would for a
                # user who set AIREFINERY_API_KEY, and the SDK talks to the loopback server.
                env = {"AIREFINERY_API_KEY": "self-test", "AIR_BASE_URL": await server.start()}
                requests = server.requests
            else:
                fake = FakeProvider()
                requests = fake.requests
            providers = ProviderSetup(
                folder,
                KeyStore(tmp / "api-keys.json"),
                timeouts=lambda: Timeouts.from_single(timeout),
                env=env,
            )
            services = SelfTestServices(store, settings, StreamRegistry(), providers, fake=fake)
            window = MainWindow(services, WindowState(backend.get_bytes, backend.put_bytes))
            window.show()
            try:
                answer = _stream_one_answer(window, store, requests)
                await asyncio.wait_for(answer, timeout)
            except TimeoutError:
                raise SelfTestFailed(f"no complete answer within {timeout:g} s") from None
            finally:
                await services.registry.stop_all()
                await services.aclose()
                await server.aclose()
                window.close()

        try:
            asyncio.run(scenario(), loop_factory=lambda: qasync.QEventLoop(app))
        finally:
            store.close()
    finally:
        qInstallMessageHandler(previous_handler)
    if qt_problems:
        raise SelfTestFailed(f"Qt warned: {qt_problems[0]}")


async def _stream_one_answer(
    window: MainWindow, store: Store, requests: list[tuple[str, object]]
) -> None:
    """Send the prompt through the window's controller; check the provider, view and store."""
    window.controller.models.refresh()
    frames: list[None] = []
    window.chat_view.rendered.connect(lambda: frames.append(None))
    window.controller.send(PROMPT)
    streamers = window.services.registry.active
    if len(streamers) != 1:
        raise SelfTestFailed("sending the prompt did not start an answer")
    failures: list[BaseException] = []
    streamers[0].failed.connect(lambda _message, error: failures.append(error))
    await streamers[0].wait()
    if failures:
        error = failures[0]
        raise SelfTestFailed(f"the answer failed: {type(error).__name__}: {error}")
    if window.composer.streaming:
        raise SelfTestFailed("the window still shows an answer in progress after it ended")
    if requests != [(MODEL, PROMPT)]:
        raise SelfTestFailed(f"the provider got {requests!r}, expected {[(MODEL, PROMPT)]!r}")
    if not frames:
        raise SelfTestFailed("the chat view never rendered the answer while it streamed")
    shown = window.chat_view.toPlainText()
    missing = [text for text in SHOWN if text not in shown]
    if missing:
        raise SelfTestFailed(f"the chat view does not show {missing[0]!r}; it shows {shown!r}")
    thread_id = window.controller.thread_id
    if thread_id is None:
        raise SelfTestFailed("the answer was not saved to a thread")
    stored = [(m.role, m.status, m.content) for m in store.messages(thread_id)]
    expected = [("user", "complete", PROMPT), ("assistant", "complete", ANSWER)]
    if stored != expected:
        raise SelfTestFailed(f"the store holds {stored!r}, expected {expected!r}")
