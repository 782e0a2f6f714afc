"""What came back when it is not what we asked for: HTML pages, other content types, redirects."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import httpx

from llms_desktop import errors

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# Enough of a body to name it and to find an HTML page's title, never the whole of a big one.
PEEK_BYTES = 64 * 1024
# Redirects we follow for one request (all to the same host) before calling it a loop.
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def looks_like_html(content_type: str, head: bytes) -> bool:
    """Whether a response is a web page: labelled HTML, or starting like one."""
    if "html" in content_type.lower():
        return True
    start = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:64].lower()
    return start.startswith((b"<!doctype html", b"<html", b"<head", b"<body"))


def html_page_error(url: str, head: bytes) -> errors.ProtocolError:
    """An HTML page where the API should answer: most often a base URL without /v1."""
    title = _TITLE.search(head)
    named = ""
    if title:
        text = " ".join(html.unescape(title.group(1).decode("utf-8", errors="replace")).split())
        if text:
            named = f" ({text[:100]!r})"
    return errors.ProtocolError(
        f"{url} returned an HTML page{named}, not an API answer: does the base URL end in /v1?",
        details=head.decode("utf-8", errors="replace"),
    )


def unexpected_content_error(url: str, content_type: str, head: bytes) -> errors.ProtocolError:
    """A body that is neither JSON nor an event stream, named by what the server said it is."""
    if looks_like_html(content_type, head):
        return html_page_error(url, head)
    kind = content_type.split(";")[0].strip() or "no content type"
    preview = " ".join(head[:200].decode("utf-8", errors="replace").split())
    said = f": {preview!r}" if preview else " (an empty body)"
    return errors.ProtocolError(
        f"{url} answered with {kind}, not JSON or an event stream{said}",
        details=head.decode("utf-8", errors="replace"),
    )


def json_body(content: bytes, url: str, content_type: str) -> Any:
    """The JSON in a response body. Bytes that are not UTF-8 become U+FFFD, as they do in a
    streamed answer, rather than losing the whole answer; anything else that is not JSON
    raises ProtocolError naming the content type that came back."""
    try:
        return json.loads(content)
    except UnicodeDecodeError:
        text = content.decode("utf-8", errors="replace")
    except RecursionError:
        raise _too_deep(url) from None
    except ValueError:
        raise unexpected_content_error(url, content_type, content[:PEEK_BYTES]) from None
    try:
        return json.loads(text)
    except RecursionError:
        raise _too_deep(url) from None
    except ValueError:
        raise unexpected_content_error(url, content_type, content[:PEEK_BYTES]) from None


def nested_too_deeply(text: str) -> bool:
    """Whether `text` fails to parse only because its JSON nests too deeply (error path)."""
    try:
        json.loads(text)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


def parse_json_text(text: str) -> Any:
    """`json.loads`, with JSON nested too deeply to parse reported as not JSON (None)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _too_deep(url: str) -> errors.ProtocolError:
    return errors.ProtocolError(f"{url} answered with JSON nested too deeply to read.")


def redirect_target(response: httpx.Response) -> httpx.URL:
    """Where a redirect may be followed to, or ProtocolError naming it and why it was not.

    Followed: 307 and 308 for any request (they keep the method and body), any redirect for a
    GET, and only to the same host, never from https down to http. Anything else would send
    the request (and its API key) somewhere the user did not configure, or change a POST into
    a GET the API does not answer.
    """
    request = response.request
    source = request.url
    location = response.headers.get("location", "")
    status = response.status_code
    if not location:
        raise errors.ProtocolError(
            f"{source} answered HTTP {status} (a redirect) without a Location."
        )
    try:
        target = source.join(location)
    except httpx.InvalidURL:
        raise errors.ProtocolError(
            f"{source} redirects (HTTP {status}) to an invalid address: {location!r}."
        ) from None
    reason = None
    if target.scheme not in ("http", "https"):
        reason = "it is not an http(s) address"
    elif (target.host or "").lower() != (source.host or "").lower():
        reason = "it is another host"
    elif source.scheme == "https" and target.scheme == "http":
        reason = "it leaves https for plain http"
    elif request.method != "GET" and status not in (307, 308):
        reason = f"HTTP {status} would turn the {request.method} into a GET"
    if reason is not None:
        raise errors.ProtocolError(
            f"{source} redirects (HTTP {status}) to {target}, which was not followed because "
            f"{reason}. If that address is right, use {suggested_base(source, target)} as the "
            "base URL."
        )
    return target


def suggested_base(source: httpx.URL, target: httpx.URL) -> str:
    """The base URL that reaches `target` directly: the endpoint's path taken off its end."""
    target_path = target.path
    for endpoint in ("/chat/completions", "/models"):
        if source.path.endswith(endpoint) and target_path.endswith(endpoint):
            target_path = target_path[: -len(endpoint)]
            break
    return str(target.copy_with(path=target_path or "/", query=None, fragment=None)).rstrip("/")


def too_many_redirects(url: str) -> errors.ProtocolError:
    return errors.ProtocolError(
        f"{url} redirected more than {MAX_REDIRECTS} times (a redirect loop?): check the base URL."
    )
