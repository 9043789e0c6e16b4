#!/usr/bin/env python3
"""`analyze` speed against Zonemaster and against the server's own limit, in one run
(issue 30). Run by `scripts/bench.sh --analyze`; needs root, knotd, unbound, zonemaster-cli
and dnsperf (Debian packages), as the lab does.

    bench_analyze.py ZONEFEED LABDIR CHILDREN

1. Starts the lab (tests/lab/lab.py) with CHILDREN healthy children beside its faulty ones.
2. zonefeed analyzes every lab child at once (the engine's per-server limits raised, as a
   user analysing a zone on their own servers would: --qps 100000 --in-flight 64).
3. zonemaster-cli analyzes the same domains one by one, as Zonalizer runs it.
   Then the healthy children alone: zonefeed's questions per second when no timeout waits.
4. dnsperf asks the provider's knot as fast as it answers, for 10 s: the server's limit,
   beside zonefeed's questions per second.
Prints the times, their ratio (target: zonefeed at least 50x faster) and both query rates.
Everything stays on 127.0.0.0/8.
"""

import json
import os
import re
import subprocess
import sys
import time

import lab_bench

zonefeed, lab, children = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
here = os.path.dirname(os.path.abspath(__file__))
labpy = os.path.join(here, "..", "tests", "lab", "lab.py")
subprocess.run([sys.executable, labpy, "up", lab, "--children", str(children)], check=True)
try:
    faults = list(json.load(open(os.path.join(lab, "faults.json"))))
    domains = [f"c{i}.lab" for i in range(children)] + faults
    hints = os.path.join(lab, "hints")
    common = ["--root-hints", hints, "--allow-private", "--no-ipv6"]

    def zonefeed_run(names):
        t = time.monotonic()
        r = subprocess.run([zonefeed, "--format", "jsonl", "analyze", *common, "--qps", "100000", "--in-flight", "64", "--timeout", "1", *names],
                           capture_output=True, text=True, check=True)
        secs = time.monotonic() - t
        assert len(r.stdout.splitlines()) == len(names), r.stderr
        m = re.search(r"domain\(s\) in [\d.]+ s, (\d+) questions sent", r.stderr)
        return secs, int(m.group(1)) if m else 0

    zf_secs, zf_queries = zonefeed_run(domains)
    healthy_secs, healthy_queries = zonefeed_run(domains[:children])

    t = time.monotonic()
    for d in domains:
        subprocess.run(["zonemaster-cli", "--hints", hints, "--no-ipv6", "--level", "NOTICE", "--json", "--no-progress", d],
                       capture_output=True, check=True)
    zm_secs = time.monotonic() - t

    knot_qps = lab_bench.dnsperf_max(lab, children)
finally:
    subprocess.run([sys.executable, labpy, "down", lab], check=False)

n = len(domains)
print(f"analyze, {n} lab domains ({children} healthy, {len(faults)} faulty), this machine:")
print(f"  zonemaster-cli, one by one   {zm_secs:8.2f} s   {zm_secs / n * 1000:7.0f} ms/domain")
print(f"  zonefeed analyze, at once    {zf_secs:8.2f} s   {zf_secs / n * 1000:7.0f} ms/domain   {zf_queries} questions")
print(f"  zonefeed is {zm_secs / zf_secs:.1f}x faster (target: 50x)")
print("  (the faulty domains hold the run for their timeouts: a server that drops EDNS costs 2 tries x 1 s)")
print(f"  zonefeed, the {children} healthy ones   {healthy_secs:8.2f} s   {healthy_queries} questions, {healthy_queries / healthy_secs:.0f}/s")
print(f"  dnsperf's maximum on one knot: {knot_qps:.0f} questions/s")
