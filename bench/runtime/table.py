#!/usr/bin/env python3
"""Prints runtime_bench's comparison table from its Google Benchmark JSON output.

    python3 bench/runtime/table.py build-bench/runtime_bench.json

Benchmarks are named <workload>/<system>/threads:<N>/n:<size> (workloads.hpp). Each
repetition is one sample; the table shows, per workload, threads and system, the median and
the best (lowest) time per iteration, the cost per unit (fib call, skynet leaf, nqueens
placement, yield, spawned task), and weft's ratio to each other system (below 1: weft is
faster). Ratios compare cost per unit, so they also hold where a slow peer ran a smaller size
(marked *). Then the issue's targets, with weft's standing against each.

Standard library only.
"""

import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from gbench_table import Samples, fmt_ns, fmt_ratio, main, real_time_ns, repetitions  # noqa: E402

NAME = re.compile(r"^(?P<workload>[^/]+)/(?P<system>[^/]+)/threads:(?P<threads>\d+)/n:(?P<n>\d+)")
WORKLOADS = ["fib", "skynet", "nqueens", "yield", "external"]
SYSTEMS = ["weft", "weft_nometrics", "serial", "tbb", "fibers", "asio"]
UNITS = {"fib": "call", "skynet": "leaf", "nqueens": "placement", "yield": "yield", "external": "task"}

# (workload, label, weft ÷ TBB at most)
TARGETS = [("fib", "fib(30)", 0.45), ("skynet", "skynet(1M)", 0.90), ("nqueens", "nqueens(11)", 0.95)]
SPEEDUP_TARGET = 1.9


class Result(Samples):
    """Samples: ms per iteration (the whole workload)."""

    def __init__(self, n):
        super().__init__(n)
        self.units = None

    @property
    def times_ms(self):
        return self.samples

    def ns_per_unit(self, ms):
        return ms * 1e6 / self.units if self.units else float("nan")


def load(path):
    context, runs = repetitions(path)
    results = {}
    for b in runs:
        m = NAME.match(b.get("run_name") or b["name"])
        if not m:
            continue
        key = (m["workload"], m["system"], int(m["threads"]))
        r = results.setdefault(key, Result(int(m["n"])))
        if b.get("error_occurred"):
            r.errors.append(b.get("error_message", "error"))
            continue
        r.times_ms.append(real_time_ns(b) * 1e-6)
        if "tasks" in b:
            r.units = b["tasks"]
    return context, results


def fmt_ms(v):
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def fmt_ratio3(v):
    return "-" if v is None else f"{v:.3f}"


def ratios(weft, other):
    """weft's cost per unit ÷ the other's (median, best); None where either is missing."""
    if not weft or not other or not weft.times_ms or not other.times_ms:
        return None, None
    med = weft.ns_per_unit(weft.median()) / other.ns_per_unit(other.median())
    best = weft.ns_per_unit(weft.best()) / other.ns_per_unit(other.best())
    return med, best


def print_table(context, results):
    reps = max((len(r.times_ms) + len(r.errors) for r in results.values()), default=0)
    print(f"runtime_bench: {reps} repetitions per benchmark, interleaved at random; "
          f"{context.get('num_cpus', '?')} CPUs; load average at start "
          f"{', '.join(f'{x:.2f}' for x in context.get('load_avg', [])) or '?'}")
    load = context.get("load_avg", [])
    if load and load[0] > 0.5 * max(1, context.get("num_cpus", 1)):
        print("warning: the machine was already busy when the run started (load average above"
              " half the CPUs): other work competed with these benchmarks")
    print("times are wall-clock per iteration (one whole workload); ns/unit = time ÷ units; "
          "weft÷X < 1 means weft is faster; * = smaller size than weft's, compared per unit")
    print()
    header = (f"{'workload':<9}{'thr':>4}  {'system':<15}{'n':>8}  {'median ms':>10}{'best ms':>10}"
              f"{'spread':>8}  {'ns/unit med':>12}{'best':>9}  {'weft÷X med':>11}{'best':>7}")
    print(header)
    print("-" * len(header))
    workloads = [w for w in WORKLOADS if any(k[0] == w for k in results)]
    workloads += sorted({k[0] for k in results} - set(workloads))
    for w in workloads:
        threads = sorted({k[2] for k in results if k[0] == w})
        for t in threads:
            weft = results.get((w, "weft", t))
            systems = [s for s in SYSTEMS if (w, s, t) in results]
            systems += sorted({k[1] for k in results if k[0] == w and k[2] == t} - set(systems))
            for s in systems:
                r = results[(w, s, t)]
                size = f"{r.n}{'*' if weft and r.n != weft.n else ''}"
                if not r.times_ms:
                    print(f"{w:<9}{t:>4}  {s:<15}{size:>8}  ERROR: {'; '.join(sorted(set(r.errors)))}")
                    continue
                med, best = (None, None) if s == "weft" else ratios(weft, r)
                line = (f"{w:<9}{t:>4}  {s:<15}{size:>8}  {fmt_ms(r.median()):>10}{fmt_ms(r.best()):>10}"
                        f"{r.worst() / r.best():>7.2f}x  {fmt_ns(r.ns_per_unit(r.median())):>12}"
                        f"{fmt_ns(r.ns_per_unit(r.best())):>9}  {fmt_ratio(med):>11}{fmt_ratio(best):>7}")
                if r.errors:
                    line += f"  ({len(r.errors)} failed: {'; '.join(sorted(set(r.errors)))})"
                print(line)
        print()
    print("units: " + ", ".join(f"{w}: ns per {u}" for w, u in UNITS.items())
          + "; spread = worst ÷ best repetition")
    print()


def print_targets(results):
    print("Targets (from the issue)                  median    best   target  standing")
    print("-" * 78)

    def standing(med, best, ok):
        if med is None:
            return "not measured"
        if ok(med):
            return "met"
        return "met at best only" if ok(best) else "missed"

    for w, label, limit in TARGETS:
        for t in sorted({k[2] for k in results if k[0] == w and k[1] == "weft"}):
            med, best = ratios(results.get((w, "weft", t)), results.get((w, "tbb", t)))
            name = f"{label} weft÷TBB, {t} worker{'s' if t > 1 else ''}"
            print(f"{name:<40}{fmt_ratio3(med):>8}{fmt_ratio3(best):>8}  <= {limit:.2f}  "
                  f"{standing(med, best, lambda v: v <= limit)}")
    one, two = results.get(("fib", "weft", 1)), results.get(("fib", "weft", 2))
    if one and two and one.times_ms and two.times_ms:
        med, best = one.median() / two.median(), one.best() / two.best()
        print(f"{'fib(30) weft speedup, 2 vs 1 worker':<40}{med:>8.3f}{best:>8.3f}  >= {SPEEDUP_TARGET:.2f}  "
              f"{standing(med, best, lambda v: v >= SPEEDUP_TARGET)}")
    print()
    print("Cost of the timing histograms (fib, weft with timing_metrics on ÷ off; 1.00 = free)")
    for t in sorted({k[2] for k in results if k[:2] == ("fib", "weft_nometrics")}):
        on, off = results.get(("fib", "weft", t)), results.get(("fib", "weft_nometrics", t))
        if on and off and on.times_ms and off.times_ms:
            print(f"  {t} worker{'s' if t > 1 else ' '}: median {on.median() / off.median():.2f}, "
                  f"best {on.best() / off.best():.2f}")


def print_all(context, results):
    print_table(context, results)
    print_targets(results)


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, "runtime_bench", load, print_all))
