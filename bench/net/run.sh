#!/usr/bin/env bash
# The network benchmark in one command: builds net_server and echo_client (release, clang-19),
# runs a matrix of cells on 127.0.0.1 and prints one table per app and load
# (bench/net/table.py; bench/net/README.md says how to read it).
#
#   bench/net/run.sh                    the whole matrix, 3 repetitions of 3 s (about 10 minutes)
#   bench/net/run.sh -a echo -l 1 -t 1  echo at one connection, one server thread only
#
# A cell is app x load x server threads x placement; each runs every system:
#   app        http: the http_hello server driven by `wrk --latency` (requests/s)
#              echo: the echo server driven by echo_client, 64-byte ping-pong (round trips/s)
#   load       connections: wrk -c50 and -c200 for http, 1 and 50 echo_client connections
#   threads    server threads (weft workers, Asio threads): 1 and 2
#   placement  free:   no affinity, the kernel places everything
#              pinned: the client on cpu 0. With fewer server threads than cpus, the server
#                      gets cpus 1..threads to itself, serving thread i on cpu i+1 (its other
#                      threads, e.g. weft's reactor and monitor, share those). With as many
#                      threads as cpus (2 on a 2-core machine) nothing can be kept apart: the
#                      server may use every cpu, serving thread i sits on cpu i+1, the last on
#                      cpu 0 beside the client, and the other threads are left free.
#   system     weft, asio-shared, asio-per-thread, and any -e extra (weft-per-worker with -s)
# Repetitions are interleaved: repetition r runs every cell, and in each cell the systems in an
# order rotated by r, so that a slow spell of the machine hits all systems of a cell alike.
# Each run measures on the server process, over the middle of the run (after 0.5 s, for the
# duration less 1 s), its context switches (`perf stat -e context-switches -p`, and the sum of
# voluntary + nonvoluntary switches in /proc/<pid>/task/*/status, which is what the table uses
# when perf does not work) and its CPU time, each divided by the client's operations.
#
# Options (L: comma-separated list):
#   -r N   repetitions (default 3)                -d S   seconds per run, at least 2 (default 3)
#   -a L   apps (default http,echo)               -l L   connections for every app chosen
#                                                        (default: http 50,200; echo 1,50)
#   -t L   server threads (default 1,2)           -p L   placements (default free,pinned)
#   -s L   systems (default weft,asio-shared,asio-per-thread)
#   -e L=B an extra system L: the weft server of another build's net_server binary B (to compare
#          designs side by side; repeatable), e.g. -e weft-proto=/tmp/proto/build/bench/net/net_server
#   -W N   wrk threads (default: one per cpu the client may use: all when free, 1 when pinned)
#   -b DIR build directory (default build-bench in the repository); raw numbers go to
#          DIR/net_bench.tsv, and `python3 bench/net/table.py DIR/net_bench.tsv` reprints the table
source "$(dirname "$0")/../../tools/common.sh"

reps=3 duration=3 apps="http,echo" loads="" thread_counts="1,2" placements="free,pinned"
systems="weft,asio-shared,asio-per-thread" wrk_threads=""
build_dir="$WEFT_ROOT/build-bench"
usage() { sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; }
declare -A extra=()
extra_names=""
while getopts "r:d:a:l:t:p:s:e:W:b:h" opt; do
  case "$opt" in
    r) reps=$OPTARG ;; d) duration=$OPTARG ;; a) apps=$OPTARG ;; l) loads=$OPTARG ;;
    t) thread_counts=$OPTARG ;; p) placements=$OPTARG ;; s) systems=$OPTARG ;;
    e) extra[${OPTARG%%=*}]=${OPTARG#*=}; extra_names+=",${OPTARG%%=*}" ;;
    W) wrk_threads=$OPTARG ;; b) build_dir=$OPTARG ;;
    h) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
systems+=$extra_names
if awk -v d="$duration" 'BEGIN { exit !(d < 2) }'; then echo "bench/net: -d must be at least 2 s" >&2; exit 2; fi

weft_install_packages
weft_configure "$build_dir" release
weft_build "$build_dir" bench/net/net_server bench/net/echo_client
server_bin="$build_dir/bench/net/net_server"
client_bin="$build_dir/bench/net/echo_client"

IFS=, read -r -a system_list <<<"$systems"
IFS=, read -r -a app_list <<<"$apps"
IFS=, read -r -a thread_list <<<"$thread_counts"
IFS=, read -r -a placement_list <<<"$placements"
ncpu=$(nproc)
clk_tck=$(getconf CLK_TCK)
# The server is measured over [skip, skip + window] of each run: past wrk's connection setup and
# echo_client's warm-up, and ending before the client stops.
skip=0.5
window=$(awk -v d="$duration" 'BEGIN { print d - 1 }')

# perf when it works (it needs the kernel's perf events; in some VMs only software events like
# context-switches are there, which is all this needs); otherwise /proc alone.
if perf stat -e context-switches true >/dev/null 2>&1; then ctx_method=perf; else ctx_method=proc; fi

results="$build_dir/net_bench.tsv"
tmp=$(mktemp -d)
server_pid="" load_pid=""
cleanup() {
  for p in $load_pid $server_pid; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# cell list: "app conns threads placement", in the order they run within a repetition.
cells=()
for app in "${app_list[@]}"; do
  case "$app" in http) app_loads=${loads:-50,200} ;; echo) app_loads=${loads:-1,50} ;;
    *) echo "bench/net: unknown app '$app' (http, echo)" >&2; exit 2 ;; esac
  IFS=, read -r -a load_list <<<"$app_loads"
  for c in "${load_list[@]}"; do
    for t in "${thread_list[@]}"; do
      for p in "${placement_list[@]}"; do
        case "$p" in free | pinned) ;; *) echo "bench/net: unknown placement '$p' (free, pinned)" >&2; exit 2 ;; esac
        cells+=("$app $c $t $p")
      done
    done
  done
done

# server_cpus <threads>: the cpus of a pinned server, serving thread i on the i-th (modulo).
server_cpus() {
  local t=$1 cpus=() i
  if ((t < ncpu)); then
    for ((i = 1; i <= t; i++)); do cpus+=("$i"); done
  else
    for ((i = 1; i < ncpu; i++)); do cpus+=("$i"); done
    cpus+=(0)  # the client's cpu last
  fi
  (IFS=,; echo "${cpus[*]}")
}

# pin_serving_threads <kind> <threads> <cpus>: weft's serving threads are its workers (named
# <runtime name>-w<index>); an Asio server's are all its threads but the main one, which only
# waits for the stop signal. Asio starts them after announcing the port, so wait for them.
pin_serving_threads() {
  local kind=$1 t=$2 tids=() d comm i
  local -a cpus
  IFS=, read -r -a cpus <<<"$3"
  for _ in $(seq 1 200); do
    tids=()
    for d in /proc/"$server_pid"/task/*; do
      comm=$(cat "$d/comm" 2>/dev/null) || continue
      if [ "$kind" = weft ]; then
        [[ $comm =~ -w[0-9]+$ ]] && tids+=("${d##*/}")
      elif [ "${d##*/}" != "$server_pid" ]; then
        tids+=("${d##*/}")
      fi
    done
    ((${#tids[@]} >= t)) && break
    sleep 0.01
  done
  if ((${#tids[@]} < t)); then echo "bench/net: found ${#tids[@]} of the server's $t threads; pinned what there is" >&2; fi
  ((${#tids[@]})) || return 0
  mapfile -t tids < <(printf '%s\n' "${tids[@]}" | sort -n)
  for ((i = 0; i < ${#tids[@]}; i++)); do
    taskset -p -c "${cpus[$((i % ${#cpus[@]}))]}" "${tids[$i]}" >/dev/null
  done
}

# start_server <system> <app> <threads> <placement>: starts it, sets server_pid and port.
start_server() {
  local bin=$server_bin sys=$1 cpu_list=""
  if [ -n "${extra[$1]:-}" ]; then bin=${extra[$1]}; sys=weft; fi
  local prefix=()
  if [ "$4" = pinned ]; then
    cpu_list=$(server_cpus "$3")
    prefix=(taskset -c "$cpu_list")  # the process's affinity, inherited by every thread it starts
  fi
  # A fresh file: otherwise the loop below may read the previous server's port before the new
  # server's redirection truncates it.
  rm -f "$tmp/out"
  "${prefix[@]}" "$bin" --system "$sys" --app "$2" --port 0 --threads "$3" >"$tmp/out" 2>"$tmp/err" &
  server_pid=$!
  port=""
  for _ in $(seq 1 500); do
    port=$(sed -n 's/^listening on //p' "$tmp/out" 2>/dev/null || true)  # the file may not exist yet
    [ -n "$port" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.01
  done
  if [ -z "$port" ]; then echo "bench/net: $1 did not start: $(cat "$tmp/err")" >&2; exit 1; fi
  if [ "$4" = pinned ]; then pin_serving_threads "$(case $sys in weft*) echo weft ;; *) echo asio ;; esac)" "$3" "$cpu_list"; fi
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# Server-side counters, summed over all its threads: context switches, CPU ticks (user + system;
# the fields after the parenthesised name, so a name with spaces cannot shift them).
proc_ctx() { { cat /proc/"$server_pid"/task/*/status 2>/dev/null || true; } | awk '/^(non)?voluntary_ctxt_switches/ { s += $2 } END { print s + 0 }'; }
proc_cpu() { { sed 's/.*) //' /proc/"$server_pid"/stat 2>/dev/null || true; } | awk '{ print $12 + $13 } END { if (!NR) print 0 }'; }

# run_one <app> <conns> <threads> <placement> <system>: one run; appends a line to $results.
run_one() {
  local app=$1 conns=$2 t=$3 place=$4 sys=$5
  local client=() wt
  if [ "$place" = pinned ]; then client=(taskset -c 0); wt=${wrk_threads:-1}; else wt=${wrk_threads:-$ncpu}; fi
  ((wt > conns)) && wt=$conns  # wrk needs a connection per thread
  start_server "$sys" "$app" "$t" "$place"
  case "$app" in
    http) "${client[@]}" wrk -t"$wt" -c"$conns" -d"${duration}s" --latency "http://127.0.0.1:$port/" >"$tmp/load" 2>&1 & ;;
    echo) "${client[@]}" "$client_bin" --port "$port" --seconds "$duration" --connections "$conns" --warmup "$skip" >"$tmp/load" 2>&1 & ;;
  esac
  load_pid=$!
  sleep "$skip"
  local ctx0 cpu0 t0 ctx1 cpu1 t1 perf_ctx=""
  ctx0=$(proc_ctx) cpu0=$(proc_cpu) t0=$EPOCHREALTIME
  if [ "$ctx_method" = perf ]; then
    perf stat -e context-switches -x, -o "$tmp/perf" -p "$server_pid" -- sleep "$window" >/dev/null 2>&1 || true
    perf_ctx=$(awk -F, '$3 == "context-switches" && $1 ~ /^[0-9]+$/ { print $1 }' "$tmp/perf" 2>/dev/null)
  else
    sleep "$window"
  fi
  ctx1=$(proc_ctx) cpu1=$(proc_cpu) t1=$EPOCHREALTIME
  wait "$load_pid" || true
  load_pid=""
  local errors=""
  kill -0 "$server_pid" 2>/dev/null || errors="server died: $(tr '\n' ' ' <"$tmp/err")"
  stop_server

  local ops p50 p99
  case "$app" in
    http)
      # wrk prints latencies as 1.23ms, 456.78us, 1.02s.
      read -r ops p50 p99 < <(awk '
        function us(v,  n) { n = v + 0; if (v ~ /us$/) return n; if (v ~ /ms$/) return n * 1e3; if (v ~ /m$/) return n * 6e7; return n * 1e6 }
        /^Requests\/sec:/ { ops = $2 } $1 == "50%" { p50 = us($2) } $1 == "99%" { p99 = us($2) }
        END { print (ops ? ops : 0), (p50 ? p50 : "-"), (p99 ? p99 : "-") }' "$tmp/load")
      errors+=$(awk '/Non-2xx|Socket errors|unable to connect/' "$tmp/load" | tr '\n' ' ')
      ;;
    echo)
      read -r ops p50 p99 < <(awk '$1 == "round_trips_per_s" { print $2, $4, $6; found = 1 } END { if (!found) print 0, "-", "-" }' "$tmp/load")
      errors+=$({ grep -v '^round_trips_per_s' "$tmp/load" || true; } | tr '\n' ' ')
      ;;
  esac
  # Per operation: the server's rate over the measured window divided by the client's rate.
  local per_op
  per_op=$(awk -v ops="$ops" -v pc="${perf_ctx:--}" -v c0="$ctx0" -v c1="$ctx1" -v u0="$cpu0" -v u1="$cpu1" \
               -v t0="$t0" -v t1="$t1" -v w="$window" -v tck="$clk_tck" 'BEGIN {
    if (ops <= 0 || t1 <= t0) { print "-", "-", "-"; exit }
    printf "%s %.3f %.2f\n", (pc == "-" ? "-" : sprintf("%.3f", pc / w / ops)),
           (c1 - c0) / (t1 - t0) / ops, (u1 - u0) / tck / (t1 - t0) / ops * 1e6 }')
  local ctx_perf ctx_proc cpu_us
  read -r ctx_perf ctx_proc cpu_us <<<"$per_op"
  local ctx_shown=$ctx_perf
  [ "$ctx_shown" != - ] || ctx_shown=$ctx_proc
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$app" "$conns" "$t" "$place" "$sys" \
    "$ops" "$p50" "$p99" "$ctx_perf" "$ctx_proc" "$cpu_us" "$errors" >>"$results"
  printf '  rep %d/%d  %-4s c%-4s %s thr %-6s %-16s %12.0f/s  p99 %8s us  ctx/op %6s  cpu %6s us/op %s\n' \
    "$rep" "$reps" "$app" "$conns" "$t" "$place" "$sys" "$ops" "$p99" "$ctx_shown" "$cpu_us" "$errors"
}

load_average() { cut -d' ' -f1-3 /proc/loadavg; }
runs=$((reps * ${#cells[@]} * ${#system_list[@]}))
{
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  dirty=""
  [ -z "$(git -C "$WEFT_ROOT" status --porcelain 2>/dev/null)" ] || dirty=" (plus uncommitted changes)"
  echo "# commit: $(git -C "$WEFT_ROOT" log -1 --oneline 2>/dev/null | cut -c1-100)$dirty"
  echo "# command: bench/net/run.sh $*"
  echo "# setup: $reps repetitions x ${duration}s; $ncpu cpus; context switches from $ctx_method"
  echo "# load average before: $(load_average)"
  printf '# columns: rep\tapp\tconns\tthreads\tplacement\tsystem\tops_per_s\tp50_us\tp99_us\tctx_perf_per_op\tctx_proc_per_op\tcpu_us_per_op\terrors\n'
} >"$results"
echo "bench/net: $runs runs ($reps repetitions x ${#cells[@]} cells x ${#system_list[@]} systems) of ${duration}s," \
     "about $((runs * (duration + 1) / 60 + 1)) minutes; $ncpu cpus; context switches from $ctx_method;" \
     "load average $(load_average)"
n=${#system_list[@]}
for ((rep = 1; rep <= reps; rep++)); do
  for cell in "${cells[@]}"; do
    read -r app conns t place <<<"$cell"
    for ((k = 0; k < n; k++)); do
      run_one "$app" "$conns" "$t" "$place" "${system_list[$(((k + rep - 1) % n))]}"
    done
  done
done
echo "# load average after: $(load_average)" >>"$results"

python3 "$(dirname "$0")/table.py" "$results"
