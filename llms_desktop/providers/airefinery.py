"""Accenture AI Refinery through its `airefinery-sdk`, which is imported only when first used."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from llms_desktop import __version__, errors
from llms_desktop.providers.airefinery_errors import API_KEY_ENV, map_sdk_error
from llms_desktop.providers.base import Timeouts
from llms_desktop.providers.openai_wire import (
    DeltaCleaner,
    deltas_from_chunk,
    deltas_from_completion,
    request_body,
)
from llms_desktop.types import ChatRequest, Delta, Finish, ModelInfo

BASE_URL_ENV = "AIR_BASE_URL"
# The SDK's own defaults (air/__init__.py), copied so that choosing one needs no import.
DEFAULT_BASE_URL = "https://api.airefinery.accenture.com"
LEGACY_BASE_URL = "https://legacy-api.airefinery.accenture.com"
# `create()` takes these as its own arguments instead of sending them: never pass them through.
_RESERVED_PARAMS = ("timeout", "extra_headers")
_EARLY_END_DETAILS = (
    "airefinery-sdk stops reading at [DONE], at the end of the body, and also at a frame that "
    "holds only a comment such as ': ping', so a keep-alive can cut an answer short."
)


def default_base_url() -> str:
    """AI Refinery's endpoint as the SDK picks it: USE_LEGACY_API_URL selects the legacy one."""
    if os.environ.get("USE_LEGACY_API_URL", "").lower() in {"1", "true"}:
        return LEGACY_BASE_URL
    return DEFAULT_BASE_URL


def default_cache_dir() -> Path:
    """Where the SDK may keep its token cache: the user's cache directory, never the cwd."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("llms-desktop", appauthor=False)) / "airefinery"


def prepare_sdk_environment(cache_dir: Path | None = None) -> None:
    """Silence the SDK's banner and move its `.air/tokens` out of the cwd, unless the user chose.

    The SDK reads both variables once, when `air` is first imported, so this must run before.
    """
    if not os.environ.get("AIR_SILENT"):
        # The banner goes to stdout, where the CLI writes the answer.
        os.environ["AIR_SILENT"] = "1"
    if not os.environ.get("AIR_CACHE_DIR"):
        os.environ["AIR_CACHE_DIR"] = str(cache_dir or default_cache_dir())


def _import_sdk() -> None:
    # Loads pandas and numpy (about a second): run in a worker thread, off the event loop.
    import air.chat.client
    import air.models.client  # noqa: F401


def sdk_reads_tool_calls() -> bool:
    """Whether the installed SDK's answer models keep tool calls (streamed and whole); an SDK
    that dropped them would turn a tool call into an empty answer."""
    from air.types import ChatCompletion, ChatCompletionChunk

    def has(model: Any, *path: str) -> bool:
        for name in path:
            field = getattr(model, "model_fields", {}).get(name)
            if field is None:
                return False
            model = _model_of(field.annotation)
        return True

    return has(ChatCompletionChunk, "choices", "delta", "tool_calls") and has(
        ChatCompletion, "choices", "message", "tool_calls"
    )


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside List[X] / Optional[X] annotations (or the annotation)."""
    import typing

    while typing.get_args(annotation):
        models = [a for a in typing.get_args(annotation) if hasattr(a, "model_fields")]
        annotation = models[0] if models else typing.get_args(annotation)[0]
    return annotation


class AIRefineryProvider:
    """AI Refinery's chat completions through the SDK's chat client (`air.chat.client`).

    `AsyncAIRefinery` is not used: its constructor makes two blocking, timeout-less HTTP calls
    (the distiller clients validate the key). Known SDK limits, v1.33.2:

    - a `: ping` comment ends its stream silently, so an answer without a finish_reason is
      raised as `StreamEndedEarly`;
    - streamed `reasoning_content` is dropped by its chunk model (non-streamed answers keep it);
    - HTTP errors carry the status and reason but not the body, so the provider's own message
      is lost;
    - its stream gives up after 65 s without a byte; `timeouts.read` applies when shorter, and
      also bounds the wait for the response headers. It has no connect timeout of its own;
    - it ignores proxy environment variables (its aiohttp sessions do not trust the env);
    - tools: `tools`/`tool_choice` and tool messages are sent as given and tool calls come
      back, but its chunk model requires each streamed call's `index` (a server that leaves it
      out gets a ProtocolError naming the field). An SDK whose models drop tool calls is
      refused before sending rather than answering with silence.
    """

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        provider_id: str = "airefinery",
        timeouts: Timeouts | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        key = api_key or os.environ.get(API_KEY_ENV)
        if not key:
            raise errors.ConfigError(
                f"No AI Refinery API key: set {API_KEY_ENV} or enter the key in "
                "Settings > Providers."
            )
        url = (base_url or os.environ.get(BASE_URL_ENV) or default_base_url()).rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise errors.ConfigError(
                f"The AI Refinery base URL must start with http:// or https://, got {url!r}."
            )
        # The SDK appends /v1/chat/completions itself; a pasted ".../v1" would double it.
        self.base_url = url.removesuffix("/v1")
        self.id = provider_id
        self.timeouts = timeouts or Timeouts()
        self.cache_dir = cache_dir
        self._api_key = key
        self._headers = {"User-Agent": f"llms-desktop/{__version__}"}

    async def __aenter__(self) -> AIRefineryProvider:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to release: the SDK opens and closes one aiohttp session per request."""

    @property
    def chat_url(self) -> str:
        """Where the SDK sends chat requests."""
        return f"{self.base_url}/v1/chat/completions"

    @property
    def models_url(self) -> str:
        """Where the SDK lists models."""
        return f"{self.base_url}/v1/models"

    async def _load_sdk(self) -> None:
        prepare_sdk_environment(self.cache_dir)
        try:
            # Cheap once imported; concurrent first imports wait on the import lock in a thread.
            await asyncio.to_thread(_import_sdk)
        except ImportError as exc:
            raise errors.ConfigError(
                f"The AI Refinery provider needs the airefinery-sdk package ({exc})."
            ) from exc

    async def list_models(self) -> list[ModelInfo]:
        """`GET {base_url}/v1/models` through the SDK's models client, sorted by id."""
        await self._load_sdk()
        from air.models.client import AsyncModelsClient

        client = AsyncModelsClient(
            self._api_key, base_url=self.base_url, default_headers=dict(self._headers)
        )
        try:
            page = await client.list(timeout=self.timeouts.read)
        except Exception as exc:
            mapped = map_sdk_error(exc, self.models_url, self.timeouts)
            if mapped is None or mapped is exc:
                raise
            raise mapped from exc
        models = [ModelInfo(str(item.id), item.owned_by or None) for item in page.data]
        return sorted(models, key=lambda model: model.id)

    async def stream(self, request: ChatRequest) -> AsyncGenerator[Delta]:
        """Send the request and yield deltas; with `request.stream` off they arrive in one burst.

        Cancelling the consuming task unwinds the SDK's `async with` blocks and closes the
        connection at once.
        """
        await self._load_sdk()
        from air.chat.client import AsyncChatCompletionsClient

        client = AsyncChatCompletionsClient(
            self._api_key, base_url=self.base_url, default_headers=dict(self._headers)
        )
        if request.params.get("tools") and not sdk_reads_tool_calls():
            raise errors.ConfigError(
                "This airefinery-sdk cannot return tool calls; upgrade it to use tools with AI "
                "Refinery, or turn tools off for this chat."
            )
        body = request_body(request)
        for name in _RESERVED_PARAMS:
            body.pop(name, None)
        model, messages = body.pop("model"), body.pop("messages")
        try:
            if request.stream:
                # No `timeout`: the SDK would make it a cap on the whole answer.
                chunks = await client.create(model=model, messages=messages, **body)
                async with contextlib.aclosing(self._stream_deltas(chunks)) as deltas:
                    async for delta in deltas:
                        yield delta
            else:
                # Nothing arrives before the whole answer, so the idle limit bounds the total.
                completion = await client.create(
                    model=model, messages=messages, timeout=self.timeouts.read, **body
                )
                for delta in self._completion_deltas(completion):
                    yield delta
        except Exception as exc:
            mapped = map_sdk_error(exc, self.chat_url, self.timeouts)
            if mapped is None or mapped is exc:
                raise  # ours already, or a bug: keep its traceback as it is
            raise mapped from exc

    async def _stream_deltas(self, chunks: Any) -> AsyncGenerator[Delta]:
        received = False
        finished = False
        cleaner = DeltaCleaner()
        async with contextlib.aclosing(chunks):
            while True:
                try:
                    async with asyncio.timeout(self.timeouts.read) as idle:
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    if not idle.expired():
                        raise  # the SDK's own 65 s idle limit
                    raise errors.ReadTimeout(
                        f"{self.chat_url} sent nothing for {self.timeouts.read:g} s "
                        "(read timeout); the model may be overloaded."
                    ) from exc
                received = True
                for delta in cleaner.clean_all(
                    deltas_from_chunk(chunk.model_dump(exclude_none=True))
                ):
                    finished = finished or isinstance(delta, Finish)
                    yield delta
        for pending in cleaner.flush():
            yield pending
        if finished:
            return
        # The SDK ends its stream at [DONE], at the end of the body and at any comment-only
        # frame such as `: ping`; only a finish_reason tells a complete answer apart.
        if not received:
            raise errors.StreamEndedEarly(
                f"{self.chat_url} ended the stream before sending any answer.",
                details=_EARLY_END_DETAILS,
            )
        raise errors.StreamEndedEarly(
            "The AI Refinery stream ended before the model finished its answer (no "
            "finish_reason); the text so far is kept.",
            details=_EARLY_END_DETAILS,
        )

    def _completion_deltas(self, completion: Any) -> list[Delta]:
        payload = completion.model_dump(exclude_none=True)
        if not payload.get("choices"):
            raise errors.ProtocolError(
                f"{self.chat_url} answered without any choices.", details=str(payload)
            )
        return deltas_from_completion(payload)
