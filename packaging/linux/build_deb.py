"""Build the .deb (installed under /opt/llms-desktop) and the .tar.gz from the PyInstaller bundle.

Usage: build_deb.py BUNDLE_DIR OUT_DIR WORK_DIR VERSION. Needs dpkg-deb and readelf (binutils).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "llms_desktop" / "resources"
NAME = "llms-desktop"
PREFIX = Path("opt") / NAME
MAINTAINER = "llms-desktop developers <llms-desktop@users.noreply.github.com>"
# -9 saves ~1 MB more and takes twice as long. The test suite builds with a faster level
# (LLMS_DESKTOP_XZ_LEVEL=2: same files, 72 MB instead of 67, 14 s instead of 44 s).
XZ_LEVEL = os.environ.get("LLMS_DESKTOP_XZ_LEVEL", "6")

# The system libraries the bundle links to (the spec leaves them out on purpose), by soname,
# and the Debian/Ubuntu package that ships each. An unknown soname fails the build: a new Qt
# that needs one more library must not ship a .deb that cannot start.
SYSTEM_PACKAGES = {
    "ld-linux-x86-64.so.2": "libc6",
    "libc.so.6": "libc6",
    "libm.so.6": "libc6",
    "libdl.so.2": "libc6",
    "libpthread.so.0": "libc6",
    "librt.so.1": "libc6",
    "libutil.so.1": "libc6",
    "libstdc++.so.6": "libstdc++6",
    "libgcc_s.so.1": "libgcc-s1",
    "libz.so.1": "zlib1g",
    "libbz2.so.1.0": "libbz2-1.0",
    "liblzma.so.5": "liblzma5",
    "libzstd.so.1": "libzstd1",
    "libexpat.so.1": "libexpat1",
    # Renamed for 64-bit time_t in Debian 13 and Ubuntu 24.04.
    "libglib-2.0.so.0": "libglib2.0-0t64 | libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0t64 | libglib2.0-0",
    "libgobject-2.0.so.0": "libglib2.0-0t64 | libglib2.0-0",
    "libgio-2.0.so.0": "libglib2.0-0t64 | libglib2.0-0",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
}
DESCRIPTION = """\
Desktop chat app for large language models
 llms-desktop streams answers token by token from any OpenAI-compatible service
 (OpenAI, OpenRouter, Groq, Ollama, LM Studio, llama.cpp, vLLM...) and from
 Accenture's AI Refinery, keeps threads in a local SQLite database and API keys
 in the system keychain. The same program runs headless as a command-line tool.
 .
 The app lives in /opt/llms-desktop; user data stays in ~/.local/share/llms-desktop."""
COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: llms-desktop

Files: *
Copyright: llms-desktop developers
License: MIT

Files: opt/llms-desktop/_internal/*
Comment: Python, Qt/PySide6 and the other bundled packages keep their own licences: see
 /opt/llms-desktop/_internal/THIRD-PARTY-NOTICES.txt.

Files: opt/llms-desktop/_internal/PySide6/* opt/llms-desktop/_internal/shiboken6/*
Copyright: The Qt Company Ltd. and other contributors
License: LGPL-3
 On Debian systems, the complete text of the GNU Lesser General Public License
 version 3 can be found in /usr/share/common-licenses/LGPL-3.
"""


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as file:
                if file.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def system_depends(bundle: Path) -> str:
    """The Depends field: packages for every library the bundle needs but does not carry."""
    elves = elf_files(bundle)
    carried = {path.name for path in bundle.rglob("*")}
    needed: set[str] = set()
    glibc = (2, 17)
    for elf in elves:
        dynamic = subprocess.run(
            ["readelf", "-d", "-V", "-W", str(elf)], capture_output=True, text=True, check=True
        ).stdout
        needed.update(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", dynamic))
        for major, minor in re.findall(r"Name: GLIBC_(\d+)\.(\d+)", dynamic):
            glibc = max(glibc, (int(major), int(minor)))
    missing = sorted(needed - carried)
    unknown = [soname for soname in missing if soname not in SYSTEM_PACKAGES]
    if unknown:
        raise SystemExit(
            "The bundle needs system libraries packaging/linux/build_deb.py does not know: "
            + ", ".join(unknown)
            + ". Add each to SYSTEM_PACKAGES with the Debian package that ships it."
        )
    packages = {SYSTEM_PACKAGES[soname] for soname in missing}
    packages.discard("libc6")
    return ", ".join([f"libc6 (>= {glibc[0]}.{glibc[1]})", *sorted(packages)])


def folder_kib(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*")) // 1024 + 1


def stage(bundle: Path, root: Path, version: str, arch: str) -> None:
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(bundle, root / PREFIX, symlinks=True)
    launcher = root / "usr" / "bin" / NAME
    launcher.parent.mkdir(parents=True)
    # Relative, so the link also works in a `dpkg -x` tree; the bootloader follows it to
    # /opt/llms-desktop and finds _internal/ next to the real binary.
    launcher.symlink_to(Path("..", "..", PREFIX, NAME))
    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    shutil.copy2(RESOURCES / f"{NAME}.desktop", applications / f"{NAME}.desktop")
    shutil.copytree(RESOURCES / "icons" / "hicolor", root / "usr" / "share" / "icons" / "hicolor")
    doc = root / "usr" / "share" / "doc" / NAME
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT, encoding="utf-8")
    control = root / "DEBIAN" / "control"
    control.parent.mkdir()
    control.write_text(
        f"Package: {NAME}\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {folder_kib(root)}\n"
        f"Depends: {system_depends(bundle)}\n"
        "Recommends: fonts-dejavu-core | fonts-liberation2 | fonts-noto-core\n"
        "Section: net\n"
        "Priority: optional\n"
        f"Description: {DESCRIPTION}\n",
        encoding="utf-8",
    )
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            # dpkg-deb refuses group- or world-writable control folders; umask may have left some.
            path.chmod(path.stat().st_mode & ~0o022)


def tarball(bundle: Path, out: Path, top: str) -> None:
    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    with tarfile.open(out, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=top, filter=owned_by_root)


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    bundle, out_dir, work, version = Path(argv[0]), Path(argv[1]), Path(argv[2]), argv[3]
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()
    out_dir.mkdir(parents=True, exist_ok=True)
    root = work / "deb-root"
    stage(bundle, root, version, arch)
    deb = out_dir / f"{NAME}_{version}_{arch}.deb"
    # xz uses about one core: the tarball is compressed on the other one meanwhile.
    with subprocess.Popen(
        ["dpkg-deb", "--root-owner-group", "-Zxz", f"-z{XZ_LEVEL}", "--build", str(root), str(deb)]
    ) as dpkg_deb:
        tar = out_dir / f"{NAME}-{version}-linux-{os.uname().machine}.tar.gz"
        tarball(bundle, tar, f"{NAME}-{version}")
    if dpkg_deb.returncode != 0:
        raise SystemExit(f"dpkg-deb failed ({dpkg_deb.returncode})")
    for path in (deb, tar):
        print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
