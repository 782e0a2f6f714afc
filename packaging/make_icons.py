"""Write the app icon: SVG source, window icon, hicolor PNGs (16-512 px), Windows .ico, macOS .icns.

Run it after changing the drawing: `.venv/bin/python packaging/make_icons.py`. Its output is
committed, so building a package never needs it.
"""

from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "llms_desktop" / "resources"
HICOLOR = RESOURCES / "icons" / "hicolor"
NAME = "llms-desktop"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
WINDOW_ICON_SIZE = 256
# macOS icon types that hold PNG data, by pixel size (ic10 is 512@2x).
ICNS_TYPES = (
    (b"icp4", 16),
    (b"icp5", 32),
    (b"icp6", 64),
    (b"ic07", 128),
    (b"ic08", 256),
    (b"ic09", 512),
    (b"ic10", 1024),
)

# A chat bubble with a "typing" ellipsis on an indigo-to-violet rounded square (512 px grid).
SVG = """\
<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512" viewBox="0 0 512 512">
  <title>llms-desktop</title>
  <defs>
    <linearGradient id="bg" x1="0" y1="0" x2="1" y2="1">
      <stop offset="0" stop-color="#4f46e5"/>
      <stop offset="1" stop-color="#9333ea"/>
    </linearGradient>
  </defs>
  <rect x="24" y="24" width="464" height="464" rx="104" fill="url(#bg)"/>
  <path fill="#ffffff" d="M176 128H336A72 72 0 0 1 408 200V280A72 72 0 0 1 336 352H236
    L150 416L172 350A72 72 0 0 1 104 280V200A72 72 0 0 1 176 128Z"/>
  <circle cx="180" cy="240" r="30" fill="#4f46e5"/>
  <circle cx="256" cy="240" r="30" fill="#6d3ce8"/>
  <circle cx="332" cy="240" r="30" fill="#9333ea"/>
</svg>
"""


def render_png(svg: Path, size: int) -> bytes:
    """The SVG drawn at `size` x `size` pixels, as PNG bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg} is not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    buffer.close()
    return bytes(data.data())


def ico(pngs: dict[int, bytes]) -> bytes:
    """A Windows .ico holding PNG-compressed images (Windows Vista and later read these)."""
    sizes = [size for size in ICO_SIZES if size in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for size in sizes:
        blob = pngs[size]
        side = 0 if size >= 256 else size  # 0 means 256 in the directory entry
        entries += struct.pack("<BBBBHHII", side, side, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def icns(pngs: dict[int, bytes]) -> bytes:
    """A macOS .icns holding PNG images."""
    body = b"".join(
        kind + struct.pack(">I", 8 + len(pngs[size])) + pngs[size] for kind, size in ICNS_TYPES
    )
    return b"icns" + struct.pack(">I", 8 + len(body)) + body


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    assert app is not None
    svg = RESOURCES / f"{NAME}.svg"
    scalable = HICOLOR / "scalable" / "apps" / f"{NAME}.svg"
    for path in (svg, scalable):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SVG, encoding="utf-8")
    pngs = {size: render_png(svg, size) for size in (*PNG_SIZES, 1024)}
    for size in PNG_SIZES:
        out = HICOLOR / f"{size}x{size}" / "apps" / f"{NAME}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(pngs[size])
    # The window icon (app.py): a PNG loads without the SVG plugin; Qt scales it down.
    (RESOURCES / f"{NAME}.png").write_bytes(pngs[WINDOW_ICON_SIZE])
    for out, data in (
        (ROOT / "packaging" / "windows" / f"{NAME}.ico", ico(pngs)),
        (ROOT / "packaging" / "macos" / f"{NAME}.icns", icns(pngs)),
    ):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    print(f"wrote {svg.relative_to(ROOT)}, {len(PNG_SIZES)} PNGs, {NAME}.ico and {NAME}.icns")
    return 0


if __name__ == "__main__":
    sys.exit(main())
