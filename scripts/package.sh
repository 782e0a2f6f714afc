#!/usr/bin/env bash
# Build the Linux installer from a clean checkout into dist/: llms-desktop_<version>_<arch>.deb
# and llms-desktop-<version>-linux-<machine>.tar.gz, then run the packaging test on the .deb.
# PyInstaller runs in its own environment (build/package-venv), never in .venv. See
# docs/packaging.md; Windows and macOS builds run in .github/workflows/release.yml.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BUILD="$ROOT/build/package"
PACKAGE_VENV="${LLMS_DESKTOP_PACKAGE_VENV:-$ROOT/build/package-venv}"
DIST="$ROOT/dist"
PYINSTALLER="pyinstaller>=6.10,<7"
started=$SECONDS
step() { printf '\n==> %s (%ss)\n' "$*" "$((SECONDS - started))" >&2; }
die() { echo "package.sh: $*" >&2; exit 1; }

command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is missing: the .deb is built on Debian or Ubuntu."
# strip and readelf (binutils) for the bundle; Qt's offscreen libraries for --self-test.
# shellcheck disable=SC2086
install_system_packages binutils $QT_OFFSCREEN_PACKAGES
command -v readelf >/dev/null 2>&1 || die "readelf is missing: install binutils."

step "Build environment $PACKAGE_VENV"
if [ ! -x "$PACKAGE_VENV/bin/python" ]; then
    # $PYTHON, else the interpreter behind .venv (the one the tests use), else any >= 3.12.
    python="${PYTHON:-}"
    if [ -z "$python" ] && [ -x "$VENV/bin/python" ]; then
        python="$("$VENV/bin/python" -c 'import sys; print(sys._base_executable)')"
    fi
    [ -n "$python" ] || python="$(find_python)"
    "$python" -m venv "$PACKAGE_VENV"
fi
# PyInstaller bundles libpython; a Python built without --enable-shared has none to bundle.
"$PACKAGE_VENV/bin/python" -c 'import sysconfig, sys; sys.exit(not sysconfig.get_config_var("Py_ENABLE_SHARED"))' \
    || die "$PACKAGE_VENV uses a Python without a shared libpython; rebuild it with --enable-shared (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared) or set PYTHON."
pip_install() { "$PACKAGE_VENV/bin/python" -m pip install -qq --disable-pip-version-check "$@"; }
pip_install "$PYINSTALLER"
# A plain (not editable) install of this checkout: the bundle holds exactly these files.
# setuptools stages files in build/lib; a stale copy would bring back deleted modules.
rm -rf "$ROOT/build/lib" "$ROOT"/build/bdist.*
"$PACKAGE_VENV/bin/python" -m pip uninstall -q -y llms-desktop >/dev/null 2>&1 || true
pip_install "$ROOT"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$ROOT/llms_desktop/__init__.py")"
[ -n "$version" ] || die "no __version__ in llms_desktop/__init__.py"

step "PyInstaller bundle (log: $BUILD/pyinstaller.log)"
rm -rf "$BUILD"
mkdir -p "$BUILD"
if ! (cd "$ROOT" && "$PACKAGE_VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
        --distpath "$BUILD/dist" --workpath "$BUILD/work" packaging/llms-desktop.spec) \
        >"$BUILD/pyinstaller.log" 2>&1; then
    tail -n 40 "$BUILD/pyinstaller.log" >&2
    die "PyInstaller failed"
fi
bundle="$BUILD/dist/llms-desktop"
"$bundle/llms-desktop" --version

step "Debian package and tarball"
rm -f "$DIST"/llms-desktop_*.deb "$DIST"/llms-desktop-*-linux-*.tar.gz
"$PACKAGE_VENV/bin/python" "$ROOT/packaging/linux/build_deb.py" "$bundle" "$DIST" "$BUILD" "$version"
deb="$(ls "$DIST"/llms-desktop_"$version"_*.deb)"
build_seconds=$((SECONDS - started))

step "Packaging test (tests/packaging) on $deb"
# The project's own .venv runs the tests; it is only (re)installed when it lacks them.
"$VENV/bin/python" -c 'import pytest, pytestqt, pytest_timeout, llms_desktop' >/dev/null 2>&1 || make_venv test
LLMS_DESKTOP_DEB="$deb" LLMS_DESKTOP_PACKAGING_TEST=1 \
    "$VENV/bin/python" -m pytest -q -m packaging -p no:cacheprovider "$ROOT/tests/packaging"

step "Start time of the installed app (offscreen)"
root="$BUILD/installed"
rm -rf "$root" && dpkg -x "$deb" "$root"
"$PACKAGE_VENV/bin/python" "$ROOT/packaging/measure_start.py" "$root/usr/bin/llms-desktop" --runs 5
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
    "$PACKAGE_VENV/bin/python" "$ROOT/packaging/measure_start.py" "$root/usr/bin/llms-desktop" --runs 3 --cold
fi

echo
echo "Built in ${build_seconds}s (tested in $((SECONDS - started - build_seconds))s):"
du -sh "$bundle" | awk '{print "  bundle folder  " $1}'
for file in "$deb" "$DIST"/llms-desktop-"$version"-linux-*.tar.gz; do
    awk -v f="dist/${file#"$DIST"/}" -v s="$(stat -c %s "$file")" 'BEGIN { printf "  %-44s %.1f MB\n", f, s / 1e6 }'
done
