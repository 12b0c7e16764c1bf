#!/usr/bin/env bash
# SQLite page benchmark: two small pages on Remora (full edition, one loop thread,
# luasql.sqlite) and on nginx with its Lua module (one worker, LuaJIT, Debian's
# lua-sql-sqlite3 for Lua 5.1), keep-alive, 50 connections, server pinned to CPU 0 and wrk to
# CPU 1. Each server has its own copy of the same database (WAL, SQLite's default
# synchronous=FULL for both: the same libsqlite3 underneath) and one connection opened at
# start-up and kept.
#
#   read    SELECT v FROM kv WHERE k=42 (10,000 rows, k the primary key); the body is v
#   insert  INSERT INTO log(n, v) VALUES(<counter>, 'row'), one autocommit transaction per
#           request; the body is "ok"
#
# As a ceiling, the same two statements run by Lua 5.4 with lua-sql-sqlite3 in a plain loop
# (no HTTP, one process on CPU 0) for DURATION seconds each: operations per second.
#
#   bash bench/sqlite.sh
#
# Environment: as dynamic.sh (DURATION RUNS WARMUP CONNS REMORA SERVER_CPU CLIENT_CPU).
# Installs the Debian packages it needs when they are missing. A server, or one page of it,
# that does not answer the probes correctly is skipped with the reason. Prints the medians as
# a markdown table on stdout; progress and single runs go to stderr.
set -euo pipefail

script=sqlite.sh
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing wrk curl python3 nginx libnginx-mod-http-lua lua-sql-sqlite3 lua5.4

NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n $NGINX ]] || die "no nginx binary"
NGX_MODS=/usr/share/nginx/modules
LUASQL51=/usr/lib/x86_64-linux-gnu/lua/5.1
for f in "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so" "$LUASQL51/luasql/sqlite3.so"; do
  [[ -f $f ]] || die "missing $f"
done
for t in wrk curl python3 taskset setsid ss getconf lua5.4; do
  command -v "$t" >/dev/null || die "missing $t"
done

servers=(remora nginx)
pages=(read insert)
# shellcheck source=bench/pages.sh
source "$(dirname "${BASH_SOURCE[0]}")/pages.sh"
path[read]=/read.lsp
path[insert]=/insert.lsp

# --- the database ------------------------------------------------------------------------
python3 - "$tmp/seed.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE kv(k INTEGER PRIMARY KEY, v TEXT NOT NULL)")
db.executemany("INSERT INTO kv VALUES(?, ?)", ((k, "value-%d" % k) for k in range(1, 10001)))
db.execute("CREATE TABLE log(id INTEGER PRIMARY KEY, n INTEGER, v TEXT)")
db.commit()
db.close()
PY
for name in remora nginx loop; do cp "$tmp/seed.db" "$tmp/$name.db"; done
# nginx's worker runs as another user when started by root: its database sits in a directory
# that user may write to (for the -wal and -shm files).
mkdir -m 1777 "$tmp/ngxdb"
mv "$tmp/nginx.db" "$tmp/ngxdb/nginx.db"
chmod 666 "$tmp/ngxdb/nginx.db"

# --- Remora ------------------------------------------------------------------------------
port[remora]=$(free_port)
mkdir -p "$tmp/app"
cat >"$tmp/app/.preload" <<EOF
env = luasql.sqlite()
conn = assert(env:connect("$tmp/remora.db"))
n = 0
EOF
# (printf: no newline after ?>, which the page would send)
printf '%s' '<?lsp local cur = app.conn:execute"SELECT v FROM kv WHERE k=42"
response:write(cur:fetch()) cur:close() ?>' >"$tmp/app/read.lsp"
printf '%s' '<?lsp app.n = app.n + 1
local r, err = app.conn:execute("INSERT INTO log(n, v) VALUES(" .. app.n .. ", '"'row'"')")
response:write(r == 1 and "ok" or tostring(err)) ?>' >"$tmp/app/insert.lsp"
start_remora

# --- nginx -------------------------------------------------------------------------------
# One worker; its connection is opened in init_worker (after the fork). Content-Length is
# set so that the body goes out as on Remora.
port[nginx]=$(free_port)
mkdir -p "$tmp/nginx/logs"
{
  nginx_conf_head "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so"
  cat <<EOF
  lua_package_cpath "$LUASQL51/?.so;;";
  init_worker_by_lua_block {
    local luasql = require "luasql.sqlite3"
    local env = luasql.sqlite3()
    bench = { n = 0, env = env, conn = assert(env:connect("$tmp/ngxdb/nginx.db")) }
    bench.conn:execute("PRAGMA busy_timeout=5000")
  }
  server {
    listen 127.0.0.1:${port[nginx]};
    default_type text/plain;
    location = /read.lsp {
      content_by_lua_block {
        local cur = bench.conn:execute("SELECT v FROM kv WHERE k=42")
        local body = cur:fetch()
        cur:close()
        ngx.header.content_length = #body
        ngx.print(body)
      }
    }
    location = /insert.lsp {
      content_by_lua_block {
        local s = bench
        s.n = s.n + 1
        local r, err = s.conn:execute("INSERT INTO log(n, v) VALUES(" .. s.n .. ", 'row')")
        local body = r == 1 and "ok" or tostring(err)
        ngx.header.content_length = #body
        ngx.print(body)
      }
    }
  }
}
EOF
} >"$tmp/nginx/nginx.conf"
start nginx "$NGINX" -p "$tmp/nginx/" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf"

# --- correctness -------------------------------------------------------------------------
rows() {  # name -> rows in its log table
  local db=$tmp/$1.db
  [[ $1 == nginx ]] && db=$tmp/ngxdb/nginx.db
  python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM log").fetchone()[0])' "$db"
}
probe() {  # name page -> 0 if right; else prints why
  local url="http://127.0.0.1:${port[$1]}${path[$2]}" got body before
  [[ $2 == insert ]] && before=$(rows "$1")
  got=$(curl -s -o "$tmp/probe.body" -w '%{http_code}' "$url") || { echo "no answer from $url"; return 1; }
  body=$(cat "$tmp/probe.body")
  [[ $got == 200 ]] || { echo "GET ${path[$2]} answered $got: $(head -c 200 <<<"$body")"; return 1; }
  if [[ $2 == read ]]; then
    [[ $body == value-42 ]] || { echo "GET ${path[$2]}: body '$(head -c 200 <<<"$body")', want 'value-42'"; return 1; }
  else
    [[ $body == ok ]] || { echo "GET ${path[$2]}: body '$(head -c 200 <<<"$body")', want 'ok'"; return 1; }
    [[ $(rows "$1") -eq $((before + 1)) ]] || { echo "GET ${path[$2]}: no row was added"; return 1; }
  fi
}
for name in "${servers[@]}"; do
  [[ -n ${skip[$name]:-} ]] && continue
  for page in "${pages[@]}"; do
    if out=$(probe "$name" "$page"); then
      log "$name ${path[$page]}: right"
    else
      skip_page "$name" "$page" "$out"
    fi
  done
done

# --- measurements ------------------------------------------------------------------------
measure_all

# The ceiling: Lua 5.4 and lua-sql-sqlite3, the same statements in a loop, no HTTP.
cat >"$tmp/loop.lua" <<'EOF'
local db, what, seconds = arg[1], arg[2], tonumber(arg[3])
local env = require"luasql.sqlite3".sqlite3()
local conn = assert(env:connect(db))
local function clock()  -- wall time (an insert waits for fsync): /proc/uptime, 10 ms steps
  local f = io.open"/proc/uptime"
  local t = f:read"n"
  f:close()
  return t
end
local n, done = 0, 0
local start = clock()
local stop = start + seconds
while clock() < stop do
  for _ = 1, 50 do
    n = n + 1
    if what == "read" then
      local cur = conn:execute"SELECT v FROM kv WHERE k=42"
      assert(cur:fetch() == "value-42")
      cur:close()
    else
      assert(conn:execute("INSERT INTO log(n, v) VALUES(" .. n .. ", 'row')") == 1)
    end
  end
  done = n
end
print(string.format("%.0f", done / (clock() - start)))
EOF
declare -A loop_runs=()
for page in "${pages[@]}"; do
  for run in $(seq 1 "$RUNS"); do
    v=$(taskset -c "$SERVER_CPU" lua5.4 "$tmp/loop.lua" "$tmp/loop.db" "$page" "$DURATION")
    log "  $page run $run loop:     $v op/s"
    loop_runs[$page]+="$v "
  done
done

# --- table -------------------------------------------------------------------------------
measured=0
echo "| page | Remora req/s | nginx+LuaJIT req/s | Remora/nginx | Lua 5.4 loop op/s (ceiling) | Remora/ceiling | Remora us CPU/req | nginx us CPU/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for page in "${pages[@]}"; do
  rr=$(cell remora "$page" rps) nr=$(cell nginx "$page" rps)
  rc=$(cell remora "$page" cpu) nc=$(cell nginx "$page" cpu)
  # shellcheck disable=SC2086  # one value per word
  lr=$(median ${loop_runs[$page]})
  for v in "$rr" "$nr"; do [[ $v == n/a ]] || measured=1; done
  awk -v l="$page" -v rr="$rr" -v nr="$nr" -v lr="$lr" -v rc="$rc" -v nc="$nc" '
    function num(v, f) { return v == "n/a" ? v : sprintf(f, v) }
    function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
    BEGIN {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, num(rr, "%.0f"), num(nr, "%.0f"),
        ratio(rr, nr), num(lr, "%.0f"), ratio(rr, lr), num(rc, "%.2f"), num(nc, "%.2f")
    }'
done
skip_notes
((measured)) || die "nothing was measured"
