#!/usr/bin/env python3
"""Checks contrib/grafana/weft.json: a Grafana dashboard whose every query asks for series weft
really exports, filtered by the dashboard's variables, and (when promtool is given) valid PromQL.

Usage: dashboard_test.py <weft source root> [--promtool PATH]
Python standard library only.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

# What weft exports, by where it is registered. A dashboard query naming anything else would show
# "No data" forever; a rename in the sources fails test_every_listed_name_is_still_registered.
RUNTIME_METRICS = {
    # runtime/src/observe/runtime_metrics.cpp, runtime_metrics::bind (label runtime; the per-worker
    # counters and weft_local_queue_depth add worker)
    "weft_workers": "gauge",
    "weft_workers_busy": "gauge",
    "weft_tasks_spawned_total": "counter",
    "weft_tasks_completed_total": "counter",
    "weft_tasks_failed_total": "counter",
    "weft_tasks_cancelled_total": "counter",
    "weft_tasks_timed_out_total": "counter",
    "weft_tasks_live": "gauge",
    "weft_global_queue_depth": "gauge",
    "weft_timers_pending": "gauge",
    "weft_polls_total": "counter",
    "weft_steals_total": "counter",
    "weft_steal_attempts_total": "counter",
    "weft_parks_total": "counter",
    "weft_unparks_total": "counter",
    "weft_budget_yields_total": "counter",
    "weft_overflows_total": "counter",
    "weft_idle_spins_total": "counter",
    "weft_idle_spin_finds_total": "counter",
    "weft_lifo_hits_total": "counter",
    "weft_global_queue_takes_total": "counter",
    "weft_notifies_total": "counter",
    "weft_timers_fired_total": "counter",
    "weft_lifo_rescue_races_total": "counter",
    "weft_local_queue_depth": "gauge",
    # runtime/src/observe/runtime_metrics.cpp, the constructor (runtime_options::timing_metrics)
    "weft_poll_duration_seconds": "histogram",
    "weft_schedule_delay_seconds": "histogram",
    # runtime/src/observe/stall_detector.cpp
    "weft_stalls_total": "counter",
    "weft_worker_replacements_total": "counter",
    "weft_stall_duration_seconds": "histogram",
    "weft_zombie_workers": "gauge",
    # runtime/src/runtime.cpp, runtime::runtime
    "weft_hung_tasks": "gauge",
}
POOL_METRICS = {
    # runtime/src/pool/pool_core.cpp, pool_core::register_metrics (label pool; the histogram adds status)
    "weft_pool_job_duration_seconds": "histogram",
    "weft_pool_submitted_total": "counter",
    "weft_pool_processed_total": "counter",
    "weft_pool_failed_total": "counter",
    "weft_pool_dropped_total": "counter",
    "weft_pool_timed_out_total": "counter",
    "weft_pool_retried_total": "counter",
    "weft_pool_dead_lettered_total": "counter",
    "weft_pool_queue_depth": "gauge",
    "weft_pool_queue_capacity": "gauge",
    "weft_pool_queued_bytes": "gauge",
    "weft_pool_in_flight": "gauge",
    "weft_pool_workers": "gauge",
    "weft_pool_circuits_open": "gauge",
}
CHANNEL_METRICS = {
    # runtime/src/sync/channel_metrics.cpp (label channel)
    "weft_channel_send_blocked_seconds": "histogram",
    "weft_channel_recv_blocked_seconds": "histogram",
    "weft_channel_depth": "gauge",
}
# Series a dashboard or rule may name before weft registers them (none at the moment): listed
# here, they are checked to be still unregistered, so they move to the lists above when they are.
NOT_YET_EXPORTED = {}

FAMILIES = {**RUNTIME_METRICS, **POOL_METRICS, **CHANNEL_METRICS, **NOT_YET_EXPORTED}


def series_names(families):
    """Names that appear in a scrape: a histogram h is h_bucket, h_sum and h_count (metrics/src/prometheus.cpp)."""
    names = set()
    for name, kind in families.items():
        if kind == "histogram":
            names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return names


EXPORTED = series_names(FAMILIES)

# What the dashboard must show (the operations kit's list), as the family each panel reads.
REQUIRED = [
    "weft_workers_busy", "weft_zombie_workers", "weft_tasks_live", "weft_hung_tasks",
    "weft_stalls_total", "weft_schedule_delay_seconds_bucket", "weft_poll_duration_seconds_bucket",
    "weft_steals_total", "weft_parks_total", "weft_pool_queue_depth", "weft_pool_queue_capacity",
    "weft_pool_queued_bytes", "weft_pool_workers", "weft_pool_in_flight",
    "weft_pool_processed_total", "weft_pool_failed_total", "weft_pool_dropped_total",
    "weft_pool_retried_total", "weft_pool_dead_lettered_total", "weft_pool_circuits_open",
    "weft_pool_job_duration_seconds_bucket",
]

KEYWORDS = {"and", "or", "unless", "bool", "offset", "atan2"}
LABEL_LIST_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}

TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-z]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]@])
  | (?P<space>\s+)
""", re.VERBOSE)


def tokenize(expr):
    tokens, pos = [], 0
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "space":
            tokens.append((m.lastgroup, m.group()))
    return tokens


def selectors(expr):
    """The metric selectors in a PromQL expression: [(name, {label: (op, value)})].

    Enough PromQL to tell a metric name from a function, an aggregation, a label list, a range or a
    keyword; a query outside that fails the test loudly rather than passing unread."""
    tokens = tokenize(expr)
    found, i = [], 0
    while i < len(tokens):
        kind, text = tokens[i]
        nxt = tokens[i + 1][1] if i + 1 < len(tokens) else None
        if kind == "ident" and text in LABEL_LIST_WORDS and nxt == "(":
            i = tokens.index(("op", ")"), i) + 1  # label names, not metrics
            continue
        if text == "[":
            i = tokens.index(("op", "]"), i) + 1  # a range or subquery duration
            continue
        if kind == "ident" and (nxt == "(" or nxt in LABEL_LIST_WORDS or text in KEYWORDS):
            i += 1  # a function or aggregation (`sum(`, `sum by (`), or a keyword
            continue
        if kind == "ident" or text == "{":
            name = text if kind == "ident" else None
            i += 1 if kind == "ident" else 0
            matchers = {}
            if i < len(tokens) and tokens[i][1] == "{":
                end = tokens.index(("op", "}"), i)
                inner = [t for t in tokens[i + 1:end] if t[1] != ","]
                if len(inner) % 3:
                    raise ValueError(f"cannot read the label matchers of {expr!r}")
                for j in range(0, len(inner), 3):
                    (_, label), (_, op), (_, value) = inner[j:j + 3]
                    matchers[label] = (op, value.strip("\"'`"))
                i = end + 1
            found.append((name or matchers.get("__name__", (None, None))[1], matchers))
            continue
        i += 1
    return found


def label_values_query(query):
    """Grafana's label_values(selector, label): the selector, which is PromQL."""
    m = re.fullmatch(r"\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*", query)
    return m.group(1) if m else query


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels", []))


def variable_query(v):
    q = v.get("query")
    return q.get("query", "") if isinstance(q, dict) else q or ""


def substitute_variables(expr):
    """The expression as Grafana would send it: variables inside label matchers become a regex
    matching all, the others a value of their kind. Unknown variables raise."""
    outside = {"__rate_interval": "5m", "__range": "1h", "__interval": "1m"}

    def in_string(m):
        return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", ".*", m.group())

    def elsewhere(m):
        name = m.group(1)
        if name not in outside:
            raise KeyError(f"dashboard variable ${name} in {expr!r} has no test value")
        return outside[name]

    expr = re.sub(r'"(?:[^"\\]|\\.)*"', in_string, expr)
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", elsewhere, expr)


class dashboard(unittest.TestCase):
    root = None
    promtool = None

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(cls.root, "contrib", "grafana", "weft.json"), encoding="utf-8") as f:
            cls.dash = json.load(f)
        cls.panels = [p for p in all_panels(cls.dash["panels"]) if p.get("type") != "row"]
        cls.variables = {v["name"]: v for v in cls.dash["templating"]["list"]}
        cls.panel_exprs = [(p["title"], t["expr"]) for p in cls.panels for t in p.get("targets", [])]
        cls.variable_exprs = [(f"variable {name}", label_values_query(variable_query(v)))
                              for name, v in cls.variables.items() if v["type"] == "query"]

    def test_the_model_is_grafana_schema_36_or_later(self):
        self.assertGreaterEqual(self.dash["schemaVersion"], 36)
        self.assertTrue(self.dash["uid"])
        ids = [p["id"] for p in all_panels(self.dash["panels"])]
        self.assertEqual(len(ids), len(set(ids)), "panel ids must be unique")

    def test_the_data_source_is_a_prometheus_variable_used_by_every_query(self):
        ds = self.variables.get("datasource")
        self.assertIsNotNone(ds, "no `datasource` template variable")
        self.assertEqual((ds["type"], ds["query"]), ("datasource", "prometheus"))
        wanted = {"type": "prometheus", "uid": "${datasource}"}
        for p in self.panels:
            self.assertEqual(p.get("datasource"), wanted, p["title"])
            for t in p["targets"]:
                self.assertEqual(t.get("datasource"), wanted, p["title"])
        for name in ("instance", "runtime", "pool"):
            self.assertIn(name, self.variables, f"no `{name}` template variable")
            self.assertEqual(self.variables[name].get("datasource"), wanted, name)

    def test_runtime_and_pool_are_template_variables(self):
        for name, label in (("runtime", "runtime"), ("pool", "pool")):
            v = self.variables.get(name)
            self.assertIsNotNone(v, f"no `{name}` template variable")
            self.assertEqual(v["type"], "query")
            self.assertTrue(variable_query(v).rstrip().endswith(f", {label})"), variable_query(v))

    def test_every_panel_has_a_query(self):
        for p in self.panels:
            self.assertTrue(p.get("targets") and all(t.get("expr") for t in p["targets"]), p["title"])

    def test_every_query_names_only_metrics_weft_exports(self):
        for where, expr in self.panel_exprs + self.variable_exprs:
            names = [name for name, _ in selectors(expr)]
            self.assertTrue(names, f"{where}: no metric in {expr!r}")
            for name in names:
                self.assertIn(name, EXPORTED, f"{where}: {expr!r} reads {name!r}, which weft does not export")

    def test_every_panel_query_is_filtered_by_the_dashboard_variables(self):
        for where, expr in self.panel_exprs:
            for name, matchers in selectors(expr):
                owner = "pool" if name.startswith("weft_pool_") else "runtime"
                for label in ("instance", owner):
                    self.assertEqual(matchers.get(label), ("=~", f"${label}"),
                                     f"{where}: {name} in {expr!r} is not filtered by ${label}")

    def test_the_dashboard_shows_every_signal_of_the_operations_kit(self):
        shown = {name for _, expr in self.panel_exprs for name, _ in selectors(expr)}
        for name in REQUIRED:
            self.assertIn(name, shown, f"no panel reads {name}")

    def test_every_listed_name_is_still_registered_in_the_sources(self):
        # Where the names are registered is being reorganised: search every source file, not a path.
        literals = set()
        for top in ("metrics", "scheduler", "runtime"):
            for dirpath, _, files in os.walk(os.path.join(self.root, top)):
                for f in files:
                    if f.endswith((".cpp", ".hpp")):
                        with open(os.path.join(dirpath, f), encoding="utf-8", errors="replace") as src:
                            literals.update(re.findall(r'"(weft_[a-z0-9_]+)"', src.read()))
        for name in {**RUNTIME_METRICS, **POOL_METRICS, **CHANNEL_METRICS}:
            self.assertIn(name, literals, f"{name} is listed here but registered nowhere in the sources")
        for name in NOT_YET_EXPORTED:
            if name in literals:
                self.fail(f"{name} is registered now: move it into POOL_METRICS")

    def test_every_query_is_valid_promql(self):
        if not self.promtool:
            self.skipTest("promtool not found at configure time")
        # promtool parses PromQL in rule files: each query becomes a recording rule.
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{n}", "expr": substitute_variables(expr)}
            for n, (_, expr) in enumerate(self.panel_exprs + self.variable_exprs)]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            json.dump(rules, f)  # JSON is YAML
            f.flush()
            result = subprocess.run([self.promtool, "check", "rules", f.name], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("root")
    parser.add_argument("--promtool")
    args, rest = parser.parse_known_args()
    dashboard.root = args.root
    dashboard.promtool = args.promtool
    unittest.main(argv=[sys.argv[0], "-v"] + rest)
