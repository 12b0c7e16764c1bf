#!/usr/bin/env bash
# Dynamic-page benchmark: two small Lua pages on Remora (full edition, one loop thread), on
# nginx with its Lua module (one worker) and on lighttpd with mod_magnet (one process), side
# by side in one run, keep-alive, 50 connections, server pinned to CPU 0 and wrk to CPU 1.
#
#   hello  "Hello <n>", n a per-process counter incremented by each request (text/plain)
#   json   {"id":<n>,"name":"remora","ok":true,"ratio":0.5,"tags":["a","b"]} (application/json)
#
#   bash bench/dynamic.sh
#
# Environment:
#   DURATION  seconds per measurement (default 10)
#   RUNS      measurements per page and server; the table shows the median (default 3)
#   WARMUP    seconds of unmeasured load before each page (default 2; 0 = none)
#   CONNS     wrk connections (default 50)
#   REMORA    the binary (default build/full/remora beside this script's repo)
#   SERVER_CPU, CLIENT_CPU  CPUs for the servers and for wrk (default 0 and 1)
#
# Installs the Debian packages it needs when they are missing (apt-get, as root or with sudo).
# A server, or one page of a server, that does not start or does not answer the probe
# requests correctly (status 200 and the right body) is skipped with the reason, and the run
# carries on with the others; so is one that fails or dies during a measurement.
# Prints the medians as a markdown table on stdout; progress and every single run go to stderr.
# Loopback only. All servers are stopped and the temp dir removed on exit, error or Ctrl-C.
set -euo pipefail

script=dynamic.sh
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# --- packages ----------------------------------------------------------------------------
# nginx's Lua module (with LuaJIT and lua-resty-core), cjson for LuaJIT and Lua 5.4, and
# lighttpd's mod_magnet (lighttpd-modules-lua, Lua 5.4). Installed only when missing.
install_missing wrk curl python3 nginx libnginx-mod-http-lua lua-cjson lighttpd lighttpd-modules-lua

# --- tools -------------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
LIGHTTPD=$(command -v lighttpd || true)
[[ -z $LIGHTTPD && -x /usr/sbin/lighttpd ]] && LIGHTTPD=/usr/sbin/lighttpd
[[ -n $NGINX ]] || die "no nginx binary"
[[ -n $LIGHTTPD ]] || die "no lighttpd binary"
NGX_MODS=/usr/share/nginx/modules
for f in "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so" \
         /usr/lib/lighttpd/mod_magnet.so; do
  [[ -f $f ]] || die "missing $f"
done
for t in wrk curl python3 taskset setsid ss getconf; do
  command -v "$t" >/dev/null || die "missing $t"
done

servers=(remora nginx lighttpd)
pages=(hello json)
# shellcheck source=bench/pages.sh
source "$(dirname "${BASH_SOURCE[0]}")/pages.sh"

# The same request line on all three: GET /hello.lsp and GET /json.lsp.
path[hello]=/hello.lsp
path[json]=/json.lsp

# --- Remora ------------------------------------------------------------------------------
# An app at the root, made of two LSP pages; the counter lives in the app's table.
port[remora]=$(free_port)
mkdir -p "$tmp/app"
printf '%s' '<?lsp app.n = (app.n or 0) + 1 ?>Hello <?lsp= app.n ?>' >"$tmp/app/hello.lsp"
cat >"$tmp/app/json.lsp" <<'EOF'
<?lsp
app.n = (app.n or 0) + 1
response:setcontenttype("application/json")
response:write(ba.json.encode{id = app.n, name = "remora", ok = true, ratio = 0.5, tags = {"a", "b"}})
?>
EOF
start_remora

# --- nginx -------------------------------------------------------------------------------
# One worker; the counter and cjson live in a table made once by init_by_lua (one Lua VM per
# worker). Content-Length is set so that the body goes out as it does on the other two
# (without it nginx sends chunked).
port[nginx]=$(free_port)
mkdir -p "$tmp/nginx/logs"
{
  nginx_conf_head "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so"
  cat <<EOF
  init_by_lua_block {
    bench = { n = 0, cjson = require "cjson" }
  }
  server {
    listen 127.0.0.1:${port[nginx]};
    location = /hello.lsp {
      default_type text/plain;
      content_by_lua_block {
        local s = bench
        s.n = s.n + 1
        local body = "Hello " .. s.n
        ngx.header.content_length = #body
        ngx.print(body)
      }
    }
    location = /json.lsp {
      default_type application/json;
      content_by_lua_block {
        local s = bench
        s.n = s.n + 1
        local body = s.cjson.encode{id = s.n, name = "remora", ok = true, ratio = 0.5, tags = {"a", "b"}}
        ngx.header.content_length = #body
        ngx.print(body)
      }
    }
  }
}
EOF
} >"$tmp/nginx/nginx.conf"
start nginx "$NGINX" -p "$tmp/nginx/" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf"

# --- lighttpd ----------------------------------------------------------------------------
# One process (server.max-worker is 0 by default). mod_magnet runs the whole script for each
# request and resets its globals after it, so the counter lives in a table kept in
# package.loaded, which stays with the script's Lua state (in 1.4.69 each script has its own
# state, so each page counts for itself).
port[lighttpd]=$(free_port)
mkdir -p "$tmp/lighttpd/www"
cat >"$tmp/lighttpd/hello.lua" <<'EOF'
local s = package.loaded["bench.state"]
if not s then s = { n = 0 }; package.loaded["bench.state"] = s end
s.n = s.n + 1
lighty.r.resp_header["Content-Type"] = "text/plain"
lighty.r.resp_body.set({ "Hello ", s.n })
return 200
EOF
cat >"$tmp/lighttpd/json.lua" <<'EOF'
local s = package.loaded["bench.state"]
if not s then s = { n = 0 }; package.loaded["bench.state"] = s end
if not s.cjson then s.cjson = require "cjson" end
s.n = s.n + 1
lighty.r.resp_header["Content-Type"] = "application/json"
lighty.r.resp_body.set({ s.cjson.encode{id = s.n, name = "remora", ok = true, ratio = 0.5, tags = {"a", "b"}} })
return 200
EOF
cat >"$tmp/lighttpd/lighttpd.conf" <<EOF
# generated by bench/dynamic.sh
server.modules = ("mod_magnet")
server.bind = "127.0.0.1"
server.port = ${port[lighttpd]}
server.document-root = "$tmp/lighttpd/www"
server.errorlog = "$tmp/lighttpd/error.log"
server.max-keep-alive-requests = 65535
server.max-keep-alive-idle = 65
\$HTTP["url"] == "/hello.lsp" { magnet.attract-raw-url-to = ("$tmp/lighttpd/hello.lua") }
\$HTTP["url"] == "/json.lsp" { magnet.attract-raw-url-to = ("$tmp/lighttpd/json.lua") }
EOF
start lighttpd "$LIGHTTPD" -D -f "$tmp/lighttpd/lighttpd.conf"


# --- correctness -------------------------------------------------------------------------
# hello: 200, "Hello <n>", and n grows from one request to the next.
# json: 200, Content-Type application/json, and the object above (key order free, id a number).
probe() {  # name page -> 0 and prints the body and header sizes if right; else prints why
  local url="http://127.0.0.1:${port[$1]}${path[$2]}" got b1 b2
  got=$(curl -s -o "$tmp/probe.body" -D "$tmp/probe.head" -w '%{http_code} %{size_download} %{size_header}' "$url") ||
    { echo "no answer from $url"; return 1; }
  [[ ${got%% *} == 200 ]] || { echo "GET ${path[$2]} answered ${got%% *}: $(head -c 200 "$tmp/probe.body" | tr '\r\n' '  ')"; return 1; }
  b1=$(cat "$tmp/probe.body")
  if [[ $2 == hello ]]; then
    [[ $b1 =~ ^Hello\ ([0-9]+)$ ]] || { echo "GET ${path[$2]}: body '$(head -c 200 <<<"$b1")', want 'Hello <n>'"; return 1; }
    b2=$(curl -s "$url")
    [[ $b2 =~ ^Hello\ ([0-9]+)$ && ${BASH_REMATCH[1]} -gt ${b1#Hello } ]] ||
      { echo "GET ${path[$2]}: the counter does not grow ('$b1' then '$b2')"; return 1; }
  else
    grep -qi '^content-type: *application/json' "$tmp/probe.head" ||
      { echo "GET ${path[$2]}: $(grep -i '^content-type:' "$tmp/probe.head" | tr -d '\r' || echo 'no Content-Type'), want application/json"; return 1; }
    python3 - "$tmp/probe.body" <<'PY' || return 1
import json, sys
raw = open(sys.argv[1], "rb").read()
try:
    o = json.loads(raw)
except ValueError as e:
    print("GET /json.lsp: not JSON (%s): %r" % (e, raw[:200])); sys.exit(1)
want = {"name": "remora", "ok": True, "ratio": 0.5, "tags": ["a", "b"]}
if not isinstance(o, dict) or not isinstance(o.get("id"), (int, float)) or \
   {k: v for k, v in o.items() if k != "id"} != want:
    print("GET /json.lsp: got %r, want {id=<n>, name=remora, ok=true, ratio=0.5, tags={a,b}}" % raw[:200]); sys.exit(1)
PY
  fi
  echo "${got#* }"
}
for name in "${servers[@]}"; do
  if [[ -n ${skip[$name]:-} ]]; then continue; fi
  for page in "${pages[@]}"; do
    if out=$(probe "$name" "$page"); then
      read -r body_b head_b <<<"$out"
      log "$name ${path[$page]}: right ($body_b-byte body, $head_b bytes of status line and headers)"
    else
      skip_page "$name" "$page" "$out"
    fi
  done
done

# --- measurements ------------------------------------------------------------------------
measure_all

# --- table -------------------------------------------------------------------------------
measured=0
echo "| page | Remora req/s | nginx req/s | lighttpd req/s | Remora/nginx | Remora/lighttpd | Remora us CPU/req | nginx us CPU/req | lighttpd us CPU/req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for page in "${pages[@]}"; do
  rr=$(cell remora "$page" rps) nr=$(cell nginx "$page" rps) lr=$(cell lighttpd "$page" rps)
  rc=$(cell remora "$page" cpu) nc=$(cell nginx "$page" cpu) lc=$(cell lighttpd "$page" cpu)
  for v in "$rr" "$nr" "$lr"; do [[ $v == n/a ]] || measured=1; done
  awk -v l="$page" -v rr="$rr" -v nr="$nr" -v lr="$lr" -v rc="$rc" -v nc="$nc" -v lc="$lc" '
    function num(v, f) { return v == "n/a" ? v : sprintf(f, v) }
    function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
    BEGIN {
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", l,
        num(rr, "%.0f"), num(nr, "%.0f"), num(lr, "%.0f"), ratio(rr, nr), ratio(rr, lr),
        num(rc, "%.2f"), num(nc, "%.2f"), num(lc, "%.2f")
    }'
done
skip_notes
((measured)) || die "nothing was measured"
