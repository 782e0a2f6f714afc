"""`chat -a`, `threads show/export/import/delete` with attachments, `providers vision`: real
subprocesses, a real loopback server, real files."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from llms_desktop.attachments.parts import decode_data_url
from tests.support.cli import chat_args, one_error_line, run_cli
from tests.support.loopback import LoopbackServer, sse_reply, text_chunks
from tests.support.samples import image_bytes, pdf_with_text, write


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_chat_attaches_images_and_files_and_the_thread_keeps_them(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["A red ", "square."]))
    data = tmp_path / "data"
    photo = write(tmp_path, "big photo.png", image_bytes(3136, 1000))
    notes = write(tmp_path, "notes.md", b"# Plan\n- ship it\n")
    report = write(tmp_path, "report.pdf", pdf_with_text("Q3 revenue: 12"))
    result = run_cli(
        "--data-dir",
        data,
        *chat_args(loopback.base_url, "-a", photo, "--attach", notes, "-a", report, "What is it?"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "A red square.\n"
    assert result.stderr.splitlines() == [
        "llms-desktop: note: big photo.png: downscaled from 3136×1000 to 1568×500.",
        "llms-desktop: note: The model m is not known to take images. Sending anyway.",
    ]
    (message,) = loopback.requests[-1].json()["messages"]
    image, markdown, pdf, text = message["content"]
    mime, sent = decode_data_url(image["image_url"]["url"]) or ("", b"")
    assert mime == "image/png"
    assert sent.startswith(b"\x89PNG")
    assert markdown == {
        "type": "text",
        "text": '<file name="notes.md">\n# Plan\n- ship it\n\n</file>',
    }
    assert pdf == {"type": "text", "text": '<file name="report.pdf">\nQ3 revenue: 12\n</file>'}
    assert text == {"type": "text", "text": "What is it?"}

    stored = files_under(data / "attachments")
    assert sorted(p.suffix for p in stored) == [
        ".pdf",
        ".png",
        ".txt",
    ]  # text files are stored as .txt
    assert hashlib.sha256(sent).hexdigest() in {p.stem for p in stored}

    listing = run_cli("--data-dir", data, "threads", "list")
    thread_id = listing.stdout.split()[0]
    shown = run_cli("--data-dir", data, "threads", "show", thread_id)
    assert shown.returncode == 0, shown.stderr
    image_line = next(line for line in shown.stdout.splitlines() if "big photo.png" in line)
    assert image_line.startswith("- ![big photo.png](")
    linked = Path(image_line.split("](", 1)[1][:-1].replace("%20", " "))
    assert linked.read_bytes() == sent
    assert "- [notes.md](" in shown.stdout
    assert "- [report.pdf](" in shown.stdout

    # A later turn sends the stored attachments again.
    again = run_cli(
        "--data-dir", data, *chat_args(loopback.base_url, "--thread", thread_id, "And now?")
    )
    assert again.returncode == 0, again.stderr
    first, _, last = loopback.requests[-1].json()["messages"]
    assert first["content"] == message["content"]
    assert last == {"role": "user", "content": "And now?"}


def test_export_embeds_attachments_markdown_links_them_and_import_restores_them(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["ok"]))
    data, other = tmp_path / "data", tmp_path / "other"
    png = image_bytes(40, 30)
    photo = write(tmp_path, "photo.png", png)
    notes = write(tmp_path, "notes.txt", b"remember the milk")
    assert (
        run_cli("--data-dir", data, *chat_args(loopback.base_url, "-a", photo, "-a", notes, "hi"))
    ).returncode == 0

    backup = tmp_path / "backup.json"
    exported = run_cli(
        "--data-dir", data, "threads", "export", "--all", "--format", "json", "-o", backup
    )
    assert exported.returncode == 0, exported.stderr
    document = json.loads(backup.read_text())
    assert document["version"] == 3
    (thread,) = document["threads"]
    image, note = thread["messages"][0]["attachments"]
    assert base64.b64decode(image["data"]) == png
    assert (image["kind"], image["name"], image["mime"], image["width"]) == (
        "image",
        "photo.png",
        "image/png",
        40,
    )
    assert (note["kind"], note["text"]) == ("file", "remember the milk")

    imported = run_cli("--data-dir", other, "threads", "import", backup)
    assert imported.returncode == 0, imported.stderr
    assert [p.read_bytes() for p in files_under(other / "attachments")] == sorted(
        [png, b"remember the milk"], key=lambda b: hashlib.sha256(b).hexdigest()
    )
    again = run_cli("--data-dir", other, "threads", "export", "--all", "--format", "json")
    assert json.loads(again.stdout)["threads"] == document["threads"]

    markdown = tmp_path / "out" / "chat.md"
    markdown.parent.mkdir()
    written = run_cli(
        "--data-dir", other, "threads", "export", "--all", "--format", "md", "-o", markdown
    )
    assert written.returncode == 0, written.stderr
    copies = files_under(tmp_path / "out" / "chat_attachments")
    assert sorted(p.read_bytes() for p in copies) == sorted([png, b"remember the milk"])
    text = markdown.read_text()
    image_copy = next(p for p in copies if p.name.endswith("photo.png"))
    assert f"- ![photo.png](chat_attachments/{image_copy.name})" in text
    to_stdout = run_cli("--data-dir", other, "threads", "export", "--all", "--format", "md")
    assert "- Attached: `photo.png` (image/png, 40×30, " in to_stdout.stdout

    # Deleting the thread removes its files (nothing else references them).
    thread_id = thread["id"]
    deleted = run_cli("--data-dir", other, "threads", "delete", thread_id)
    assert deleted.returncode == 0, deleted.stderr
    assert files_under(other / "attachments") == []
    assert len(files_under(data / "attachments")) == 2  # the other data folder is its own


def test_an_import_with_damaged_bytes_is_refused_whole(tmp_path: Path) -> None:
    document = {
        "format": "llms-desktop",
        "version": 3,
        "threads": [
            {
                "id": "t1",
                "title": "x",
                "created_at": 1.0,
                "messages": [
                    {
                        "id": "m1",
                        "role": "user",
                        "content": "hi",
                        "created_at": 1.0,
                        "attachments": [
                            {
                                "kind": "image",
                                "name": "a.png",
                                "mime": "image/png",
                                "sha256": "0" * 64,
                                "data": base64.b64encode(b"not what the hash says").decode(),
                            }
                        ],
                    }
                ],
            }
        ],
    }
    path = write(tmp_path, "bad.json", json.dumps(document).encode())
    result = run_cli("--data-dir", tmp_path / "data", "threads", "import", path)
    assert one_error_line(result) == (
        "llms-desktop: error: bad.json: threads[0].messages[0].attachments[0].data: the bytes "
        "do not match their sha256 (damaged file?)."
    ).replace("bad.json", str(path))
    assert files_under(tmp_path / "data" / "attachments") == []


def test_a_file_that_cannot_be_attached_is_one_line_before_any_request(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    binary = write(tmp_path, "tool.bin", b"\x00\x01\x02binary")
    result = run_cli(*chat_args(loopback.base_url, "-a", binary, "hi"))
    assert one_error_line(result) == (
        "llms-desktop: error: tool.bin cannot be attached: only images (PNG, JPEG, WebP, GIF), "
        "PDF and text files can."
    )
    missing = run_cli(*chat_args(loopback.base_url, "-a", tmp_path / "nope.png", "hi"))
    assert one_error_line(missing).startswith("llms-desktop: error: Cannot read ")
    assert loopback.requests == []


def test_providers_vision_quiets_the_note_for_a_model_said_to_take_images(
    loopback: LoopbackServer, tmp_path: Path
) -> None:
    loopback.handler = lambda r: sse_reply(text_chunks(["ok"]))
    data = tmp_path / "data"
    added = run_cli(
        "--data-dir", data, "providers", "add", "local", "--base-url", loopback.base_url
    )
    assert added.returncode == 0, added.stderr
    photo = write(tmp_path, "p.png", image_bytes(10, 10))
    chat = ["chat", "--model", "local/my-model", "-a", str(photo), "hi"]
    before = run_cli("--data-dir", data, *chat)
    assert before.returncode == 0, before.stderr
    assert before.stderr == (
        "llms-desktop: note: The model my-model is not known to take images. Sending anyway "
        "(if it does: llms-desktop providers vision local yes --model my-model).\n"
    )
    said = run_cli("--data-dir", data, "providers", "vision", "local", "yes", "--model", "my-model")
    assert said.stdout == "Noted: local/my-model takes images.\n"
    listed = run_cli("--data-dir", data, "providers", "list")
    assert "local: my-model takes images" in listed.stdout
    after = run_cli("--data-dir", data, *chat)
    assert (after.returncode, after.stderr) == (0, "")
    assert json.loads((data / "providers.json").read_text())["providers"][0]["vision_models"] == {
        "my-model": True
    }
