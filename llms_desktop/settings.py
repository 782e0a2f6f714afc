"""Typed, validated settings over a key-value backend (QSettings in the app, a dict in tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

THEMES = ("system", "light", "dark")


class SettingsBackend(Protocol):
    """Where values live. Backends may hand back strings for anything (QSettings INI does)."""

    def get(self, key: str) -> object | None:
        """The stored value, or None when the key is absent."""
        ...

    def put(self, key: str, value: object) -> None:
        """Store a value."""
        ...


class MemoryBackend:
    """A dict backend for tests and headless runs."""

    def __init__(self, values: dict[str, object] | None = None) -> None:
        self.values: dict[str, object] = dict(values or {})

    def get(self, key: str) -> object | None:
        return self.values.get(key)

    def put(self, key: str, value: object) -> None:
        self.values[key] = value


@dataclass(frozen=True)
class Spec:
    """One setting: its key, default and how to read a raw stored value back."""

    key: str
    default: Any
    parse: Callable[[object], Any]


def _parse_bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int):
        return raw != 0
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
    raise ValueError(f"not a boolean: {raw!r}")


def _int_range(low: int, high: int) -> Callable[[object], int]:
    def parse(raw: object) -> int:
        if isinstance(raw, bool):
            raise ValueError("a boolean is not a number")
        value = int(float(raw)) if isinstance(raw, str | int | float) else None
        if value is None or not low <= value <= high:
            raise ValueError(f"{raw!r} is outside {low}..{high}")
        return value

    return parse


def _choice(*choices: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        if isinstance(raw, str) and raw in choices:
            return raw
        raise ValueError(f"{raw!r} is not one of {choices}")

    return parse


def _optional_float(low: float, high: float) -> Callable[[object], str]:
    """A number in [low, high] kept as its text, or "" for none (QSettings stores text)."""

    def parse(raw: object) -> str:
        text = str(raw).strip() if raw is not None else ""
        if not text:
            return ""
        value = float(text)  # ValueError: the default is used
        if not low <= value <= high:
            raise ValueError(f"{value} is outside {low}..{high}")
        return f"{value:g}"

    return parse


def _text(raw: object) -> str:
    if isinstance(raw, str):
        return raw
    raise ValueError(f"not text: {raw!r}")


STREAM = Spec("chat/stream", True, _parse_bool)
DEFAULT_MODEL = Spec("chat/default_model", "", _text)
SYSTEM_PROMPT = Spec("chat/system_prompt", "", _text)
TIMEOUT = Spec("chat/timeout_seconds", 120, _int_range(5, 3600))
SEND_ON_ENTER = Spec("composer/send_on_enter", True, _parse_bool)
THEME = Spec("appearance/theme", "system", _choice(*THEMES))
FONT_SIZE = Spec("appearance/font_size", 11, _int_range(7, 32))
LAST_MODEL = Spec("chat/last_model", "", _text)
LAST_THREAD = Spec("window/last_thread", "", _text)
SERVER_ENABLED = Spec("server/enabled", False, _parse_bool)
SERVER_PORT = Spec("server/port", 8000, _int_range(1024, 65535))
SERVER_STORE = Spec("server/store", False, _parse_bool)
# New chats start with these request parameters ("" / 0: the provider's own default).
DEFAULT_TEMPERATURE = Spec("chat/default_temperature", "", _optional_float(0.0, 2.0))
DEFAULT_TOP_P = Spec("chat/default_top_p", "", _optional_float(0.0, 1.0))
DEFAULT_MAX_TOKENS = Spec("chat/default_max_tokens", 0, _int_range(0, 1_000_000))
# Title a new chat with the model after its first answer: "local" only with models on this
# machine or network (free to ask), "always", or "off" (the first words of the message).
AUTO_TITLES = ("local", "always", "off")
AUTO_TITLE = Spec("chat/auto_title", "local", _choice(*AUTO_TITLES))
# Rounds of MCP tool calls one message may lead to before the app stops asking the model.
TOOL_ROUNDS = Spec("tools/max_rounds", 8, _int_range(1, 100))

ALL_SPECS = (
    STREAM,
    DEFAULT_MODEL,
    SYSTEM_PROMPT,
    TIMEOUT,
    SEND_ON_ENTER,
    THEME,
    FONT_SIZE,
    LAST_MODEL,
    LAST_THREAD,
    SERVER_ENABLED,
    SERVER_PORT,
    SERVER_STORE,
    DEFAULT_TEMPERATURE,
    DEFAULT_TOP_P,
    DEFAULT_MAX_TOKENS,
    AUTO_TITLE,
    TOOL_ROUNDS,
)

Listener = Callable[[str], None]


class Settings:
    """Reads validate every time: a garbled or out-of-range value gives the default, no crash."""

    def __init__(self, backend: SettingsBackend) -> None:
        self._backend = backend
        self._listeners: list[Listener] = []

    def get(self, spec: Spec) -> Any:
        """The setting's value, or its default when missing or invalid."""
        raw = self._backend.get(spec.key)
        if raw is None:
            return spec.default
        try:
            return spec.parse(raw)
        except (ValueError, TypeError, OverflowError):
            return spec.default

    def set(self, spec: Spec, value: Any) -> None:
        """Validate and store a value, then tell listeners; raises ValueError when invalid."""
        parsed = spec.parse(value)
        if self.get(spec) == parsed and self._backend.get(spec.key) is not None:
            return
        self._backend.put(spec.key, parsed)
        for listener in list(self._listeners):
            listener(spec.key)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(key)` after each change; returns a function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    # Typed accessors for the common settings.
    @property
    def stream(self) -> bool:
        return bool(self.get(STREAM))

    @property
    def default_model(self) -> str:
        return str(self.get(DEFAULT_MODEL))

    @property
    def system_prompt(self) -> str:
        return str(self.get(SYSTEM_PROMPT))

    @property
    def timeout(self) -> int:
        return int(self.get(TIMEOUT))

    @property
    def send_on_enter(self) -> bool:
        return bool(self.get(SEND_ON_ENTER))

    @property
    def theme(self) -> str:
        return str(self.get(THEME))

    @property
    def font_size(self) -> int:
        return int(self.get(FONT_SIZE))

    @property
    def server_enabled(self) -> bool:
        return bool(self.get(SERVER_ENABLED))

    @property
    def server_port(self) -> int:
        return int(self.get(SERVER_PORT))

    @property
    def server_store(self) -> bool:
        return bool(self.get(SERVER_STORE))

    @property
    def auto_title(self) -> str:
        return str(self.get(AUTO_TITLE))

    @property
    def tool_rounds(self) -> int:
        return int(self.get(TOOL_ROUNDS))

    def default_params(self) -> dict[str, Any]:
        """The request parameters a new chat starts with (only those set)."""
        params: dict[str, Any] = {}
        temperature = self.get(DEFAULT_TEMPERATURE)
        if temperature:
            params["temperature"] = float(temperature)
        top_p = self.get(DEFAULT_TOP_P)
        if top_p:
            params["top_p"] = float(top_p)
        max_tokens = self.get(DEFAULT_MAX_TOKENS)
        if max_tokens:
            params["max_tokens"] = int(max_tokens)
        return params
