#!/usr/bin/env python3
"""weft's live page (`/` of metrics::serve) in a real browser: headless Chromium loads it from
dashboard_server (a runtime in a known state, on 127.0.0.1), lets it poll for five seconds of
virtual time, and dumps the DOM; the checks read the numbers the page drew and compare them with
the state the server is in. Exits 77 (meson: skipped) when no Chromium is installed.

Usage: dashboard_page_test.py DASHBOARD_SERVER
Python standard library only.
"""

import html.parser
import os
import shutil
import subprocess
import sys
import tempfile

# Every flag is needed on a machine whose network is closed and that has no display or D-Bus.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def find_chromium():
    for name in (os.environ.get("WEFT_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class dom(html.parser.HTMLParser):
    """Elements with their attributes and text (own text and descendants'), in document order."""

    def __init__(self):
        super().__init__()
        self.elements, self.open = [], []

    def handle_starttag(self, tag, attrs):
        e = {"tag": tag, "attrs": dict(attrs), "text": "", "parent": self.open[-1] if self.open else None}
        self.elements.append(e)
        if tag not in ("br", "meta", "input", "img", "link"):
            self.open.append(e)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for e in self.open:
            e["text"] += data

    def find(self, **attrs):
        return [e for e in self.elements if all(e["attrs"].get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def within(self, ancestor, **attrs):
        out = []
        for e in self.find(**attrs):
            p = e["parent"]
            while p is not None and p is not ancestor:
                p = p["parent"]
            if p is ancestor:
                out.append(e)
        return out


def main():
    server_exe = sys.argv[1]
    chromium = find_chromium()
    if not chromium:
        print("chromium not found (Debian: apt-get install chromium; tools/common.sh installs it): skipped")
        return 77
    server = subprocess.Popen([server_exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    failures = []
    try:
        line = server.stdout.readline().strip()
        if not line.startswith("dashboard: http://"):
            print(f"dashboard_server said {line!r}")
            return 1
        url = line.split(" ", 1)[1]
        with tempfile.TemporaryDirectory() as profile:
            run = subprocess.run(
                [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                 "--dump-dom", url],
                capture_output=True, text=True, timeout=120)
        if run.returncode != 0 or "<html" not in run.stdout:
            print(f"chromium exited {run.returncode}:\n{run.stderr[-2000:]}")
            return 1
        page = dom()
        page.feed(run.stdout)

        def check(what, got, want):
            print(f"{'ok  ' if got == want else 'FAIL'} {what}: {got!r}" + ("" if got == want else f", want {want!r}"))
            if got != want:
                failures.append(what)

        def one(elements, what):
            if len(elements) != 1:
                failures.append(what)
                print(f"FAIL {what}: {len(elements)} elements")
                return {"attrs": {}, "text": ""}
            return elements[0]

        status = one(page.find(id="status"), "the status badge")
        check("status (a poll succeeded)", status["attrs"].get("data-state"), "live")
        polls = int(one(page.find(id="updated"), "the poll counter")["attrs"].get("data-polls", "0"))
        check("polled again and again (at least 3 times in 5 s)", polls >= 3, True)
        check("runtime named", "runtime dash" in one(page.find(id="runtimes"), "the runtime names")["text"], True)

        runtime = one(page.find(data_runtime="dash"), "the runtime's cards")
        workers = one(page.within(runtime, data_field="workers"), "workers card")
        check("workers", workers["attrs"].get("data-value"), "2")
        check("zombie workers", one(page.within(runtime, data_field="zombies"), "zombies card")["attrs"].get("data-value"), "0")

        suspended = int(one(page.find(data_field="state-suspended"), "suspended tasks")["attrs"].get("data-value", "0"))
        check("tasks by state: suspended ones counted (the stuck task, the pool's job...)", suspended >= 2, True)
        stuck_rows = [e for e in page.elements
                      if e["tag"] == "tr" and "data-task" in e["attrs"] and "stuck-on-purpose" in e["text"]]
        check("the stuck task listed", len(stuck_rows), 1)
        if stuck_rows:
            check("with its spawn site", "dashboard_server.cpp:" in stuck_rows[0]["text"], True)
            check("and what it waits on", "sleep until" in stuck_rows[0]["text"], True)

        delay = page.find(data_histogram="schedule-delay")
        check("schedule-delay histogram drawn", len(delay), 1)
        bars = [e for e in page.elements if e["attrs"].get("class") == "bar"]
        check("with bars", len(bars) > 0, True)

        pool = one(page.find(data_pool="orders"), "the pool's row")
        want = {"workers": "1", "in_flight": "1", "queue": "8", "queued_bytes": "800", "processed": "25",
                "failed": "3", "dropped": "5", "dead_lettered": "3", "circuits_open": "1"}
        for field, value in want.items():
            check(f"pool orders {field}", one(page.within(pool, data_field=field), field)["attrs"].get("data-value"), value)
        check("pool orders capacity", one(page.within(pool, data_field="queue"), "queue")["attrs"].get("data-capacity"), "8")
        check("pool orders queue shown as 8 / 8", "8 / 8" in pool["text"], True)
        hist = one(page.find(data_pool_histogram="orders"), "the pool's histogram")
        check("pool job-duration histogram drawn",
              len(page.within(hist, data_histogram="job-duration")), 1)
    finally:
        server.stdin.close()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("the page shows the server's live numbers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
