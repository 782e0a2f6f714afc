"""Stands in for PyInstaller's pyi_rth_pyside6 in Linux builds, and does nothing on purpose.

The stock hook imports PySide6.QtCore at start-up to register a qt.conf, which made every
command load Qt, even `--version` (~60 ms), and it exports QT_PLUGIN_PATH and QML2_IMPORT_PATH,
which every program the app starts (a browser opened for a link) would inherit. Qt 6 finds its
plugins from the real path of libQt6Core (_internal/PySide6/Qt/plugins) without either: the
self-test, offscreen and under X11, checks it.
"""
