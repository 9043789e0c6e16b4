//! `zonefeed serve`: a read-only JSON API over the database (prefix `/v1`).
//!
//! tiny_http (synchronous, small) fits the rest of the design: a few worker threads, each with
//! its own read-only SQLite connection, safe beside a running import thanks to WAL. Lists are
//! cursor-paginated (`{"items", "paging": {"cursors": {"after", "before"}, "next",
//! "previous"}}`); errors are `{"error": {"code", "message"}}`. Every value from a request
//! reaches SQL as a parameter.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::query::{self, check::Level, Page, Pattern};

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Options {
    pub db: PathBuf,
    /// The largest `limit` a list accepts.
    pub max_limit: usize,
    pub threads: usize,
}

const DEFAULT_LIMIT: usize = 100;

struct Shared {
    opts: Options,
    requests: AtomicU64,
    errors: AtomicU64,
    started: String,
}

/// An API error: HTTP status, stable code, message.
#[derive(Debug)]
struct ApiError(u16, &'static str, String);

type Reply = Result<Value, ApiError>;

fn bad(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(400, code, msg.into())
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(404, "not_found", msg.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    // Details go to the log only.
    eprintln!("{} zonefeed serve: internal error: {e}", crate::store::now_utc());
    ApiError(500, "internal_error", "internal error".into())
}

/// Serves until the process ends; `ready` gets the bound address (port 0 picks one).
pub fn run(listen: &str, opts: Options, ready: impl FnOnce(&str)) -> Result<(), String> {
    let server = tiny_http::Server::http(listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = server.server_addr().to_ip().map_or_else(|| listen.to_string(), |a| a.to_string());
    ready(&addr);
    let server = Arc::new(server);
    let shared =
        Arc::new(Shared { opts: opts.clone(), requests: AtomicU64::new(0), errors: AtomicU64::new(0), started: crate::store::now_utc() });
    let workers: Vec<_> = (0..opts.threads.max(1))
        .map(|_| {
            let (server, shared) = (server.clone(), shared.clone());
            std::thread::spawn(move || worker(&server, &shared))
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

fn worker(server: &tiny_http::Server, shared: &Shared) {
    let mut conn: Option<rusqlite::Connection> = None;
    while let Ok(req) = server.recv() {
        shared.requests.fetch_add(1, Ordering::Relaxed);
        let host = req.headers().iter().find(|h| h.field.equiv("Host")).map(|h| h.value.as_str().to_string()).unwrap_or_default();
        let reply = if *req.method() != tiny_http::Method::Get && *req.method() != tiny_http::Method::Head {
            Err(ApiError(405, "method_not_allowed", "only GET is supported".into()))
        } else {
            match connection(&mut conn, &shared.opts.db) {
                Ok(c) => route(c, shared, req.url(), &host),
                Err(e) => Err(e),
            }
        };
        let (status, body) = match reply {
            Ok(v) => (200, v),
            Err(ApiError(status, code, message)) => {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                (status, json!({"error": {"code": code, "message": message}}))
            }
        };
        let mut resp = tiny_http::Response::from_string(body.to_string()).with_status_code(status);
        if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
            resp = resp.with_header(h);
        }
        if status == 405 {
            if let Ok(h) = tiny_http::Header::from_bytes("Allow", "GET, HEAD") {
                resp = resp.with_header(h);
            }
        }
        let _ = req.respond(resp);
    }
}

fn connection<'a>(slot: &'a mut Option<rusqlite::Connection>, db: &Path) -> Result<&'a rusqlite::Connection, ApiError> {
    if slot.is_none() {
        *slot = Some(crate::store::open_ro(db).map_err(internal)?);
    }
    slot.as_ref().ok_or_else(|| internal("no connection"))
}

/// `%XX` and (in queries) `+` decoded; invalid UTF-8 is an error.
fn decode(s: &str, plus: bool) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

struct Query(BTreeMap<String, String>);

impl Query {
    fn parse(q: &str) -> Result<Query, ApiError> {
        let mut m = BTreeMap::new();
        for pair in q.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k, true), decode(v, true));
            let (Some(k), Some(v)) = (k, v) else {
                return Err(bad("invalid_query", "the query string is not valid UTF-8 percent-encoding"));
            };
            m.insert(k, v);
        }
        Ok(Query(m))
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn limit(&self, max: usize) -> Result<usize, ApiError> {
        match self.get("limit") {
            None => Ok(DEFAULT_LIMIT.min(max)),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(bad("invalid_limit", format!("limit must be a whole number from 1 to {max}"))),
            },
        }
    }

    /// The query with `key` set to `value` and the cursor keys dropped, as a query string.
    fn with(&self, key: &str, value: &str) -> String {
        let mut m = self.0.clone();
        m.remove("after");
        m.remove("before");
        m.insert(key.into(), value.into());
        m.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
    }
}

/// Opaque cursors: base64url of a tagged value.
fn cursor(tag: char, v: &str) -> String {
    data_encoding::BASE64URL_NOPAD.encode(format!("{tag}:{v}").as_bytes())
}

fn uncursor(tag: char, c: &str) -> Result<String, ApiError> {
    let bytes = data_encoding::BASE64URL_NOPAD
        .decode(c.as_bytes())
        .map_err(|_| bad("invalid_cursor", "the cursor is not one this API gave out"))?;
    let s = String::from_utf8(bytes).map_err(|_| bad("invalid_cursor", "the cursor is not one this API gave out"))?;
    s.strip_prefix(&format!("{tag}:")).map(str::to_string).ok_or_else(|| bad("invalid_cursor", "the cursor belongs to another list"))
}

/// The `paging` object of a list.
fn paging(q: &Query, path: &str, host: &str, first: Option<String>, last: Option<String>, more_after: bool, more_before: bool) -> Value {
    let full = q.get("base_url") != Some("0") && !host.is_empty();
    let url = |k: &str, c: &str| {
        let rel = format!("{path}?{}", q.with(k, c));
        if full {
            format!("http://{host}{rel}")
        } else {
            rel
        }
    };
    json!({
        "cursors": {"after": last, "before": first},
        "next": if more_after { last.as_deref().map(|c| url("after", c)) } else { None },
        "previous": if more_before { first.as_deref().map(|c| url("before", c)) } else { None },
    })
}

fn zone_of_path(seg: &str) -> Result<String, ApiError> {
    let seg = decode(seg, false).ok_or_else(|| bad("invalid_fqdn", "bad percent-encoding"))?;
    query::normalize(&seg).map_err(|e| bad("invalid_fqdn", e.to_string()))
}

fn route(conn: &rusqlite::Connection, shared: &Shared, url: &str, host: &str) -> Reply {
    let (path, qs) = url.split_once('?').unwrap_or((url, ""));
    let q = Query::parse(qs)?;
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segs.as_slice() {
        ["v1", "version"] => Ok(json!({"name": "zonefeed", "version": env!("CARGO_PKG_VERSION"), "schema": crate::store::SCHEMA_VERSION})),
        ["v1", "status"] => status(conn, shared),
        ["v1", "zones"] => zones(conn),
        ["v1", "zones", tld] => {
            let tld = zone_of_path(tld)?;
            match query::stats(conn, &tld, 10).map_err(internal)? {
                Some(s) => serde_json::to_value(s).map_err(internal),
                None => Err(not_found(format!("zone `{tld}` is not imported"))),
            }
        }
        ["v1", "zones", tld, "checks"] => {
            let tld = zone_of_path(tld)?;
            let level = match q.get("level") {
                None => Level::Notice,
                Some(l) => Level::parse(l).ok_or_else(|| bad("invalid_level", "level is one of notice, warning, error, critical"))?,
            };
            match query::check::check(conn, &tld, level).map_err(internal)? {
                Some(r) => serde_json::to_value(r).map_err(internal),
                None => Err(not_found(format!("zone `{tld}` is not imported with its records"))),
            }
        }
        ["v1", "domains"] => domains(conn, shared, &q, path, host),
        ["v1", "domains", name] => {
            let name = zone_of_path(name)?;
            let found = query::domain(conn, &name, true).map_err(internal)?;
            if found.is_empty() {
                return Err(not_found(format!("`{name}` is not in any imported zone")));
            }
            Ok(json!({"name": name, "unicode": query::unicode(&name), "zones": found}))
        }
        ["v1", "changes"] => changes(conn, shared, &q, path, host, None),
        ["v1", "watch", "hits"] => changes(conn, shared, &q, path, host, Some("watch")),
        _ => Err(not_found(format!("no such resource: {path}"))),
    }
}

fn status(conn: &rusqlite::Connection, shared: &Shared) -> Reply {
    let mut st = conn
        .prepare("SELECT tld, id, serial, coalesce(domains, 0), coalesce(finished_at, imported_at) FROM zones WHERE state = 'current' ORDER BY tld")
        .map_err(internal)?;
    let zones: Vec<Value> = st
        .query_map([], |r| {
            Ok(json!({"tld": r.get::<_, String>(0)?, "version": r.get::<_, i64>(1)?, "serial": r.get::<_, Option<i64>>(2)?,
                      "domains": r.get::<_, i64>(3)?, "last_import": r.get::<_, String>(4)?}))
        })
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    let total: i64 = zones.iter().filter_map(|z| z["domains"].as_i64()).sum();
    Ok(json!({
        "zones": zones,
        "domains": total,
        "api": {"started_at": shared.started, "requests": shared.requests.load(Ordering::Relaxed), "errors": shared.errors.load(Ordering::Relaxed)},
    }))
}

fn zones(conn: &rusqlite::Connection) -> Reply {
    let mut st = conn
        .prepare("SELECT tld, id, serial, coalesce(domains, 0), coalesce(records, 0), with_records, coalesce(finished_at, imported_at) FROM zones WHERE state = 'current' ORDER BY tld")
        .map_err(internal)?;
    let items: Vec<Value> = st
        .query_map([], |r| {
            let tld: String = r.get(0)?;
            let path = if tld == "." { "root".to_string() } else { tld.clone() };
            Ok(json!({"tld": tld, "version": r.get::<_, i64>(1)?, "serial": r.get::<_, Option<i64>>(2)?, "domains": r.get::<_, i64>(3)?,
                      "records": r.get::<_, i64>(4)?, "records_kept": r.get::<_, i64>(5)? != 0, "imported_at": r.get::<_, String>(6)?,
                      "links": {"self": format!("/v1/zones/{path}"), "checks": format!("/v1/zones/{path}/checks")}}))
        })
        .map_err(internal)?
        .collect::<Result<_, _>>()
        .map_err(internal)?;
    // Zones are few: one page, in the same shape as every list.
    Ok(json!({"items": items, "paging": {"cursors": {"after": null, "before": null}, "next": null, "previous": null}}))
}

fn domains(conn: &rusqlite::Connection, shared: &Shared, q: &Query, path: &str, host: &str) -> Reply {
    let limit = q.limit(shared.opts.max_limit)?;
    if let Some(f) = q.get("sort").filter(|f| *f != "name") {
        return Err(bad("invalid_sort_field", format!("cannot sort by `{f}`; the only field is name")));
    }
    let desc = match q.get("direction") {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(d) => return Err(bad("invalid_direction", format!("direction `{d}` is asc or desc"))),
    };
    let search = q.get("search").ok_or_else(|| bad("invalid_fqdn", "give search=NAME or search=.SUFFIX"))?;
    let pattern = Pattern::parse(search).map_err(|e| bad("invalid_fqdn", e.to_string()))?;
    let tld = q.get("tld").map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
    let (after, before) = (q.get("after").map(|c| uncursor('d', c)).transpose()?, q.get("before").map(|c| uncursor('d', c)).transpose()?);
    // `before` walks the other way from its cursor, then the page is put back in order.
    let page = match (&after, &before) {
        (_, Some(b)) => Page { cursor: Some(b.clone()), desc: !desc },
        (a, None) => Page { cursor: a.clone(), desc },
    };
    let mut hits = query::search_page(conn, &pattern, tld.as_deref(), limit + 1, &page).map_err(internal)?;
    let more = hits.len() > limit;
    hits.truncate(limit);
    if before.is_some() {
        hits.reverse();
    }
    let first = hits.first().map(|h| cursor('d', &h.name));
    let last = hits.last().map(|h| cursor('d', &h.name));
    let (more_after, more_before) = if before.is_some() { (true, more) } else { (more, after.is_some()) };
    let items: Vec<Value> = hits
        .iter()
        .map(|h| json!({"name": h.name, "unicode": h.unicode, "tld": h.tld, "links": {"self": format!("/v1/domains/{}", h.name)}}))
        .collect();
    Ok(json!({"items": items, "paging": paging(q, path, host, first, last, more_after, more_before)}))
}

/// The change feed, or (`only` = `watch`) the watch hits.
fn changes(conn: &rusqlite::Connection, shared: &Shared, q: &Query, path: &str, host: &str, only: Option<&str>) -> Reply {
    let limit = q.limit(shared.opts.max_limit)?;
    let since = match q.get("since") {
        Some(s) => Some(
            crate::changes::parse_since(s)
                .ok_or_else(|| bad("invalid_since", "since is a UTC date or time: 2026-11-23 or 2026-11-23T06:00:00Z"))?,
        ),
        None => None,
    };
    let kind = match q.get("kind").filter(|_| only.is_none()) {
        None if only.is_some() => only.map(str::to_string),
        Some(k @ ("added" | "removed" | "modified")) => Some(k.to_string()),
        Some(k) => return Err(bad("invalid_kind", format!("kind `{k}` is added, removed or modified"))),
        None => None,
    };
    let tld = q.get("tld").map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
    let after: i64 = match q.get("after") {
        Some(c) => uncursor('e', c)?.parse().map_err(|_| bad("invalid_cursor", "the cursor is not one this API gave out"))?,
        None => 0,
    };
    let filter = crate::changes::Filter { tld, kind, since, after_id: Some(after), limit: Some(limit + 1), ..Default::default() };
    let mut events = crate::changes::list(conn, &filter).map_err(internal)?;
    let more = events.len() > limit;
    events.truncate(limit);
    let first = events.first().map(|e| cursor('e', &(e.id - 1).to_string()));
    let last = events.last().map(|e| cursor('e', &e.id.to_string()));
    let items = serde_json::to_value(&events).map_err(internal)?;
    // The feed is for pollers: forward only, so `before` is the cursor just ahead of this page.
    let mut p = paging(q, path, host, first, last.clone(), more, false);
    if last.is_none() {
        // An empty page: poll again later from the same place.
        p["cursors"]["after"] = json!(q.get("after"));
    }
    Ok(json!({"items": items, "paging": p}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_and_cursors() {
        assert_eq!(decode("b%C3%BCcher.de", false).as_deref(), Some("bücher.de"));
        assert_eq!(decode("a+b", true).as_deref(), Some("a b"));
        assert_eq!(decode("%zz", false), None);
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
        let c = cursor('d', "example.com");
        assert_eq!(uncursor('d', &c).unwrap(), "example.com");
        assert!(uncursor('e', &c).is_err() && uncursor('d', "!!").is_err());
    }
}
