# shellcheck shell=bash
# Shared by the page benchmarks (dynamic.sh, sqlite.sh; sourced after common.sh): the temp
# dir and cleanup, starting servers pinned to SERVER_CPU, skipping a server or a page with the
# reason, one wrk measurement with the server's CPU per request, the interleaved runs and the
# medians. The sourcing script sets `servers` and `pages` before, then `path[page]` and
# `port[server]`, and starts its servers with `start name command...`.
TCK=$(getconf CLK_TCK)

# --- temp dir and cleanup ----------------------------------------------------------------
tmp=$(mktemp -d /tmp/remora-bench.XXXXXX)
declare -A pid=() port=() skip=() path=()
cleanup() {
  stop_servers "${wrk_pid:-}"
  rm -rf "$tmp"
}
trap_cleanup

# skip[server] (skip_server, common.sh) or skip[server/page]: why it is not measured.
skip_page() {  # name page reason
  skip[$1/$2]=$3
  log "skipping $1 $2: $3"
}
skipped() {  # name page
  [[ -n ${skip[$1]:-} || -n ${skip[$1/$2]:-} ]]
}

# --- ports -------------------------------------------------------------------------------
wait_port() {  # name -> 0 once it answers any HTTP on its port; else skips it
  for _ in $(seq 1 100); do
    if ! kill -0 "${pid[$1]}" 2>/dev/null; then
      tail -n 20 "$tmp/$1.log" >&2 || true
      skip_server "$1" "exited at startup"
      return 1
    fi
    curl -s -o /dev/null "http://127.0.0.1:${port[$1]}/" && return 0
    sleep 0.1
  done
  skip_server "$1" "does not answer on 127.0.0.1:${port[$1]}"
  return 1
}
start() {  # name command... (setsid: a Ctrl-C reaches this script and wrk, not the servers;
           # setsid and taskset exec in place, so $! is the server's own pid)
  local name=$1
  shift
  log "starting $name on 127.0.0.1:${port[$name]}, CPU $SERVER_CPU: taskset -c $SERVER_CPU $*"
  (exec setsid taskset -c "$SERVER_CPU" "$@") 2>"$tmp/$name.log" &
  pid[$name]=$!
  wait_port "$name" || true
}

chmod 755 "$tmp"

# The processes whose CPU time counts: one process, or nginx's master and its worker.
server_pids() {  # name
  if [[ $1 == nginx ]]; then
    # shellcheck disable=SC2046  # one pid per word
    echo "${pid[nginx]}" $(cat "/proc/${pid[nginx]}/task/${pid[nginx]}/children" 2>/dev/null)
  else
    echo "${pid[$1]}"
  fi
}

# --- measurements ------------------------------------------------------------------------
# One wrk run; sets M_REQ, M_RPS and M_CPU (us of server CPU per request), or M_ERR and
# returns 1. wrk runs in the background and we `wait` for it, so that a Ctrl-C runs the INT
# trap at once.
wrk_pid=''
measure() {  # name page seconds
  local pids before after out reqs rps errs p rc=0
  M_ERR=''
  pids=$(server_pids "$1")
  # shellcheck disable=SC2086  # one pid per word
  before=$(cpu_ticks $pids)
  taskset -c "$CLIENT_CPU" wrk -t1 -c"$CONNS" -d"$3s" "http://127.0.0.1:${port[$1]}${path[$2]}" >"$tmp/wrk.out" 2>&1 &
  wrk_pid=$!
  wait "$wrk_pid" || rc=$?
  wrk_pid=''
  out=$(cat "$tmp/wrk.out")
  # shellcheck disable=SC2086
  after=$(cpu_ticks $pids)
  for p in $pids; do
    kill -0 "$p" 2>/dev/null || { M_ERR="pid $p died during a run against ${path[$2]}"; return 1; }
  done
  ((rc == 0)) || { M_ERR="wrk failed against ${path[$2]}: $out"; return 1; }
  reqs=$(awk '/ requests in /{print $1; exit}' <<<"$out")
  rps=$(awk '/^Requests\/sec:/{print $2; exit}' <<<"$out")
  [[ -n $reqs && -n $rps && $reqs -gt 0 ]] || { M_ERR="cannot read wrk's output: $out"; return 1; }
  if errs=$(grep -E "Non-2xx" <<<"$out" | sed "s/^ *//"); then
    M_ERR="${path[$2]}: $errs"
    return 1
  fi
  if errs=$(grep -E 'Socket errors' <<<"$out"); then
    log "warning: $1 ${path[$2]}: $errs"
  fi
  M_REQ=$reqs
  M_RPS=$(awk -v q="$rps" 'BEGIN { printf "%.0f", q }')
  M_CPU=$(awk -v r="$reqs" -v t=$((after - before)) -v hz="$TCK" 'BEGIN { printf "%.2f", t / hz * 1e6 / r }')
}
# A failed run skips that page of that server, or the whole server when it died.
run_one() {  # name page seconds -> 0 with M_* set, else 1
  skipped "$1" "$2" && return 1
  measure "$1" "$2" "$3" && return 0
  if [[ $M_ERR == pid* ]]; then
    tail -n 20 "$tmp/$1.log" >&2 || true
    skip_server "$1" "$M_ERR"
  else
    skip_page "$1" "$2" "$M_ERR"
  fi
  return 1
}

# measure_all: WARMUP, then RUNS interleaved runs of every page on every server; fills
# rps_runs and cpu_runs ("name/page" -> the runs' values).
declare -A rps_runs=() cpu_runs=()
measure_all() {
  local page run name
  log "wrk: taskset -c $CLIENT_CPU wrk -t1 -c$CONNS -d${DURATION}s http://127.0.0.1:<port><path>; $RUNS run(s) per page and server, interleaved; median"
  for page in "${pages[@]}"; do
    if ((WARMUP > 0)); then
      for name in "${servers[@]}"; do run_one "$name" "$page" "$WARMUP" || true; done
    fi
    for run in $(seq 1 "$RUNS"); do
      for name in "${servers[@]}"; do
        run_one "$name" "$page" "$DURATION" || continue
        log "  $page run $run $(printf '%-9s' "$name:") $M_REQ requests, $M_RPS req/s, $M_CPU us CPU/req"
        rps_runs[$name/$page]+="$M_RPS "
        cpu_runs[$name/$page]+="$M_CPU "
      done
    done
  done
}

cell() {  # name page rps|cpu -> median, or n/a when skipped
  local -n runs=${3}_runs
  if skipped "$1" "$2" || [[ -z ${runs[$1/$2]:-} ]]; then
    echo n/a
  else
    # shellcheck disable=SC2086  # one value per word
    median ${runs[$1/$2]}
  fi
}

# skip_notes: why a cell says n/a, for under the table.
skip_notes() {
  local name page
  for name in "${servers[@]}"; do
    if [[ -n ${skip[$name]:-} ]]; then
      echo "- $name not measured: ${skip[$name]}"
      continue
    fi
    for page in "${pages[@]}"; do
      if [[ -n ${skip[$name/$page]:-} ]]; then
        echo "- $name $page not measured: ${skip[$name/$page]}"
      fi
    done
  done
}

# start_remora: Remora (threads=1) on port[remora] with the app $tmp/app at the root; skipped
# when there is no binary.
start_remora() {
  cat >"$tmp/remora.conf" <<EOF
port=${port[remora]}
host="127.0.0.1"
threads=1
conncnt=1000
EOF
  if have_remora; then
    start remora "$REMORA" -c "$tmp/remora.conf" "-l::$tmp/app"
  fi
}
