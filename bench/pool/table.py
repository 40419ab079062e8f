#!/usr/bin/env python3
"""The table of pool_store_bench (bench/pool/store_bench.cpp): microseconds per job, median and
best over the repetitions, for the pool in memory and on an sqlite_store, and the store's cost
per job (sqlite minus memory at the same number of submitters).

Usage: table.py <pool_store_bench JSON output>
Standard library only.
"""

import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import gbench_table as g  # noqa: E402

NAME = re.compile(r"store/(?P<system>[a-z_]+)/submitters:(?P<submitters>\d+)/n:(?P<n>\d+)")


def load(path):
    context, runs = g.repetitions(path)
    results = {}
    for r in runs:
        m = NAME.match(r["name"])
        if not m:
            continue
        key = (m["system"], int(m["submitters"]))
        if key not in results:
            results[key] = g.Samples(int(m["n"]))
            results[key].writes = []  # writes per commit, per repetition
        s = results[key]
        if r.get("error_occurred"):
            s.errors.append(r.get("error_message", "error"))
            continue
        s.samples.append(g.real_time_ns(r) / s.n / 1e3)  # us per job
        if "writes_per_commit" in r:
            s.writes.append(r["writes_per_commit"])
    return context, results


def print_all(context, results):
    print(f"{'system':<14} {'submitters':>10} {'n':>7}   {'us/job med':>10} {'best':>8} {'spread':>7}"
          f"   {'store cost us/job med':>21} {'best':>6}   {'writes/commit':>13}")
    for (system, submitters), s in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        if s.errors or not s.samples:
            print(f"{system:<14} {submitters:>10} {s.n:>7}   failed: {'; '.join(s.errors)}")
            continue
        cost_med = cost_best = "-"
        mem = results.get(("memory", submitters))
        if system != "memory" and mem and mem.samples:
            cost_med = f"{s.median() - mem.median():.1f}"
            cost_best = f"{s.best() - mem.best():.1f}"
        wpc = f"{statistics.median(s.writes):.1f}" if s.writes else "-"
        print(f"{system:<14} {submitters:>10} {s.n:>7}   {s.median():>10.2f} {s.best():>8.2f} {s.spread():>6.2f}x"
              f"   {cost_med:>21} {cost_best:>6}   {wpc:>13}")
    load_avg = context.get("load_avg")
    if load_avg:
        print(f"\nload average at the start: {', '.join(f'{x:.2f}' for x in load_avg)} "
              f"({context.get('num_cpus', '?')} CPUs)")


if __name__ == "__main__":
    sys.exit(g.main(sys.argv, __doc__, "pool_store_bench", load, print_all))
