"""Programs the app starts (xdg-open, the browser it opens for a link) get the user's environment.

PyInstaller's bootloader points LD_LIBRARY_PATH at the bundle so the app finds its libraries.
The dynamic loader read it when the process started, so putting the user's value back now
changes nothing here, while a child would otherwise load our copies of OpenSSL, SQLite or ICU.
"""

import os


def _restore() -> None:
    original = os.environ.pop("LD_LIBRARY_PATH_ORIG", None)
    if original is None:
        os.environ.pop("LD_LIBRARY_PATH", None)
    else:
        os.environ["LD_LIBRARY_PATH"] = original


_restore()
del _restore
