"""Map what the AI Refinery SDK raises (aiohttp, its SSE errors, pydantic) to our error tree."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

from llms_desktop import errors
from llms_desktop.providers.error_mapping import message_from_payload, network_error, retry_after

API_KEY_ENV = "AIREFINERY_API_KEY"

# air/chat/client.py words its SSE errors like this; the payload follows the prefix.
_SSE_EVENT = "Upstream SSE error event: "  # an `event: error` frame, payload as sent (JSON)
_SSE_PAYLOAD = "Upstream error payload: "  # a data frame with an "error" key, as a Python repr
_SDK_IDLE = re.compile(r"SSE idle timeout \(> ([0-9.]+)s\)")
_MAX_LITERAL = 100_000


def map_sdk_error(exc: BaseException, url: str, timeouts: Any) -> errors.LlmsDesktopError | None:
    """Our error for an exception that came out of the SDK, or None when it is a bug of ours.

    Call only once the SDK is imported (it imports the SDK's exception classes).
    """
    import aiohttp
    from air.chat.client import ChunkValidationError, SSEStreamError
    from pydantic import ValidationError

    if isinstance(exc, errors.LlmsDesktopError):
        return exc
    if isinstance(exc, ChunkValidationError):
        return errors.ProtocolError(
            f"AI Refinery sent a chunk its SDK rejects ({_validation_summary(exc)}).",
            details=str(exc),
        )
    if isinstance(exc, SSEStreamError):
        return _stream_error(str(exc), url)
    if isinstance(exc, ValidationError):
        return errors.ProtocolError(
            f"{url} answered with JSON the AI Refinery SDK cannot read ({_summary(exc)}).",
            details=str(exc),
        )
    if isinstance(exc, aiohttp.ClientResponseError):
        if exc.status >= 400:
            return status_error(exc, url)
        # ContentTypeError: a 2xx answer to a non-streaming request that is not JSON.
        content_type = exc.headers.get("Content-Type") if exc.headers else None
        return errors.ProtocolError(
            f"{url} answered with {content_type or 'no content type'} instead of JSON."
        )
    if isinstance(exc, aiohttp.ClientPayloadError):
        return errors.ConnectionLost(f"{url} closed the connection before the answer finished.")
    if isinstance(exc, aiohttp.InvalidURL):
        return errors.ConfigError(f"Invalid AI Refinery base URL: {exc}")
    if isinstance(exc, aiohttp.ClientSSLError):
        return errors.TLSFailure(f"TLS failure talking to {url}: {exc.os_error}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        # With aiodns installed its OS error is not a socket.gaierror ("Domain name not found").
        return errors.DNSFailure(f"Cannot resolve the host name of {url} (DNS lookup failed).")
    if isinstance(exc, aiohttp.ClientConnectorError):
        # Classify the OS error itself: aiohttp's own text always says "ssl:default", which
        # network_error would take for a TLS failure.
        return network_error(exc.os_error, url, timeouts)
    if isinstance(exc, aiohttp.ClientError):
        # aiohttp's own timeouts (connect, socket read) are ClientErrors too: handled here.
        return network_error(exc, url, timeouts)
    if isinstance(exc, TimeoutError):
        # Checked before OSError, its base: the SDK's idle limit or the SDK's total timeout.
        return _timeout_error(exc, url, timeouts)
    if isinstance(exc, OSError):
        return network_error(exc, url, timeouts)
    if isinstance(exc, json.JSONDecodeError):
        return errors.ProtocolError(f"{url} answered with something that is not JSON: {exc}")
    return None


def status_error(exc: Any, url: str) -> errors.HTTPStatusError:
    """The typed error for an `aiohttp.ClientResponseError`, which carries no response body."""
    status = int(exc.status)
    reason = str(exc.message or "").strip() or _phrase(status)
    # The SDK calls raise_for_status() before reading the body, so the provider's own words are
    # lost; say what the status usually means for AI Refinery instead.
    if status in (401, 403):
        hint = f"check the AI Refinery API key: {API_KEY_ENV} or Settings > Providers"
    elif status == 404:
        hint = "check the base URL (without /v1) and the model name"
    elif status == 429:
        hint = "rate limit reached"
    else:
        hint = ""
    message = f"{reason} ({hint})" if hint else reason
    # aiohttp's headers look names up without regard to case, as retry_after() needs.
    wait = retry_after(exc.headers) if exc.headers is not None else None
    return errors.http_status_error(status, message, url=url, retry_after=wait)


def _stream_error(text: str, url: str) -> errors.ProviderError:
    payload: Any = None
    if text.startswith(_SSE_EVENT):
        raw = text.removeprefix(_SSE_EVENT)
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            payload = None
    elif text.startswith(_SSE_PAYLOAD):
        raw = text.removeprefix(_SSE_PAYLOAD)
        if len(raw) <= _MAX_LITERAL:
            try:
                payload = ast.literal_eval(raw)  # literals only: safe on untrusted text
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                payload = None
    else:
        # Malformed JSON in a frame, or a frame over the SDK's 1 MiB limit.
        return errors.ProtocolError(f"{url} sent an event the AI Refinery SDK cannot read: {text}")
    message = message_from_payload(payload) or raw.strip()
    return errors.StreamError(
        f"AI Refinery reported an error mid-stream: {message}",
        status=_status_in(payload),
        details=raw,
    )


def _timeout_error(exc: TimeoutError, url: str, timeouts: Any) -> errors.ReadTimeout:
    found = _SDK_IDLE.search(str(exc))
    if found:
        seconds = float(found.group(1))
        return errors.ReadTimeout(
            f"{url} sent nothing for {seconds:g} s (read timeout; the AI Refinery SDK's idle "
            "limit, which cannot be raised); the model may be overloaded."
        )
    limit = f"within {timeouts.read:g} s" if timeouts is not None else "in time"
    return errors.ReadTimeout(f"{url} sent no answer {limit} (read timeout).")


def _status_in(payload: Any) -> int | None:
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    for source in (error if isinstance(error, dict) else {}, payload):
        for key in ("status", "code", "status_code"):
            value = source.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and 100 <= value < 600:
                return value
    return None


def _validation_summary(exc: BaseException) -> str:
    from pydantic import ValidationError

    cause = exc.__cause__
    return _summary(cause) if isinstance(cause, ValidationError) else str(exc)[:200]


def _summary(exc: Any) -> str:
    """`loc: msg` of a pydantic ValidationError's first error."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg"))


def _phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"
