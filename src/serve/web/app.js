// zonefeed's web page: reads the URL, asks /v1, draws the page. Every element is built from
// text nodes (h() below), never from HTML strings: names, records and watch terms come from
// zone files and users.
"use strict";

const main = document.getElementById("main");

/** An element with attributes and children (strings become text nodes). */
function h(tag, attrs, ...children) {
  const svg = ["svg", "polyline", "circle", "line", "text", "title", "g"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const enc = encodeURIComponent;
const num = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en"));
const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(2) + "%");
const day = (t) => (t ? String(t).slice(0, 10) : "–");
const zonePath = (tld) => (tld === "." ? "root" : tld);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET a /v1 path as JSON; errors carry the API's message. */
async function api(path) {
  const r = await fetch(path, { headers: { accept: "application/json" } });
  const body = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, (body && body.error && body.error.message) || r.statusText);
  return body;
}

/**
 * A figure the server computes once per version, which takes a while on a big zone after an
 * import: a request that times out (503) is asked again, saying so in `box`.
 */
async function patient(path, box) {
  for (let i = 0; ; i++) {
    try {
      return await api(path);
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 503 || i >= 20) throw e;
      fill(box, h("p", { class: "muted" }, `Still computing (the zone was imported lately); asking again (${i + 1})…`));
    }
  }
}

/** Replaces a box's content (null children are left out). */
function fill(box, ...content) {
  box.replaceChildren(...content.flat().filter(Boolean));
}

/** Shows a page: its title, and its content in `main`. */
function show(title, ...content) {
  document.title = title ? `${title} · zonefeed` : "zonefeed";
  fill(main, ...content);
}

/** An API message for people: its `quoted` parts as code, not raw backticks. */
function prose(text) {
  return String(text).split("`").map((part, i) => (i % 2 ? h("code", {}, part) : part));
}

function fail(e) {
  show("Error", h("p", { class: "error", role: "alert" }, ...(e instanceof ApiError ? prose(e.message) : [`Something went wrong: ${e.message}`])));
}

const domainLink = (name) => h("a", { href: `/domain/${enc(name)}` }, name);
const nsLink = (host) => h("a", { href: `/ns/${enc(host)}` }, host);

/** A definition list of figures. */
function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))));
}

function table(head, rows, numeric = []) {
  return h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, head.map((c, i) => h("th", { scope: "col", class: numeric.includes(i) ? "num" : null }, c)))),
      h("tbody", {}, rows),
    ),
  );
}

/** Next/previous links of a paged list: the API's cursors carried in this page's URL. */
function pager(paging) {
  const url = (k, v) => {
    const q = new URLSearchParams(location.search);
    q.delete("after");
    q.delete("before");
    q.set(k, v);
    return `${location.pathname}?${q}`;
  };
  const links = [];
  if (paging && paging.previous && paging.cursors.before) links.push(h("a", { class: "button", href: url("before", paging.cursors.before), rel: "prev" }, "← Previous"));
  if (paging && paging.next && paging.cursors.after) links.push(h("a", { class: "button", href: url("after", paging.cursors.after), rel: "next" }, "Next →"));
  return links.length ? h("nav", { class: "pager", "aria-label": "pages" }, links) : null;
}

/**
 * A line chart as SVG: one <circle> per point with the value in its <title> and data
 * attributes, and the same numbers in a table below for screen readers and for reading off.
 */
function chart(caption, points, series, fmt = num, { zoom = false } = {}) {
  const W = 560, H = 220, L = 64, R = 12, T = 12, B = 28;
  const values = points.flatMap((p) => series.map((s) => p[s.key])).filter((v) => v !== null && v !== undefined);
  let lo = Math.min(0, ...values), hi = Math.max(...values, 0);
  if (zoom && values.length) {
    // Totals move by a fraction a day: show their range, not the distance from zero.
    const min = Math.min(...values), max = Math.max(...values);
    const pad = Math.max((max - min) * 0.15, Math.abs(max) * 0.002) || 1;
    [lo, hi] = [Math.max(0, min - pad), max + pad];
  }
  if (hi <= lo) hi = lo + (series.every((s) => s.key.endsWith("share")) ? 0.01 : 1);
  const x = (i) => (points.length === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (points.length - 1));
  const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo || 1));
  const tick = fmt === num ? (v) => num(Math.round(v)) : fmt;
  const svg = h(
    "svg",
    { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": caption },
    h("line", { class: "axis", x1: L, y1: y(lo), x2: W - R, y2: y(lo) }),
    h("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
    h("text", { x: L - 6, y: y(hi) + 4, "text-anchor": "end" }, tick(hi)),
    h("text", { x: L - 6, y: y(lo) + 4, "text-anchor": "end" }, tick(lo)),
    points.length ? h("text", { x: L, y: H - 8 }, points[0].date) : null,
    points.length > 1 ? h("text", { x: W - R, y: H - 8, "text-anchor": "end" }, points[points.length - 1].date) : null,
  );
  series.forEach((s, si) => {
    const pts = points.map((p, i) => [i, p[s.key]]).filter(([, v]) => v !== null && v !== undefined);
    svg.append(h("polyline", { class: `s${si}`, points: pts.map(([i, v]) => `${x(i)},${y(v)}`).join(" ") }));
    for (const [i, v] of pts) {
      svg.append(
        h("circle", { class: `s${si}`, cx: x(i), cy: y(v), r: 3.5, "data-series": s.key, "data-date": points[i].date, "data-value": v },
          h("title", {}, `${points[i].date} ${s.label}: ${fmt(v)}`)),
      );
    }
  });
  // The drawing scales with its box, its text must not: 12 CSS pixels at any width.
  new ResizeObserver(() => {
    const w = svg.getBoundingClientRect().width;
    if (w > 0) svg.style.setProperty("--text", `${(12 * W) / w}px`);
  }).observe(svg);
  const legend = series.length > 1 ? h("ul", { class: "legend" }, series.map((s, si) => h("li", {}, h("span", { class: `swatch s${si}` }), s.label))) : null;
  const data = h(
    "details",
    {},
    h("summary", {}, "Table"),
    table(["date", ...series.map((s) => s.label)], points.map((p) => h("tr", {}, h("td", {}, p.date), series.map((s) => h("td", { class: "num" }, fmt(p[s.key]))))), series.map((_, i) => i + 1)),
  );
  return h("figure", { class: "chart" }, h("figcaption", {}, caption), legend, svg, data);
}

// ---- pages ----

async function home() {
  const zones = await api("/v1/zones");
  show(
    "",
    h("h1", {}, "Zones"),
    zones.items.length
      ? table(
          ["zone", "domains", "records", "version", "zone date", "imported"],
          zones.items.map((z) =>
            h("tr", {}, h("td", {}, h("a", { href: `/zone/${enc(zonePath(z.tld))}` }, z.tld)), h("td", { class: "num" }, num(z.domains)),
              h("td", { class: "num" }, z.records_kept ? num(z.records) : "not kept"), h("td", { class: "num" }, z.version), h("td", {}, z.zone_date ? day(z.zone_date) : "-"), h("td", {}, z.imported_at)),
          ),
          [1, 2, 3],
        )
      : h("p", { class: "muted" }, "No zone is imported yet: run zonefeed import or sync."),
  );
}

/** The search box's query as API parameters. */
function searchParams(q) {
  const m = /^(ns|provider|ip|contains|glob):\s*(.+)$/i.exec(q);
  if (m) return { [m[1].toLowerCase()]: m[2].trim() };
  if (/[*?[]/.test(q)) return { glob: q };
  return { search: q };
}

async function search() {
  const params = new URLSearchParams(location.search);
  const q = (params.get("q") || "").trim();
  document.getElementById("q").value = q;
  if (!q) return show("Search", h("h1", {}, "Search"), h("p", { class: "muted" }, "Type a name, a .suffix, contains:word, glob:pattern, ns:host, provider:domain or ip:address."));
  const p = new URLSearchParams(searchParams(q));
  for (const k of ["after", "before", "tld", "at"]) if (params.get(k)) p.set(k, params.get(k));
  p.set("limit", "50");
  p.set("base_url", "0");
  const res = await api(`/v1/domains?${p}`);
  show(
    `Search ${q}`,
    h("h1", {}, `Search: ${q}`),
    res.items.length
      ? table(["domain", "zone", "unicode"], res.items.map((d) => h("tr", {}, h("td", {}, domainLink(d.name)), h("td", {}, d.tld), h("td", {}, d.unicode !== d.name ? d.unicode : ""))))
      : h("p", { class: "muted" }, "No current domain matches."),
    pager(res.paging),
  );
}

/** Records grouped NS / DS / glue / other. */
function recordGroups(z) {
  if (!z.records_kept) return [h("p", { class: "muted" }, "This zone was imported with --no-records: only the name is kept.")];
  const ns = z.records.filter((r) => r.type === "NS" && r.owner === z.name);
  const ds = z.records.filter((r) => r.type === "DS");
  const glue = z.records.filter((r) => r.type === "A" || r.type === "AAAA");
  const other = z.records.filter((r) => !ns.includes(r) && !ds.includes(r) && !glue.includes(r));
  const out = [];
  out.push(h("h3", {}, `NS (${ns.length})`), h("ul", { class: "ns" }, ns.map((r) => h("li", {}, nsLink(r.rdata), h("span", { class: "muted" }, ` TTL ${r.ttl}`)))));
  if (ds.length) out.push(h("h3", {}, `DS (${ds.length})`), table(["owner", "TTL", "data"], ds.map((r) => h("tr", {}, h("td", {}, r.owner), h("td", { class: "num" }, r.ttl), h("td", { class: "mono" }, r.rdata))), [1]));
  if (glue.length) out.push(h("h3", {}, `Glue (${glue.length})`), table(["host", "type", "address"], glue.map((r) => h("tr", {}, h("td", {}, nsLink(r.owner)), h("td", {}, r.type), h("td", { class: "mono" }, r.rdata)))));
  if (other.length) out.push(h("h3", {}, `Other (${other.length})`), table(["owner", "type", "TTL", "data"], other.map((r) => h("tr", {}, h("td", {}, r.owner), h("td", {}, r.type), h("td", { class: "num" }, r.ttl), h("td", { class: "mono" }, r.rdata))), [2]));
  if (z.records_total) out.push(h("p", { class: "muted" }, `The first ${num(z.records.length)} of its ${num(z.records_total)} records are shown.`));
  return out;
}

const rec = (r) => `${r.owner} ${r.ttl} ${r.type} ${r.rdata}`;

/** One event of a timeline or feed: kind, date, the diff (+/-) and the move. */
function eventBody(e) {
  const parts = [];
  if (e.moved) parts.push(h("p", { class: "moved" }, "moved from ", e.moved.from.join(", ") || "–", " → ", e.moved.to.join(", ") || "–"));
  if (e.diff) {
    parts.push(
      h("ul", { class: "diff", "aria-label": "records removed and added" },
        e.diff.removed.map((r) => h("li", { class: "del" }, `- ${rec(r)}`)),
        e.diff.added.map((r) => h("li", { class: "add" }, `+ ${rec(r)}`))),
    );
  } else if (e.kind === "modified" && e.diff === null) {
    parts.push(h("p", { class: "muted" }, "imported without records: no diff"));
  }
  if (e.delegation) {
    const d = e.delegation;
    parts.push(h("p", { class: "delegation" }, `worst ${d.previous_worst || "nothing"} → ${d.worst || "nothing"}`,
      d.tags_added.length ? h("span", { class: "add" }, ` + ${d.tags_added.join(", ")}`) : null,
      d.tags_removed.length ? h("span", { class: "del" }, ` − ${d.tags_removed.join(", ")}`) : null));
  }
  if (e.registration) {
    const r = e.registration;
    const who = (x) => (x ? `${x.name || "–"}${x.iana_id ? ` (IANA ${x.iana_id})` : ""}` : "–");
    if (e.kind === "registrar_changed") parts.push(h("p", { class: "registration" }, `registrar ${who(r.from)} → ${who(r.to)}`));
    if (e.kind === "status_changed") {
      parts.push(h("p", { class: "registration" },
        r.added.length ? h("span", { class: "add" }, `+ ${r.added.join(", ")}`) : null,
        r.removed.length ? h("span", { class: "del" }, ` − ${r.removed.join(", ")}`) : null));
    }
    if (e.kind === "expiring") parts.push(h("p", { class: "registration" }, `expires ${day(r.expires)} (${r.days_left} days left)`));
  }
  return parts;
}

const ARGS = (a) => Object.entries(a || {}).map(([k, v]) => `${k}=${v}`).join(" ");

/** A domain's latest kept analysis (`analyze --tld`) and how its findings came and went. */
function analysisSection(z) {
  const a = z.analysis;
  if (!a) return null;
  const shown = a.findings.filter((f) => f.level !== "INFO");
  const changes = (z.analysis_history || []).filter((c) => c.level !== "INFO").slice().reverse();
  return h(
    "div",
    { class: "analysis" },
    h("h3", {}, "Live analysis"),
    facts([
      ["worst", a.worst || "nothing"],
      ["analysed", `${a.date} (run ${a.run})`],
      ["critical / error / warning / notice", `${a.count.critical} / ${a.count.error} / ${a.count.warning} / ${a.count.notice}`],
    ]),
    shown.length
      ? table(["level", "test case", "tag", "arguments"], shown.map((f) => h("tr", { class: `level-${f.level.toLowerCase()}` }, h("td", {}, f.level), h("td", {}, f.testcase), h("td", { class: "mono" }, f.tag), h("td", { class: "mono" }, ARGS(f.args)))))
      : h("p", { class: "muted" }, "No finding at NOTICE or above."),
    changes.length
      ? h("details", {}, h("summary", {}, "Findings over time"),
        table(["date", "", "level", "test case", "tag", "arguments"], changes.map((c) => h("tr", { class: `finding ${c.change}` }, h("td", {}, c.date), h("td", {}, c.change), h("td", {}, c.level), h("td", {}, c.testcase), h("td", { class: "mono" }, c.tag), h("td", { class: "mono" }, ARGS(c.args))))))
      : null,
  );
}

async function domain(name) {
  const at = new URLSearchParams(location.search).get("at");
  let res;
  try {
    res = await api(`/v1/domains/${enc(name)}${at ? `?at=${enc(at)}` : ""}`);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404 || !at) throw e;
    res = null;
  }
  const picker = h(
    "form",
    { class: "inline", action: location.pathname, method: "get" },
    h("label", { for: "at" }, "As it was on"),
    h("input", { id: "at", name: "at", type: "date", value: at || "" }),
    h("button", { type: "submit" }, "Show"),
    at ? h("a", { href: location.pathname }, "now") : null,
  );
  if (!res) return show(name, h("h1", {}, name), picker, h("p", { class: "muted" }, `Not in any zone on ${at}.`));
  const sections = res.zones.map((z) => {
    const hist = (z.history || []).slice().reverse();
    return h(
      "section",
      { class: "zone" },
      h("h2", {}, `In ${z.tld}`, at ? ` on ${at}` : "", z.removed_at ? h("span", { class: "badge" }, `removed ${day(z.removed_at)}`) : null),
      facts([
        ["first seen", day(z.first_seen)],
        ["last seen", day(z.last_seen)],
        ["last changed", day(z.last_changed)],
        ["version", z.zone_version],
      ]),
      recordGroups(z),
      analysisSection(z),
      h("h3", {}, "Timeline"),
      hist.length
        ? h("ol", { class: "timeline", reversed: true }, hist.map((e) => h("li", { class: `event ${e.kind}`, "data-date": day(e.at) }, h("span", { class: "kind" }, e.kind), " ", h("time", { datetime: day(e.at) }, day(e.at)), " ", h("a", { href: `/feed/${enc(zonePath(e.tld))}/${day(e.at)}${KINDS.includes(e.kind) ? `?kind=${e.kind}` : ""}` }, "feed"), eventBody(e))))
        : h("p", { class: "muted" }, "No change recorded", z.history_pruned_before ? ` since ${day(z.history_pruned_before)}` : "", "."),
    );
  });
  show(name, h("h1", {}, res.unicode !== name ? `${res.unicode} (${name})` : name), picker, liveSection(res.monitor), sections);
}

/** A monitored domain's live records (`zonefeed monitor`) as its checks found them now;
 * nothing for a domain that is not monitored. */
function liveSection(m) {
  if (!m) return null;
  const l = m.live;
  return h("section", { class: "zone" },
    h("h2", {}, "Live records", l ? h("span", { class: "badge" }, l.state) : null),
    facts([
      ["last checked", m.monitored.last_check || "not yet"],
      ["as found since", l ? l.since : "–"],
      ["last change", m.monitored.last_change || "–"],
      ["monitored since", day(m.monitored.added_at)],
      ["source", m.monitored.source],
    ]),
    l && l.records.length
      ? table(["owner", "type", "TTL", "data"], l.records.map((r) => h("tr", {}, h("td", {}, r.owner), h("td", {}, r.type), h("td", { class: "num" }, r.ttl), h("td", { class: "mono" }, r.rdata))), [2])
      : h("p", { class: "muted" }, l ? "The last check found no records." : "Not checked yet (`zonefeed monitor run`)."),
    l ? table(["server", "answered", ""], l.servers.map((s) => h("tr", {}, h("td", { class: "mono" }, s.server), h("td", {}, s.answered ? "yes" : "no"), h("td", {}, s.error || "")))) : null,
    registrationPart(m.registration, m.monitored.rdap_error));
}

/** A monitored domain's registration as its registry's RDAP server gave it. */
function registrationPart(r, error) {
  if (!r) return error ? h("p", { class: "muted" }, "Registration: ", error) : null;
  const registrar = r.registrar_id ? `${r.registrar || "–"} (IANA ${r.registrar_id})` : r.registrar || "–";
  return h("div", {},
    h("h3", {}, "Registration"),
    facts([
      ["registrar", registrar],
      ["created", r.created ? day(r.created) : "–"],
      ["expires", r.expires ? day(r.expires) : "–"],
      ["last changed", r.changed ? day(r.changed) : "–"],
      ["status", r.status.join(", ") || "–"],
      ["name servers", r.nameservers.join(" ") || "–"],
      ["as found since", r.since],
      ["last asked", r.fetched_at || "–"],
    ]),
    r.error ? h("p", { class: "muted" }, "The last fetch failed: ", r.error) : null);
}

/** A name server's or a provider's page. */
async function served(kind, name) {
  const base = kind === "ns" ? `/v1/nameservers/${enc(name)}` : `/v1/providers/${enc(name)}`;
  const summary = kind === "ns" ? `${base}?days=0` : base;
  const params = new URLSearchParams(location.search);
  const q = new URLSearchParams({ [kind === "ns" ? "ns" : "provider"]: name, limit: "50", base_url: "0" });
  if (params.get("after")) q.set("after", params.get("after"));
  if (params.get("before")) q.set("before", params.get("before"));
  const cq = new URLSearchParams({ limit: "50", base_url: "0" });
  if (params.get("changes")) cq.set("after", params.get("changes"));
  const [info, series, domains, changes] = await Promise.all([api(summary), api(`${base}/series`), api(`/v1/domains?${q}`), api(`${base}/changes?${cq}`)]);
  const figures = [["domains now", num(info.domains)], ["first seen", day(info.first_seen)], ["last seen", day(info.last_seen)]];
  if (info.addresses) figures.push(["glue addresses", info.addresses.length ? info.addresses.join(", ") : "none"]);
  const changesPager = changes.paging.next ? h("nav", { class: "pager" }, h("a", { class: "button", href: `${location.pathname}?changes=${enc(changes.paging.cursors.after)}#changes` }, "Older →")) : null;
  show(
    name,
    h("h1", {}, kind === "ns" ? `Name server ${name}` : `Provider ${name}`),
    kind === "ns" ? h("p", {}, "Provider: ", h("a", { href: `/provider/${enc(info.provider)}` }, info.provider)) : null,
    facts(figures),
    chart("Domains served per day", series.items, [{ key: "domains", label: "domains" }], num, { zoom: true }),
    h("h2", { id: "changes" }, "Latest gained and lost"),
    changes.items.length
      ? table(["date", "domain", "zone", "change"], changes.items.map((c) => h("tr", { class: c.kind }, h("td", {}, c.date), h("td", {}, domainLink(c.domain)), h("td", {}, c.tld), h("td", {}, c.kind === "gained" ? "+ gained" : "- lost"))))
      : h("p", { class: "muted" }, "No domain gained or lost it since its zones' first versions."),
    changesPager,
    h("h2", { id: "now" }, "Domains served now"),
    domains.items.length
      ? table(["domain", "zone", "delegated since"], domains.items.map((d) => h("tr", {}, h("td", {}, domainLink(d.name)), h("td", {}, d.tld), h("td", {}, d.delegated_since || "–"))))
      : h("p", { class: "muted" }, "None now."),
    domains.items.length ? h("p", { class: "muted" }, "Delegated since: the first day of the index's history (its first import with records) at the earliest.") : null,
    pager(domains.paging),
  );
}

async function zone(tld) {
  const level = new URLSearchParams(location.search).get("level") || "warning";
  const series = await api(`/v1/zones/${enc(tld)}/series`);
  const pts = series.items;
  const last = pts[pts.length - 1];
  const path = enc(zonePath(series.tld));
  // Statistics and checks read the whole zone once per version: they fill in when ready.
  const statsBox = h("div", { id: "stats" }, h("p", { class: "muted" }, "Computing statistics…"));
  const checksBox = h("div", { id: "checks" }, h("p", { class: "muted" }, "Computing checks…"));
  const findingsBox = h("div", { id: "findings" });
  show(
    `Zone ${series.tld}`,
    h("h1", {}, `Zone ${series.tld}`),
    facts([
      ["domains", num(last.domains)],
      ["with DS", last.ds_domains === null ? "–" : `${num(last.ds_domains)} (${pct(last.ds_share)})`],
      ["version", last.version],
      ["zone date", last.date],
      ["versions kept", pts.length],
    ]),
    h("h2", {}, "Over time"),
    h(
      "div",
      { class: "charts" },
      chart("Domains per day", pts, [{ key: "domains", label: "domains" }], num, { zoom: true }),
      chart("Changes per day", pts, [
        { key: "added", label: "added" },
        { key: "modified", label: "modified" },
        { key: "removed", label: "removed" },
      ]),
      chart("DNSSEC: share of domains with DS", pts, [{ key: "ds_share", label: "DS share" }], pct, { zoom: true }),
    ),
    h("h2", {}, "Feeds"),
    table(
      ["date", "added", "removed", "modified", ""],
      pts.slice().reverse().slice(0, 30).map((p) =>
        h("tr", {}, h("td", {}, h("a", { href: `/feed/${path}/${p.date}` }, p.date)), h("td", { class: "num" }, num(p.added)), h("td", { class: "num" }, num(p.removed)), h("td", { class: "num" }, num(p.modified)),
          h("td", {}, h("a", { href: `/feed/${path}/${p.date}?kind=moved` }, "moved")))),
      [1, 2, 3],
    ),
    findingsBox,
    h("h2", {}, "Statistics"),
    statsBox,
    h("h2", {}, "Checks"),
    checksBox,
  );
  findingsChart(tld, findingsBox);
  const stats = await patient(`/v1/zones/${enc(tld)}`, statsBox).catch((e) => e);
  if (stats instanceof Error) fill(statsBox, h("p", { class: "error" }, ...prose(stats.message)));
  else fill(
    statsBox,
    facts([
      ["records", stats.records_kept ? num(stats.records) : "not kept"],
      ["serial", stats.serial ?? "–"],
      ["in-bailiwick", num(stats.in_bailiwick)],
      ["out-of-bailiwick", num(stats.out_of_bailiwick)],
      ["mixed bailiwick", num(stats.mixed_bailiwick)],
    ]),
    h("h3", {}, "Records per type"),
    table(["type", "records"], Object.entries(stats.types).map(([t, n]) => h("tr", {}, h("td", {}, t), h("td", { class: "num" }, num(n)))), [1]),
    h("div", { class: "charts" },
      h("div", {}, h("h3", {}, "Top name servers"),
        table(["name server", "delegations"], stats.top_ns_hosts.map(([n, c]) => h("tr", {}, h("td", {}, nsLink(n)), h("td", { class: "num" }, num(c)))), [1])),
      h("div", {}, h("h3", {}, "Top providers"),
        table(["provider", "domains"], stats.top_providers.map(([n, c]) => h("tr", {}, h("td", {}, h("a", { href: `/provider/${enc(n)}` }, n)), h("td", { class: "num" }, num(c)))), [1]))),
  );
  if (!(stats instanceof Error) && !stats.records_kept) {
    return fill(checksBox, h("p", { class: "muted" }, "Checks need the zone's records (this zone is imported with --no-records)."));
  }
  const checks = await patient(`/v1/zones/${enc(tld)}/checks?level=${enc(level)}&limit=200`, checksBox).catch((e) => e);
  if (checks instanceof Error) return fill(checksBox, h("p", { class: "error" }, ...prose(checks.message)));
  const levelForm = h(
    "form",
    { class: "inline", method: "get", action: location.pathname },
    h("label", { for: "level" }, "Findings at"),
    h("select", { id: "level", name: "level" }, ["notice", "warning", "error", "critical"].map((l) => h("option", { value: l, selected: l === level }, l))),
    h("button", { type: "submit" }, "Show"),
  );
  const shown = checks.findings;
  fill(
    checksBox,
    table(["level", "findings"], Object.entries(checks.summary).map(([l, n]) => h("tr", { class: `level-${l}` }, h("td", {}, l), h("td", { class: "num" }, num(n)))), [1]),
    levelForm,
    shown.length
      ? table(["level", "code", "domain", "finding"], shown.map((f) => h("tr", {}, h("td", {}, f.level), h("td", { class: "mono" }, f.code), h("td", {}, f.domain ? domainLink(f.domain) : ""), h("td", {}, f.message))))
      : h("p", { class: "muted" }, `No finding at ${level} or above.`),
    checks.findings_total > shown.length ? h("p", { class: "muted" }, `First ${shown.length} of ${num(checks.findings_total)}; zonefeed check lists them all.`) : null,
  );
}

const KINDS = ["added", "removed", "modified", "moved"];

/** A zone's kept analyses: domains per tag (WARNING and above) on each day, the six tags most
 * held on the last day drawn; nothing when the zone has none. */
async function findingsChart(tld, box) {
  const res = await api(`/v1/zones/${enc(tld)}/findings`).catch(() => null);
  if (!res || !res.items.length) return;
  const days = [...new Set(res.items.map((i) => i.date))];
  const points = days.map((d) => ({ date: d }));
  for (const i of res.items) points[days.indexOf(i.date)][i.tag] = i.domains;
  const last = points[points.length - 1];
  const tags = [...new Set(res.items.map((i) => i.tag))].sort((a, b) => (last[b] || 0) - (last[a] || 0) || a.localeCompare(b)).slice(0, 6);
  for (const p of points) for (const t of tags) p[t] = p[t] || 0;
  fill(
    box,
    h("h2", {}, "Live analysis"),
    h("div", { class: "charts" }, chart("Domains with each finding, per day", points, tags.map((t) => ({ key: t, label: t })))),
    table(["tag", `domains on ${last.date}`], tags.map((t) => h("tr", {}, h("td", { class: "mono" }, t), h("td", { class: "num" }, num(last[t])))), [1]),
  );
}

async function feed(tld, date) {
  const params = new URLSearchParams(location.search);
  const kind = KINDS.includes(params.get("kind")) ? params.get("kind") : "added";
  const q = new URLSearchParams({ kind, limit: "100", base_url: "0" });
  if (params.get("after")) q.set("after", params.get("after"));
  const [res, series] = await Promise.all([api(`/v1/zones/${enc(tld)}/feed/${enc(date)}?${q}`), api(`/v1/zones/${enc(tld)}/series`)]);
  const dates = series.items.map((p) => p.date);
  const i = dates.indexOf(date);
  const dayLink = (d, label) => (d ? h("a", { class: "button", href: `/feed/${enc(tld)}/${d}?kind=${kind}` }, label) : null);
  const csv = `/v1/zones/${enc(tld)}/feed/${enc(date)}?kind=${kind}&format=csv`;
  const rows = res.items.map((e) =>
    h(
      "tr",
      { class: e.watch.length ? "hit" : null },
      h("td", {}, domainLink(e.domain), e.watch.length ? h("span", { class: "badge", title: "watchlist hit" }, `★ watch: ${e.watch.map((w) => w.term).join(", ")}`) : null),
      h("td", {}, kind === "moved" || kind === "modified" ? eventBody(e) : ""),
    ),
  );
  show(
    `${kind} ${res.tld} ${date}`,
    h("h1", {}, `${res.tld}: ${kind} on ${date}`),
    h("ul", { class: "tabs" }, KINDS.map((k) => h("li", {}, h("a", { href: `/feed/${enc(tld)}/${date}?kind=${k}`, "aria-current": k === kind ? "page" : null }, k)))),
    h("nav", { class: "pager", "aria-label": "days" }, dayLink(dates[i - 1], "← Day before"), h("a", { class: "button", href: csv, download: `${tld}-${date}-${kind}.csv` }, "Download CSV"), dayLink(dates[i + 1], "Day after →"), h("a", { class: "button", href: `/zone/${enc(tld)}` }, "Zone")),
    rows.length ? table(["domain", kind === "moved" || kind === "modified" ? "change" : ""], rows) : h("p", { class: "muted" }, `No ${kind} domain on ${date}.`),
    pager(res.paging),
  );
}

async function route() {
  try {
    // A malformed %-escape throws here, and is reported like any other failure.
    const segs = location.pathname.split("/").filter(Boolean).map(decodeURIComponent);
    switch (segs[0]) {
      case undefined: return await home();
      case "search": return await search();
      case "domain": if (segs.length === 2) return await domain(segs[1]); break;
      case "ns": if (segs.length === 2) return await served("ns", segs[1]); break;
      case "provider": if (segs.length === 2) return await served("provider", segs[1]); break;
      case "zone": if (segs.length === 2) return await zone(segs[1]); break;
      case "feed": if (segs.length === 3) return await feed(segs[1], segs[2]); break;
    }
    show("Not found", h("h1", {}, "Not found"), h("p", {}, "No page here. ", h("a", { href: "/" }, "Zones")));
  } catch (e) {
    fail(e);
  }
}

// `data-ready` tells a test or a timing script that the page is drawn, sections that fill in
// later included.
route().finally(() => {
  document.body.dataset.ready = "1";
});
