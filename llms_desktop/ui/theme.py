"""Light and dark palettes; "system" follows the OS colour scheme (Qt 6.5+ style hints)."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from llms_desktop.markdown_render import DARK_CODE, LIGHT_CODE, CodePalette


@dataclass(frozen=True)
class ChatColors:
    """Colours the chat document uses (QTextDocument HTML takes them inline)."""

    user_background: str
    user_label: str
    assistant_label: str
    muted: str
    error: str
    warning: str
    reasoning_background: str
    code: CodePalette


LIGHT_CHAT = ChatColors(
    user_background="#eaf1fb",
    user_label="#0b57d0",
    assistant_label="#1a7f37",
    muted="#6e7781",
    error="#cf222e",
    warning="#9a6700",
    reasoning_background="#f6f8fa",
    code=LIGHT_CODE,
)
DARK_CHAT = ChatColors(
    user_background="#1d2b3f",
    user_label="#79b8ff",
    assistant_label="#56d364",
    muted="#8b949e",
    error="#ff7b72",
    warning="#d29922",
    reasoning_background="#22272e",
    code=DARK_CODE,
)


def system_is_dark() -> bool:
    """Whether the OS asks for a dark scheme; unknown (e.g. offscreen) counts as light."""
    hints = QGuiApplication.styleHints()
    scheme = getattr(hints, "colorScheme", None)
    if scheme is None:  # Qt < 6.5
        return False
    return bool(scheme() == Qt.ColorScheme.Dark)


def resolve_dark(theme: str) -> bool:
    """Whether a theme setting ("system", "light", "dark") means dark right now."""
    if theme == "dark":
        return True
    if theme == "light":
        return False
    return system_is_dark()


def chat_colors(dark: bool) -> ChatColors:
    """The chat document's colours for a scheme."""
    return DARK_CHAT if dark else LIGHT_CHAT


def apply_palette(app: QApplication, dark: bool) -> None:
    """Fusion with our palette, so light and dark look the same on every platform."""
    app.setStyle("Fusion")
    palette = QPalette()
    if dark:
        colors = {
            QPalette.ColorRole.Window: "#1e2227",
            QPalette.ColorRole.WindowText: "#e6edf3",
            QPalette.ColorRole.Base: "#161a1f",
            QPalette.ColorRole.AlternateBase: "#1e2227",
            QPalette.ColorRole.Text: "#e6edf3",
            QPalette.ColorRole.Button: "#2a2f36",
            QPalette.ColorRole.ButtonText: "#e6edf3",
            QPalette.ColorRole.Highlight: "#2f6feb",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#2a2f36",
            QPalette.ColorRole.ToolTipText: "#e6edf3",
            QPalette.ColorRole.PlaceholderText: "#7d8590",
            QPalette.ColorRole.Link: "#58a6ff",
        }
    else:
        colors = {
            QPalette.ColorRole.Window: "#f3f4f6",
            QPalette.ColorRole.WindowText: "#1f2328",
            QPalette.ColorRole.Base: "#ffffff",
            QPalette.ColorRole.AlternateBase: "#f6f8fa",
            QPalette.ColorRole.Text: "#1f2328",
            QPalette.ColorRole.Button: "#f6f8fa",
            QPalette.ColorRole.ButtonText: "#1f2328",
            QPalette.ColorRole.Highlight: "#0969da",
            QPalette.ColorRole.HighlightedText: "#ffffff",
            QPalette.ColorRole.ToolTipBase: "#ffffff",
            QPalette.ColorRole.ToolTipText: "#1f2328",
            QPalette.ColorRole.PlaceholderText: "#8c959f",
            QPalette.ColorRole.Link: "#0969da",
        }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#8c959f"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#8c959f"))
    app.setPalette(palette)


def apply_theme(app: QApplication, dark: bool) -> None:
    """Switch the running app to light or dark: the palette, then every widget styled with a
    style sheet (the sidebar list, banners, hints), which would keep the old palette."""
    apply_palette(app, dark)
    for widget in app.allWidgets():
        sheet = widget.styleSheet()
        if sheet:
            widget.setStyleSheet(sheet)  # re-polished against the new palette
