#!/usr/bin/env bash
# Static-file benchmark: Remora (full edition, one loop thread) against nginx (one worker),
# same files, keep-alive, 50 connections, server pinned to CPU 0 and wrk to CPU 1.
#
#   bash bench/static.sh
#
# Environment:
#   DURATION  seconds per measurement (default 10)
#   RUNS      measurements per size and server; the table shows the median (default 3)
#   WARMUP    seconds of unmeasured load before each size (default 2; 0 = none)
#   CONNS     wrk connections (default 50)
#   REMORA    the binary (default build/full/remora beside this script's repo)
#   SERVER_CPU, CLIENT_CPU  CPUs for the servers and for wrk (default 0 and 1)
#
# Prints the medians as a markdown table on stdout; progress and every single run go to stderr.
# Loopback only. Both servers are stopped and the temp dir removed on exit, error or Ctrl-C.
set -euo pipefail

script=static.sh
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# --- tools -------------------------------------------------------------------------------
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -n $NGINX ]] || missing+=(nginx)
if ((${#missing[@]})); then
  log "static.sh: missing: ${missing[*]}"
  log "install with: apt-get install -y wrk nginx-light"
  exit 1
fi
for t in curl taskset setsid ss getconf; do command -v "$t" >/dev/null || die "missing $t"; done
[[ -x $REMORA ]] || die "no Remora binary at $REMORA (build it: ninja -C build/full)"
TCK=$(getconf CLK_TCK)

# --- temp dir and cleanup ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/remora-bench.XXXXXX)
remora_pid='' nginx_pid=''
cleanup() {
  local p
  [[ -n ${wrk_pid:-} ]] && kill -TERM "$wrk_pid" 2>/dev/null
  for p in $remora_pid $nginx_pid; do
    kill -TERM "$p" 2>/dev/null || true
  done
  for p in $remora_pid $nginx_pid; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  remora_pid='' nginx_pid=''
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- files -------------------------------------------------------------------------------
# The docroot must be readable by nginx's worker user when we run as root.
chmod 755 "$tmp"
mkdir -p "$tmp/www" "$tmp/nginx/logs"
chmod 755 "$tmp/www"
names=(13.txt 1k.bin 64k.bin 1m.bin)
sizes=(13 1024 65536 1048576)
labels=("13 B" "1 KiB" "64 KiB" "1 MiB")
printf 'Hello, world\n' >"$tmp/www/13.txt"
head -c 1024 /dev/urandom >"$tmp/www/1k.bin"
head -c 65536 /dev/urandom >"$tmp/www/64k.bin"
head -c 1048576 /dev/urandom >"$tmp/www/1m.bin"
chmod 644 "$tmp"/www/*

# --- ports -------------------------------------------------------------------------------
wait_port() {  # port pid name
  local i
  for i in $(seq 1 100); do
    kill -0 "$2" 2>/dev/null || die "$3 exited at startup (see above)"
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  die "$3 does not answer on 127.0.0.1:$1"
}

# --- Remora ------------------------------------------------------------------------------
rport=$(free_port)
cat >"$tmp/remora.conf" <<EOF
port=$rport
host="127.0.0.1"
threads=1
conncnt=1000
EOF
log "starting Remora ($REMORA) on 127.0.0.1:$rport, CPU $SERVER_CPU"
# No SIGPIPE workaround: the server ignores SIGPIPE itself (sendfile(2) has no MSG_NOSIGNAL),
# and wrk closing connections in the middle of a 1 MiB response must not kill it.
# setsid: a Ctrl-C in the terminal reaches this script and wrk, not the servers; the EXIT trap
# stops them. (setsid execs in place here, so $! stays the server's pid.)
(exec setsid taskset -c "$SERVER_CPU" "$REMORA" -c "$tmp/remora.conf" "-l::$tmp/www") 2>"$tmp/remora.log" &
remora_pid=$!
wait_port "$rport" "$remora_pid" Remora
grep -q "listening on IPv4 port $rport" "$tmp/remora.log" || {
  cat "$tmp/remora.log" >&2
  die "Remora did not bind port $rport"
}

# --- nginx -------------------------------------------------------------------------------
nport=$(free_port)
{
  nginx_conf_head
  cat <<EOF
  types { text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  server {
    listen 127.0.0.1:$nport;
    root $tmp/www;
  }
}
EOF
} >"$tmp/nginx/nginx.conf"
log "starting nginx ($NGINX) on 127.0.0.1:$nport, CPU $SERVER_CPU"
setsid taskset -c "$SERVER_CPU" "$NGINX" -p "$tmp/nginx/" -e "$tmp/nginx/logs/error.log" \
  -c "$tmp/nginx/nginx.conf" 2>"$tmp/nginx.log" &
nginx_pid=$!
wait_port "$nport" "$nginx_pid" nginx

# The processes whose CPU time counts: Remora's one process; nginx's master and its worker.
server_pids() {  # name
  if [[ $1 == remora ]]; then
    echo "$remora_pid"
  else
    # shellcheck disable=SC2046  # one pid per word
    echo "$nginx_pid" $(cat "/proc/$nginx_pid/task/$nginx_pid/children" 2>/dev/null)
  fi
}

# --- correctness -------------------------------------------------------------------------
for name in remora nginx; do
  port=$rport
  [[ $name == nginx ]] && port=$nport
  for i in "${!names[@]}"; do
    got=$(curl -s -o "$tmp/check" -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/${names[i]}")
    [[ $got == "200 ${sizes[i]}" ]] || die "$name /${names[i]}: got '$got', want '200 ${sizes[i]}'"
    cmp -s "$tmp/check" "$tmp/www/${names[i]}" || die "$name /${names[i]}: body differs from the file"
  done
  log "$name serves all ${#names[@]} files correctly"
done

# --- measurements ------------------------------------------------------------------------
# One wrk run; sets M_REQ, M_RPS and M_CPU (us of server CPU per request). wrk runs in the
# background and we `wait` for it, so that a Ctrl-C runs the INT trap at once.
wrk_pid=''
measure() {  # name port file seconds
  local pids before after out reqs rps errs rc=0
  pids=$(server_pids "$1")
  before=$(cpu_ticks $pids)
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$4s" "http://127.0.0.1:$2/$3" >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=''
  out=$(cat "$tmp/wrk.out")
  ((rc == 0)) || die "wrk failed against $1: $out"
  after=$(cpu_ticks $pids)
  for p in $pids; do
    kill -0 "$p" 2>/dev/null || die "$1 (pid $p) died during the run against /$3"
  done
  reqs=$(awk '/ requests in /{print $1; exit}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/{print $2; exit}' <<<"$out")
  [[ -n $reqs && -n $rps && $reqs -gt 0 ]] || die "cannot read wrk's output: $out"
  if errs=$(grep -E 'Non-2xx|Socket errors' <<<"$out"); then
    log "warning: $1 /$3: $errs"
  fi
  M_REQ=$reqs
  M_RPS=$(awk -v q="$rps" 'BEGIN { printf "%.0f", q }')
  M_CPU=$(awk -v r="$reqs" -v t=$((after - before)) -v hz="$TCK" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
}

log "wrk: taskset -c $CLIENT_CPU wrk -t1 -c$CONNS -d${DURATION}s; $RUNS run(s) per size and server, interleaved; median"
rows=()
for i in "${!names[@]}"; do
  f=${names[i]}
  if ((WARMUP > 0)); then
    measure remora "$rport" "$f" "$WARMUP"
    measure nginx "$nport" "$f" "$WARMUP"
  fi
  r_rps=() r_cpu=() n_rps=() n_cpu=()
  for run in $(seq 1 "$RUNS"); do
    measure remora "$rport" "$f" "$DURATION"
    req=$M_REQ rps=$M_RPS cpu=$M_CPU
    log "  ${labels[i]} run $run remora: $req requests, $rps req/s, $cpu us CPU/req"
    r_rps+=("$rps") r_cpu+=("$cpu")
    measure nginx "$nport" "$f" "$DURATION"
    req=$M_REQ rps=$M_RPS cpu=$M_CPU
    log "  ${labels[i]} run $run nginx:  $req requests, $rps req/s, $cpu us CPU/req"
    n_rps+=("$rps") n_cpu+=("$cpu")
  done
  rows+=("${labels[i]}|$(median "${r_rps[@]}")|$(median "${n_rps[@]}")|$(median "${r_cpu[@]}")|$(median "${n_cpu[@]}")")
done

echo "| size | Remora req/s | nginx req/s | Remora/nginx | Remora us CPU/req | nginx us CPU/req |"
echo "|---|---:|---:|---:|---:|---:|"
for row in "${rows[@]}"; do
  IFS='|' read -r label rr nr rc nc <<<"$row"
  awk -v l="$label" -v rr="$rr" -v nr="$nr" -v rc="$rc" -v nc="$nc" \
    'BEGIN { printf "| %s | %.0f | %.0f | %.2f | %.2f | %.2f |\n", l, rr, nr, rr / nr, rc, nc }'
done
