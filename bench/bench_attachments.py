"""Measure attachments: what importing Pillow and pypdf costs (fresh processes), how long preparing
typical images and PDFs takes, and what storing and deleting them costs. Prints the numbers."""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROBE = """
import json, sys, time
def rss():
    with open("/proc/self/statm") as f:
        import os
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
split = sys.argv.index("--")
for name in sys.argv[1:split]:
    __import__(name)
before = rss()
started = time.perf_counter()
for name in sys.argv[split + 1:]:
    __import__(name)
print(json.dumps({"ms": (time.perf_counter() - started) * 1000, "mib": rss() - before}))
"""


def import_cost(modules: list[str], runs: int) -> tuple[float, float]:
    times, sizes = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, *modules], capture_output=True, text=True, check=True
        )
        result = json.loads(out.stdout)
        times.append(result["ms"])
        sizes.append(result["mib"])
    return statistics.median(times), statistics.median(sizes)


def timed(function: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    from PIL import Image

    from llms_desktop.attachments.reading import from_bytes
    from llms_desktop.store import Store
    from tests.support.samples import image_bytes, pdf_with_text

    runs = 5
    for label, modules in (
        # After the modules every front end has loaded anyway.
        ("llms_desktop.attachments (no Pillow, no pypdf)",
         ["llms_desktop.types", "llms_desktop.errors", "--", "llms_desktop.attachments"]),
        ("PIL.Image + the four formats' plugins", ["--", "PIL.Image", "PIL.WebPImagePlugin",
                                                   "PIL.JpegImagePlugin", "PIL.PngImagePlugin"]),
        ("pypdf", ["--", "pypdf"]),
    ):  # fmt: skip
        ms, mib = import_cost(modules, runs)
        print(f"import {label}: {ms:.0f} ms, +{mib:.1f} MiB RSS (median of {runs} processes)")

    photo = io.BytesIO()
    Image.effect_noise((4032, 3024), 60).convert("RGB").save(photo, "JPEG", quality=90)
    screenshot = image_bytes(2560, 1440, "PNG", color=(240, 240, 240))
    small = image_bytes(800, 600, "PNG")
    pdf = pdf_with_text(*[f"Page {n}: " + "lorem ipsum dolor sit amet " * 8 for n in range(50)])
    cases = [
        ("800×600 PNG (sent as is, no Pillow)", "small.png", small),
        ("2560×1440 PNG screenshot -> 1568 px", "shot.png", screenshot),
        ("4032×3024 JPEG photo -> 1568 px", "photo.jpg", photo.getvalue()),
        ("50-page PDF -> text", "doc.pdf", pdf),
    ]
    for label, name, data in cases:
        prepared = from_bytes(name, data)
        ms = timed(lambda name=name, data=data: from_bytes(name, data), runs)
        out = prepared.size if prepared.kind == "image" else len(prepared.text or "")
        what = "out" if prepared.kind == "image" else "of text"
        print(
            f"prepare {label}: {ms:.1f} ms; {len(data) / 1024:.0f} KB in, "
            f"{out / 1024:.0f} KB {what}"
        )

    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder)) as store:
        attachment = from_bytes("photo.jpg", photo.getvalue())
        thread = store.create_thread("bench")
        count = 50
        started = time.perf_counter()
        for index in range(count):
            unique = from_bytes(f"{index}.txt", os.urandom(8).hex().encode())
            store.add_message(thread.id, "user", "x", attachments=[attachment, unique])
        per_message = (time.perf_counter() - started) * 1000 / count
        print(f"store a message with an image (shared) and a new file: {per_message:.2f} ms each")
        started = time.perf_counter()
        store.delete_thread(thread.id)
        print(
            f"delete a thread of {count} such messages, removing {count + 1} files: "
            f"{(time.perf_counter() - started) * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
