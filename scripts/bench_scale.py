#!/usr/bin/env python3
"""The whole-zone case end to end, once: `scripts/bench.sh --scale com` (issue 29).

    scripts/bench_scale.py BINARY ZONEGEN DIR DOMAINS

Generates day 0 and a day 1 with .com's churn (0.2%) with examples/zonegen (cached in DIR),
then, for `--no-records` and the default (records), into an empty database: the first import
and the next day over it. For each it prints wall time, the ratio to `gzip -dc` of the same
file in the same run, peak RSS, the database's size, and the disk's peak use over the start
(database, WAL and sort runs together, sampled every 100 ms: the runs are unlinked
temporaries that only the file system's counters see). With records it then times the
questions users ask of a large zone, each a whole command (process start and database open
included): `domain NAME`, `domain NAME --at DAY0`, and the first page of `search --ns` and
`search --provider` for the provider host that serves nearest 1,000 domains and the most used
one, and the `ns` page of the most used.

Only one database exists at a time (160M domains with records take about 31 GB), and no copy
of it is made, so the machine needs about 35 GB free beside the two zone files (10 GB).
"""

import json
import os
import subprocess
import sys
import time

binary, zonegen, d, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
os.makedirs(d, exist_ok=True)
day0, day1 = os.path.join(d, f"com-{n}-day0.zone.gz"), os.path.join(d, f"com-{n}-day1-churn0.2.zone.gz")
for path, args in ((day0, ["0"]), (day1, ["1", "0.2"])):
    if not os.path.exists(path):
        subprocess.run(f"{zonegen} {n} com 1 {' '.join(args)} | gzip -1 > {path}.tmp && mv {path}.tmp {path}", shell=True, check=True)


def used():
    s = os.statvfs(d)
    return (s.f_blocks - s.f_bavail) * s.f_frsize


def measured(cmd):
    """Runs `cmd` (a list); returns (seconds, peak RSS bytes, peak disk over the start, stdout)."""
    import tempfile

    start = used()
    peak = start
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        while True:
            # wait4: this child's own rusage (RUSAGE_CHILDREN is the largest of them all).
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            peak = max(peak, used())
            # Short commands are timed to the millisecond, long ones sampled every 100 ms.
            time.sleep(min(0.1, (time.perf_counter() - t) / 20))
        secs = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(cmd)} failed: {err.read()[-3000:]}")
        return secs, usage.ru_maxrss * 1024, peak - start, out.read()


def gzip_dc(path):
    t = time.perf_counter()
    subprocess.run(f"gzip -dc {path} > /dev/null", shell=True, check=True)
    return time.perf_counter() - t


db = os.path.join(d, "scale.db")


def fresh():
    for suffix in ("", "-wal", "-shm", ".lock"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)


rows = []
base0, base1 = gzip_dc(day0), gzip_dc(day1)
text = int(subprocess.run(f"gzip -dc {day0} | wc -c", shell=True, capture_output=True, text=True, check=True).stdout)
records = None
queries = []
for flags in (["--no-records"], []):
    label = "import" + (" " + " ".join(flags) if flags else "")
    fresh()
    for day, base, what in ((day0, base0, "first"), (day1, base1, "next day, 0.2%")):
        secs, rss, disk, out = measured([binary, "--db", db, "--quiet", "--format", "jsonl", "import"] + flags + [day])
        s = json.loads(out.strip().splitlines()[-1])
        records = records or s["records"]
        rows.append((f"{label}: {what}", secs, secs / base, rss, os.path.getsize(db), disk))
    if not flags:
        import sqlite3

        c = sqlite3.connect(db)
        name = c.execute("SELECT name FROM domains WHERE tld = 'com' AND until IS NULL LIMIT 1 OFFSET ?", (n // 2,)).fetchone()[0]
        d0 = c.execute("SELECT substr(min(zone_date), 1, 10) FROM zones").fetchone()[0]
        # The providers' hosts by the domains they serve: the current NS targets that are ids
        # of `hosts` (the base's pairs are compressed, which only zonefeed's SQL reads).
        hosts = c.execute(
            """SELECT h.name, n FROM (SELECT r.value AS host, count(*) AS n FROM rrsets s, json_each(s.rdata) r
                                       WHERE s.tld = 'com' AND s.type = 'NS' AND s.until IS NULL AND r.type = 'integer'
                                       GROUP BY 1) JOIN hosts h ON h.id = host
                WHERE h.name LIKE '%.net' ORDER BY n, h.name"""
        ).fetchall()
        c.close()
        # The query target is for a host of 1,000 domains; a zone may have none so small.
        least, most = min(hosts, key=lambda h: abs(h[1] - 1000)), hosts[-1]
        for q, args in (
            (f"domain {name}", ["domain", name]),
            (f"domain {name} --at {d0}", ["domain", name, "--at", d0]),
            (f"search --ns, first page ({least[1]} domains)", ["search", "--ns", least[0], "--limit", "100"]),
            (f"search --ns, first page ({most[1]} domains)", ["search", "--ns", most[0], "--limit", "100"]),
            ("search --provider, first page", ["search", "--provider", ".".join(most[0].split(".")[-2:]), "--limit", "100"]),
            (f"ns page ({most[1]} domains)", ["ns", most[0]]),
        ):
            secs, _, _, _ = measured([binary, "--db", db, "--quiet"] + args)
            queries.append((q, secs))
    fresh()

print(f"zone: {n} domains, {records} records, {text / 1e9:.2f} GB text, {os.path.getsize(day0) / 1e9:.2f} GB gzip; "
      f"{os.cpu_count()} cores; gzip -dc {base0:.1f} s (day 1: {base1:.1f} s); one run each")
print(f"{'import':36} {'seconds':>8} {'x gzip -dc':>10} {'peak RSS':>9} {'database':>10} {'x text':>7} {'peak disk':>10}")
for label, secs, ratio, rss, size, disk in rows:
    print(f"{label:36} {secs:8.1f} {ratio:10.2f} {rss / 2**30:7.2f}Gi {size / 1e9:8.2f}GB {size / text:7.2f} {disk / 1e9:8.2f}GB")
print(f"bytes per record with records: {rows[-2][4] / records:.1f}")
for q, secs in queries:
    print(f"{q:60} {secs * 1000:8.1f} ms")
