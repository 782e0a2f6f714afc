"""Images: the four formats vision APIs take, measured from their headers, downscaled when big.

Sizes are read from the file header in pure Python, so an image that is small enough is sent
exactly as it was, without loading Pillow. Only an image that must change (longer side over
MAX_IMAGE_SIDE, too many bytes, an animated GIF, a BMP or TIFF) is decoded and re-encoded,
with Pillow imported then (about 20-30 ms the first time).
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Any

from llms_desktop.attachments.model import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_FILE_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIDE,
    Attachment,
    human_size,
)
from llms_desktop.errors import AttachmentError

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"
# What vision APIs accept (OpenAI: PNG, JPEG, WebP, non-animated GIF; Anthropic the same four).
SENDABLE = (PNG, JPEG, WEBP, GIF)
# Read and converted to PNG: common enough to be dropped on the window.
CONVERTED = ("image/bmp", "image/tiff")
SUFFIXES = {PNG: ".png", JPEG: ".jpg", WEBP: ".webp", GIF: ".gif"}
JPEG_QUALITY = 85


def sniff(data: bytes) -> str | None:
    """The image type of `data` from its first bytes, or None when it is not an image we read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if data[:2] == b"BM" and len(data) > 26:
        return "image/bmp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    return None


def dimensions(data: bytes, mime: str) -> tuple[int, int] | None:
    """Width and height from the header (None when the header cannot be read this way)."""
    try:
        if mime == PNG and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if mime == GIF:
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if mime == WEBP:
            return _webp_size(data)
        if mime == JPEG:
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        (bits,) = struct.unpack("<I", data[21:25])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the segments to the first start-of-frame marker (SOF0..SOF15 but DHT, JPG, DAC).
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:  # fill byte
            index += 1
            continue
        if 0xD0 <= marker <= 0xD9 or marker == 0x01:  # markers without a length
            index += 2
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return width, height
        index += 2 + length
    return None


def prepare_image(name: str, data: bytes) -> Attachment:
    """The image as it will be sent: unchanged when it fits, else downscaled so its longest side
    is MAX_IMAGE_SIDE (re-encoded in its own format when possible). Raises AttachmentError."""
    mime = sniff(data)
    if mime is None:
        raise AttachmentError(f"{name} is not a PNG, JPEG, WebP or GIF image.")
    if len(data) > MAX_IMAGE_FILE_BYTES:
        raise AttachmentError(
            f"{name} is {human_size(len(data))}; images up to "
            f"{human_size(MAX_IMAGE_FILE_BYTES)} can be attached."
        )
    size = dimensions(data, mime)
    if size is not None:
        _check_pixels(name, *size)
        fits = max(size) <= MAX_IMAGE_SIDE and len(data) <= MAX_IMAGE_BYTES
        if fits and mime in (PNG, JPEG, WEBP):
            return Attachment("image", name, mime, data, width=size[0], height=size[1])
    return _reencode(name, data, mime)


def _check_pixels(name: str, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise AttachmentError(f"{name} has no pixels ({width}×{height}).")
    if width * height > MAX_IMAGE_PIXELS:
        raise AttachmentError(
            f"{name} is {width}×{height} pixels, too large to process (at most "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels)."
        )


def _reencode(name: str, data: bytes, mime: str) -> Attachment:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                _check_pixels(name, opened.width, opened.height)
                animated = bool(getattr(opened, "is_animated", False))
                original = (opened.width, opened.height)
                small = max(original) <= MAX_IMAGE_SIDE and len(data) <= MAX_IMAGE_BYTES
                if mime == GIF and not animated and small:
                    return Attachment(
                        "image", name, GIF, data, width=original[0], height=original[1]
                    )
                opened.seek(0)
                image = ImageOps.exif_transpose(opened)
                image.load()
    except AttachmentError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        ValueError,
        SyntaxError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise AttachmentError(f"{name} could not be read as an image ({exc}).") from exc
    alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if alpha else "RGB")
    image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
    target = mime if mime in (PNG, JPEG, WEBP) else PNG
    if target == JPEG and alpha:
        target = PNG
    encoded = _encode(image, target)
    if len(encoded) > MAX_IMAGE_BYTES and target != JPEG:
        target, encoded = JPEG, _encode(_flatten(image), JPEG)
    if len(encoded) > MAX_IMAGE_BYTES:
        raise AttachmentError(
            f"{name} is still {human_size(len(encoded))} after downscaling; images up to "
            f"{human_size(MAX_IMAGE_BYTES)} can be sent."
        )
    notes = []
    if (image.width, image.height) != original:
        notes.append(f"downscaled from {original[0]}×{original[1]} to {image.width}×{image.height}")
    if animated:
        notes.append("an animated GIF: its first frame is sent")
    if target != mime:
        notes.append(f"converted to {target.removeprefix('image/').upper()}")
    return Attachment(
        "image",
        name,
        target,
        encoded,
        width=image.width,
        height=image.height,
        note="; ".join(notes) or None,
    )


def _flatten(image: Any) -> Any:
    if image.mode != "RGBA":
        return image.convert("RGB")
    from PIL import Image

    background = Image.new("RGB", image.size, (255, 255, 255))
    background.paste(image, mask=image.getchannel("A"))
    return background


def _encode(image: Any, mime: str) -> bytes:
    out = io.BytesIO()
    if mime == JPEG:
        _flatten(image).save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif mime == WEBP:
        image.save(out, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()
