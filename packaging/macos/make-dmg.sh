#!/usr/bin/env bash
# Wrap build/package/dist/llms-desktop.app (from `pyinstaller packaging/llms-desktop.spec`
# on macOS) in a compressed disk image with an Applications shortcut:
#   bash packaging/macos/make-dmg.sh VERSION  ->  dist/llms-desktop-VERSION-macos-ARCH.dmg
# Uses hdiutil, which only macOS has: the release workflow runs it; it has not run on Linux.
# The app is ad-hoc signed (PyInstaller does that); Developer ID signing and notarization need
# an Apple account and are not done here, so Gatekeeper asks the user to confirm the first start.
set -euo pipefail

version="${1:?usage: make-dmg.sh VERSION}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
app="$root/build/package/dist/llms-desktop.app"
[ -d "$app" ] || { echo "make-dmg.sh: no $app; run PyInstaller first" >&2; exit 1; }
arch="$(uname -m)"
out="$root/dist/llms-desktop-$version-macos-$arch.dmg"

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
# The bundle must still pass its own smoke test after being copied.
"$staging/llms-desktop.app/Contents/MacOS/llms-desktop" --self-test

mkdir -p "$root/dist"
rm -f "$out"
hdiutil create -volname "llms-desktop $version" -srcfolder "$staging" -fs HFS+ \
    -format UDZO -imagekey zlib-level=9 -ov "$out"
hdiutil verify "$out"
echo "$out: $(( $(stat -f %z "$out") / 1000000 )) MB"
