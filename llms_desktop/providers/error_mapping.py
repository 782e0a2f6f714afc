"""Map HTTP error bodies and transport failures to our error tree, keeping the provider's words."""

from __future__ import annotations

import email.utils
import html
import json
import re
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

from llms_desktop import errors

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_MAX_MESSAGE = 500
# A Retry-After beyond a day is not a wait anyone means; treat it as unreadable.
_MAX_RETRY_AFTER = 86_400.0
_DNS_PHRASES = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "no address associated",
    "name resolution",
    "getaddrinfo failed",
    "domain name not found",  # aiodns
)
_TLS_PHRASES = ("[ssl", "certificate verify failed", "wrong version number", "tlsv1 alert")


def _raw_message(raw: str) -> str:
    """The message in an upstream's raw error text: its JSON's message, else the text."""
    try:
        nested = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    found = message_from_payload(nested) if isinstance(nested, dict) else None
    return found or raw


def message_from_payload(payload: Any) -> str | None:
    """The human message in an error payload: `error.message`, `error`, `message` or `detail`."""
    if not isinstance(payload, dict):
        return None
    error = payload.get("error")
    if isinstance(error, dict):
        message = error.get("message") or error.get("msg")
        message = message.strip() if isinstance(message, str) else ""
        # OpenRouter says "Provider returned error" and nests the upstream's own words
        # (often JSON) in error.metadata.raw, naming that upstream in provider_name.
        metadata = error.get("metadata")
        raw = metadata.get("raw") if isinstance(metadata, dict) else None
        if isinstance(raw, str) and raw.strip():
            inner = _raw_message(raw.strip())
            upstream = metadata.get("provider_name") if isinstance(metadata, dict) else None
            if isinstance(upstream, str) and upstream.strip():
                message = f"{message} ({upstream.strip()})" if message else upstream.strip()
            return f"{message}: {inner}" if message and inner != message else inner
        if message:
            return message
    if isinstance(error, str) and error.strip():
        return error.strip()
    # llms.py (ServiceStack) wraps its errors as {"responseStatus": {"errorCode", "message"}}.
    status = payload.get("responseStatus") or payload.get("ResponseStatus")
    if isinstance(status, dict):
        for key in ("message", "Message", "errorCode", "ErrorCode"):
            value = status.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    for key in ("message", "detail", "error_message"):
        value = payload.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if key == "detail" and isinstance(value, list) and value:
            # FastAPI validation errors: [{"loc": [...], "msg": "..."}]
            first = value[0]
            if isinstance(first, dict) and isinstance(first.get("msg"), str):
                return str(first["msg"])
    return None


def message_from_body(body: bytes, content_type: str = "") -> str:
    """The provider's own message from an error response body, reduced to one readable line."""
    if not body.strip():
        return ""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
        payload = None
    if payload is not None:
        found = message_from_payload(payload)
        if found:
            return _one_line(found)
    title = _TITLE.search(body)
    if title:
        return _one_line(html.unescape(title.group(1).decode("utf-8", errors="replace")))
    text = body.decode("utf-8", errors="replace")
    if "html" in content_type.lower() or text.lstrip().lower().startswith(("<!doctype", "<html")):
        text = html.unescape(_TAGS.sub(" ", text))
    return _one_line(text)


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def status_error(
    status: int,
    body: bytes,
    content_type: str,
    url: str,
    headers: Mapping[str, str] | None = None,
) -> errors.HTTPStatusError:
    """The typed error for an HTTP error response (with its Retry-After, when it sent one)."""
    message = message_from_body(body, content_type) or _reason(status)
    return errors.http_status_error(
        status,
        message,
        body=body.decode("utf-8", errors="replace"),
        url=url,
        retry_after=retry_after(headers or {}),
    )


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds a response asks us to wait: `Retry-After` (seconds or an HTTP date), or the
    `retry-after-ms` OpenAI sends; None when absent or unreadable. `headers` must look names
    up without regard to case (httpx's and aiohttp's do)."""
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        try:
            value = float(milliseconds) / 1000
        except ValueError:
            value = -1.0
        if 0 <= value < _MAX_RETRY_AFTER:
            return value
    text = headers.get("retry-after")
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        value = max(0.0, when.timestamp() - (time.time() if now is None else now))
    if not 0 <= value < _MAX_RETRY_AFTER:  # negative, absurd or NaN
        return None
    return value


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def network_error(
    exc: BaseException, url: str, timeouts: Any = None, *, in_tls_handshake: bool = False
) -> errors.LlmsDesktopError:
    """Classify a transport failure (httpx, aiohttp or OS) into a clear, specific error.

    `in_tls_handshake`: the TCP connection was made and the TLS handshake had begun (httpx
    reports both under one connect timeout, so the caller traces the phases).
    """
    import httpx

    where = _where(url)
    if isinstance(exc, httpx.ConnectTimeout) or _named(exc, "ConnectionTimeoutError"):
        limit = f" within {timeouts.connect:g} s" if timeouts is not None else ""
        if in_tls_handshake:
            return errors.TLSFailure(
                f"TLS failure talking to {where}: the server accepted the connection but did "
                f"not complete the TLS handshake{limit}. Is it an https:// server, or does "
                "the base URL need http://?"
            )
        return errors.ConnectTimeout(f"Could not connect to {where}{limit} (connect timeout).")
    if isinstance(exc, httpx.ReadTimeout) or _named(exc, "SocketTimeoutError"):
        limit = f"{timeouts.read:g} s" if timeouts is not None else "too long"
        return errors.ReadTimeout(
            f"{where} sent nothing for {limit} (read timeout); the model may be overloaded."
        )
    if isinstance(exc, httpx.WriteTimeout | httpx.PoolTimeout):
        return errors.ProviderTimeout(f"Timed out sending the request to {where}.")
    chain = _causes(exc)
    text = " ".join(str(item) for item in chain).lower()
    # Exception types first; message phrases only as a fallback. (aiohttp writes "ssl:default"
    # into every connector error, so a bare "ssl" match would call a refusal a TLS failure.)
    if any(isinstance(item, socket.gaierror) for item in chain) or any(
        phrase in text for phrase in _DNS_PHRASES
    ):
        return errors.DNSFailure(f"Cannot resolve the host name of {where} (DNS lookup failed).")
    if any(isinstance(item, ConnectionRefusedError) for item in chain) or any(
        phrase in text for phrase in ("connection refused", "errno 111", "connect call failed")
    ):
        return errors.ConnectionRefused(
            f"Connection refused by {where}: is the server running and the base URL right?"
        )
    ssl_errors = [item for item in chain if isinstance(item, ssl.SSLError | ssl.CertificateError)]
    if ssl_errors or any(phrase in text for phrase in _TLS_PHRASES):
        reason = str(ssl_errors[0]) if ssl_errors else str(exc)
        return errors.TLSFailure(f"TLS failure talking to {where}: {reason}")
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError) or _named(
        exc, "ServerDisconnectedError"
    ):
        return errors.ConnectionLost(f"{where} closed the connection before the answer finished.")
    if isinstance(exc, httpx.ConnectError):
        return errors.NetworkError(f"Could not connect to {where}: {exc}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return errors.ConfigError(f"Invalid base URL {url!r}: {exc}")
    return errors.NetworkError(f"Network error talking to {where}: {exc or type(exc).__name__}")


def _named(exc: BaseException, name: str) -> bool:
    return any(type(item).__name__ == name for item in _causes(exc))


def _where(url: str) -> str:
    import httpx

    try:
        parsed = httpx.URL(url)
    except Exception:
        return url or "the provider"
    if not parsed.host:
        return url or "the provider"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"
