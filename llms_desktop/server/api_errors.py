"""Errors in OpenAI's shape (`{"error": {message, type, param, code}}`), and ours mapped to them."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from llms_desktop import errors

# OpenAI's `type` for a status, so clients that switch on it (the `openai` package maps statuses
# to exception classes, others read `type`) see what the real API would send.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An error answer: the HTTP status and the body OpenAI clients understand."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,  # OpenAI's field name
        code: str | None = None,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "api_error")
        self.code = code
        self.param = param

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {...}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> web.Response:
        """The JSON response for this error (with the upstream's Retry-After, when it sent one)."""
        headers = {"WWW-Authenticate": "Bearer"} if self.status == 401 else {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(self.retry_after))
        return web.json_response(self.body(), status=self.status, headers=headers)


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """400 invalid_request_error."""
    return ApiError(400, message, param=param, code=code)


def from_provider_error(exc: errors.LlmsDesktopError, provider_id: str) -> ApiError:
    """The answer for a failure talking to an upstream provider.

    HTTP errors keep the provider's status and words (and its `type`/`code` when it sent
    OpenAI-shaped JSON); a timeout is 504, any other failure to reach or read it 502. An
    upstream that hung up or ended its stream before the answer was finished was reached:
    it stopped (`upstream_interrupted`), it is not unreachable.
    """
    if isinstance(exc, errors.HTTPStatusError):
        kind, code = _upstream_type_and_code(exc.details)
        return ApiError(
            exc.status, exc.provider_message, type=kind, code=code, retry_after=exc.retry_after
        )
    where = f"Upstream provider {provider_id!r}"
    if isinstance(exc, errors.StreamError):
        status = exc.status if exc.status is not None and 400 <= exc.status < 600 else 502
        return ApiError(status, f"{where}: {exc}", code="upstream_error")
    if isinstance(exc, errors.ConnectionLost | errors.StreamEndedEarly):
        return ApiError(
            502, f"{where} stopped before finishing its answer: {exc}", code="upstream_interrupted"
        )
    if isinstance(exc, errors.ProviderTimeout):
        return ApiError(504, f"{where} timed out: {exc}", code="upstream_timeout")
    if isinstance(exc, errors.NetworkError):
        return ApiError(502, f"{where} is unreachable: {exc}", code="upstream_unreachable")
    if isinstance(exc, errors.ProtocolError):
        return ApiError(502, f"{where} sent a broken answer: {exc}", code="upstream_protocol_error")
    if isinstance(exc, errors.ConfigError):
        # The server's own provider settings are wrong (no key, bad URL): not the client's fault.
        return ApiError(500, f"{where} is misconfigured: {exc}", code="provider_config_error")
    return ApiError(502, f"{where} failed: {exc}", code="upstream_error")


def _upstream_type_and_code(body: str | None) -> tuple[str | None, str | None]:
    """`error.type` and `error.code` from an upstream's JSON error body, when it has them."""
    if not body:
        return None, None
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return None, None
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, None
    kind = error.get("type")
    code = error.get("code")
    return (
        kind if isinstance(kind, str) and kind else None,
        str(code) if isinstance(code, str | int) and not isinstance(code, bool) else None,
    )
