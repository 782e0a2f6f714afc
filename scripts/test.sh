#!/usr/bin/env bash
# Install everything the tests need (Qt's system libraries too, when root) and run the whole suite:
# lint, format check, type check, then pytest. Extra arguments go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_system_packages $QT_OFFSCREEN_PACKAGES
make_venv test
cd "$ROOT"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
echo "== ruff check" && "$VENV/bin/ruff" check .
echo "== ruff format --check" && "$VENV/bin/ruff" format --check .
echo "== mypy" && "$VENV/bin/mypy"
echo "== pytest" && "$VENV/bin/python" -m pytest "$@"
