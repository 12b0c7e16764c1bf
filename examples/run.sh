#!/usr/bin/env bash
# Builds the full edition (release) and starts it on the bundled example app, examples/www.
# It listens on port 80, or on the first free port of 9357-9370 when 80 cannot be bound, and
# for HTTPS on 443 or 9443-9460, with a self-signed certificate made on first start (kept in
# .certificate/ here and reused).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
export CCACHE_NOHASHDIR=1
cc_prefix=""; command -v ccache >/dev/null && cc_prefix="ccache "
[ -f build/full/build.ninja ] || CXX="${cc_prefix}g++" meson setup build/full --native-file profiles/full.ini
ninja -C build/full
exec build/full/remora -l::examples/www "$@"
