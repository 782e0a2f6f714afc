"""The provider protocol every backend implements, and the timeouts they share."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from llms_desktop.types import ChatRequest, Delta, ModelInfo

# The model to use when none is chosen (CLI, window), before asking the provider for its list.
MODEL_ENV = "LLMS_DESKTOP_MODEL"


@dataclass(frozen=True)
class Timeouts:
    """Seconds to wait: to connect, between two received bytes (idle), to send, for a pool slot."""

    connect: float = 10.0
    read: float = 120.0
    write: float = 30.0
    pool: float = 10.0

    @classmethod
    def from_single(cls, seconds: float) -> Timeouts:
        """One number from a `--timeout` flag: the idle timeout, and a cap on the others."""
        default = cls()
        return cls(
            connect=min(seconds, default.connect),
            read=seconds,
            write=min(seconds, default.write),
            pool=min(seconds, default.pool),
        )


@runtime_checkable
class Provider(Protocol):
    """A model backend. `stream()` yields deltas whether or not `request.stream` is set.

    With streaming off the whole answer arrives as one burst of deltas, so callers (the UI, the
    store, the server) have one code path. Errors are raised as `ProviderError` subclasses.
    """

    id: str

    def stream(self, request: ChatRequest) -> AsyncGenerator[Delta]:
        """Send the request; yield the answer's deltas as they arrive."""
        ...

    async def list_models(self) -> list[ModelInfo]:
        """The models this provider offers."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
