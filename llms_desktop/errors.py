"""One error tree for the whole app; environment errors are shown plainly, anything else is a bug.

    LlmsDesktopError                 every error we raise on purpose (shown to the user as one line)
    ├── ConfigError                  bad flag, missing key or model, unreadable settings
    │   └── AttachmentError          a file that cannot be attached (type, size, no text)
    ├── ProviderError                talking to a model provider went wrong
    │   ├── NetworkError             no usable connection
    │   │   ├── ConnectionRefused    nothing listens at the address
    │   │   ├── DNSFailure           the host name does not resolve
    │   │   ├── TLSFailure           the TLS handshake or certificate failed
    │   │   ├── ConnectionLost       the server closed the connection mid-answer
    │   │   └── ProviderTimeout      a timeout
    │   │       ├── ConnectTimeout   no connection within the connect timeout
    │   │       └── ReadTimeout      no byte for the idle (read) timeout
    │   ├── HTTPStatusError          4xx/5xx, with the status, the provider's own message and
    │   │                            how long it asked us to wait (retry_after, seconds)
    │   │   ├── AuthenticationError  401/403
    │   │   ├── NotFoundError        404 (often a wrong base URL or model)
    │   │   ├── RateLimitError       429
    │   │   └── ServerError          5xx
    │   ├── StreamError              an error frame or payload in the middle of an answer
    │   └── ProtocolError            a response we cannot read (not JSON, empty, ended early)
    │       └── StreamEndedEarly     the stream stopped before the model said it finished
    ├── StoreError                   the thread database failed (locked, disk full, corrupt)
    └── ToolError                    an MCP server would not start, crashed, or a tool call failed

Anything that is not an LlmsDesktopError is a bug and is reported with its traceback.
"""

from __future__ import annotations

import math


class LlmsDesktopError(Exception):
    """Base of every error the app raises on purpose; str() is one clear line for the user."""

    def __init__(self, message: str, *, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # Raw material for a "Details" expander: a response body, a traceback, a path.
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(LlmsDesktopError):
    """A setting, flag or file the user controls is missing or wrong."""


class AttachmentError(ConfigError):
    """A file or image the user chose cannot be attached: its type, its size, a PDF with no
    text; the message names the file and says what to do."""


class ProviderError(LlmsDesktopError):
    """Talking to a model provider failed.

    `retry_after` is how many seconds the provider asked us to wait before trying again
    (its `Retry-After` header on a 429 or 503), or None when it did not say.
    """

    retry_after: float | None = None


class NetworkError(ProviderError):
    """No usable connection to the provider."""


class ConnectionRefused(NetworkError):
    """Nothing accepts connections at the provider's address."""


class DNSFailure(NetworkError):
    """The provider's host name does not resolve."""


class TLSFailure(NetworkError):
    """The TLS handshake or certificate check failed."""


class ConnectionLost(NetworkError):
    """The connection closed before the answer was complete."""


class ProviderTimeout(NetworkError):
    """A timeout talking to the provider."""


class ConnectTimeout(ProviderTimeout):
    """The connection could not be made within the connect timeout."""


class ReadTimeout(ProviderTimeout):
    """The provider sent nothing for longer than the idle (read) timeout."""


class HTTPStatusError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        status: int,
        provider_message: str,
        *,
        body: str | None = None,
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.provider_message = provider_message
        self.url = url
        self.retry_after = retry_after
        wait = f" ({retry_phrase(retry_after)})" if retry_after is not None else ""
        super().__init__(f"HTTP {status}: {provider_message}{wait}", details=body)


class AuthenticationError(HTTPStatusError):
    """401/403: the API key is missing, wrong, or lacks access."""


class NotFoundError(HTTPStatusError):
    """404: usually a wrong base URL or an unknown model."""


class RateLimitError(HTTPStatusError):
    """429: too many requests or quota exhausted."""


class ServerError(HTTPStatusError):
    """5xx: the provider failed."""


class StreamError(ProviderError):
    """The provider reported an error in the middle of a streamed answer."""

    def __init__(self, message: str, *, status: int | None = None, details: str | None = None):
        self.status = status
        super().__init__(message, details=details)


class ProtocolError(ProviderError):
    """The provider's response does not follow the protocol we expect."""


class StreamEndedEarly(ProtocolError):
    """The stream stopped before the model finished its answer."""


class StoreError(LlmsDesktopError):
    """The thread database could not be read or written."""


class ToolError(LlmsDesktopError):
    """An MCP server could not be started or reached, or a tool call failed or timed out."""


def retry_phrase(seconds: float) -> str:
    """How long to wait, for a message: "retry in 20 s", "retry in 5 min"."""
    whole = max(0, math.ceil(seconds))
    if whole >= 120:
        return f"retry in {math.ceil(whole / 60)} min"
    return f"retry in {whole} s"


def http_status_error(
    status: int,
    provider_message: str,
    *,
    body: str | None = None,
    url: str = "",
    retry_after: float | None = None,
) -> HTTPStatusError:
    """The most specific HTTPStatusError subclass for a status code."""
    cls: type[HTTPStatusError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = RateLimitError
    elif status >= 500:
        cls = ServerError
    else:
        cls = HTTPStatusError
    return cls(status, provider_message, body=body, url=url, retry_after=retry_after)
