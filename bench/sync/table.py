#!/usr/bin/env python3
"""Prints sync_bench's comparison tables from its Google Benchmark JSON output.

    python3 bench/sync/table.py build-bench/sync_bench.json

Benchmarks are named <workload>/<system>/threads:<N>[/producers:<P>/capacity:<C>]/n:<size>
(bench/sync/workloads.hpp). Each repetition is one sample; the tables show the median and the
best (lowest) cost per unit (ns per message, per round trip, per job), the spread (worst ÷ best
repetition), `cross` (the fraction of messages received on another thread than the one that
sent them), weft's steals per iteration, and weft's ratio to each other system (below 1: weft
is faster). Ratios compare cost per unit, so they also hold where a peer ran a smaller size
(marked *). Then the issue's ping-pong targets, with weft's standing against each, and the
job pool's overhead over bare spawn + join.

Adapted from bench/runtime/table.py. Standard library only.
"""

import os
import re
import statistics
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from gbench_table import Samples, fmt_ns, fmt_ratio, main, real_time_ns, repetitions  # noqa: E402

NAME = re.compile(r"^(?P<workload>[^/]+)/(?P<system>[^/]+)/threads:(?P<threads>\d+)(?P<rest>(?:/[a-z_]+:\d+)*)")
ARG = re.compile(r"/([a-z_]+):(\d+)")
SYSTEMS = ["weft", "weft_named", "fibers", "asio", "pool", "spawn"]

# Ping-pong, ns per round trip at most, by weft workers (the targets), and what the
# issue measured for the others on this machine (1 thread, 2 threads).
PINGPONG_TARGETS = {1: 100, 2: 250}
PINGPONG_REFERENCE = [("TooManyCooks", 100, 2100), ("Go", 194, 203), ("Boost.Fiber", 242, 2500),
                      ("Asio", 519, 2600)]


class Result(Samples):
    """Samples: ns per unit."""

    def __init__(self, n):
        super().__init__(n)
        self.counters = {}  # name -> one value per repetition

    @property
    def ns(self):
        return self.samples

    def counter(self, name):
        v = self.counters.get(name)
        return statistics.median(v) if v else None


def load(path):
    context, runs = repetitions(path)
    results = {}
    for b in runs:
        m = NAME.match(b.get("run_name") or b["name"])
        if not m:
            continue
        args = {k: int(v) for k, v in ARG.findall(m["rest"])}
        key = (m["workload"], int(args.get("producers", 0)), int(args.get("capacity", 0)), int(m["threads"]),
               m["system"])
        r = results.setdefault(key, Result(args.get("n", 0)))
        if b.get("error_occurred"):
            r.errors.append(b.get("error_message", "error"))
            continue
        units = b.get("units") or r.n or 1
        r.ns.append(real_time_ns(b) / units)
        for c in ("cross", "steals", "parks"):
            if c in b:
                r.counters.setdefault(c, []).append(b[c])
    return context, results


def fmt_counter(v, digits=2):
    return "-" if v is None else (f"{v:.{digits}f}" if v < 1000 else f"{v:.0f}")


def ratios(weft, other):
    """weft's cost per unit ÷ the other's (median, best); None where either is missing."""
    if not weft or not other or not weft.ns or not other.ns:
        return None, None
    return weft.median() / other.median(), weft.best() / other.best()


def systems_of(results, prefix):
    found = {k[4] for k in results if k[:4] == prefix}
    return [s for s in SYSTEMS if s in found] + sorted(found - set(SYSTEMS))


def print_header(context, results):
    reps = max((len(r.ns) + len(r.errors) for r in results.values()), default=0)
    load = context.get("load_avg", [])
    print(f"sync_bench: {reps} repetitions per benchmark, interleaved at random; "
          f"{context.get('num_cpus', '?')} CPUs; load average at start "
          f"{', '.join(f'{x:.2f}' for x in load) or '?'}")
    if load and load[0] > 0.5 * max(1, context.get("num_cpus", 1)):
        print("warning: the machine was already busy when the run started (load average above"
              " half the CPUs): other work competed with these benchmarks")
    print("ns/unit: median and best over the repetitions; spread = worst ÷ best; cross = fraction of"
          " messages received on another thread than their sender's; weft÷X < 1: weft is faster;"
          " * = smaller size than weft's, compared per unit")
    print()


def print_rows(results, keys_label, groups, unit_label, with_steals):
    header = (f"{keys_label}{'thr':>4}  {'system':<11}{'n':>9}  {unit_label + ' med':>12}{'best':>8}{'spread':>8}"
              f"{'cross':>7}{'steals':>8}  {'weft÷X med':>11}{'best':>7}")
    print(header)
    print("-" * len(header))
    for prefix, label in groups:
        weft = results.get(prefix + ("weft",))
        for s in systems_of(results, prefix):
            r = results[prefix + (s,)]
            size = f"{r.n}{'*' if weft and s != 'weft' and r.n != weft.n else ''}"
            head = f"{label}{prefix[3]:>4}  {s:<11}{size:>9}  "
            if not r.ns:
                print(f"{head}ERROR: {'; '.join(sorted(set(r.errors)))}")
                continue
            med, best = (None, None) if s == "weft" or not weft else ratios(weft, r)
            steals = r.counter("steals") if with_steals else None
            line = (f"{head}{fmt_ns(r.median()):>12}{fmt_ns(r.best()):>8}{r.spread():>7.2f}x"
                    f"{fmt_counter(r.counter('cross')):>7}{fmt_counter(steals, 0):>8}  "
                    f"{fmt_ratio(med):>11}{fmt_ratio(best):>7}")
            if r.errors:
                line += f"  ({len(r.errors)} failed: {'; '.join(sorted(set(r.errors)))})"
            print(line)
        print()


def print_channel(results):
    keys = sorted({k[:4] for k in results if k[0] == "channel"}, key=lambda k: (k[1], k[2], k[3]))
    if not keys:
        return
    print("Channel throughput: ns per message; P producers send n messages in all to P consumers"
          " through one channel of capacity C")
    print()
    print_rows(results, f"{'P':>2}{'C':>6}", [(k, f"{k[1]:>2}{k[2]:>6}") for k in keys], "ns/msg", True)


def print_pingpong(results):
    keys = sorted({k[:4] for k in results if k[0] == "pingpong"}, key=lambda k: k[3])
    if not keys:
        return
    print("Ping-pong: ns per round trip; two tasks, two channels of one slot each")
    print()
    print_rows(results, "", [(k, "") for k in keys], "ns/rt", True)

    def standing(r, limit):
        if not r or not r.ns:
            return "not measured"
        if r.median() <= limit:
            return "met"
        return "met at best only" if r.best() <= limit else "missed"

    print("Targets (from the issue)                    median     best   target  standing")
    print("-" * 80)
    for t, limit in PINGPONG_TARGETS.items():
        r = results.get(("pingpong", 0, 0, t, "weft"))
        med, best = (fmt_ns(r.median()), fmt_ns(r.best())) if r and r.ns else ("-", "-")
        name = f"weft ping-pong, {t} worker{'s' if t > 1 else ''} (ns/round trip)"
        print(f"{name:<42}{med:>8}{best:>9}  <= {limit:<5}{standing(r, limit)}")
    print("the issue's measurements on this machine, ns per round trip (1 thread / 2 threads): "
          + ", ".join(f"{n} {a} / {b}" for n, a, b in PINGPONG_REFERENCE))
    print()


def print_jobs(results):
    keys = sorted({k[:4] for k in results if k[0] == "jobs"}, key=lambda k: k[3])
    if not keys:
        return
    print("Jobs: ns per job, submit to completion; the same trivial processor through a job_pool"
          " (co_await submit, then stop) or spawned and joined (at most 1024 outstanding)")
    print()
    header = (f"{'thr':>3}  {'system':<8}{'n':>8}  {'ns/job med':>11}{'best':>8}{'spread':>8}{'cross':>7}"
              f"{'steals':>8}")
    print(header)
    print("-" * len(header))
    for k in keys:
        for s in systems_of(results, k):
            r = results[k + (s,)]
            if not r.ns:
                print(f"{k[3]:>3}  {s:<8}{r.n:>8}  ERROR: {'; '.join(sorted(set(r.errors)))}")
                continue
            print(f"{k[3]:>3}  {s:<8}{r.n:>8}  {fmt_ns(r.median()):>11}{fmt_ns(r.best()):>8}{r.spread():>7.2f}x"
                  f"{fmt_counter(r.counter('cross')):>7}{fmt_counter(r.counter('steals'), 0):>8}")
    print()
    for k in keys:
        pool, spawn = results.get(k + ("pool",)), results.get(k + ("spawn",))
        if pool and spawn and pool.ns and spawn.ns:
            print(f"job_pool overhead, {k[3]} worker{'s' if k[3] > 1 else ' '}: "
                  f"{fmt_ns(pool.median() - spawn.median())} ns per job over spawn + join (median), "
                  f"{fmt_ns(pool.best() - spawn.best())} (best); pool ÷ spawn {pool.median() / spawn.median():.2f}"
                  f" (median), {pool.best() / spawn.best():.2f} (best)")
    print()


def print_all(context, results):
    print_header(context, results)
    print_channel(results)
    print_pingpong(results)
    print_jobs(results)


if __name__ == "__main__":
    sys.exit(main(sys.argv, __doc__, "sync_bench", load, print_all))
