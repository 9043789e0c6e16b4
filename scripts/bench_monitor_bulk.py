#!/usr/bin/env python3
"""100,000 monitored domains checked in one cycle (issue 32): the lab (tests/lab/lab.py) with
DOMAINS healthy child zones on its provider's knot, the TLD imported, every child monitored,
then `monitor run --once --only dns` with the engine's limits raised for the lab (--qps
100000 --in-flight 64 --timeout 1, as `--analyze-bulk` runs). Run by
`scripts/bench.sh --monitor-bulk`; needs root, knotd, unbound and dnsperf, as the lab does.

    bench_monitor_bulk.py ZONEFEED LABDIR DOMAINS [RUNS]

The first cycle is the baseline (every domain's records kept); the cycles after it are the
steady state of a monitor that runs every 10 minutes (nothing changed: nothing but
`last_check` written). Prints each cycle's wall time, questions per second and peak RSS,
the database's size, and dnsperf's maximum on the provider's knot beside them. Target: a
cycle of 100,000 domains within 10 minutes on the 2-core machine. Everything stays on
127.0.0.0/8.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import lab_bench

zonefeed, lab, domains = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3])
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
labpy = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lab", "lab.py")
shutil.rmtree(lab, ignore_errors=True)
t = time.monotonic()
subprocess.run([sys.executable, labpy, "up", lab, "--children", str(domains)], check=True)
try:
    db = os.path.join(lab, "monitor.db")
    subprocess.run([zonefeed, "--db", db, "--quiet", "import", os.path.join(lab, "zones", "lab.zone")], check=True)
    names = os.path.join(lab, "monitored.txt")
    with open(names, "w") as f:
        f.writelines(f"c{i}.lab\n" for i in range(domains))
    subprocess.run([zonefeed, "--db", db, "--quiet", "monitor", "add", "--from", names], check=True)
    # The provider's knot loads its zones after it answers for the first: wait for the last.
    lab_bench.wait_loaded(domains, 900)
    print(f"lab of {domains} children up and loaded in {time.monotonic() - t:.0f} s", flush=True)
    common = ["--root-hints", os.path.join(lab, "hints"), "--allow-private", "--qps", "100000", "--in-flight", "64", "--timeout", "1"]

    def cycle():
        out, err = os.path.join(lab, "cycle.out"), os.path.join(lab, "cycle.err")
        t = time.monotonic()
        with open(out, "w") as o, open(err, "w") as e:
            p = subprocess.Popen([zonefeed, "--db", db, "monitor", "run", "--once", "--only", "dns", "--concurrency", "1024", *common],
                                 stdout=o, stderr=e)
            # This process's own peak RSS (KiB), from the kernel as it is reaped.
            _, status, usage = os.wait4(p.pid, 0)
        secs = time.monotonic() - t
        stdout, stderr = open(out).read(), open(err).read()
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"monitor run failed ({os.waitstatus_to_exitcode(status)}): {stderr[-2000:]}")
        rss = usage.ru_maxrss
        m = re.search(r"monitor: (\d+) checked, (\d+) event\(s\), (\d+) questions sent", stderr)
        if not m:
            sys.exit(f"no summary line: {stderr[-2000:]}")
        checked, events, questions = int(m.group(1)), int(m.group(2)), int(m.group(3))
        states = {}
        for line in stdout.splitlines():
            f = line.split()
            if len(f) >= 2:
                states[f[1]] = states.get(f[1], 0) + 1
        return secs, checked, events, questions, rss, states

    results = [cycle() for _ in range(runs)]
    size = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    knot_qps = lab_bench.dnsperf_max(lab, min(domains, 10000))
finally:
    subprocess.run([sys.executable, labpy, "down", lab], check=False)

print(f"monitor run --once --only dns, {domains} monitored domains of the lab, this machine:")
for i, (secs, checked, events, q, rss, states) in enumerate(results, 1):
    what = "baseline, every domain's records kept" if i == 1 else "steady state, nothing changed"
    st = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    print(f"  cycle {i} ({what}): {secs:7.1f} s   {checked / secs:6.0f} domains/s   {q} questions, {q / secs:.0f}/s   "
          f"peak RSS {rss / 1024:.0f} MiB   {events} event(s)   [{st}]")
    assert checked == domains, f"every domain checked: {checked} of {domains}"
print(f"  database with the monitor's history: {size / 1e6:.0f} MB")
print(f"  dnsperf's maximum on one knot: {knot_qps:.0f} questions/s")
print(f"  target: {domains} domains within 600 s a cycle")
