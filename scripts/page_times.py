#!/usr/bin/env python3
"""How long the web page's pages take in a real browser, on a database made by bench.sh.

    scripts/page_times.py ZONEFEED_BINARY DATABASE [RUNS]

Starts `zonefeed serve` on the database, waits until it has computed the zones' statistics
(which it does once per version, ahead of the first visit), then loads each page RUNS times (3)
in headless Chromium (Playwright's Python client, Debian's /usr/bin/chromium or
$ZONEFEED_CHROMIUM) and prints the median time from navigation to the page's `data-ready`
mark: every request the page makes answered and drawn. Pages: the zone, a domain modified in
the last version, the busiest name server and one of about 1,000 domains, the busiest
provider, the last day's feeds of new and moved domains, and a search.
"""

import os
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request

binary, db = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
chromium = os.environ.get("ZONEFEED_CHROMIUM", "/usr/bin/chromium")
try:
    from playwright.sync_api import sync_playwright
except ImportError:
    sys.exit("page times skipped: no Playwright for python3 (pip install playwright)")
if not os.path.isfile(chromium):
    sys.exit(f"page times skipped: no Chromium at {chromium}")

c = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
tld, version, date = c.execute("SELECT tld, id, substr(zone_date, 1, 10) FROM zones WHERE state = 'current' ORDER BY domains DESC LIMIT 1").fetchone()
modified = c.execute("SELECT domain FROM events WHERE zone = ? AND kind = 'modified' ORDER BY domain LIMIT 1", (version,)).fetchone()
hosts = c.execute(
    """SELECT rdata, count(*) FROM records WHERE tld = ? AND type = 'NS' AND owner = domain AND until IS NULL
        GROUP BY rdata ORDER BY count(*) DESC""",
    (tld,),
).fetchall()
c.close()
busiest = hosts[0]
middling = min(hosts, key=lambda h: abs(h[1] - 1000))
provider = ".".join(busiest[0].split(".")[-2:])
pages = [
    (f"zone {tld}", f"/zone/{tld}"),
    ("domain (modified)", f"/domain/{modified[0]}" if modified else None),
    (f"name server, {busiest[1]} domains", f"/ns/{busiest[0]}"),
    (f"name server, {middling[1]} domains", f"/ns/{middling[0]}"),
    (f"provider {provider}", f"/provider/{provider}"),
    (f"feed {date} added", f"/feed/{tld}/{date}?kind=added"),
    (f"feed {date} moved", f"/feed/{tld}/{date}?kind=moved"),
    ("search, a name", f"/search?q={modified[0] if modified else 'example.com'}"),
    ("search contains:paypal (reads every name)", "/search?q=contains%3Apaypal"),
]

server = subprocess.Popen([binary, "--db", db, "serve", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    base = server.stdout.readline().strip().removeprefix("listening on ").split()[0].removesuffix("/")
    t = time.perf_counter()
    while True:
        try:
            urllib.request.urlopen(f"{base}/v1/zones/{tld}/checks?limit=1", timeout=3600).read()
            break
        except urllib.error.HTTPError as e:
            if e.code != 503:  # 503: the request timed out while the figures are computed
                raise
    warm = time.perf_counter() - t
    print(f"web pages on {db}: statistics and checks computed in {warm:.1f} s after start; median of {runs} loads")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        for label, path in pages:
            if not path:
                continue
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                page.goto(base + path)
                page.wait_for_selector("body[data-ready]", timeout=120_000)
                times.append(time.perf_counter() - t)
            print(f"  {label:40} {statistics.median(times) * 1000:8.1f} ms")
        browser.close()
finally:
    server.kill()
    server.wait()
