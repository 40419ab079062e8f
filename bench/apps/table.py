#!/usr/bin/env python3
"""Prints apps_bench's table from its Google Benchmark JSON output: per operation (a child
collected, a value received, a round trip, a blocking call), the median and best of the
repetitions in ns, the spread (worst / best) and each row's ratio to its group's baseline (the
first row of the group: what the new API is measured against).

    python3 bench/apps/table.py apps.json
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import gbench_table as g  # noqa: E402

# The row each group is compared with.
BASELINE = {
    "collect": "spawn_join",
    "recv_or_timeout": "recv",
    "pingpong": "recv",
    "blocking_roundtrip": "std_thread",
}


def load(path):
    context, runs = g.repetitions(path)
    results = {}
    for r in runs:
        name = r["name"].split("/repeats:")[0]
        s = results.setdefault(name, g.Samples(1))
        if r.get("error_occurred"):
            s.errors.append(r.get("error_message", "error"))
            continue
        s.samples.append(g.real_time_ns(r) / r.get("ops", 1))
    return context, results


def print_all(context, results):
    groups = {}
    for name, s in results.items():
        group, how = name.split("/")[0], name.split("/")[1]
        groups.setdefault(group, []).append((how, name, s))
    print(f"{'benchmark (ns per operation)':44s} {'median':>9s} {'best':>9s} {'spread':>7s} {'/base med':>9s} {'/base best':>10s}")
    for group in groups:
        rows = groups[group]
        base = next((s for how, _, s in rows if how == BASELINE.get(group)), None)
        for how, name, s in rows:
            if s.errors or not s.samples:
                print(f"{name:44s} failed: {s.errors[:1]}")
                continue
            rm = s.median() / base.median() if base and base.samples else None
            rb = s.best() / base.best() if base and base.samples else None
            print(f"{name:44s} {g.fmt_ns(s.median()):>9s} {g.fmt_ns(s.best()):>9s} {s.spread():7.2f} "
                  f"{g.fmt_ratio(rm):>9s} {g.fmt_ratio(rb):>10s}")


if __name__ == "__main__":
    sys.exit(g.main(sys.argv, __doc__, "apps_bench", load, print_all))
