"""`--store`: each exchange through the server becomes a new thread, saved by ChatSession.

Content parts are kept: images (`image_url` data URLs) and files (`file` parts) become the
messages' attachments, stored as the client sent them; parts that cannot be stored (a remote
image URL, audio) are named in the text. The request upstream is the client's, untouched.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llms_desktop.attachments.parts import Unpacked, unpack
from llms_desktop.chat_params import reusable_params
from llms_desktop.errors import StoreError
from llms_desktop.providers.base import Provider
from llms_desktop.providers.registry import Route
from llms_desktop.server.request import CompletionRequest, content_text
from llms_desktop.session import ChatSession
from llms_desktop.turns import ThreadSettings, Turn, title_from
from llms_desktop.types import ChatRequest, Delta, ModelInfo

if TYPE_CHECKING:
    from llms_desktop.attachments.model import Attachment
    from llms_desktop.store import Store
    from llms_desktop.store.writer import Writer

log = logging.getLogger(__name__)

DeltaSink = Callable[[Delta], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SavedThread:
    """A thread created for one exchange, holding the turns before its last user message."""

    thread_id: str
    user_text: str
    settings: ThreadSettings
    parent_id: str | None  # the last earlier turn, under which the user message goes
    attachments: tuple[Attachment, ...] = ()


def unpack_messages(request: CompletionRequest) -> list[Unpacked]:
    """Each message's content taken apart (decoding images and PDF text: run it off the loop)."""
    return [unpack(message.content) for message in request.messages]


def start_thread(
    store: Store,
    request: CompletionRequest,
    route: Route,
    upstream: ChatRequest,
    unpacked: Sequence[Unpacked] | None = None,
) -> SavedThread | None:
    """Create the exchange's thread, titled from the last user message, with the earlier turns
    and their attachments.

    None (and a warning in the log) when no user message has text or attachments, or the store
    fails: a broken database must not stop the server from answering.
    """
    parts = list(unpacked) if unpacked is not None else unpack_messages(request)
    index = next(
        (
            i
            for i in range(len(parts) - 1, -1, -1)
            if request.messages[i].role == "user"
            and (parts[i].text.strip() or parts[i].attachments)
        ),
        None,
    )
    if index is None:
        return None
    last = parts[index]
    user_text = last.stored_text
    names = ", ".join(a.name for a in last.attachments)
    title = title_from(last.text) or title_from(names) or title_from(user_text)
    systems = [content_text(m.content) for m in request.messages if m.role == "system"]
    system_prompt = "\n\n".join(text for text in systems if text) or None
    # The client's tools, response_format, user id and the like belong to this request only.
    params = reusable_params(upstream.params)
    settings = ThreadSettings(route.model, route.config.id, system_prompt, params)
    parent_id = None
    try:
        thread = store.create_thread(
            title,
            model=settings.model,
            provider=settings.provider,
            system_prompt=settings.system_prompt,
            params=settings.params,
        )
        for message, unpacked_message in zip(request.messages[:index], parts[:index], strict=True):
            if message.role != "system":
                parent_id = store.add_message(
                    thread.id,
                    message.role,
                    unpacked_message.stored_text,
                    tool_calls=message.tool_calls,
                    parent_id=parent_id,
                    tool_call_id=message.tool_call_id,
                    name=message.name,
                    attachments=unpacked_message.attachments if message.role == "user" else (),
                ).id
    except StoreError as exc:
        log.warning("not saving this exchange: %s", exc)
        return None
    return SavedThread(thread.id, user_text, settings, parent_id, tuple(last.attachments))


class _Tee:
    """A provider for ChatSession that hands every delta to the HTTP response before the
    session sees it, so saving never delays the client."""

    def __init__(self, provider: Provider, sink: DeltaSink) -> None:
        self.id = provider.id
        self.provider = provider
        self.sink = sink
        self.started = False
        self.ended = False

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta]:
        self.started = True
        async with aclosing(self.provider.stream(request)) as deltas:
            async for delta in deltas:
                await self.sink(delta)
                yield delta
        self.ended = True

    async def list_models(self) -> list[ModelInfo]:
        return await self.provider.list_models()

    async def aclose(self) -> None:
        """Nothing: the registry owns the provider's connections."""


async def relay(
    provider: Provider,
    upstream: ChatRequest,
    sink: DeltaSink,
    store: Store | Writer | None,
    thread: SavedThread | None,
    route: Route,
) -> None:
    """Send `upstream` and pass each delta to `sink`; with a thread, save the exchange too."""
    if store is not None and thread is not None:
        forward = _Tee(provider, sink)
        # The client's exact request goes upstream (tool results, content parts and all); the
        # thread keeps the turns before it and this exchange.
        turn = Turn(
            request=upstream,
            provider_id=route.config.id,
            thread_id=thread.thread_id,
            parent_id=thread.parent_id,
            user_text=thread.user_text,
            settings=thread.settings,
            save_settings=False,
            attachments=thread.attachments,
        )
        try:
            await ChatSession(forward, store).run(turn)
            return
        except StoreError as exc:
            log.warning("could not save the exchange in thread %s: %s", thread.thread_id, exc)
            if forward.ended:
                return  # the client has its whole answer; only our copy of it is incomplete
            if forward.started:
                raise
        # Saving failed before the request went out: answer without saving.
    async with aclosing(provider.stream(upstream)) as deltas:
        async for delta in deltas:
            await sink(delta)
