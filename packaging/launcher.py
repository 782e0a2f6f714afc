"""PyInstaller's entry script: the bundled binary runs what `python -m llms_desktop` runs."""

import sys

from llms_desktop.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
