"""What the benchmark table scripts (bench/runtime/table.py, bench/sync/table.py) share: reading
a Google Benchmark JSON output, formatting numbers, and the command line. Standard library only.
"""

import json
import statistics
import sys

TIME_UNIT_NS = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


class Samples:
    """One benchmark's repetitions: `samples` (one value per repetition, in the unit its
    table reads), the errors of failed repetitions, and its size n."""

    def __init__(self, n):
        self.n = n
        self.samples = []
        self.errors = []

    def median(self):
        return statistics.median(self.samples)

    def best(self):
        return min(self.samples)

    def worst(self):
        return max(self.samples)

    def spread(self):
        return self.worst() / self.best()


def repetitions(path):
    """(context, the benchmark entries of every repetition) of a Google Benchmark JSON output;
    aggregates (mean, median, ...) left out: the tables compute their own."""
    with open(path) as f:
        doc = json.load(f)
    runs = [b for b in doc.get("benchmarks", []) if b.get("run_type") != "aggregate"]
    return doc.get("context", {}), runs


def real_time_ns(entry):
    """An entry's wall-clock time per iteration, in ns."""
    return entry["real_time"] * TIME_UNIT_NS[entry.get("time_unit", "ns")]


def fmt_ns(v):
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def main(argv, doc, program, load, print_all):
    """The table scripts' command line: one argument, the JSON file. `load(path)` gives
    (context, results); `print_all(context, results)` prints the tables."""
    if len(argv) != 2:
        print(doc.strip().splitlines()[0], file=sys.stderr)
        print(f"usage: {argv[0]} <{program} JSON output>", file=sys.stderr)
        return 2
    context, results = load(argv[1])
    if not results:
        print(f"{argv[1]}: no {program} results", file=sys.stderr)
        return 1
    print_all(context, results)
    return 0
