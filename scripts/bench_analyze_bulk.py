#!/usr/bin/env python3
"""A whole zone's delegations analysed and kept, as the daily run does it (issue 31): the
lab (tests/lab/lab.py) with CHILDREN healthy child zones beside its faulty ones, the TLD
imported, then `analyze --tld lab --all` with the engine's limits raised (--qps 100000
--in-flight 64 --timeout 1: a user analysing their own servers). Run by
`scripts/bench.sh --analyze-bulk`; needs root, knotd, unbound and dnsperf, as the lab does.

    bench_analyze_bulk.py ZONEFEED LABDIR CHILDREN [RUNS]

Prints each run's time and questions per second (target: 10,000 delegations in under 60 s
on the 2-core machine), the same once more without keeping (--no-store: what keeping
costs), and dnsperf's maximum on the provider's knot beside them. Everything stays on
127.0.0.0/8.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import lab_bench

zonefeed, lab, children = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
labpy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lab", "lab.py")
shutil.rmtree(lab, ignore_errors=True)
subprocess.run([sys.executable, labpy, "up", lab, "--children", str(children)], check=True)
try:
    db = os.path.join(lab, "bulk.db")
    subprocess.run([zonefeed, "--db", db, "--quiet", "import", os.path.join(lab, "zones", "lab.zone")], check=True)
    # The provider's knot loads its zones after it answers for the first: wait for the last.
    lab_bench.wait_loaded(children, 120)
    common = ["--root-hints", os.path.join(lab, "hints"), "--allow-private", "--no-ipv6", "--qps", "100000", "--in-flight", "64", "--timeout", "1"]

    def run(*extra):
        t = time.monotonic()
        r = subprocess.run([zonefeed, "--db", db, "--format", "jsonl", "analyze", "--tld", "lab", "--all", *common, *extra],
                           capture_output=True, text=True, check=True)
        secs = time.monotonic() - t
        n = len(r.stdout.splitlines())
        m = re.search(r"domain\(s\) in [\d.]+ s, (\d+) questions sent", r.stderr)
        return secs, n, int(m.group(1)) if m else 0

    kept = [run() for _ in range(runs)]
    unkept = run("--no-store")
    knot_qps = lab_bench.dnsperf_max(lab, children)
finally:
    subprocess.run([sys.executable, labpy, "down", lab], check=False)

print(f"analyze --tld lab --all, {kept[0][1]} delegations ({children} healthy), results kept, this machine:")
for i, (secs, n, q) in enumerate(kept, 1):
    assert n == kept[0][1], "every run analyses every delegation"
    print(f"  run {i}: {secs:7.2f} s   {n / secs:7.0f} delegations/s   {q} questions, {q / secs:.0f}/s")
secs, n, q = unkept
print(f"  --no-store: {secs:7.2f} s   {n / secs:7.0f} delegations/s   {q / secs:.0f} questions/s")
print(f"  dnsperf's maximum on one knot: {knot_qps:.0f} questions/s")
print(f"  target: 10000 delegations in under 60 s")
