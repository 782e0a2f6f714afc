"""PyInstaller's own PySide6 hook, minus the Qt plugins and translations the app never uses."""

from PyInstaller.utils.hooks.qt import add_qt6_dependencies
from qt_trim import keep

hiddenimports, _binaries, _datas = add_qt6_dependencies(__file__)
binaries = keep(_binaries)
datas = keep(_datas)
