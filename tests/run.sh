#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds the test profile (full edition + the
# test overlay: debug, AddressSanitizer + UBSan) and the clang fuzz build, runs every test
# under `meson test`, and ends with a plain line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh || exit 1
export CCACHE_NOHASHDIR=1
cc_prefix=""; command -v ccache >/dev/null && cc_prefix="ccache "
test_dir=${TEST_BUILDDIR:-build/test}
fuzz_dir=${FUZZ_BUILDDIR:-build/fuzz}

if [ ! -f "$test_dir/build.ninja" ]; then
  CXX="${cc_prefix}g++" meson setup "$test_dir" --native-file profiles/full.ini --native-file profiles/test.ini || exit 1
fi
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  CXX="${cc_prefix}clang++" meson setup "$fuzz_dir" -Dfuzz=true -Dtests=false -Dbuildtype=debug \
    -Db_sanitize=address,undefined -Db_lundef=false || exit 1
fi
ninja -C "$test_dir" || exit 1
ninja -C "$fuzz_dir" || exit 1
# The minimal edition too: tests check what it links and how it refuses TLS settings.
min_dir=${MINIMAL_BUILDDIR:-build/minimal}
if [ ! -f "$min_dir/build.ninja" ]; then
  CXX="${cc_prefix}g++" meson setup "$min_dir" --native-file profiles/minimal.ini >/dev/null || exit 1
fi
ninja -C "$min_dir" >/dev/null || { ninja -C "$min_dir"; exit 1; }
export REMORA_MINIMAL="$PWD/$min_dir/remora"

status=0
meson test -C "$test_dir" --print-errorlogs || status=1
meson test -C "$fuzz_dir" --suite fuzz --print-errorlogs || status=1

/usr/bin/python3 - "$test_dir" "$fuzz_dir" <<'PY'
import json, sys, os
passed = failed = skipped = 0
for d in sys.argv[1:]:
    log = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        failed += 1
        continue
    for line in open(log):
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
exit $status
