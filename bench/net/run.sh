#!/usr/bin/env bash
# The network benchmark in one command: builds net_server and echo_client (release, clang-19),
# then, repetition by repetition, runs every server variant in turn on 127.0.0.1 and prints a
# table of the best and median of each (bench/net/README.md).
#
#   bench/net/run.sh                5 repetitions of 5 s per run (about 3 minutes)
#   bench/net/run.sh -r 7 -d 10     7 repetitions of 10 s
#
# Each repetition runs, for each system (weft, asio-shared, asio-per-thread; the order rotates
# from one repetition to the next so that no system always goes first):
#   http   the http_hello server driven by `wrk -t<T> -c<C> -d<D>s` (requests per second)
#   echo   the echo server driven by echo_client: one connection, 64-byte ping-pong
#          (round trips per second)
#
# Options:
#   -r N   repetitions (default 5)          -d S   seconds per run (default 5)
#   -c N   wrk connections (default 50)     -t N   wrk threads (default 2)
#   -w N   server threads / weft workers (default 2)
#   -s L   systems, comma-separated (default weft,asio-shared,asio-per-thread)
#   -a L   apps, comma-separated (default http,echo)
#   -b DIR build directory (default build-bench in the repository)
#   -e L=B an extra system L: the weft server of another build's net_server binary B (to compare
#          designs side by side; repeatable), e.g. -e weft-proto=/tmp/proto/build/bench/net/net_server
source "$(dirname "$0")/../../tools/common.sh"

reps=5 duration=5 conns=50 wrk_threads=2 workers=2
systems="weft,asio-shared,asio-per-thread" apps="http,echo"
build_dir="$WEFT_ROOT/build-bench"
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; }
declare -A extra=()
extra_names=""
while getopts "r:d:c:t:w:s:a:b:e:h" opt; do
  case "$opt" in
    r) reps=$OPTARG ;; d) duration=$OPTARG ;; c) conns=$OPTARG ;; t) wrk_threads=$OPTARG ;;
    w) workers=$OPTARG ;; s) systems=$OPTARG ;; a) apps=$OPTARG ;; b) build_dir=$OPTARG ;;
    e) extra[${OPTARG%%=*}]=${OPTARG#*=}; extra_names+=",${OPTARG%%=*}" ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done

systems+=$extra_names

weft_install_packages
weft_configure "$build_dir" release
weft_build "$build_dir" bench/net/net_server bench/net/echo_client
server_bin="$build_dir/bench/net/net_server"
client_bin="$build_dir/bench/net/echo_client"

IFS=, read -r -a system_list <<<"$systems"
IFS=, read -r -a app_list <<<"$apps"
results="$build_dir/net_bench.tsv"
: >"$results"
tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# start_server <system> <app>: starts it, sets server_pid and port.
start_server() {
  local bin=$server_bin sys=$1
  if [ -n "${extra[$1]:-}" ]; then bin=${extra[$1]}; sys=weft; fi
  "$bin" --system "$sys" --app "$2" --port 0 --threads "$workers" >"$tmp/out" 2>"$tmp/err" &
  server_pid=$!
  port=""
  for _ in $(seq 1 500); do
    port=$(sed -n 's/^listening on //p' "$tmp/out")
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.01
  done
  echo "bench/net: $1 did not start: $(cat "$tmp/err")" >&2
  exit 1
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

echo "bench/net: $reps repetitions x ${duration}s; wrk -t$wrk_threads -c$conns; $workers server threads; $(nproc) cores"
for ((rep = 1; rep <= reps; rep++)); do
  n=${#system_list[@]}
  for ((k = 0; k < n; k++)); do
    sys=${system_list[$(((k + rep - 1) % n))]}
    for app in "${app_list[@]}"; do
      start_server "$sys" "$app"
      case "$app" in
        http)
          wrk -t"$wrk_threads" -c"$conns" -d"${duration}s" "http://127.0.0.1:$port/" >"$tmp/wrk" 2>&1 || true
          value=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk")
          errors=$(awk '/Non-2xx|Socket errors/ {print}' "$tmp/wrk" | tr '\n' ' ')
          ;;
        echo)
          value=$("$client_bin" "$port" "$duration" 64 2>"$tmp/client_err" || true)
          errors=$(cat "$tmp/client_err")
          ;;
      esac
      stop_server
      printf '%s\t%s\t%s\t%s\n' "$rep" "$sys" "$app" "${value:-0}" >>"$results"
      printf '  rep %d  %-16s %-5s %12s %s\n' "$rep" "$sys" "$app" "${value:-FAILED}" "$errors"
    done
  done
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
data = {}
for rep, sys_, app, v in rows:
    data.setdefault(app, {}).setdefault(sys_, []).append(float(v))
units = {"http": "requests/s (wrk)", "echo": "round trips/s (64 B ping-pong)"}
for app, by_sys in data.items():
    asio = [s for s in by_sys if s.startswith("asio")]
    best_asio = max((max(by_sys[s]) for s in asio), default=None)
    med_asio = max((statistics.median(by_sys[s]) for s in asio), default=None)
    print(f"\n{app}: {units.get(app, '')}")
    print(f"| system | best | median | worst | best / best Asio | median / best Asio median |")
    print(f"| --- | ---: | ---: | ---: | ---: | ---: |")
    for s, vs in by_sys.items():
        b, m, w = max(vs), statistics.median(vs), min(vs)
        rb = f"{b / best_asio:.2f}" if best_asio else "-"
        rm = f"{m / med_asio:.2f}" if med_asio else "-"
        print(f"| {s} | {b:,.0f} | {m:,.0f} | {w:,.0f} | {rb} | {rm} |")
PY
