# shellcheck shell=bash
# Shared by the benchmark scripts (sourced): the environment they read, logging, and the
# Debian packages they need. The sourcing script sets `script` (its name, for messages).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-2}
CONNS=${CONNS:-50}
REMORA=${REMORA:-$here/../build/full/remora}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}

log() { printf '%s\n' "$*" >&2; }
die() { log "${script:-bench}: $*"; exit 1; }

[[ $DURATION =~ ^[0-9]+$ && $DURATION -gt 0 ]] || die "DURATION must be a positive integer"
[[ $RUNS =~ ^[0-9]+$ && $RUNS -gt 0 && $RUNS -le 99 ]] || die "RUNS must be 1..99"
[[ $WARMUP =~ ^[0-9]+$ ]] || die "WARMUP must be an integer"

# install_missing PKG...: apt-get installs the Debian packages that are not there yet.
install_missing() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing: ${missing[*]}"
  local sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# free_port -> a loopback TCP port nobody listens on (and not handed out before).
used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    [[ $used_ports == *" $p "* ]] && continue
    if ! ss -Htln "sport = :$p" | grep -q .; then
      used_ports+="$p "
      echo "$p"
      return 0
    fi
  done
  die "no free port found"
}

cpu_ticks() {  # pids... -> utime+stime summed
  local total=0 p rest fld
  for p in "$@"; do
    rest=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    rest=${rest##*) }  # fields from 3 on; comm may hold spaces
    read -r -a fld <<<"$rest"
    total=$((total + fld[11] + fld[12]))  # fields 14 and 15: utime, stime
  done
  echo "$total"
}

# median v... -> the median of the numbers
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
