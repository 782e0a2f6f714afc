# Shared by launch.sh and test.sh: find Python >= 3.12, install Qt's system libraries, make .venv.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${LLMS_DESKTOP_VENV:-$ROOT/.venv}"

# Python >= 3.12: $PYTHON, then python3.13/3.12/python3 on PATH, then pyenv's installs.
find_python() {
    local candidate
    local -a candidates=()
    [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
    candidates+=(python3.14 python3.13 python3.12 python3)
    local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
    if [ -d "$pyenv_root/versions" ]; then
        candidates+=($(ls -d "$pyenv_root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV))
    fi
    for candidate in "${candidates[@]}"; do
        if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then
            command -v "$candidate" 2>/dev/null || echo "$candidate"
            return 0
        fi
    done
    echo "llms-desktop needs Python 3.12 or newer; none found (set PYTHON=/path/to/python3.12)." >&2
    return 1
}

# Qt's offscreen and X11 platform plugins need these Debian/Ubuntu packages. Only root installs,
# and only what is missing, so a machine that has them needs neither apt nor the network.
QT_OFFSCREEN_PACKAGES="libegl1 libgl1 libfontconfig1 libfreetype6 libxkbcommon0 libglib2.0-0 libdbus-1-3 libx11-6 libxcb1 fonts-dejavu-core"
QT_X11_PACKAGES="libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0 libxcb-xkb1 libxkbcommon-x11-0 libx11-xcb1"
# A virtual X display and a keyboard/mouse driver for the end-to-end tests of the real window.
E2E_PACKAGES="xvfb xdotool"

install_system_packages() {
    command -v dpkg-query >/dev/null 2>&1 || return 0
    local missing=() package
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "note: Qt may need these system packages (install them as root): ${missing[*]}" >&2
        return 0
    fi
    echo "Installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Create the virtual environment once and install the project (editable) with extras "$1".
make_venv() {
    local extras="${1:-}" python
    if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
        python="$(find_python)" || return 1
        echo "Creating $VENV with $("$python" --version)" >&2
        rm -rf "$VENV"
        "$python" -m venv "$VENV"
    fi
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT${extras:+[$extras]}"
}
