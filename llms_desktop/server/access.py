"""Who may use the server: loopback-only without a key, a bearer token with one (pure)."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

from llms_desktop.server.api_errors import ApiError


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine only (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(url: str) -> str:
    """The host of a URL (or of a `Host` header given as `//host:port`), without the port."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket: not a host we answer
        return ""


def check_local_caller(headers: Mapping[str, str]) -> None:
    """Without an API key, refuse what a web page could send (403).

    A page the user visits can make the browser post to 127.0.0.1 (it sends an `Origin`), and
    with DNS rebinding it can even read the answer (its own host name in `Host`). Real API
    clients send neither a foreign `Origin` nor a foreign `Host`.
    """
    host = headers.get("Host", "")
    if host and not is_loopback(_host_name(f"//{host}")):
        raise ApiError(
            403,
            f"Refused a request for host {host!r}: without an API key this server only answers "
            "requests addressed to localhost or 127.0.0.1 (set an API key to accept others).",
            code="forbidden_host",
        )
    origin = headers.get("Origin")
    if origin is not None and not is_loopback(_host_name(origin)):
        raise ApiError(
            403,
            f"Refused a request from the web page {origin!r}: without an API key this server "
            "only answers local programs and local pages (set an API key to accept others).",
            code="forbidden_origin",
        )


def check_bearer(headers: Mapping[str, str], key: bytes) -> None:
    """401 unless `Authorization: Bearer <key>` (compared in constant time)."""
    scheme, _, token = headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), key):
        raise ApiError(
            401,
            "Incorrect or missing API key: send the server's key as 'Authorization: Bearer <key>'.",
            code="invalid_api_key",
        )
