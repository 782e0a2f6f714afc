"""Which Qt plugins and translations the bundle leaves out (shared by the PySide6 hooks here)."""

from __future__ import annotations

import os
import re

# Qt plugin files (libqxcb.so, libqcocoa.dylib, qwindows.dll...) and translations, matched in
# the source paths the hooks collect. Dropped in the hooks, before PyInstaller follows their
# library dependencies, so what only a dropped plugin needed (GTK, Wayland, QtNetwork,
# QtQuick...) never enters the bundle either.
_PLUGIN = r"/plugins/{kind}/(lib)?{name}[^/]*$"
DROP = re.compile(
    "|".join(
        [
            # Platforms: the desktop's own (xcb: X11, and XWayland, which Qt falls back to
            # without the wayland plugin; cocoa; windows) and offscreen (--self-test, CI).
            _PLUGIN.format(kind="platforms", name="q(?!xcb|offscreen|cocoa|windows)"),
            # Pulls in QtQuick and QML.
            _PLUGIN.format(kind="platforminputcontexts", name="qtvirtualkeyboard"),
            # GTK dialogs would load the system's GTK 3 next to our libraries; Qt's own are used.
            _PLUGIN.format(kind="platformthemes", name="qgtk3"),
            # Image formats nobody pastes into a chat (PDF alone needs libQt6Pdf).
            _PLUGIN.format(kind="imageformats", name="q(pdf|tiff|tga|wbmp|icns)"),
            # Touch and tablet input from evdev, EGL on the console, Wayland, QML tooling.
            r"/plugins/(generic|egldeviceintegrations|wayland-[^/]+|vectorimageformats|qmltooling)/",
            # The UI is English-only and installs no Qt translator.
            r"/translations/",
        ]
    )
)


def enabled() -> bool:
    """LLMS_DESKTOP_TRIM=0 keeps everything (to measure what trimming saves)."""
    return os.environ.get("LLMS_DESKTOP_TRIM", "1") != "0"


def keep(entries: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The hook's (source, destination folder) entries minus the dropped Qt files."""
    if not enabled():
        return entries
    return [(src, dest) for src, dest in entries if not DROP.search(src.replace("\\", "/"))]
