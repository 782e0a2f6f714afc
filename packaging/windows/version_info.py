"""Write the Windows version resource (Properties > Details of llms-desktop.exe) for PyInstaller."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = """\
VSVersionInfo(
  ffi=FixedFileInfo(
    filevers={numbers},
    prodvers={numbers},
    mask=0x3f,
    flags=0x0,
    OS=0x40004,
    fileType=0x1,
    subtype=0x0,
    date=(0, 0)
  ),
  kids=[
    StringFileInfo([
      StringTable('040904B0', [
        StringStruct('CompanyName', 'llms-desktop developers'),
        StringStruct('FileDescription', 'llms-desktop: a desktop chat app for LLMs'),
        StringStruct('FileVersion', '{version}'),
        StringStruct('InternalName', 'llms-desktop'),
        StringStruct('LegalCopyright', 'MIT License, llms-desktop developers'),
        StringStruct('OriginalFilename', 'llms-desktop.exe'),
        StringStruct('ProductName', 'llms-desktop'),
        StringStruct('ProductVersion', '{version}')
      ])
    ]),
    VarFileInfo([VarStruct('Translation', [1033, 1200])])
  ]
)
"""


def version_numbers(version: str) -> tuple[int, int, int, int]:
    """Four numbers for the fixed part: "0.2.0rc1" -> (0, 2, 0, 0)."""
    numbers = [int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3]]
    padded = [*numbers, 0, 0, 0, 0][:4]
    return padded[0], padded[1], padded[2], padded[3]


def write_version_info(version: str, path: Path) -> str:
    """Write the resource file for `version`; returns its path for EXE(version=...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        TEMPLATE.format(numbers=version_numbers(version), version=version), encoding="utf-8"
    )
    return str(path)
