"""What the live-DNS benches share (scripts/bench_analyze*.py, bench_monitor_bulk.py,
bench_workers.py): waiting for the lab's provider to load its last child zone, and dnsperf's
maximum on that knot. Standard library only; everything stays on 127.0.0.0/8."""

import os
import re
import subprocess
import sys
import time

PROVIDER = "127.53.1.1"


def wait_loaded(children, timeout):
    """Waits until the provider's knot answers for its last child (it answers for the first
    before it has loaded them all); exits when it does not within `timeout` seconds."""
    deadline = time.time() + timeout
    last = f"c{children - 1}.lab"
    while subprocess.run(["kdig", f"@{PROVIDER}", last, "SOA", "+short"], capture_output=True, text=True).stdout.strip() == "":
        if time.time() > deadline:
            sys.exit(f"the provider did not load {last} within {timeout} s")
        time.sleep(0.2)


def dnsperf_max(lab, children):
    """dnsperf's questions per second on the provider's knot, asking the SOA of `children`
    child zones for 10 s."""
    qfile = os.path.join(lab, "dnsperf.queries")
    with open(qfile, "w") as f:
        f.writelines(f"c{i}.lab SOA\n" for i in range(children))
    p = subprocess.run(["dnsperf", "-s", PROVIDER, "-d", qfile, "-l", "10", "-c", "8", "-q", "500"], capture_output=True, text=True, check=True)
    m = re.search(r"Queries per second:\s+([\d.]+)", p.stdout)
    return float(m.group(1)) if m else 0.0
