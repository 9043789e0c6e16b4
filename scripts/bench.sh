#!/usr/bin/env bash
# Import throughput against `gzip -dc` on the same file, in one run.
#
#   scripts/bench.sh                      # 1M domains
#   BENCH_DOMAINS=10000000 BENCH_SYNC=0 scripts/bench.sh
#   scripts/bench.sh --scale com          # 160M domains, once, end to end (scripts/bench_scale.py)
#   scripts/bench.sh --analyze            # live DNS: analyze vs zonemaster-cli and dnsperf on
#                                         # the lab (scripts/bench_analyze.py; root, knot...)
#   scripts/bench.sh --analyze-bulk       # a zone of 10,000 delegations analysed and kept
#                                         # (scripts/bench_analyze_bulk.py; BENCH_CHILDREN)
#   scripts/bench.sh --monitor-bulk       # 100,000 monitored domains checked in one cycle
#                                         # (scripts/bench_monitor_bulk.py; BENCH_DOMAINS)
#   scripts/bench.sh --workers            # analyses through RabbitMQ with 1, 2, 4 workers
#                                         # (scripts/bench_workers.py; BENCH_CHILDREN)
#
# Generates a synthetic CZDS-style .com zone with our fast generator (cached under
# target/bench/), then times: gzip -dc > /dev/null; zonefeed import --no-records; zonefeed
# import (full records), each into a fresh database. Prints wall time, MB/s of uncompressed
# zone text, records/s, peak RSS, and the ratio to gzip -dc beside issue 14's target. Each
# BENCH_RUNS times (3), the median shown. The next day is imported twice over each first day:
# zonegen's day 1 (1.5% of domains changed) and a day with .com's churn (0.2%).
#
# Floors, from each import's `-v` trace: `parse` is when the last chunk was parsed and
# sorted (reading, inflating and parsing overlap up to there; `gzip -dc` alone is the inflate
# floor), `writer` the writer thread's own work (SQLite and the comparison with the current
# version, its waits for rows left out), `after` what the import did once parsing was done.
# `cores` is CPU time (user + system) over wall time: near the machine's core count a case is
# bound by CPU, and only doing less work makes it faster, not more overlap. `cpu x` is that
# CPU floor as a ratio to gzip -dc: CPU time over the core count, the time with every core
# busy from start to end.
#
# With records, the web page's pages are timed in Chromium on the two days
# (scripts/page_times.py; skipped without Chromium and Playwright).
#
# Then `sync` against a local CZDS throttled to BENCH_RATE bytes/s (default 2 MB/s, as CZDS
# gives): download alone, then sync (download + import overlapped, with and without records),
# with the ratio of sync to download alone: first into empty databases, then the daily case
# (day 1 served, the databases holding day 0).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--scale" ]; then
    [ "${2:-}" = com ] || { echo "usage: scripts/bench.sh --scale com" >&2; exit 2; }
    cargo build --release --quiet --bin zonefeed --example zonegen
    # BENCH_DOMAINS: a smaller scale, to try the mode out.
    exec python3 scripts/bench_scale.py "$PWD/target/release/zonefeed" "$PWD/target/release/examples/zonegen" \
        "${BENCH_DIR:-target/bench}" "${BENCH_DOMAINS:-160000000}"
fi
if [ "${1:-}" = "--analyze-bulk" ]; then
    cargo build --release --quiet --bin zonefeed
    exec python3 scripts/bench_analyze_bulk.py "$PWD/target/release/zonefeed" "${BENCH_DIR:-target/bench}/bulk" \
        "${BENCH_CHILDREN:-10000}" "${BENCH_RUNS:-3}"
fi
if [ "${1:-}" = "--monitor-bulk" ]; then
    cargo build --release --quiet --bin zonefeed
    exec python3 scripts/bench_monitor_bulk.py "$PWD/target/release/zonefeed" "${BENCH_DIR:-target/bench}/monitor" \
        "${BENCH_DOMAINS:-100000}" "${BENCH_RUNS:-2}"
fi
if [ "${1:-}" = "--workers" ]; then
    cargo build --release --quiet --bin zonefeed
    exec python3 scripts/bench_workers.py "$PWD/target/release/zonefeed" "${BENCH_DIR:-target/bench}/workers" "${BENCH_CHILDREN:-5000}"
fi
if [ "${1:-}" = "--analyze" ]; then
    cargo build --release --quiet --bin zonefeed
    # BENCH_CHILDREN: the lab's healthy children beside its faulty ones.
    exec python3 scripts/bench_analyze.py "$PWD/target/release/zonefeed" "${BENCH_DIR:-target/bench}/lab" "${BENCH_CHILDREN:-200}"
fi
N="${BENCH_DOMAINS:-1000000}"
DIR="target/bench"
mkdir -p "$DIR"
cargo build --release --quiet --bin zonefeed --example zonegen --example czds_mock
# BENCH_BIN: another build to measure (a baseline), with this script and its zone.
BIN="${BENCH_BIN:-$PWD/target/release/zonefeed}"
GZ="$DIR/com-$N-day0.zone.gz"
GZ1="$DIR/com-$N-day1.zone.gz"
GZ1S="$DIR/com-$N-day1-churn0.2.zone.gz"
for f in "$GZ:0" "$GZ1:1" "$GZ1S:1 0.2"; do
    out="${f%%:*}"
    if [ ! -s "$out" ]; then
        target/release/examples/zonegen "$N" com 1 ${f#*:} | gzip -1 > "$out.tmp" && mv "$out.tmp" "$out"
    fi
done
python3 - "$GZ" "$BIN" "$DIR" "$N" "$GZ1" "$GZ1S" <<'PY'
import json, os, re, resource, shutil, subprocess, sys, time
gz, binary, d, n, gz1, gz1s = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
text = int(subprocess.run(f"gzip -dc {gz} | wc -c", shell=True, capture_output=True, text=True, check=True).stdout)

def measured(cmd, db=None):
    # One python child per command so RUSAGE_CHILDREN's peak is that command's alone. With
    # `db`, its WAL file's size is sampled every 10 ms: the peak shows how much of a version
    # one transaction holds.
    code = ("import resource,subprocess,sys,time;t=time.perf_counter();"
            "r=subprocess.run(sys.argv[1],shell=True,stdout=subprocess.PIPE,stderr=subprocess.PIPE);"
            "s=time.perf_counter()-t;"
            "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
            "print(r.returncode,s,u.ru_maxrss,u.ru_utime+u.ru_stime);"
            "sys.stderr.write(r.stderr.decode()[-2000:]);sys.stdout.write('\\n'+r.stdout.decode())")
    child = subprocess.Popen([sys.executable, "-c", code, cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wal = 0
    while db and child.poll() is None:
        try:
            wal = max(wal, os.path.getsize(db + "-wal"))
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    stdout, stderr = child.communicate()
    p = subprocess.CompletedProcess(cmd, child.returncode, stdout, stderr)
    measured.wal = wal
    measured.trace = p.stderr
    head, _, out = p.stdout.partition("\n")
    rc, secs, rss, cpu = head.split()
    if rc != "0":
        sys.exit(f"{cmd} failed: {p.stderr}")
    measured.cpu = float(cpu)
    return float(secs), int(rss) * 1024, out

def floors(trace, secs):
    # The import's own phase times (`-v`): see the header.
    parse = re.search(r"trace: +([0-9.]+)s parsed and sorted", trace)
    busy = re.search(r"trace: writer: busy ([0-9.]+)s", trace)
    if not (parse and busy):
        return None
    return (float(parse.group(1)), float(busy.group(1)), secs - float(parse.group(1)))

def fresh_db():
    db = os.path.join(d, "bench.db")
    for suffix in ("", "-wal", "-shm", ".lock"):
        try:
            os.remove(db + suffix)
        except FileNotFoundError:
            pass
    return db

# Each command BENCH_RUNS times, in turn (a slow spell of the VM hits every command alike);
# the median time is shown, and the largest RSS and WAL of any run.
runs = {}
def add(key, label, secs, rss, wal=None, target=None):
    r = runs.setdefault(key, {"label": label, "secs": [], "rss": 0, "wal": None, "target": target, "floors": [], "cpu": []})
    r["secs"].append(secs)
    r["cpu"].append(measured.cpu)
    if wal:
        f = floors(measured.trace, secs)
        if f:
            r["floors"].append(f)
    r["rss"] = max(r["rss"], rss)
    if wal:
        r["wal"] = (max(wal[0], r["wal"][0] if r["wal"] else 0), wal[1])

def pivots(db):
    # The first page of `search --ns` for a host with about 1,000 domains (as near as the zone
    # has), current and --at day 0: the reverse lookup answers from its index, not a scan.
    import sqlite3
    c = sqlite3.connect(db)
    host = c.execute("""SELECT rdata FROM records WHERE type = 'NS' AND until IS NULL GROUP BY rdata
                        ORDER BY abs(count(*) - 1000) LIMIT 1""").fetchone()[0]
    day0 = c.execute("SELECT substr(min(zone_date), 1, 10) FROM zones").fetchone()[0]
    served = c.execute("SELECT count(*) FROM records WHERE type = 'NS' AND until IS NULL AND rdata = ?", (host,)).fetchone()[0]
    c.close()
    provider = ".".join(host.split(".")[-2:])
    for label, cmd in (("search --ns, first page", f"search --ns {host} --limit 100"),
                       ("search --ns --at day 0", f"search --ns {host} --limit 100 --at {day0}"),
                       (f"search --provider {provider}", f"search --provider {provider} --limit 100"),
                       ("ns HOST (its page)", f"ns {host}")):
        secs, rss, _ = measured(f"{binary} --db {db} {cmd} > /dev/null")
        add(label, label if "provider" in label else f"{label} ({served} domains)", secs, rss)

records = None
for _ in range(int(os.environ.get("BENCH_RUNS", "3"))):
    secs, rss, _ = measured(f"gzip -dc {gz} > /dev/null")
    add("gzip", "gzip -dc > /dev/null", secs, rss)
    # Issue 14's targets, as ratios to gzip -dc: first import, the next days.
    for label, flags, targets in (("zonefeed import --no-records", "--no-records", (1.6, 1.3)), ("zonefeed import", "", (3.0, 1.8))):
        db = fresh_db()
        secs, rss, out = measured(f"{binary} -v --db {db} --quiet --format jsonl import {flags} {gz}", db)
        s = json.loads(out.strip().splitlines()[-1])
        records = s["records"]
        add(label, label, secs, rss, (measured.wal, os.path.getsize(db)), targets[0])
        # The zone's domains as Parquet (issue 16: no slower than its --no-records import);
        # not for a baseline build, which may not have `export`.
        if not os.environ.get("BENCH_BIN"):
            out_dir = os.path.join(d, "export")
            subprocess.run(["rm", "-rf", out_dir], check=True)
            secs, rss, _ = measured(f"{binary} --db {db} --quiet export --to {out_dir} --tables domains")
            add("export " + flags, "  export --tables domains of it", secs, rss)
            subprocess.run(["rm", "-rf", out_dir], check=True)
        # The next day over this one, the daily case: at .com's churn over a copy of it, then
        # at zonegen's.
        # (Each import ends with its WAL checkpointed into the database file, no reader
        # holding it: the file alone is the database.)
        day0 = os.path.join(d, "bench-day0.db")
        assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0, "WAL not checkpointed"
        shutil.copyfile(db, day0)
        for key, day1, churn in ((" next 0.2", gz1s, "0.2%"), (" next", gz1, "1.5%")):
            if key == " next":
                assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0, "WAL not checkpointed"
                for suffix in ("-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
                os.replace(day0, db)
            secs, rss, out = measured(f"{binary} -v --db {db} --quiet --format jsonl import {flags} {day1}", db)
            s = json.loads(out.strip().splitlines()[-1])
            changed = s["new_domains"] + s["changed_domains"] + s["removed_domains"]
            add(label + key, f"  next day, {churn} ({changed} changes)", secs, rss, (measured.wal, os.path.getsize(db)), targets[1])
        # The next day over zonegen's day 1: the database the pivots and pages below read.
        if flags == "" and not os.environ.get("BENCH_BIN"):
            pivots(db)
            # The web page in a real browser, once, on the two days with records.
            if not runs.get("pages"):
                runs["pages"] = subprocess.run([sys.executable, "scripts/page_times.py", binary, db], capture_output=True, text=True)

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

base = median(runs["gzip"]["secs"])
if "export --no-records" in runs:
    for flags in ("--no-records", ""):
        e = median(runs["export " + flags]["secs"])
        print(f"export of the domains (database imported {flags or 'with records'}) / import --no-records: "
              f"{e / median(runs['zonefeed import --no-records']['secs']):.2f}")
print(f"zone: {n} domains, {records} records, {text/1e6:.0f} MB text, {os.path.getsize(gz)/1e6:.0f} MB gzip; {os.cpu_count()} cores; median of {len(runs['gzip']['secs'])} runs")
print(f"{'command':32} {'seconds':>8} {'MB/s':>7} {'Mrec/s':>7} {'peak RSS':>9} {'x gzip -dc':>10} {'target':>6} {'cores':>5} {'cpu x':>5} {'peak WAL / db':>16}"
      f"   floors (s): parse / writer / after")
pages = runs.pop("pages", None)
for r in runs.values():
    label, secs, wal = r["label"], median(r["secs"]), r["wal"]
    if label.startswith(("search", "ns ")):
        # A whole command (process start and database open included), in milliseconds.
        print(f"{label:48} {secs*1000:8.1f} ms")
        continue
    w = f"{wal[0]/2**20:.0f}/{wal[1]/2**20:.0f} MiB" if wal else ""
    t = f"<={r['target']}" if r["target"] else ""
    fl = ""
    if r["floors"]:
        # The run whose time is the median's (or the nearest).
        f = min(r["floors"], key=lambda f: abs(f[0] + f[2] - secs))
        fl = f"   {f[0]:6.2f} / {f[1]:6.2f} / {f[2]:6.2f}"
    # Cores busy on average (CPU time, user + system, over wall time, median of the runs):
    # near the machine's count, a case is bound by CPU, and only less of it makes it faster.
    cores = median([c / s for c, s in zip(r["cpu"], r["secs"])])
    # The CPU floor: the ratio to gzip -dc this much CPU time would give with every core busy
    # from start to end. A target below it needs less work, not more overlap.
    cpu_x = median(r["cpu"]) / os.cpu_count() / base
    print(f"{label:32} {secs:8.2f} {text/1e6/secs:7.0f} {records/1e6/secs:7.2f} {r['rss']/2**20:7.0f}Mi {secs/base:10.2f} {t:>6} {cores:5.2f} {cpu_x:5.2f} {w:>16}{fl}")
if pages:
    print(pages.stdout + pages.stderr, end="")
PY
rm -f "$DIR"/bench.db*

# --- sync against a throttled local CZDS -------------------------------------------------
# BENCH_SYNC=0 skips it (at 2 MB/s a 10M-domain zone takes minutes per transfer).
[ "${BENCH_SYNC:-1}" = 0 ] && { rm -f "$DIR"/bench.db*; exit 0; }
# Twice: from scratch (day 0 into an empty database), then the daily case (day 1 served, the
# database holding day 0), each against a download alone of the same file.
RATE="${BENCH_RATE:-2000000}"
S="$DIR/sync"
rm -rf "$S" && mkdir -p "$S"
MOCK=""
trap 'kill $MOCK 2>/dev/null || true' EXIT
for day in 0 1; do
    src="$GZ"; [ "$day" = 1 ] && src="$GZ1"
    D="$S/day$day"
    mkdir -p "$D/serve" "$D/work"
    ln "$src" "$D/serve/com.zone.gz" 2>/dev/null || cp "$src" "$D/serve/com.zone.gz"
    target/release/examples/czds_mock "$RATE" "$D/url" "$D/serve/com.zone.gz" &
    MOCK=$!
    for _ in $(seq 100); do [ -s "$D/url" ] && break; sleep 0.05; done
    URL="$(cat "$D/url")"
    # The mock's account (tests/it/czds_server.rs).
    cat > "$D/config.json" <<JSON
{"icann.account.username": "tester@example.com", "icann.account.password": "correct-horse-battery-staple-77",
 "authentication.base.url": "$URL", "czds.base.url": "$URL", "working.directory": "$D/work"}
JSON
    chmod 600 "$D/config.json"
    python3 - "$BIN" "$D" "$RATE" "$day" "$GZ" <<'PY'
import os, subprocess, sys, time
binary, d, rate, day, day0 = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
cfg = os.path.join(d, "config.json")
size = os.path.getsize(os.path.join(d, "serve", "com.zone.gz"))

def run(label, args, timed=True):
    t = time.perf_counter()
    r = subprocess.run([binary, "--config", cfg, "--quiet"] + args, capture_output=True, text=True)
    secs = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"{label} failed ({r.returncode}): {r.stderr[-2000:]}")
    return secs

if day == "1":
    # The daily case: yesterday is in the database already (not timed). Dated the day before
    # the served file's Last-Modified (an hour ago), not by its mtime: in the first hour of a
    # UTC day that mtime is today, after the served file's day, and sync would refuse it.
    import datetime
    served = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    before = (served - datetime.timedelta(days=1)).strftime("%Y-%m-%d")
    run("import day 0", ["--db", f"{d}/b.db", "import", "--no-records", "--date", before, day0])
    run("import day 0", ["--db", f"{d}/c.db", "import", "--date", before, day0])
rows = []
base = run("download", ["--db", f"{d}/a.db", "download", "com", "--dir", f"{d}/a"])
rows.append(("zonefeed download", base))
rows.append(("zonefeed sync --no-records", run("sync", ["--db", f"{d}/b.db", "sync", "com", "--dir", f"{d}/b", "--no-records"])))
rows.append(("zonefeed sync", run("sync", ["--db", f"{d}/c.db", "sync", "com", "--dir", f"{d}/c"])))
what = "into an empty database" if day == "0" else "the next day, over the previous one"
print(f"\nsync {what}: {size/1e6:.1f} MB gzip served at {rate/1e6:.1f} MB/s by a local CZDS")
print(f"{'command':32} {'seconds':>8} {'x download':>10}")
for label, secs in rows:
    print(f"{label:32} {secs:8.2f} {secs/base:10.2f}")
PY
    kill $MOCK 2>/dev/null || true
    wait $MOCK 2>/dev/null || true
done
rm -rf "$S"
