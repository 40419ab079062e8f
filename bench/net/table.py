#!/usr/bin/env python3
"""The tables of bench/net/run.sh, from the raw numbers it wrote (net_bench.tsv).

    python3 bench/net/table.py build-bench/net_bench.tsv

One Markdown table per app and load; rows are system x server threads x placement. A system is
compared with the best plain-Asio layout of the same cell (app, load, threads, placement): its
best with the highest best among the Asio layouts, its median with the highest median. The
reference for p99 is the Asio layout with the highest median. Then the targets of the reactor
work for every system that is not Asio. Standard library only.
"""

import statistics
import sys
from collections import defaultdict

UNITS = {"http": "requests/s (wrk --latency)", "echo": "round trips/s (64-byte ping-pong)"}
OP = {"http": "request", "echo": "round trip"}


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def read(path):
    meta, runs = [], []
    for line in open(path):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            if not line.startswith("# columns:"):
                meta.append(line[2:])
            continue
        f = line.split("\t")
        f += [""] * (13 - len(f))
        ctx = number(f[9]) if number(f[9]) is not None else number(f[10])
        runs.append({
            "app": f[1], "conns": int(f[2]), "threads": int(f[3]), "placement": f[4], "system": f[5],
            "ops": number(f[6]) or 0.0, "p99": number(f[8]), "ctx": ctx, "cpu": number(f[11]),
            "errors": f[12].strip(),
        })
    return meta, runs


def median_of(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def summarise(runs):
    """(app, conns, threads, placement, system) -> best, median, p99 (median), ctx, cpu, errors."""
    groups = defaultdict(list)
    for r in runs:
        groups[(r["app"], r["conns"], r["threads"], r["placement"], r["system"])].append(r)
    out = {}
    for key, rs in groups.items():
        ops = [r["ops"] for r in rs]
        out[key] = {
            "best": max(ops), "median": statistics.median(ops), "n": len(rs),
            "p99": median_of(r["p99"] for r in rs), "ctx": median_of(r["ctx"] for r in rs),
            "cpu": median_of(r["cpu"] for r in rs),
            "errors": sum(1 for r in rs if r["errors"] or r["ops"] <= 0),
        }
    return out


def asio_reference(summary, cell):
    """The best Asio figures of a cell: highest best, highest median, and that layout's p99."""
    asio = [v for k, v in summary.items() if k[:4] == cell and k[4].startswith("asio")]
    if not asio:
        return None
    by_median = max(asio, key=lambda v: v["median"])
    return {"best": max(v["best"] for v in asio), "median": by_median["median"], "p99": by_median["p99"]}


def ratio(a, b):
    return a / b if a is not None and b else None


def main(path):
    meta, runs = read(path)
    for line in meta:
        print(line)
    summary = summarise(runs)
    systems = list(dict.fromkeys(r["system"] for r in runs))
    placements = list(dict.fromkeys(r["placement"] for r in runs))
    loads = list(dict.fromkeys((r["app"], r["conns"]) for r in runs))

    for app, conns in loads:
        print(f"\n{app}, {conns} connection{'s' if conns != 1 else ''}: {UNITS.get(app, '')}; "
              f"p99 in µs; context switches and CPU µs of the server per {OP.get(app, 'operation')}\n")
        print("| system | thr | placement | best | median | best ÷ Asio | median ÷ Asio | p99 µs | p99 ÷ Asio "
              "| ctx sw/op | CPU µs/op |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        threads = sorted({k[2] for k in summary if k[:2] == (app, conns)})
        for t in threads:
            for p in placements:
                ref = asio_reference(summary, (app, conns, t, p))
                for s in systems:
                    v = summary.get((app, conns, t, p, s))
                    if v is None:
                        continue
                    failed = f" ({v['errors']} of {v['n']} failed)" if v["errors"] else ""
                    print(f"| {s}{failed} | {t} | {p} | {v['best']:,.0f} | {v['median']:,.0f} "
                          f"| {fmt(ratio(v['best'], ref and ref['best']), '.2f')} "
                          f"| {fmt(ratio(v['median'], ref and ref['median']), '.2f')} "
                          f"| {fmt(v['p99'], ',.0f')} | {fmt(ratio(v['p99'], ref and ref['p99']), '.2f')} "
                          f"| {fmt(v['ctx'], '.2f')} | {fmt(v['cpu'], '.1f')} |")

    # The reactor work's targets: at least as fast as the best Asio layout (best and median),
    # p99 within 1.2x of that layout's, and at most 1.2 context switches per echo round trip.
    challengers = [s for s in systems if not s.startswith("asio")]
    if not challengers:
        return
    print("\nTargets: speed >= best Asio layout (best ÷ Asio and median ÷ Asio >= 1), p99 <= 1.2x "
          "its p99, echo context switches per round trip <= 1.2")
    for s in challengers:
        print(f"\n{s}\n")
        print("| app | conns | thr | placement | speed | p99 | ctx sw/rt |")
        print("| --- | ---: | ---: | --- | --- | --- | --- |")
        met = total = 0
        for app, conns in loads:
            for t in sorted({k[2] for k in summary if k[:2] == (app, conns)}):
                for p in placements:
                    v = summary.get((app, conns, t, p, s))
                    ref = asio_reference(summary, (app, conns, t, p))
                    if v is None or ref is None:
                        continue
                    rb, rm = ratio(v["best"], ref["best"]), ratio(v["median"], ref["median"])
                    speed = ("met" if rb >= 1 and rm >= 1 else "met at best only" if rb >= 1
                             else "met at median only" if rm >= 1 else "missed")
                    r99 = ratio(v["p99"], ref["p99"])
                    lat = "-" if r99 is None else ("met" if r99 <= 1.2 else "missed")
                    ctx = "-"
                    if app == "echo" and v["ctx"] is not None:
                        ctx = f"{'met' if v['ctx'] <= 1.2 else 'missed'} ({v['ctx']:.2f})"
                    cell_met = speed == "met" and lat in ("met", "-") and not ctx.startswith("missed")
                    met += cell_met
                    total += 1
                    print(f"| {app} | {conns} | {t} | {p} | {speed} ({rb:.2f} / {rm:.2f}) "
                          f"| {lat} ({fmt(r99, '.2f')}) | {ctx} |")
        print(f"\n{s}: every target met in {met} of {total} cells")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: table.py <net_bench.tsv>")
    main(sys.argv[1])
