"""Typed values that flow through the engine: chat requests and the deltas a provider yields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = get_args(Role)

# OpenAI message content is a string or a list of parts ({"type": "text", ...}, images...).
Content = str | list[dict[str, Any]] | None


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a conversation as sent to a provider."""

    role: Role
    content: Content
    name: str | None = None
    tool_call_id: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()

    def to_openai(self) -> dict[str, Any]:
        """The message in the OpenAI wire shape."""
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.name is not None:
            out["name"] = self.name
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.tool_calls:
            out["tool_calls"] = [dict(call) for call in self.tool_calls]
        return out

    @classmethod
    def from_openai(cls, data: Mapping[str, Any]) -> ChatMessage:
        """Build a message from an OpenAI-shaped dict; raises ValueError on a bad role."""
        role = data.get("role")
        if role not in ROLES:
            raise ValueError(f"unknown message role {role!r}; expected one of {', '.join(ROLES)}")
        content = data.get("content")
        if content is not None and not isinstance(content, str | list):
            raise ValueError("message content must be a string, a list of parts or null")
        return cls(
            role=role,
            content=content,
            name=data.get("name"),
            tool_call_id=data.get("tool_call_id"),
            tool_calls=tuple(data.get("tool_calls") or ()),
        )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat completion request; `params` (temperature, max_tokens, tools...) pass through."""

    model: str
    messages: tuple[ChatMessage, ...]
    stream: bool = True
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's visible text."""

    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """A piece of the model's reasoning ("thinking") text, shown apart from the answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A fragment of a tool call; fragments with the same index form one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts; `estimated` when we counted them ourselves because the provider did not."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    estimated: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Finish:
    """The provider said why the answer ended (`stop`, `length`, `tool_calls`, or anything else)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """Identity of the response (id, model, created) as the provider reported it."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    system_fingerprint: str | None = None


Delta = TextDelta | ReasoningDelta | ToolCallDelta | Usage | Finish | ResponseInfo


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model a provider offers."""

    id: str
    owned_by: str | None = None


# Tokens per second are shown only when the tokens arrived over at least this long, and at a
# rate a model can generate: faster than MAX_GENERATION_RATE is an answer that arrived in one
# burst (streaming off, or a proxy that buffers the stream), whose rate was never measured.
MIN_RATE_WINDOW_MS = 100.0
MAX_GENERATION_RATE = 5_000.0

AttachmentKind = Literal["image", "file"]


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """What a stored message has attached: an image (sent as an `image_url`) or a file (sent as
    its text). The bytes live in the data folder under their SHA-256; see store/blobs.py."""

    sha256: str
    kind: AttachmentKind
    name: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None


MessageStatus = Literal["streaming", "complete", "cancelled", "error", "interrupted"]
MESSAGE_STATUSES: tuple[str, ...] = get_args(MessageStatus)


@dataclass(frozen=True, slots=True)
class Thread:
    """A stored conversation. Times are Unix seconds."""

    id: str
    title: str
    created_at: float
    updated_at: float
    model: str | None = None
    provider: str | None = None
    system_prompt: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    pinned: bool = False
    archived: bool = False


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message with its status, usage and timings (milliseconds)."""

    id: str
    thread_id: str
    role: Role
    content: str
    status: MessageStatus = "complete"
    position: int = 0
    parent_id: str | None = None
    reasoning: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    error: str | None = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    tokens_estimated: bool = False
    ttft_ms: float | None = None
    duration_ms: float | None = None
    created_at: float = 0.0
    # When this version was last chosen among its siblings (None: when it was created).
    selected_at: float | None = None
    # A tool result (role "tool"): the id of the call it answers, and the tool's name.
    tool_call_id: str | None = None
    name: str | None = None
    # Images and files sent with the message (a user message, or one the server saved).
    attachments: tuple[AttachmentInfo, ...] = ()
    # Why the provider ended the answer, as it said ("stop", "length" at the token limit...).
    finish_reason: str | None = None

    @property
    def tokens_per_second(self) -> float | None:
        """Completion tokens over the generation time (after the first token), when it was
        measured over a stream: an answer that arrived all at once (not streamed, or buffered
        on the way; 332,013 tok/s was shown for one) has no meaningful rate."""
        if not self.completion_tokens or self.duration_ms is None:
            return None
        generating_ms = self.duration_ms - (self.ttft_ms or 0.0)
        if generating_ms < MIN_RATE_WINDOW_MS:
            return None
        rate = self.completion_tokens / (generating_ms / 1000.0)
        return rate if rate <= MAX_GENERATION_RATE else None
