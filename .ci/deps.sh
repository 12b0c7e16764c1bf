#!/usr/bin/env bash
# Installs the Debian bookworm packages Remora builds, tests and benchmarks with.
# A no-op when everything is already there.
set -euo pipefail
pkgs=(g++ clang libclang-rt-14-dev meson ninja-build pkg-config ccache
      liblua5.4-dev libboost1.81-dev doctest-dev zlib1g-dev libzstd-dev libsqlite3-dev
      libbotan-2-dev lua-lpeg-dev
      curl python3 python3-websockets python3-pyflakes zip unzip zstd binutils openssl sslscan)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
