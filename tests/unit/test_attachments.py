"""Reading attachments: real image and PDF files, sizes, limits and plain errors (no Qt)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from llms_desktop.attachments.images import dimensions, sniff
from llms_desktop.attachments.model import (
    MAX_ATTACHMENTS,
    MAX_IMAGE_SIDE,
    MAX_TEXT_CHARS,
    Attachment,
    check_message,
)
from llms_desktop.attachments.parts import content, decode_data_url, unpack
from llms_desktop.attachments.reading import from_bytes, read_path
from llms_desktop.errors import AttachmentError, ConfigError
from tests.support.samples import (
    animated_gif,
    blank_pdf,
    encrypted_pdf,
    image_bytes,
    noisy_png,
    pdf_with_text,
    write,
)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_a_small_image_is_sent_exactly_as_it_was(fmt: str, mime: str, tmp_path: Path) -> None:
    data = image_bytes(640, 480, fmt)
    attachment = read_path(write(tmp_path, f"photo.{fmt.lower()}", data))
    assert (attachment.kind, attachment.mime, attachment.name) == (
        "image",
        mime,
        f"photo.{fmt.lower()}",
    )
    assert attachment.data == data  # not re-encoded
    assert (attachment.width, attachment.height) == (640, 480)
    assert attachment.note is None


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_the_header_says_the_size_without_decoding(fmt: str) -> None:
    data = image_bytes(1234, 567, fmt)
    assert dimensions(data, str(sniff(data))) == (1234, 567)


def test_a_large_image_is_downscaled_to_the_longest_side_in_its_own_format() -> None:
    attachment = from_bytes("wide.jpg", image_bytes(4032, 3024, "JPEG"))
    assert attachment.mime == "image/jpeg"
    assert (attachment.width, attachment.height) == (MAX_IMAGE_SIDE, 1176)
    decoded = Image.open(io.BytesIO(attachment.data))
    assert decoded.size == (MAX_IMAGE_SIDE, 1176)
    assert attachment.note == "downscaled from 4032×3024 to 1568×1176"


def test_a_png_too_heavy_in_bytes_goes_out_as_jpeg() -> None:
    attachment = from_bytes("noise.png", noisy_png(1400, 1400))  # ~5.9 MB of PNG
    assert attachment.mime == "image/jpeg"
    assert attachment.size <= 5 * 1024 * 1024
    assert attachment.note is not None
    assert "converted to JPEG" in attachment.note


def test_transparency_survives_downscaling() -> None:
    attachment = from_bytes("logo.png", image_bytes(3000, 100, "PNG", color=(0, 0, 255, 128)))
    assert attachment.mime == "image/png"
    assert Image.open(io.BytesIO(attachment.data)).mode == "RGBA"


def test_an_animated_gif_sends_its_first_frame_and_other_formats_become_png() -> None:
    gif = from_bytes("spinner.gif", animated_gif())
    assert gif.mime == "image/png"
    assert Image.open(io.BytesIO(gif.data)).getpixel((0, 0))[:3] == (255, 0, 0)
    assert gif.note is not None
    assert "first frame" in gif.note
    assert from_bytes("scan.tiff", image_bytes(20, 20, "TIFF")).mime == "image/png"
    assert from_bytes("old.bmp", image_bytes(20, 20, "BMP")).mime == "image/png"


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + crc


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(AttachmentError, match=r"bomb.png is 20000×20000 pixels, too large"):
        from_bytes("bomb.png", _png_header(20000, 20000) + b"\x00" * 100)


def test_a_broken_image_says_so() -> None:
    broken = image_bytes(2000, 2000, "PNG")[:200]  # big enough to need decoding, then cut off
    with pytest.raises(AttachmentError, match=r"^broken.png could not be read as an image"):
        from_bytes("broken.png", broken)


def test_text_and_code_files_are_sent_as_text_with_their_names(tmp_path: Path) -> None:
    code = "def f():\n    return 'é'\n"
    attachment = read_path(write(tmp_path, "f.py", code.encode()))
    assert (attachment.kind, attachment.mime, attachment.text) == ("file", "text/plain", code)
    assert read_path(write(tmp_path, "bom.txt", b"\xef\xbb\xbfhi")).text == "hi"
    assert read_path(write(tmp_path, "w.txt", "hé".encode("utf-16"))).text == "hé"
    assert read_path(write(tmp_path, "legacy.txt", "café".encode("cp1252"))).text == "café"
    parts = content("What does it do?", [attachment])
    assert parts == [
        {"type": "text", "text": f'<file name="f.py">\n{code}\n</file>'},
        {"type": "text", "text": "What does it do?"},
    ]


def test_binary_files_empty_files_and_folders_are_refused_plainly(tmp_path: Path) -> None:
    with pytest.raises(AttachmentError) as refused:
        read_path(write(tmp_path, "app.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00"))
    assert str(refused.value) == (
        "app.bin cannot be attached: only images (PNG, JPEG, WebP, GIF), PDF and text files can."
    )
    assert isinstance(refused.value, ConfigError)  # shown as one line, never a traceback
    with pytest.raises(AttachmentError, match=r"^empty.txt is empty\.$"):
        read_path(write(tmp_path, "empty.txt", b""))
    with pytest.raises(AttachmentError, match=r"is a folder"):
        read_path(tmp_path)
    with pytest.raises(AttachmentError, match=r"^Cannot read .*gone.txt: No such file"):
        read_path(tmp_path / "gone.txt")


def test_a_text_too_long_for_any_model_is_refused() -> None:
    with pytest.raises(AttachmentError, match=r"^huge.txt holds 1,000,001 characters"):
        from_bytes("huge.txt", b"x" * (MAX_TEXT_CHARS + 1))


def test_a_pdf_sends_the_text_of_its_pages(tmp_path: Path) -> None:
    data = pdf_with_text("Quarterly results", "Revenue grew (a lot)")
    attachment = read_path(write(tmp_path, "report.pdf", data))
    assert (attachment.kind, attachment.mime) == ("file", "application/pdf")
    assert attachment.data == data  # the PDF itself is what is stored
    assert attachment.text == "Quarterly results\n\nRevenue grew (a lot)"


def test_a_pdf_without_text_or_with_a_password_says_so() -> None:
    with pytest.raises(AttachmentError) as scanned:
        from_bytes("scan.pdf", blank_pdf())
    assert str(scanned.value).startswith("scan.pdf has no text to extract")
    with pytest.raises(AttachmentError) as locked:
        from_bytes("locked.pdf", encrypted_pdf())
    assert str(locked.value).startswith("locked.pdf is encrypted (password-protected)")
    with pytest.raises(AttachmentError, match=r"^bad.pdf could not be read as a PDF"):
        from_bytes("bad.pdf", b"%PDF-1.4\nnot really a pdf at all\n")


def test_images_become_data_urls_after_the_files_and_before_the_text() -> None:
    image = from_bytes("a.png", image_bytes(8, 8))
    note = from_bytes("n.md", b"# notes")
    parts = content("Compare", [image, note])
    assert isinstance(parts, list)
    assert parts[0]["type"] == "image_url"
    mime, data = decode_data_url(parts[0]["image_url"]["url"]) or ("", b"")
    assert (mime, data) == ("image/png", image.data)
    assert parts[1] == {"type": "text", "text": '<file name="n.md">\n# notes\n</file>'}
    assert parts[2] == {"type": "text", "text": "Compare"}
    assert content("plain", []) == "plain"


def test_a_message_has_a_limit_on_attachments() -> None:
    one = from_bytes("a.txt", b"a")
    check_message([one] * MAX_ATTACHMENTS)
    with pytest.raises(AttachmentError, match=r"at most 20 attachments; this one has 21"):
        check_message([one] * (MAX_ATTACHMENTS + 1))


def test_content_parts_from_a_client_unpack_into_attachments_untouched() -> None:
    png = image_bytes(3000, 10)  # bigger than we would send: stored as the client sent it
    pdf = pdf_with_text("Hello PDF")
    import base64

    unpacked = unpack(
        [
            {"type": "text", "text": "Look: "},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(png).decode()},
            },
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {
                "type": "file",
                "file": {
                    "filename": "doc.pdf",
                    "file_data": "data:application/pdf;base64," + base64.b64encode(pdf).decode(),
                },
            },
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "text", "text": "what is it?"},
        ]
    )
    assert unpacked.text == "Look: what is it?"
    image, document = unpacked.attachments
    assert (image.kind, image.mime, image.data, image.width) == ("image", "image/png", png, 3000)
    assert (document.name, document.mime, document.text) == (
        "doc.pdf",
        "application/pdf",
        "Hello PDF",
    )
    assert unpacked.notes == [
        "[image: https://example.com/cat.png]",
        "[input_audio part not saved]",
    ]
    assert isinstance(Attachment("file", "x", "text/plain", b"x").sha256, str)


def test_model_names_say_which_models_take_images() -> None:
    from llms_desktop.providers.config import ProviderConfig
    from llms_desktop.providers.vision import guess, takes_images

    vision = ["gpt-4o-mini", "claude-sonnet-4-20250514", "gemma3:4b", "qwen2.5vl:7b"]
    vision += ["llama3.2-vision:11b", "openrouter/google/gemini-2.0-flash", "llava:7b"]
    for name in vision:
        assert guess(name) is True, name
    for name in ("gpt-3.5-turbo", "o3-mini", "deepseek-chat", "text-embedding-3-small"):
        assert guess(name) is False, name
    for name in ("llama3.1:8b", "qwen2.5:7b", "my-model"):
        assert guess(name) is None, name
    config = ProviderConfig("p", "openai-compatible", "p", "http://x/v1")
    assert takes_images(config, "my-model") is None
    everything = ProviderConfig("p", "openai-compatible", "p", "http://x/v1", vision=True)
    assert takes_images(everything, "my-model") is True
    one_off = ProviderConfig.from_json(
        {**everything.to_json(), "vision_models": {"my-model": False}}
    )
    assert takes_images(one_off, "my-model") is False
    assert takes_images(one_off, "other") is True
