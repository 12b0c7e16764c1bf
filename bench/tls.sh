#!/usr/bin/env bash
# TLS benchmark: Remora (full edition with tls=botan, one loop thread) against nginx (one
# worker), the same ECDSA P-256 certificate and key, server pinned to CPU 0 and the client(s)
# to CPU 1, loopback.
#
#   hs   full TLS handshakes per second: no session ID, no ticket offered, nothing resumed
#   ka   HTTPS requests/s for a 1 KiB file over keep-alive connections (wrk, 50 connections)
#
#   bash bench/tls.sh
#
# Protocol: TLS 1.2 on both (Remora's Botan 2 policy speaks TLS 1.2 only), cipher suite
# ECDHE-ECDSA-AES128-GCM-SHA256 (the one Remora picks first; nginx is given only that one),
# key exchange X25519 (first in both servers' lists and in the client's). A third column,
# "nginx TLS 1.3", is nginx with TLSv1.3 only, for reference; it has no Remora counterpart.
#
# How handshakes are counted. `openssl s_time -new` makes a new SSL object per connection and
# never sets a session on it, so it offers neither a session ID nor a ticket: every connection
# is a full handshake (ECDHE key pair and derivation, ECDSA P-256 signature of the
# ServerKeyExchange on the server; the same key exchange plus the signature check on the
# client). It closes after the handshake without sending a request. wrk with "Connection:
# close" is NOT used: wrk keeps each connection's SSL object and its session across reconnects
# (SSL_clear), so it resumes (checked here: nginx's $ssl_session_reused said "r" for 3071 of
# 3077 wrk connections). The script checks this before measuring: a short `s_time -new -www`
# against a logging nginx server must show only full handshakes ("." in $ssl_session_reused),
# and `s_client -sess_out` then `-sess_in` must show "Reused" on both servers (so both do
# resume when asked, and the -new numbers are full handshakes because the client never asks).
#
# s_time runs with -no-CAfile -no-CApath -no-CAstore: the client does not verify the chain
# anyway, but with the default paths OpenSSL still looks the issuer up in /etc/ssl/certs on
# every handshake, which made the client ~30% dearer (1.06 against 0.76 ms of CPU each here).
# One s_time process does one handshake at a time, so HS_CLIENTS of them run in parallel on
# the client CPU; the rate is the sum of their connections over the wall time. The OpenSSL 3.0
# client spends more CPU per handshake than a server does, so with one client core the client
# may be the bottleneck: the table therefore also gives the server's CPU time per handshake
# (utime+stime of the server's processes over the run, /proc/<pid>/stat), its CPU use in % of
# one core, the client core's use (/proc/stat), and "capacity" = 1e6 / (µs per handshake), the
# handshakes/s one server core would do if the client kept up. When the client core is at
# ~100% and the server's is not, compare the capacities, not the rates.
#
# Environment:
#   DURATION    seconds per measurement (default 10)
#   RUNS        measurements per test and server; the table shows the median (default 3)
#   WARMUP      seconds of unmeasured load before each test (default 2; 0 = none)
#   CONNS       wrk connections for ka (default 50)
#   HS_CLIENTS  parallel `openssl s_time -new` processes for hs (default 4)
#   REMORA      the binary (default build/full/remora beside this script's repo; it must say
#               tls=botan in `--version`)
#   SERVER_CPU, CLIENT_CPU  CPUs for the servers and for the clients (default 0 and 1)
#   IDLE_WAIT   seconds to wait at most, before each run, for the machine to be idle (no
#               compiler running and less than IDLE_BUSY % of all CPUs busy over 2 s); after
#               that the run is made anyway and the table says so (default 1200)
#   IDLE_BUSY   (default 10)
#   CRYPTO_SPEED  1 (default): also print the primitive costs (openssl speed, and Botan's
#               own ECDSA P-256 sign and X25519 timed by a small program built in the temp
#               dir when g++ and libbotan-2-dev are there); 0: skip
#
# Installs the Debian packages it needs when they are missing (wrk nginx openssl curl).
# A server that does not start or does not answer correctly is skipped with the reason; so is
# one that dies during a measurement. Prints the table on stdout; progress, the idle checks
# and every single run go to stderr. Both servers are stopped and the temp dir removed on
# exit, error or Ctrl-C.
set -euo pipefail

# shellcheck disable=SC2034  # read by common.sh
script=tls.sh
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
HS_CLIENTS=${HS_CLIENTS:-4}
CRYPTO_SPEED=${CRYPTO_SPEED:-1}
[[ $HS_CLIENTS =~ ^[0-9]+$ && $HS_CLIENTS -ge 1 && $HS_CLIENTS -le 64 ]] || die "HS_CLIENTS must be 1..64"

# --- packages and tools ------------------------------------------------------------------
install_missing wrk nginx openssl curl
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n $NGINX ]] || die "no nginx binary"
for t in wrk curl openssl taskset setsid ss getconf awk; do
  command -v "$t" >/dev/null || die "missing $t"
done
TCK=$(getconf CLK_TCK)

# --- temp dir and cleanup ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/remora-bench.XXXXXX)
chmod 755 "$tmp"
servers=(remora nginx nginx13)
declare -A pid=() port=() skip=() label=() neg=()
label[remora]="Remora (TLS 1.2)" label[nginx]="nginx (TLS 1.2)" label[nginx13]="nginx (TLS 1.3)"
client_pids=()
cleanup() {
  stop_servers "${client_pids[@]}"
  rm -rf "$tmp"
}
trap_cleanup

# --- certificate and file ----------------------------------------------------------------
# One self-signed ECDSA P-256 certificate, PKCS#8 key, used by both servers.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -days 30 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>"$tmp/openssl-req.log" ||
  { cat "$tmp/openssl-req.log" >&2; die "openssl req failed"; }
grep -q "BEGIN PRIVATE KEY" "$tmp/key.pem" || die "the key is not PKCS#8"
mkdir -p "$tmp/www"
awk 'BEGIN { for (i = 0; i < 1024; i++) printf "%c", 97 + i % 26 }' >"$tmp/www/small.txt"

# --- servers -----------------------------------------------------------------------------
wait_tls() {  # name -> 0 once https://127.0.0.1:port/small.txt gives the file; else skips it
  for _ in $(seq 1 100); do
    if ! kill -0 "${pid[$1]}" 2>/dev/null; then
      tail -n 20 "$tmp/$1.log" >&2 || true
      skip_server "$1" "exited at startup"
      return 1
    fi
    if curl -sk -o "$tmp/probe.body" "https://127.0.0.1:${port[$1]}/small.txt" 2>/dev/null; then
      cmp -s "$tmp/probe.body" "$tmp/www/small.txt" && return 0
      skip_server "$1" "GET /small.txt over TLS did not return the file"
      return 1
    fi
    sleep 0.1
  done
  skip_server "$1" "no TLS answer on 127.0.0.1:${port[$1]}"
  return 1
}
start() {  # name command... (setsid and taskset exec in place: $! is the server's own pid)
  local name=$1
  shift
  log "starting $name on 127.0.0.1:${port[$name]}, CPU $SERVER_CPU: taskset -c $SERVER_CPU $*"
  (exec setsid taskset -c "$SERVER_CPU" "$@") >"$tmp/$name.out" 2>"$tmp/$name.log" &
  pid[$name]=$!
  wait_tls "$name" || true
}

# Remora: an HTTP listener (required by the config) and the TLS one; the file from -l::dir.
port[remora]=$(free_port)
http_port=$(free_port)
cat >"$tmp/remora.conf" <<EOF
port=$http_port
host="127.0.0.1"
sslport=${port[remora]}
sslhost="127.0.0.1"
certfile="$tmp/cert.pem"
keyfile="$tmp/key.pem"
threads=1
conncnt=1000
EOF
if have_remora; then
  if [[ $remora_version != *tls=botan* ]]; then
    skip_server remora "$REMORA has no TLS ($remora_version); meson configure build/full -Dtls=botan && ninja -C build/full"
  else
    start remora "$REMORA" -c "$tmp/remora.conf" "-l::$tmp/www"
  fi
fi

# nginx: one worker; a TLS 1.2 server (measured), a TLS 1.3 server (reference) and a TLS 1.2
# server with an access log of $ssl_session_reused (the full-handshake check, not measured).
# Session cache and tickets on, as on Remora.
port[nginx]=$(free_port)
port[nginx13]=$(free_port)
check_port=$(free_port)
mkdir -p "$tmp/nginx/logs"
{
  nginx_conf_head
  cat <<EOF
  default_type text/plain;
  ssl_certificate $tmp/cert.pem;
  ssl_certificate_key $tmp/key.pem;
  ssl_ecdh_curve X25519:prime256v1;
  ssl_prefer_server_ciphers on;
  ssl_session_cache shared:SSL:10m;
  ssl_session_tickets on;
  log_format reuse "\$ssl_session_reused \$ssl_protocol \$ssl_cipher \$ssl_curve";
  server {
    listen 127.0.0.1:${port[nginx]} ssl;
    ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
    root $tmp/www;
  }
  server {
    listen 127.0.0.1:${port[nginx13]} ssl;
    ssl_protocols TLSv1.3;
    root $tmp/www;
  }
  server {
    listen 127.0.0.1:$check_port ssl;
    ssl_protocols TLSv1.2;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256;
    access_log $tmp/nginx/logs/check.log reuse;
    root $tmp/www;
  }
}
EOF
} >"$tmp/nginx/nginx.conf"
start nginx "$NGINX" -p "$tmp/nginx/" -e "$tmp/nginx/logs/error.log" -c "$tmp/nginx/nginx.conf"
if [[ -n ${skip[nginx]:-} ]]; then
  skip_server nginx13 "nginx: ${skip[nginx]}"
else
  pid[nginx13]=${pid[nginx]}
  wait_tls nginx13 || true
fi

server_pids() {  # name -> the processes whose CPU time counts (nginx: master and worker)
  local p=${pid[$1]}
  if [[ $1 == nginx* ]]; then
    # shellcheck disable=SC2046  # one pid per word
    echo "$p" $(cat "/proc/$p/task/$p/children" 2>/dev/null)
  else
    echo "$p"
  fi
}

# --- checks ------------------------------------------------------------------------------
# What each server negotiates with a default client: protocol, suite, key exchange group.
for name in "${servers[@]}"; do
  [[ -n ${skip[$name]:-} ]] && continue
  neg[$name]=$(openssl s_client -connect "127.0.0.1:${port[$name]}" -servername localhost </dev/null 2>&1 |
    awk '/^Server Temp Key:/ { sub(/^Server Temp Key: /, ""); k = $0 }
         /^New, / { split($0, f, ", "); p = f[2]; c = $NF }
         END { printf "%s %s, key exchange %s", p, c, k }')
  log "$name negotiates: ${neg[$name]}"
done
if [[ -z ${skip[remora]:-} && ${neg[remora]} != "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"* ]]; then
  log "warning: Remora negotiates ${neg[remora]}, not TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256"
fi

# Resumption works on both when a client asks for it (s_client -sess_out, then -sess_in).
resumes() {  # port -> prints Reused or New
  openssl s_client -connect "127.0.0.1:$1" -tls1_2 -sess_out "$tmp/sess.pem" </dev/null >/dev/null 2>&1 || true
  openssl s_client -connect "127.0.0.1:$1" -tls1_2 -sess_in "$tmp/sess.pem" </dev/null 2>/dev/null |
    awk '/^(Reused|New),/ { print $1; exit }' | tr -d ,
}
for name in remora nginx; do
  [[ -n ${skip[$name]:-} ]] && continue
  r=$(resumes "${port[$name]}")
  log "$name: a second s_client with -sess_in of the first one's session: ${r:-no answer}"
  [[ $r == Reused ]] || log "warning: $name did not resume a session offered with -sess_in"
done
# The measuring client never resumes: s_time -new against the logging server.
if [[ -z ${skip[nginx]:-} ]]; then
  taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:$check_port" -new -www /small.txt -time 2 \
    -no-CAfile -no-CApath -no-CAstore >"$tmp/check.out" 2>&1 || true
  full=$(grep -c '^\. ' "$tmp/nginx/logs/check.log" || true)
  reused=$(grep -c '^r ' "$tmp/nginx/logs/check.log" || true)
  log "s_time -new against nginx's logging server: $full full handshakes, $reused resumed"
  ((full > 0 && reused == 0)) || die "s_time -new is not making full handshakes ($full full, $reused resumed)"
fi

# --- measurements ------------------------------------------------------------------------
# One run; sets M_N (handshakes or requests), M_RATE, M_CPU (µs of server CPU per op),
# M_SRV (% of one core used by the server) and M_CLI (% busy of the client CPU); or M_ERR.
measure() {  # name hs|ka seconds
  local pids before after t0 t1 c0 c1 out n i rc=0 errs
  M_ERR=''
  pids=$(server_pids "$1")
  # shellcheck disable=SC2086  # one pid per word
  before=$(cpu_ticks $pids)
  c0=$(cpu_pct "$CLIENT_CPU")
  t0=$(now)
  client_pids=()
  if [[ $2 == hs ]]; then
    for i in $(seq 1 "$HS_CLIENTS"); do
      taskset -c "$CLIENT_CPU" openssl s_time -connect "127.0.0.1:${port[$1]}" -new -time "$3" \
        -no-CAfile -no-CApath -no-CAstore >"$tmp/s_time.$i" 2>&1 &
      client_pids+=($!)
    done
  else
    taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$3s" "https://127.0.0.1:${port[$1]}/small.txt" \
      >"$tmp/wrk.out" 2>&1 &
    client_pids+=($!)
  fi
  for i in "${client_pids[@]}"; do wait "$i" || rc=$?; done
  client_pids=()
  t1=$(now)
  c1=$(cpu_pct "$CLIENT_CPU")
  # shellcheck disable=SC2086
  after=$(cpu_ticks $pids)
  for i in $pids; do
    kill -0 "$i" 2>/dev/null || { M_ERR="pid $i died during a $2 run"; return 1; }
  done
  if [[ $2 == hs ]]; then
    n=0
    for i in $(seq 1 "$HS_CLIENTS"); do
      out=$(awk '/connections in .* real seconds/ { print $1; exit }' "$tmp/s_time.$i")
      [[ -n $out ]] || { M_ERR="s_time: $(tail -n 3 "$tmp/s_time.$i" | tr '\n' ' ')"; return 1; }
      n=$((n + out))
    done
  else
    out=$(cat "$tmp/wrk.out")
    ((rc == 0)) || { M_ERR="wrk failed: $out"; return 1; }
    n=$(awk '/ requests in /{ print $1; exit }' <<<"$out")
    [[ -n $n ]] || { M_ERR="cannot read wrk's output: $out"; return 1; }
    if errs=$(grep -E "Non-2xx" <<<"$out" | sed "s/^ *//"); then M_ERR="$errs"; return 1; fi
    if errs=$(grep -E 'Socket errors' <<<"$out"); then log "warning: $1 ka: $errs"; fi
  fi
  ((n > 0)) || { M_ERR="no $2 operation completed"; return 1; }
  M_N=$n
  read -r M_RATE M_CPU M_SRV M_CLI < <(awk -v n="$n" -v t0="$t0" -v t1="$t1" -v tk=$((after - before)) \
    -v hz="$TCK" -v c0="$c0" -v c1="$c1" 'BEGIN {
      split(c0, a, " "); split(c1, b, " "); w = t1 - t0
      printf "%.0f %.1f %.0f %.0f\n", n / w, tk / hz * 1e6 / n, 100 * tk / hz / w,
        (b[2] - a[2]) ? 100 * (b[1] - a[1]) / (b[2] - a[2]) : 0 }')
}
run_one() {  # name test seconds -> 0 with M_* set, else 1 (and the server is skipped)
  [[ -n ${skip[$1]:-} ]] && return 1
  measure "$1" "$2" "$3" && return 0
  tail -n 20 "$tmp/$1.log" >&2 || true
  skip_server "$1" "$M_ERR"
  return 1
}

tests=(hs ka)
declare -A tname=([hs]="full handshakes/s" [ka]="keep-alive HTTPS req/s (1 KiB)")
log "hs: $HS_CLIENTS x taskset -c $CLIENT_CPU openssl s_time -connect 127.0.0.1:<port> -new -time $DURATION -no-CAfile -no-CApath -no-CAstore (in parallel, connections summed over the wall time)"
log "ka: taskset -c $CLIENT_CPU wrk -t1 -c$CONNS -d${DURATION}s https://127.0.0.1:<port>/small.txt"
log "$RUNS run(s) per test and server, interleaved; median"
declare -A rate_runs=() cpu_runs=() srv_runs=() cli_runs=()
for t in "${tests[@]}"; do
  if ((WARMUP > 0)); then
    for name in "${servers[@]}"; do run_one "$name" "$t" "$WARMUP" || true; done
  fi
  for run in $(seq 1 "$RUNS"); do
    for name in "${servers[@]}"; do
      [[ -n ${skip[$name]:-} ]] && continue
      wait_idle
      run_one "$name" "$t" "$DURATION" || continue
      log "  $t run $run $(printf '%-8s' "$name:") $M_N in ${DURATION}s, $M_RATE/s, $M_CPU us server CPU/op, server ${M_SRV}% of a core, client CPU ${M_CLI}% busy"
      rate_runs[$name/$t]+="$M_RATE "
      cpu_runs[$name/$t]+="$M_CPU "
      srv_runs[$name/$t]+="$M_SRV "
      cli_runs[$name/$t]+="$M_CLI "
    done
  done
done

# --- table -------------------------------------------------------------------------------
med() {  # kind name test -> median or n/a
  local -n runs=${1}_runs
  if [[ -z ${runs[$2/$3]:-} ]]; then echo n/a; else
    # shellcheck disable=SC2086
    median ${runs[$2/$3]}
  fi
}
measured=0
echo "| test | server | rate/s | server µs CPU/op | server CPU % of a core | client CPU % | capacity/s (1e6/µs) |"
echo "|---|---|---:|---:|---:|---:|---:|"
declare -A mrate=() mcpu=()
for t in "${tests[@]}"; do
  for name in "${servers[@]}"; do
    r=$(med rate "$name" "$t") c=$(med cpu "$name" "$t") s=$(med srv "$name" "$t") l=$(med cli "$name" "$t")
    mrate[$name/$t]=$r mcpu[$name/$t]=$c
    [[ $r == n/a ]] || measured=1
    awk -v t="${tname[$t]}" -v n="${label[$name]}" -v r="$r" -v c="$c" -v s="$s" -v l="$l" '
      function num(v, f) { return v == "n/a" ? v : sprintf(f, v) }
      BEGIN { printf "| %s | %s | %s | %s | %s | %s | %s |\n", t, n, num(r, "%.0f"), num(c, "%.1f"),
        num(s, "%.0f"), num(l, "%.0f"), (c == "n/a" || c == 0) ? "n/a" : sprintf("%.0f", 1e6 / c) }'
  done
done
echo
for t in "${tests[@]}"; do
  awk -v t="${tname[$t]}" -v rr="${mrate[remora/$t]}" -v nr="${mrate[nginx/$t]}" \
      -v rc="${mcpu[remora/$t]}" -v nc="${mcpu[nginx/$t]}" -v goal="$([[ $t == hs ]] && echo 0.80 || echo 1.00)" '
    function ratio(a, b) { return (a == "n/a" || b == "n/a" || b == 0) ? "n/a" : sprintf("%.2f", a / b) }
    BEGIN { printf "- %s, Remora/nginx (TLS 1.2): rate %s, capacity (nginx µs/Remora µs) %s; target >= %s\n",
      t, ratio(rr, nr), ratio(nc, rc), goal }'
done
for name in "${servers[@]}"; do
  [[ -n ${skip[$name]:-} ]] && echo "- ${label[$name]} not measured: ${skip[$name]}"
done
((loaded_runs == 0)) || echo "- $loaded_runs run(s) were made while the machine was NOT idle (see stderr)"
echo "- negotiated: Remora ${neg[remora]:-n/a}; nginx ${neg[nginx]:-n/a}; nginx TLS 1.3 ${neg[nginx13]:-n/a}"
echo "- $remora_version; $("$NGINX" -V 2>&1 | head -2 | tr '\n' ' ')"

# --- primitive costs ---------------------------------------------------------------------
if ((CRYPTO_SPEED)); then
  echo
  echo "Primitive costs on the client CPU (single thread):"
  taskset -c "$CLIENT_CPU" openssl speed -seconds 3 ecdsap256 ecdhx25519 2>/dev/null |
    awk '/nistp256\)/ { printf "- OpenSSL %s: ECDSA P-256 sign %.0f/s, verify %.0f/s\n", v, $(NF-1), $NF }
         /X25519\)/ { printf "- OpenSSL: X25519 derive %.0f/s\n", $NF }' v="$(openssl version | awk '{print $2}')"
  if command -v g++ >/dev/null && [[ -f /usr/include/botan-2/botan/ecdsa.h ]]; then
    cat >"$tmp/botan_speed.cpp" <<'EOF'
// ECDSA P-256 signatures and X25519 (key pair + derivation), as a TLS server does them.
#include <botan/auto_rng.h>
#include <botan/curve25519.h>
#include <botan/ecdsa.h>
#include <botan/pubkey.h>
#include <botan/version.h>
#include <chrono>
#include <cstdio>
int main() {
  using clk = std::chrono::steady_clock;
  Botan::AutoSeeded_RNG rng;
  Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
  Botan::PK_Signer signer(key, rng, "EMSA1(SHA-256)");
  std::vector<uint8_t> msg(100, 1);
  auto t0 = clk::now();
  int n = 0;
  while (clk::now() - t0 < std::chrono::seconds(3)) { signer.sign_message(msg, rng); ++n; }
  double s = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf("- %s: ECDSA P-256 sign %.0f/s", Botan::version_cstr(), n / s);
  Botan::Curve25519_PrivateKey peer(rng);
  t0 = clk::now();
  n = 0;
  while (clk::now() - t0 < std::chrono::seconds(3)) {
    Botan::Curve25519_PrivateKey eph(rng);
    Botan::PK_Key_Agreement ka(eph, rng, "Raw");
    ka.derive_key(32, peer.public_value());
    ++n;
  }
  s = std::chrono::duration<double>(clk::now() - t0).count();
  std::printf(", X25519 key pair + derive %.0f/s\n", n / s);
}
EOF
    if g++ -O2 -std=c++17 -I/usr/include/botan-2 "$tmp/botan_speed.cpp" -o "$tmp/botan_speed" -lbotan-2 2>"$tmp/botan_speed.log"; then
      taskset -c "$CLIENT_CPU" "$tmp/botan_speed"
    else
      echo "- Botan: the timing program did not build ($(head -n 1 "$tmp/botan_speed.log"))"
    fi
  fi
fi
((measured)) || die "nothing was measured"
