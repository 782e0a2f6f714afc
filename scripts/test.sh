#!/usr/bin/env bash
# Install everything the tests need (Qt's system libraries too, when root) and run the whole suite:
# lint, format check, type check, pytest, then the installer build and its test. Extra arguments
# go to pytest (and skip the installer).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# The end-to-end tests run the real app on a private X display (Xvfb) and type with xdotool.
# shellcheck disable=SC2086
install_system_packages $QT_OFFSCREEN_PACKAGES $QT_X11_PACKAGES $E2E_PACKAGES
make_venv test
cd "$ROOT"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
echo "== ruff check" && "$VENV/bin/ruff" check .
echo "== ruff format --check" && "$VENV/bin/ruff" format --check .
echo "== mypy" && "$VENV/bin/mypy"
if [ $# -eq 0 ]; then
    # Every core for the suite (at most four workers), then the tests that measure event-loop
    # stalls, alone, so another worker's load never counts as a stall of ours.
    echo "== pytest (parallel)" && "$VENV/bin/python" -m pytest -n auto --maxprocesses=4 -m "not timing"
    echo "== pytest (timing, alone)" && "$VENV/bin/python" -m pytest -m timing
else
    echo "== pytest" && "$VENV/bin/python" -m pytest "$@"
fi
# The whole suite includes the installer: build the .deb and test the installed app (about
# 2.5 min). A run narrowed with pytest arguments, or LLMS_DESKTOP_SKIP_PACKAGING=1, skips it.
if [ $# -eq 0 ] && [ -z "${LLMS_DESKTOP_SKIP_PACKAGING:-}" ]; then
    # The same files as a release build, compressed faster (the release uses xz -6).
    echo "== packaging" && LLMS_DESKTOP_XZ_LEVEL="${LLMS_DESKTOP_XZ_LEVEL:-2}" bash "$ROOT/scripts/package.sh"
fi
