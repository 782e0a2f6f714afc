#!/usr/bin/env bash
# Install llms-desktop into .venv (Python >= 3.12) and launch it; arguments pass through.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_system_packages $QT_OFFSCREEN_PACKAGES $QT_X11_PACKAGES
make_venv ""
exec "$VENV/bin/llms-desktop" "$@"
