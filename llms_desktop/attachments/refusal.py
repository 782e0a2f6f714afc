"""A provider that refuses a request with images says so in its own words, which vary (OpenAI:
"image_url is only supported by certain models", DeepSeek: "unknown variant `image_url`",
llama.cpp: "image input is not supported"); this adds what it means and what to do."""

from __future__ import annotations

from collections.abc import Sequence

from llms_desktop.attachments.parts import has_images
from llms_desktop.errors import HTTPStatusError, LlmsDesktopError
from llms_desktop.types import ChatMessage

_IMAGE_WORDS = (
    "image",
    "vision",
    "multimodal",
    "multi-modal",
    "mmproj",
    "content type",
    "content must be a string",
    "unknown variant",
)
# Statuses that mean "this request", not the key, the route or the rate.
_REFUSALS = (400, 413, 415, 422)


def explain(error: LlmsDesktopError, messages: Sequence[ChatMessage]) -> LlmsDesktopError:
    """`error`, or a copy whose message adds that the images are the likely cause.

    The copy keeps the class, status and provider message, so the server (which relays the
    provider's own words) answers its clients the same either way.
    """
    if not isinstance(error, HTTPStatusError) or not has_images(messages):
        return error
    said = error.provider_message.lower()
    mentions = any(word in said for word in _IMAGE_WORDS)
    if error.status == 413:
        hint = "the attached images may be too large for this provider"
    elif error.status in _REFUSALS or (error.status >= 500 and mentions):
        hint = "this model may not take images: pick a vision model, or send without the images"
    else:
        return error
    clarified = type(error).__new__(type(error))
    clarified.__dict__.update(error.__dict__)
    message = f"{error.message} ({hint})"
    clarified.message = message
    clarified.args = (message,)
    return clarified
