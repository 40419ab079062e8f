#!/bin/bash
# Instructions per HTTP request of one net_server system, by callgrind (every thread of the
# server): wrk -t1 -c<conns> warms the server up for 3 s, callgrind's counters are zeroed, wrk runs
# for 10 s more, the counters are dumped, and their total is divided by wrk's requests.
#
#   bench/net/callgrind_per_request.sh [-b build dir] [-c connections] [-p port] SYSTEM...
#
# SYSTEM is a net_server --system (weft, weft-per-worker, asio-shared, asio-per-thread); one
# server thread. Needs valgrind (an analysis tool, not in tools/common.sh's list) and wrk. About
# 40 s per system.
set -euo pipefail
build=build conns=50 port=18090
while getopts "b:c:p:" o; do
  case $o in
    b) build=$OPTARG ;;
    c) conns=$OPTARG ;;
    p) port=$OPTARG ;;
    *) sed -n 2,10p "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
server=$build/bench/net/net_server
[ -x "$server" ] || { echo "no $server: build it first (ninja -C $build bench/net/net_server)" >&2; exit 1; }
for tool in valgrind callgrind_control wrk; do
  command -v "$tool" > /dev/null || { echo "needs $tool (Debian: apt-get install valgrind wrk)" >&2; exit 1; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for sys in "$@"; do
  valgrind --tool=callgrind --callgrind-out-file="$work/$sys.out" \
    "$server" --system "$sys" --app http --port "$port" --threads 1 > "$work/$sys.log" 2>&1 &
  vg=$!
  for _ in $(seq 1 150); do (echo > "/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.2; done
  wrk -t1 -c"$conns" -d3s "http://127.0.0.1:$port/" > /dev/null
  callgrind_control -z "$vg" > /dev/null 2>&1
  wrk -t1 -c"$conns" -d10s "http://127.0.0.1:$port/" > "$work/$sys.wrk"
  callgrind_control -d "$vg" > /dev/null 2>&1
  kill -TERM "$vg"
  wait "$vg" 2> /dev/null || true
  requests=$(awk '/requests in/ {print $1}' "$work/$sys.wrk")
  dump=$(ls "$work/$sys.out".* | head -1)
  ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
  printf '%-16s requests %8d  instructions %12d  per request %6d\n' "$sys" "$requests" "$ir" $((ir / requests))
  port=$((port + 1))
done
