"""THIRD-PARTY-NOTICES.txt: each bundled distribution's name, version, licence and licence texts.

The spec calls `notices()` in the build environment, so the file describes what PyInstaller
bundles; `python packaging/third_party_notices.py FOLDER` writes it by hand. Qt (LGPL-3.0) and
the rest require their notices to travel with the binaries.
"""

from __future__ import annotations

import importlib.metadata
import sys
import sysconfig
from pathlib import Path

# The build tools, not part of the bundle.
BUILD_ONLY = {"pyinstaller", "pyinstaller-hooks-contrib", "altgraph", "pip", "setuptools", "wheel"}
LICENSE_WORDS = ("LICENSE", "LICENCE", "COPYING", "NOTICE")
QT_NOTE = (
    "Qt and PySide6 are used under the GNU Lesser General Public License v3 "
    "(https://www.gnu.org/licenses/lgpl-3.0.html). Their source code is available from "
    "https://download.qt.io/official_releases/ and https://code.qt.io/. The Qt libraries are "
    "shipped as separate shared libraries (PySide6/Qt/lib) and may be replaced."
)


def normalized(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def licence_of(dist: importlib.metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [c.split(" :: ")[-1] for c in meta.get_all("Classifier") or [] if "License" in c]
    short = (meta.get("License") or "").strip().splitlines()
    return ", ".join(classifiers) or (short[0] if short else "see the texts below")


def notices() -> str:
    seen: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions():
        name = normalized(dist.metadata["Name"])
        if name not in BUILD_ONLY and name != "llms-desktop":
            seen.setdefault(name, dist)
    parts = [
        "llms-desktop bundles Python and the packages below. Each keeps its own licence.",
        "",
        QT_NOTE,
        "",
    ]
    python_licence = Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"
    parts += [f"{'=' * 78}\nPython {sys.version.split()[0]} (PSF-2.0)\n{'=' * 78}"]
    if python_licence.exists():
        parts.append(python_licence.read_text(encoding="utf-8", errors="replace"))
    for name in sorted(seen):
        dist = seen[name]
        header = f"{dist.metadata['Name']} {dist.version} ({licence_of(dist)})"
        parts.append(f"{'=' * 78}\n{header}\n{'=' * 78}")
        for file in dist.files or []:
            if any(word in file.name.upper() for word in LICENSE_WORDS):
                text = Path(str(file.locate())).read_text(encoding="utf-8", errors="replace")
                parts.append(f"--- {file.name} ---\n{text.strip()}\n")
    return "\n".join(parts) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: third_party_notices.py FOLDER", file=sys.stderr)
        return 2
    out = Path(argv[0]) / "THIRD-PARTY-NOTICES.txt"
    out.write_text(notices(), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
