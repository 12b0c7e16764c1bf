#!/usr/bin/env bash
# WebSocket benchmark: Remora (full edition, one loop thread, the LSP page bench/ws/ws.lsp:
# ba.socket.req2sock and an echo loop) against a python3-websockets echo server
# (bench/ws_echo.py, asyncio, one process) and nginx's Lua module (one worker) running a
# hand-written RFC 6455 echo on its raw request socket (bench/ws_nginx.lua; Debian has no
# lua-resty-websocket). Servers pinned to CPU 0, the client to CPU 1, loopback.
#
#   echo  round trips per second over CONNS connections (default 100): each connection sends
#         a MSG_SIZE-byte text message (default 64), waits for its echo, checks it is the same
#         bytes, and sends the next; for DURATION seconds
#   idle  server memory per idle WebSocket connection: the server's VmRSS (/proc/PID/status;
#         nginx: master plus worker) before and after IDLE_CONNS (default 10000) connections
#         are open, handshake done, nothing sent, after SETTLE seconds; (after - before) /
#         IDLE_CONNS. Each run on a freshly started server (an allocator keeps what a first
#         batch of connections freed, so a second batch would look cheaper), after one echo
#         connection has come and gone. Kernel memory (socket buffers) is not in it.
#
#   bash bench/websocket.sh
#
# Columns of the echo test: the rate; the server's CPU time per round trip (utime+stime of its
# processes from /proc/<pid>/stat over the run; nginx: master plus worker) and its CPU use in %
# of one core; "capacity" = 1e6 / (µs per round trip), the round trips/s one server core would
# do if the client kept up; wsload's own CPU time per round trip (getrusage) and the client
# CPU's busy share (/proc/stat). A round trip costs the client one sendmsg and one recvmsg,
# most of it kernel time on loopback, about as much as it costs the cheapest server: when the
# client CPU is at ~100 % and the server's is not, compare the capacities, not the rates.
#
# The client is bench/wsload.cpp (Boost.Beast, one thread; see its header), built here with
# g++ -O2 into WSLOAD_DIR (default build/bench/, rebuilt when the source is newer). Before
# measuring, each server must echo a 64-byte text message, a 300-byte binary one and a
# 70000-byte binary one (the three length encodings) with wsload's check; one that fails
# (Remora without WebSocket support answers the upgrade with an error) is skipped with the
# reason, and the others are measured. So is one that fails or dies during a measurement, and
# an idle measurement where not every connection opened or one was closed before the end.
#
# Environment:
#   DURATION    seconds per echo measurement (default 10)
#   RUNS        echo measurements and idle measurements per server; the table shows the
#               median (default 3)
#   WARMUP      seconds of unmeasured echo load per server before the echo runs (default 2)
#   CONNS       echo connections (default 100)
#   MSG_SIZE    echo message size in bytes (default 64); MSG_BINARY=1 sends binary messages
#   IDLE_CONNS  idle connections (default 10000; the file limit, ulimit -n, is raised for it)
#   SETTLE      seconds between the last connection opening and reading the RSS (default 2)
#   REMORA      the binary (default build/full/remora beside this script's repo)
#   PYTHON      a python3 with Debian's websockets module (default /usr/bin/python3)
#   WSLOAD_DIR  where wsload is built (default build/bench beside this script's repo)
#   SERVER_CPU, CLIENT_CPU  CPUs for the servers and for wsload (default 0 and 1)
#   IDLE_WAIT, IDLE_BUSY    before each echo run, wait up to IDLE_WAIT s (default 1200) for
#               no compiler and under IDLE_BUSY % (default 10) of all CPUs busy
#
# Installs the Debian packages it needs when they are missing (g++ libboost1.81-dev nginx
# libnginx-mod-http-lua python3-websockets). Prints the table on stdout; progress and every
# single run go to stderr. All servers and clients are stopped and the temp dir removed on
# exit, error or Ctrl-C.
set -euo pipefail

# shellcheck disable=SC2034  # read by common.sh
script=websocket.sh
CONNS=${CONNS:-100}
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
MSG_SIZE=${MSG_SIZE:-64}
MSG_BINARY=${MSG_BINARY:-0}
IDLE_CONNS=${IDLE_CONNS:-10000}
SETTLE=${SETTLE:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
WSLOAD_DIR=${WSLOAD_DIR:-$here/../build/bench}
[[ $CONNS =~ ^[0-9]+$ && $CONNS -ge 1 && $CONNS -le 20000 ]] || die "CONNS must be 1..20000"
[[ $MSG_SIZE =~ ^[0-9]+$ && $MSG_SIZE -le 16777216 ]] || die "MSG_SIZE must be 0..16777216"
[[ $MSG_BINARY == [01] ]] || die "MSG_BINARY must be 0 or 1"
[[ $IDLE_CONNS =~ ^[0-9]+$ && $IDLE_CONNS -ge 1 && $IDLE_CONNS -le 60000 ]] || die "IDLE_CONNS must be 1..60000"
[[ $SETTLE =~ ^[0-9]+$ ]] || die "SETTLE must be an integer"

# --- packages and tools ------------------------------------------------------------------
install_missing g++ libboost1.81-dev nginx libnginx-mod-http-lua python3-websockets
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n $NGINX ]] || die "no nginx binary"
NGX_MODS=/usr/share/nginx/modules
for f in "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so"; do
  [[ -f $f ]] || die "missing $f"
done
for t in g++ taskset setsid ss getconf awk mkfifo; do
  command -v "$t" >/dev/null || die "missing $t"
done
"$PYTHON" -c 'import websockets' 2>/dev/null || die "$PYTHON cannot import websockets (Debian's python3-websockets is for /usr/bin/python3; set PYTHON)"
TCK=$(getconf CLK_TCK)

# Both sides hold IDLE_CONNS sockets: raise the file limit (inherited by servers and client).
need=$((IDLE_CONNS + 1024))
hard=$(ulimit -Hn)
if [[ $hard != unlimited ]] && ((hard < need)); then
  ulimit -Hn "$need" 2>/dev/null || die "the file limit's hard maximum is $hard, $need needed (IDLE_CONNS=$IDLE_CONNS)"
fi
(($(ulimit -Sn) >= need)) || ulimit -Sn "$need"
log "ulimit -n $(ulimit -Sn)"

# --- the client ----------------------------------------------------------------------------
WSLOAD=$WSLOAD_DIR/wsload
if [[ ! -x $WSLOAD || $here/wsload.cpp -nt $WSLOAD ]]; then
  mkdir -p "$WSLOAD_DIR"
  log "building $WSLOAD: g++ -O2 -std=c++20 -pthread $here/wsload.cpp"
  g++ -O2 -std=c++20 -pthread -o "$WSLOAD.new" "$here/wsload.cpp" || die "wsload did not build"
  mv "$WSLOAD.new" "$WSLOAD"
fi

# --- temp dir and cleanup ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/remora-bench.XXXXXX)
chmod 755 "$tmp"
servers=(remora nginx python)
declare -A pid=() port=() skip=() label=()
label[remora]="Remora" label[nginx]="nginx + Lua (hand-written RFC 6455)" label[python]="python3-websockets"
client_pids=()
idle_fd=''
cleanup() {
  [[ -n $idle_fd ]] && eval "exec $idle_fd>&-"
  stop_servers "${client_pids[@]}"
  rm -rf "$tmp"
}
trap_cleanup

# --- servers -----------------------------------------------------------------------------
# The same URL path on all three: ws://127.0.0.1:<port>/ws.lsp (python answers any path).
URL_PATH=/ws.lsp

# Remora: the page bench/ws/ws.lsp in an app at the root; conncnt above IDLE_CONNS; no TLS
# listener (the full edition would open one on 443 or 9443-9460, with a certificate made in
# the home directory).
port[remora]=$(free_port)
cat >"$tmp/remora.conf" <<EOF
port=${port[remora]}
host="127.0.0.1"
sslport=0
threads=1
conncnt=$((IDLE_CONNS + 100 > 65535 ? 65535 : IDLE_CONNS + 100))
EOF
have_remora || true

# nginx: one worker; wsecho from bench/ws_nginx.lua. worker_connections a quarter above
# IDLE_CONNS: once fewer than 1/16 of them are free, nginx closes connections still waiting
# for their request (with 10100 it refused the last ~630 of 10000 handshakes). nginx allocates
# and initialises its connection table when the worker starts, so it is in the "before" RSS.
port[nginx]=$(free_port)
mkdir -p "$tmp/nginx/logs"
# shellcheck disable=SC2034  # read by nginx_conf_head
nginx_worker_connections=$((IDLE_CONNS * 5 / 4 + 100))
{
  nginx_conf_head "$NGX_MODS/ndk_http_module.so" "$NGX_MODS/ngx_http_lua_module.so"
  cat <<EOF
  init_by_lua_file $here/ws_nginx.lua;
  server {
    listen 127.0.0.1:${port[nginx]} backlog=4096;
    location = $URL_PATH {
      content_by_lua_block { wsecho.serve() }
    }
  }
}
EOF
} >"$tmp/nginx/nginx.conf"

port[python]=$(free_port)

cmdline() {  # name -> the server's command line
  case $1 in
    remora) echo "$REMORA -c $tmp/remora.conf -l::$here/ws" ;;
    nginx) echo "$NGINX -p $tmp/nginx/ -e $tmp/nginx/logs/error.log -c $tmp/nginx/nginx.conf" ;;
    python) echo "$PYTHON $here/ws_echo.py ${port[python]} 127.0.0.1" ;;
  esac
}

# check name [sizes...] -> 0 when the server echoes each "size[b]" (b: binary) for 1 s on one
# connection; else prints what went wrong.
check() {
  local name=$1 s out flags
  shift
  for s in "$@"; do
    flags=(-s "${s%b}")
    [[ $s == *b ]] && flags+=(-b)
    if ! out=$("$WSLOAD" echo -p "${port[$name]}" -u "$URL_PATH" -c 1 -d 1 "${flags[@]}" 2>&1); then
      out=$(tail -n 1 <<<"$out")
      [[ $out =~ failed\ [0-9]+:\ (.*)$ ]] && out=${BASH_REMATCH[1]}  # the connection's error alone
      echo "echo of a ${s%b}-byte $([[ $s == *b ]] && echo binary || echo text) message failed: $out"
      return 1
    fi
  done
}

# start name: starts the server (setsid and taskset exec in place, so $! is its pid), waits
# for its port and checks its echo; skips it when any of that fails. Returns 0 when it runs.
start() {
  local name=$1 why
  [[ -n ${skip[$name]:-} ]] && return 1
  # shellcheck disable=SC2046  # the command line, one word each
  (exec setsid taskset -c "$SERVER_CPU" $(cmdline "$name")) >"$tmp/$name.out" 2>>"$tmp/$name.log" &
  pid[$name]=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "${pid[$name]}" 2>/dev/null; then
      tail -n 20 "$tmp/$name.log" >&2 || true
      skip_server "$name" "exited at startup"
      return 1
    fi
    ss -Htln "sport = :${port[$name]}" | grep -q . && break
    sleep 0.1
  done
  if ! why=$(check "$name" "${@:2}"); then
    if [[ $name == remora && $why == *declined* ]]; then
      why+=" (does this Remora have WebSocket support, ba.socket.req2sock?)"
    fi
    tail -n 20 "$tmp/$name.log" >&2 || true
    skip_server "$name" "$why"
    stop_one "$name"
    return 1
  fi
}
stop_one() {  # name: TERM, then KILL after 5 s
  local p=${pid[$1]:-}
  [[ -n $p ]] || return 0
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  unset "pid[$1]"
}

server_pids() {  # name -> the processes whose CPU time and memory count (nginx: master and worker)
  local p=${pid[$1]}
  if [[ $1 == nginx ]]; then
    # shellcheck disable=SC2046  # one pid per word
    echo "$p" $(cat "/proc/$p/task/$p/children" 2>/dev/null)
  else
    echo "$p"
  fi
}
rss_kb() {  # pids... -> VmRSS summed, in kB
  local p total=0 v
  for p in "$@"; do
    v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    total=$((total + ${v:-0}))
  done
  echo "$total"
}

# --- echo --------------------------------------------------------------------------------
# One run; sets M_N (round trips), M_RATE, M_CPU (µs of server CPU per round trip), M_SRV (%
# of one core used by the server), M_CCPU (µs of wsload's CPU per round trip, as it reports
# its own) and M_CLI (% busy of the client CPU, whoever used it); or M_ERR.
measure_echo() {  # name seconds
  local pids before after t0 t1 c0 c1 out rc=0 p line ccpu
  M_ERR=''
  pids=$(server_pids "$1")
  # shellcheck disable=SC2086  # one pid per word
  before=$(cpu_ticks $pids)
  c0=$(cpu_pct "$CLIENT_CPU")
  t0=$(now)
  taskset -c "$CLIENT_CPU" "$WSLOAD" echo -p "${port[$1]}" -u "$URL_PATH" -c "$CONNS" -d "$2" -s "$MSG_SIZE" \
    "${binflag[@]}" >"$tmp/echo.out" 2>&1 &
  client_pids=($!)
  wait "${client_pids[0]}" || rc=$?
  client_pids=()
  t1=$(now)
  c1=$(cpu_pct "$CLIENT_CPU")
  # shellcheck disable=SC2086
  after=$(cpu_ticks $pids)
  out=$(cat "$tmp/echo.out")
  for p in $pids; do
    kill -0 "$p" 2>/dev/null || { M_ERR="pid $p died during an echo run"; return 1; }
  done
  line=$(grep '^roundtrips ' <<<"$out" || true)
  ((rc == 0)) || { M_ERR="wsload echo failed: $(tr '\n' ' ' <<<"$out")"; return 1; }
  # roundtrips N seconds T rate R cpu S mismatches M errors E closed C
  read -r _ M_N _ _ _ M_RATE _ ccpu _ <<<"$line"
  [[ -n $M_N && $M_N -gt 0 && -n $ccpu ]] || { M_ERR="cannot read wsload's output: $out"; return 1; }
  read -r M_RATE M_CPU M_SRV M_CCPU M_CLI < <(awk -v n="$M_N" -v r="$M_RATE" -v t0="$t0" -v t1="$t1" \
    -v tk=$((after - before)) -v hz="$TCK" -v cc="$ccpu" -v c0="$c0" -v c1="$c1" 'BEGIN {
      split(c0, a, " "); split(c1, b, " "); w = t1 - t0
      printf "%.0f %.2f %.0f %.2f %.0f\n", r, tk / hz * 1e6 / n, 100 * tk / hz / w, cc * 1e6 / n,
        (b[2] - a[2]) ? 100 * (b[1] - a[1]) / (b[2] - a[2]) : 0 }')
}

# --- idle --------------------------------------------------------------------------------
# One run on a fresh server; sets I_BEFORE and I_AFTER (kB) and I_PER (bytes per connection),
# or M_ERR. The client reads commands from a FIFO: "status" prints "open N closed C", the
# FIFO's end makes it exit.
measure_idle() {  # name
  local pids before after out failed open closed lines p
  M_ERR=''
  pids=$(server_pids "$1")
  sleep 1
  # shellcheck disable=SC2086  # one pid per word
  before=$(rss_kb $pids)
  rm -f "$tmp/idle.fifo"
  mkfifo "$tmp/idle.fifo"
  taskset -c "$CLIENT_CPU" "$WSLOAD" idle -p "${port[$1]}" -u "$URL_PATH" -c "$IDLE_CONNS" \
    <"$tmp/idle.fifo" >"$tmp/idle.out" 2>&1 &
  client_pids=($!)
  exec {idle_fd}>"$tmp/idle.fifo"
  out=''
  for _ in $(seq 1 1200); do  # 120 s
    out=$(grep -m1 '^ready ' "$tmp/idle.out" || true)
    [[ -n $out ]] && break
    kill -0 "${client_pids[0]}" 2>/dev/null || break
    sleep 0.1
  done
  read -r _ _ _ failed _ <<<"${out:-ready 0 failed ?}"
  if [[ -z $out || $failed != 0 ]]; then
    M_ERR="wsload idle: ${out:-not ready after 120 s: $(tr '\n' ' ' <"$tmp/idle.out")}"
  else
    sleep "$SETTLE"
    # shellcheck disable=SC2086
    after=$(rss_kb $pids)
    lines=$(grep -c '^open ' "$tmp/idle.out" || true)
    echo status >&"$idle_fd"
    for _ in $(seq 1 100); do
      (($(grep -c '^open ' "$tmp/idle.out" || true) > lines)) && break
      sleep 0.1
    done
    read -r _ open _ closed _ < <(grep '^open ' "$tmp/idle.out" | tail -n 1)
    if [[ ${open:-} != "$IDLE_CONNS" || ${closed:-} != 0 ]]; then
      M_ERR="after ${SETTLE}s, wsload idle says: $(grep '^open ' "$tmp/idle.out" | tail -n 1)"
    fi
  fi
  exec {idle_fd}>&-
  idle_fd=''
  wait "${client_pids[0]}" 2>/dev/null || true
  client_pids=()
  for p in $pids; do
    kill -0 "$p" 2>/dev/null || M_ERR="pid $p died with $IDLE_CONNS idle connections"
  done
  [[ -z $M_ERR ]] || return 1
  I_BEFORE=$before I_AFTER=$after
  I_PER=$(((after - before) * 1024 / IDLE_CONNS))
  log "  $out"
}

# --- runs --------------------------------------------------------------------------------
for name in "${servers[@]}"; do
  [[ -n ${skip[$name]:-} ]] && continue
  log "starting $name on 127.0.0.1:${port[$name]}, CPU $SERVER_CPU: taskset -c $SERVER_CPU $(cmdline "$name")"
  if start "$name" 64 300b 70000b; then
    log "$name echoes 64-byte text, 300- and 70000-byte binary messages"
  fi
done

kind=text binflag=()
if ((MSG_BINARY)); then kind=binary binflag=(-b); fi
log "echo: taskset -c $CLIENT_CPU $WSLOAD echo -p <port> -u $URL_PATH -c $CONNS -d $DURATION -s $MSG_SIZE ${binflag[*]}"
log "$RUNS run(s) per server, interleaved; median"
declare -A rate_runs=() cpu_runs=() srv_runs=() ccpu_runs=() cli_runs=() per_runs=() after_runs=()
if ((WARMUP > 0)); then
  for name in "${servers[@]}"; do
    [[ -n ${skip[$name]:-} ]] && continue
    measure_echo "$name" "$WARMUP" || { skip_server "$name" "$M_ERR"; stop_one "$name"; }
  done
fi
for run in $(seq 1 "$RUNS"); do
  for name in "${servers[@]}"; do
    [[ -n ${skip[$name]:-} ]] && continue
    wait_idle
    if ! measure_echo "$name" "$DURATION"; then
      tail -n 20 "$tmp/$name.log" >&2 || true
      skip_server "$name" "$M_ERR"
      stop_one "$name"
      continue
    fi
    log "  echo run $run $(printf '%-7s' "$name:") $M_N round trips in ${DURATION}s, $M_RATE/s, $M_CPU us server CPU each, server ${M_SRV}% of a core, $M_CCPU us client CPU each, client CPU ${M_CLI}% busy"
    rate_runs[$name]+="$M_RATE " cpu_runs[$name]+="$M_CPU " srv_runs[$name]+="$M_SRV "
    ccpu_runs[$name]+="$M_CCPU " cli_runs[$name]+="$M_CLI "
  done
done
for name in "${servers[@]}"; do stop_one "$name"; done

log "idle: a fresh server each run; taskset -c $CLIENT_CPU $WSLOAD idle -p <port> -u $URL_PATH -c $IDLE_CONNS; VmRSS before and ${SETTLE}s after the last one opened"
for run in $(seq 1 "$RUNS"); do
  for name in "${servers[@]}"; do
    [[ -n ${skip[$name]:-} ]] && continue
    start "$name" 64 || continue
    if measure_idle "$name"; then
      log "  idle run $run $(printf '%-7s' "$name:") VmRSS $I_BEFORE kB -> $I_AFTER kB with $IDLE_CONNS open: $I_PER bytes per connection"
      per_runs[$name]+="$I_PER " after_runs[$name]+="$I_AFTER "
    else
      tail -n 20 "$tmp/$name.log" >&2 || true
      log "  idle run $run $name: $M_ERR"
      skip[$name/idle]=$M_ERR
    fi
    stop_one "$name"
  done
done

# --- table -------------------------------------------------------------------------------
med() {  # kind name -> median or n/a
  local -n runs=${1}_runs
  if [[ -z ${runs[$2]:-} ]]; then echo n/a; else
    # shellcheck disable=SC2086
    median ${runs[$2]}
  fi
}
measured=0
echo "| server | round trips/s ($CONNS conns, $MSG_SIZE B $kind) | server µs CPU/round trip | server CPU % of a core | capacity/s (1e6/µs) | client µs CPU/round trip | client CPU % | bytes per idle connection ($IDLE_CONNS open) | server RSS with $IDLE_CONNS open (kB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A mrate=() mper=() mcpu=()
for name in "${servers[@]}"; do
  r=$(med rate "$name") c=$(med cpu "$name") s=$(med srv "$name") k=$(med ccpu "$name") l=$(med cli "$name")
  p=$(med per "$name") a=$(med after "$name")
  mrate[$name]=$r mper[$name]=$p mcpu[$name]=$c
  [[ $r == n/a && $p == n/a ]] || measured=1
  awk -v n="${label[$name]}" -v r="$r" -v c="$c" -v s="$s" -v k="$k" -v l="$l" -v p="$p" -v a="$a" '
    function num(v, f) { return v == "n/a" ? v : sprintf(f, v) }
    BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", n, num(r, "%.0f"), num(c, "%.2f"),
      num(s, "%.0f"), (c == "n/a" || c == 0) ? "n/a" : sprintf("%.0f", 1e6 / c), num(k, "%.2f"),
      num(l, "%.0f"), num(p, "%.0f"), num(a, "%.0f") }'
done
echo
for peer in nginx python; do
  awk -v peer="${label[$peer]}" -v rr="${mrate[remora]}" -v pr="${mrate[$peer]}" -v rc="${mcpu[remora]}" \
      -v pc="${mcpu[$peer]}" -v rm="${mper[remora]}" -v pm="${mper[$peer]}" '
    function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
    BEGIN { printf "- Remora/%s: round trips/s %s; server CPU per round trip %s and memory per idle connection %s (lower is better)\n",
      peer, ratio(rr, pr), ratio(rc, pc), ratio(rm, pm) }'
done
awk -v p="${mper[remora]}" 'BEGIN { printf "- target: at most 4096 bytes of server memory per idle connection: Remora %s\n",
  p == "n/a" ? "not measured" : sprintf("%.0f bytes, %s", p, p <= 4096 ? "met" : "NOT met") }'
for name in "${servers[@]}"; do
  if [[ -n ${skip[$name]:-} ]]; then
    echo "- ${label[$name]} not measured: ${skip[$name]}"
  elif [[ -n ${skip[$name/idle]:-} ]]; then
    echo "- ${label[$name]}: an idle run failed: ${skip[$name/idle]}"
  fi
done
((loaded_runs == 0)) || echo "- $loaded_runs echo run(s) were made while the machine was NOT idle (see stderr)"
echo "- ${remora_version:-Remora: no binary}; $("$NGINX" -V 2>&1 | head -1) with lua-nginx-module $(dpkg-query -W -f='${Version}' libnginx-mod-http-lua 2>/dev/null); python3-websockets $("$PYTHON" -c 'import websockets; print(websockets.__version__)') on Python $("$PYTHON" -c 'import platform; print(platform.python_version())')"
((measured)) || die "nothing was measured"
