"""Drives `zonefeed serve`'s web page in headless Chromium (Playwright's Python client) the way
an analyst would, and prints what the pages showed as JSON; tests/it/web.rs checks it against
the zone texts. Arguments: a JSON object with base, domain, day1, day2, feed_day, tld, shots
(a directory for screenshots, or null) and chromium (the browser's path)."""

import json
import sys

from playwright.sync_api import sync_playwright

args = json.loads(sys.argv[1])
base = args["base"]
out = {"console": [], "pages": []}


def texts(page, selector):
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def check_text(page):
    """Words a page shows only when a value went missing on the way to it."""
    body = page.inner_text("body")
    for word in ("null", "undefined", "NaN", "[object Object]"):
        if word in body.split() or word == "[object Object]" and word in body:
            out.setdefault("bad_text", []).append(f"{page.url}: {word}")


def text_heights(page):
    """The rendered heights, in CSS pixels, of the charts' axis labels: text that scaled with
    its chart read 6 px on the zone page and very large on a name server's."""
    page.wait_for_timeout(100)  # the labels are sized once the chart is laid out
    return page.locator("svg.chart text").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")


def fact(page, label):
    """The value of a figure (dt/dd pair) by its label."""
    return page.locator(f"dl.facts div:has(dt:text-is('{label}')) dd").first.inner_text().strip()


with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=args["chromium"], args=["--no-sandbox"])
    ctx = browser.new_context(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page = ctx.new_page()
    page.on("console", lambda m: out["console"].append(f"{page.url}: {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: out["console"].append(f"{page.url}: uncaught: {e}"))
    page.on("load", lambda pg: out["pages"].append(pg.url))

    # Search from the box on the home page, open the domain.
    page.goto(base + "/")
    page.wait_for_selector("h1")
    page.fill("#q", args["domain"])
    page.press("#q", "Enter")
    page.wait_for_selector("main table")
    out["search_results"] = texts(page, "main table tbody td:first-child a")
    page.click(f"main table a:text-is('{args['domain']}')")
    page.wait_for_selector("section.zone")
    out["domain_url"] = page.url
    out["ns_now"] = texts(page, "section.zone ul.ns li a")
    check_text(page)
    event = page.locator(f"ol.timeline li.modified[data-date='{args['day2']}']")
    out["diff"] = [t.strip() for t in event.locator(".diff li").all_inner_texts()]
    out["diff_classes"] = [c for c in event.locator(".diff li").evaluate_all("els => els.map(e => e.className)")]
    if args["shots"]:
        page.screenshot(path=args["shots"] + "/domain.png", full_page=True)

    # The date picker: the domain as it was on day 1, then day 2.
    for key in ("day1", "day2"):
        page.fill("#at", args[key])
        page.click("form.inline button[type=submit]")
        page.wait_for_url(f"**at={args[key]}")
        page.wait_for_selector("section.zone")
        out["ns_" + key] = texts(page, "section.zone ul.ns li a")

    # Follow an NS link to the name server's page.
    host = out["ns_day2"][0] if out["ns_day2"] else None
    out["ns_host"] = host
    if host:
        page.click(f"section.zone ul.ns a:text-is('{host}')")
        page.wait_for_selector("dl.facts")
        out["ns_url"] = page.url
        out["ns_domains_now"] = fact(page, "domains now")
        out["ns_rows"] = page.locator("h2#now + div tbody tr").evaluate_all(
            "rows => rows.map(r => [r.cells[0].innerText.trim(), r.cells[2].innerText.trim()])"
        )
        check_text(page)
        out["ns_chart"] = page.locator("svg.chart circle[data-series=domains]").evaluate_all(
            "els => els.map(e => [e.dataset.date, Number(e.dataset.value)])"
        )
        out["text_px"] = {"ns": text_heights(page)}

    # The zone page: one chart point per version.
    page.goto(f"{base}/zone/{args['tld']}")
    page.wait_for_selector("#checks table")
    page.wait_for_selector("#stats table")
    check_text(page)
    out["zone_chart"] = {}
    for key in ("domains", "added", "removed", "modified", "ds_share"):
        out["zone_chart"][key] = page.locator(f"svg.chart circle[data-series={key}]").evaluate_all(
            "els => els.map(e => [e.dataset.date, Number(e.dataset.value)])"
        )
    out.setdefault("text_px", {})["zone"] = text_heights(page)
    if args["shots"]:
        page.screenshot(path=args["shots"] + "/zone.png")

    # A zone kept without records: its page says what it lacks, with no failed request.
    page.goto(f"{base}/zone/{args['nr_tld']}")
    page.wait_for_selector("body[data-ready]")
    out["nr_checks"] = page.inner_text("#checks")
    out["nr_domains"] = fact(page, "domains")
    check_text(page)

    # The day's new domains, and their CSV download.
    page.goto(f"{base}/feed/{args['tld']}/{args['feed_day']}?kind=added")
    page.wait_for_selector("main table")
    out["feed_rows"] = texts(page, "main table tbody td:first-child a")
    check_text(page)
    out["feed_hits"] = texts(page, "main table tbody tr.hit td:first-child a")
    with page.expect_download() as dl:
        page.click("a:text-is('Download CSV')")
    out["csv"] = open(dl.value.path(), encoding="utf-8").read()

    # Hostile URLs: a broken escape, markup in a name. The page says what is wrong; nothing
    # runs (an alert would fail the run: Playwright dismisses dialogs, and we count them).
    page.on("dialog", lambda d: (out.setdefault("dialogs", []).append(d.message), d.dismiss()))
    before = len(out["console"])
    for path in ("/domain/%zz", "/domain/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.com", "/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E"):
        page.goto(base + path)
        page.wait_for_selector("body[data-ready]")
        out.setdefault("hostile", []).append(page.inner_text("main").strip())
        out.setdefault("hostile_code", []).extend(texts(page, "main p.error code"))
    # The API's 400s are logged as failed loads; they are kept apart from the pages' own.
    out["hostile_console"] = out["console"][before:]
    del out["console"][before:]

    # Keyboard: the skip link is the first stop on a fresh page.
    page.goto(base + "/")
    page.wait_for_selector("h1")
    page.keyboard.press("Tab")
    out["first_tab"] = page.evaluate("document.activeElement.textContent")

    browser.close()

print(json.dumps(out))
