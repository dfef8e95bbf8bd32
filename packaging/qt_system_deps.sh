#!/usr/bin/env bash
# Installs the Debian packages Qt (xcb and offscreen) and Xvfb need, when they are missing.
# As root it installs them with apt-get; otherwise it prints the exact command to run.
set -euo pipefail
PKGS=(xvfb xauth libegl1 libgl1 libopengl0 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4
      libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
      libx11-xcb1 libfontconfig1 libdbus-1-3 libglib2.0-0 fonts-dejavu-core)
command -v dpkg-query >/dev/null 2>&1 || { echo "qt_system_deps: not a Debian-like system; install Qt's xcb libraries yourself"; exit 0; }
missing=()
for p in "${PKGS[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]]; then
  echo "Installing Qt system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Qt needs these Debian packages, which are missing. Install them with:"
  echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}"
fi
