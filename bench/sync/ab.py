#!/usr/bin/env python3
"""Two builds' sync_bench, interleaved: which one is faster, cell by cell.

    python3 bench/sync/ab.py [-r REPS] FILTER OLD/sync_bench NEW/sync_bench

Runs each binary with --benchmark_filter=FILTER, REPS times (default 5), alternating which goes
first (A B, B A, ...), so that a slow spell of the machine hits both alike; prints per benchmark
the best and median items per second of each, and new / old for both (above 1: the new build is
faster).
"""
import argparse
import json
import statistics
import subprocess


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-r", "--reps", type=int, default=5)
    ap.add_argument("filter")
    ap.add_argument("old")
    ap.add_argument("new")
    args = ap.parse_args()
    bins = [args.old, args.new]
    rates = [{}, {}]  # per build (by position: the two may be the same path), name -> items/s
    for r in range(args.reps):
        for i in (0, 1) if r % 2 == 0 else (1, 0):
            out = subprocess.run([bins[i], f"--benchmark_filter={args.filter}", "--benchmark_format=json"],
                                 capture_output=True, text=True, check=True).stdout
            for bm in json.loads(out)["benchmarks"]:
                rates[i].setdefault(bm["name"], []).append(bm["items_per_second"])
    print("| benchmark | old best / median | new best / median | new / old, best / median |")
    print("| --- | ---: | ---: | ---: |")
    for name in sorted(rates[0]):
        old, new = rates[0][name], rates[1].get(name)
        if not new:
            continue
        ob, om, nb, nm = max(old), statistics.median(old), max(new), statistics.median(new)
        short = name.replace("/min_time:0.100", "").replace("/real_time", "")
        print(f"| {short} | {ob / 1e6:.2f}M / {om / 1e6:.2f}M | {nb / 1e6:.2f}M / {nm / 1e6:.2f}M | "
              f"{nb / ob:.2f} / {nm / om:.2f} |")


if __name__ == "__main__":
    main()
