"""The core never loads Qt, and the CLI path never loads Qt, the AI Refinery or the MCP SDK."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import importlib, pkgutil, sys
import llms_desktop
names = [m.name for m in pkgutil.walk_packages(llms_desktop.__path__, "llms_desktop.")
         if not m.name.startswith("llms_desktop.ui")]
for name in names:
    importlib.import_module(name)
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"PySide6", "shiboken6", "qasync", "air"})
print(len(names), ",".join(heavy))
"""


def test_importing_every_core_module_never_loads_qt_or_the_sdk() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    count, heavy = result.stdout.split()[0], result.stdout.split()[1:]
    assert int(count) >= 5
    assert heavy == []


def test_cli_commands_do_not_load_qt_or_the_sdk() -> None:
    code = (
        "import sys\n"
        "from llms_desktop.cli import build_parser\n"
        "build_parser()\n"
        "heavy = {'PySide6', 'air', 'pandas', 'mcp'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
