#!/usr/bin/env bash
# The ZIP path against the directory path: one 64 KiB file served by Remora from a directory
# and from a deflated ZIP entry, to a client that accepts gzip (wrk -H 'Accept-Encoding:
# gzip'), keep-alive, 50 connections, server on CPU 0 and wrk on CPU 1. Prints requests/s of
# each (median of RUNS) and the ratio. Target (the VFS issue): ZIP >= 90% of the directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
REMORA=${REMORA:-$here/../build/full/remora}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$REMORA" ] || { echo "no Remora binary at $REMORA (ninja -C build/full)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

mkdir -p "$tmp/dir"
# 64 KiB of text that compresses like a web asset (a log-like mix, not one repeated byte)
/usr/bin/python3 - "$tmp/dir/64k.txt" <<'PY'
import random, sys
random.seed(7)
words = ["remora", "lua", "server", "zip", "deflate", "request", "static", "page", "app", "mako"]
out = []
while sum(map(len, out)) < 65536:
    out.append("%06d %s\n" % (random.randrange(10**6), " ".join(random.choice(words) for _ in range(8))))
open(sys.argv[1], "w").write("".join(out)[:65536])
PY
(cd "$tmp/dir" && /usr/bin/python3 -c 'import zipfile; z=zipfile.ZipFile("../app.zip","w",zipfile.ZIP_DEFLATED); z.write("64k.txt"); z.close()')
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'port=%s\nhost="127.0.0.1"\nthreads=1\nconncnt=1000\n' "$port" > "$tmp/remora.conf"
(exec setsid taskset -c 0 "$REMORA" -c "$tmp/remora.conf" "-ldir::$tmp/dir" "-lzip::$tmp/app.zip") 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do grep -q 'as "zip" : ok' "$tmp/log" && break; sleep 0.05; done

# both answer, and the ZIP path really sends the stored deflate stream
for p in dir zip; do
  curl -sf -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/$p/64k.txt" -o "$tmp/$p.body" -D "$tmp/$p.head"
done
gunzip -c "$tmp/zip.body" | cmp - "$tmp/dir/64k.txt" || { echo "ZIP path body differs" >&2; exit 1; }
grep -qi '^content-encoding: gzip' "$tmp/zip.head" || { echo "ZIP path not gzip" >&2; exit 1; }
cmp "$tmp/dir.body" "$tmp/dir/64k.txt"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -A rps
for p in dir zip; do
  for r in $(seq "$RUNS"); do
    taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" -H 'Accept-Encoding: gzip' \
      "http://127.0.0.1:$port/$p/64k.txt" | awk '/Requests\/sec/ {print int($2)}'
  done | median > "$tmp/$p.rps"
  rps[$p]=$(cat "$tmp/$p.rps")
done
size_zip=$(stat -c %s "$tmp/zip.body")
echo "| path | body bytes | req/s |"
echo "|---|---:|---:|"
echo "| directory (sendfile) | 65536 | ${rps[dir]} |"
echo "| deflated ZIP entry, gzip pass-through | $size_zip | ${rps[zip]} |"
awk -v z="${rps[zip]}" -v d="${rps[dir]}" 'BEGIN {printf "ratio zip/dir: %.2f (target >= 0.90)\n", z/d}'
