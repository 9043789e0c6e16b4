//! The Zonalizer API v1 (`/zonalizer/1/`), as `../shared/specs/zonalizer-api-v1.txt` describes
//! it, so that a Zonalizer client works against `zonefeed serve` unchanged: analyses queued,
//! run by zonefeed's engine ([`crate::analyze`]) and kept in SQLite (`zonalizer` table), with
//! spaces, policies, undelegated `ns`/`ds`, meta data, HATEOAS URLs and cursor paging.
//!
//! Reads work on any `serve`. Writes (POST, DELETE) need `--allow-analysis`; with
//! `zonalizer.token_file` each needs `Authorization: Bearer TOKEN`; each client address gets
//! `zonalizer.writes_per_minute`. Errors are the text's `Lim::Error` objects: the HTTP status
//! as `code`, the API error (`invalid_limit`, `queue_full`, ...) as `message`.
//!
//! The queue is the table: POSTed analyses wait as `queued`, at most `max_ongoing` queued or
//! running. One worker thread ([`work`]) runs them, `max_ongoing` at once, writing progress as
//! it moves; a restarted `serve` puts the ones it was running back in the queue.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{params, params_from_iter, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::ApiError;
use crate::analyze::{self, Engine, Selection, Undelegated};
use crate::config::Config;

/// The one policy: Zonemaster's default profile, whose levels zonefeed's cases use.
const POLICY: &str = "default";
/// The Zonemaster Engine whose test cases zonefeed implements (docs/ANALYZE.md).
const ZONEMASTER: &str = "4.6.2";
/// The largest POST body read.
pub(super) const MAX_BODY: usize = 64 << 10;
/// How many results `last_results` shows.
const LAST_RESULTS: usize = 10;

/// The API's settings: the text's configuration section (`zonalizer.*` keys, its defaults),
/// and the write guard.
#[derive(Debug, Clone)]
pub struct Options {
    pub base_url: bool,
    pub custom_base_url: Option<String>,
    pub default_limit: usize,
    pub max_limit: usize,
    pub allow_ipv4: bool,
    pub allow_ipv6: bool,
    pub test_ipv4: bool,
    pub test_ipv6: bool,
    pub max_ongoing: usize,
    pub allow_undelegated: bool,
    pub force_undelegated: bool,
    pub max_undelegated_ns: usize,
    pub max_undelegated_ds: usize,
    pub allow_meta_data: bool,
    pub max_meta_data_entries: usize,
    pub max_meta_data_entry_size: usize,
    /// `--allow-analysis`: POST and DELETE are served.
    pub allow_analysis: bool,
    /// The bearer token writes need (`zonalizer.token_file`).
    pub token: Option<String>,
    pub writes_per_minute: u32,
    /// The engine analyses run on (the `dns.*` keys and `serve`'s engine flags).
    pub engine: Engine,
}

impl Options {
    /// From the config, the text's defaults where it says nothing.
    pub fn from_config(cfg: &Config, engine: Engine, allow_analysis: bool, token: Option<String>) -> Options {
        let k = &cfg.keys;
        let on = |s: Option<crate::config::Switch>, default: bool| s.map_or(default, |s| s.0);
        let n = |c: Option<crate::config::Count>, default: usize| c.map_or(default, |c| c.usize());
        let (allow_ipv4, allow_ipv6) = (on(k.zonalizer_allow_ipv4, true), on(k.zonalizer_allow_ipv6, true));
        let max_limit = n(k.zonalizer_max_limit, 10);
        Options {
            base_url: on(k.zonalizer_base_url, true),
            custom_base_url: k.zonalizer_custom_base_url.clone().map(|u| u.trim_end_matches('/').to_string()),
            default_limit: n(k.zonalizer_default_limit, 10).min(max_limit),
            max_limit,
            allow_ipv4,
            allow_ipv6,
            // Forced off when not allowed, as the text says.
            test_ipv4: on(k.zonalizer_test_ipv4, true) && allow_ipv4,
            test_ipv6: on(k.zonalizer_test_ipv6, true) && allow_ipv6,
            max_ongoing: n(k.zonalizer_max_ongoing, 5),
            allow_undelegated: on(k.zonalizer_allow_undelegated, true),
            force_undelegated: on(k.zonalizer_force_undelegated, false),
            max_undelegated_ns: n(k.zonalizer_max_undelegated_ns, 10),
            max_undelegated_ds: n(k.zonalizer_max_undelegated_ds, 20),
            allow_meta_data: on(k.zonalizer_allow_meta_data, false),
            max_meta_data_entries: n(k.zonalizer_max_meta_data_entries, 42),
            max_meta_data_entry_size: n(k.zonalizer_max_meta_data_entry_size, 512),
            allow_analysis,
            token,
            writes_per_minute: k.zonalizer_writes_per_minute.map_or(60, |c| c.u32()),
            engine,
        }
    }
}

/// What the API shares between requests: its settings, the connection writes go through,
/// and each client's writes this minute.
pub(super) struct State {
    opts: Options,
    writer: Mutex<Option<Connection>>,
    writes: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl State {
    pub(super) fn new(opts: Options) -> State {
        State { opts, writer: Mutex::new(None), writes: Mutex::new(HashMap::new()) }
    }

    pub(super) fn allows_analysis(&self) -> bool {
        self.opts.allow_analysis
    }

    /// Runs `f` on the connection writes go through (opened on the first write).
    pub(super) fn with_writer<T>(&self, db: &Path, f: impl FnOnce(&Connection) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut slot = self.writer.lock().map_err(super::internal)?;
        if slot.is_none() {
            *slot = Some(crate::store::open_rw(db, Duration::from_secs(10)).map_err(super::internal)?);
        }
        f(slot.as_ref().ok_or_else(|| super::internal("no connection"))?)
    }
}

/// One request, as the API needs it.
pub(super) struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub host: &'a str,
    pub authorization: Option<&'a str>,
    pub body: &'a [u8],
    pub peer: IpAddr,
}

/// The answer to `call`: status and JSON. `read` is the thread's read-only connection.
pub(super) fn answer(state: &State, db: &Path, read: &Connection, call: &Call<'_>, counters: (u64, u64)) -> (u16, Value) {
    match route(state, db, read, call, counters) {
        Ok((status, v)) => (status, v),
        Err(ApiError(status, code, _)) => (status, error(status, code)),
    }
}

/// The text's error object: `Lim::Error` with the HTTP status and the API error.
pub(super) fn error(status: u16, code: &str) -> Value {
    json!({"Lim::Error": {"module": "zonefeed::zonalizer", "code": status, "message": code}})
}

type Reply = Result<(u16, Value), ApiError>;

fn api(status: u16, code: &'static str) -> ApiError {
    ApiError(status, code, code.to_string())
}

fn route(state: &State, db: &Path, read: &Connection, call: &Call<'_>, counters: (u64, u64)) -> Reply {
    let q = super::Query::parse(call.query)?;
    let segs: Vec<&str> = call.path.trim_end_matches('/').split('/').skip(1).collect();
    let [_, version, rest @ ..] = segs.as_slice() else { return Err(api(404, "invalid_api_version")) };
    if *version != "1" {
        return Err(api(404, "invalid_api_version"));
    }
    // Messages are in English only.
    if q.get("lang").is_some_and(|l| !l.eq_ignore_ascii_case("en")) {
        return Err(api(415, "invalid_lang"));
    }
    let space = q.get("space").unwrap_or_default().to_string();
    let base = base_url(state, &q, call.host);
    match (call.method, rest) {
        ("GET", ["version"]) => Ok((200, version_object())),
        ("GET", ["status"]) => status(read, counters),
        ("GET", ["policies"]) => Ok((200, json!({"policies": [policy()]}))),
        ("GET", ["policy", name]) if *name == POLICY => Ok((200, policy())),
        ("GET", ["policy", _]) => Err(api(404, "policy_not_found")),
        ("GET", ["analysis"]) => list(state, read, &q, &space, &base),
        ("GET", ["analysis", id]) => one(read, &q, &space, &base, id),
        ("GET", ["analysis", id, "status"]) => {
            let row = read
                .query_row("SELECT status, progress, updated FROM zonalizer WHERE space = ?1 AND id = ?2", params![space, id], |r| {
                    Ok(json!({"status": r.get::<_, String>(0)?, "progress": r.get::<_, i64>(1)?, "updated": r.get::<_, i64>(2)?}))
                })
                .optional()
                .map_err(super::internal)?;
            row.map(|v| (200, v)).ok_or_else(|| api(404, "id_not_found"))
        }
        ("POST" | "DELETE", _) => {
            guard(state, call)?;
            state.with_writer(db, |w| match (call.method, rest) {
                ("POST", ["analysis"]) => create(state, w, &q, call.body, &space, &base),
                ("DELETE", ["analysis"]) => {
                    w.execute("DELETE FROM zonalizer WHERE space = ?1", params![space]).map_err(super::internal)?;
                    Ok((200, json!({})))
                }
                ("DELETE", ["analysis", id]) => {
                    let n = w.execute("DELETE FROM zonalizer WHERE space = ?1 AND id = ?2", params![space, id]).map_err(super::internal)?;
                    if n == 0 {
                        return Err(api(404, "id_not_found"));
                    }
                    Ok((200, json!({})))
                }
                _ => Err(api(404, "not_found")),
            })
        }
        _ => Err(api(404, "not_found")),
    }
}

/// The write guard: `--allow-analysis`, each client's rate, then the token.
fn guard(state: &State, call: &Call<'_>) -> Result<(), ApiError> {
    guard_write(state, call.peer, call.authorization, state.opts.allow_analysis, "analysis_not_allowed")
}

/// The write guard of the APIs `serve` takes writes on (Zonalizer's, the monitor's): the
/// API's flag (`enabled`, else 403 `refused`), each client address's writes a minute (429),
/// then the bearer token when one is configured (401).
pub(super) fn guard_write(
    state: &State,
    peer: IpAddr,
    authorization: Option<&str>,
    enabled: bool,
    refused: &'static str,
) -> Result<(), ApiError> {
    let o = &state.opts;
    if !enabled {
        return Err(api(403, refused));
    }
    {
        let mut w = state.writes.lock().map_err(super::internal)?;
        let now = Instant::now();
        if w.len() > 10_000 {
            w.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        }
        let e = w.entry(peer).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(60) {
            *e = (now, 0);
        }
        if e.1 >= o.writes_per_minute {
            return Err(api(429, "rate_limited"));
        }
        e.1 += 1;
    }
    if let Some(token) = &o.token {
        let given = authorization.and_then(|a| a.strip_prefix("Bearer ")).map(str::trim);
        // Compared in full whatever the first difference: no timing hint of the prefix.
        let same = given.is_some_and(|g| g.len() == token.len() && g.bytes().zip(token.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0);
        if !same {
            return Err(api(401, "unauthorized"));
        }
    }
    Ok(())
}

/// `base_url`: the scheme and host URLs start with (the custom one when set), or none.
fn base_url(state: &State, q: &super::Query, host: &str) -> String {
    let on = match q.get("base_url") {
        Some(v) => !matches!(v, "0" | "false"),
        None => state.opts.base_url,
    };
    match (&state.opts.custom_base_url, on) {
        (_, false) => String::new(),
        (Some(custom), true) => custom.clone(),
        (None, true) => format!("http://{host}"),
    }
}

fn version_object() -> Value {
    let tests: Vec<Value> = analyze::CASES.iter().map(|(_, case)| json!({"name": case, "version": ZONEMASTER})).collect();
    json!({"version": env!("CARGO_PKG_VERSION"), "zonemaster": {"version": ZONEMASTER, "tests": tests}})
}

fn policy() -> Value {
    json!({"name": POLICY, "display": "Default", "description": format!("Zonemaster's default profile (Zonemaster Engine {ZONEMASTER}): its levels for every message")})
}

fn status(read: &Connection, (requests, errors): (u64, u64)) -> Reply {
    let (ongoing, completed, failed): (i64, i64, i64) = read
        .query_row(
            "SELECT count(*) FILTER (WHERE status IN ('queued', 'analyzing')), count(*) FILTER (WHERE status = 'done'),
                    count(*) FILTER (WHERE status = 'failed') FROM zonalizer",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(super::internal)?;
    Ok((
        200,
        json!({"api": {"requests": requests, "errors": errors}, "analysis": {"ongoing": ongoing, "completed": completed, "failed": failed}}),
    ))
}

const COLUMNS: &str =
    "seq, id, space, fqdn, policy, status, progress, created, updated, ipv4, ipv6, ns, ds, meta_data, results, summary, error";

/// An analyze object from a row of [`COLUMNS`]; `results`: all, the last few, or none.
fn analyze_object(r: &rusqlite::Row<'_>, base: &str, results: Results) -> rusqlite::Result<Value> {
    let json = |i: usize| -> rusqlite::Result<Value> {
        let t: Option<String> = r.get(i)?;
        Ok(t.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or(Value::Null))
    };
    let (id, space): (String, String) = (r.get(1)?, r.get(2)?);
    let policy: String = r.get(4)?;
    let mut url = format!("{base}/zonalizer/1/analysis/{id}");
    if !space.is_empty() {
        url.push_str(&format!("?space={}", crate::http::encode(&space)));
    }
    let mut v = json!({
        "id": id,
        "fqdn": r.get::<_, String>(3)?,
        "policy": if policy == POLICY { self::policy() } else { json!({"name": policy}) },
        "url": url,
        "status": r.get::<_, String>(5)?,
        "error": json(16)?,
        "progress": r.get::<_, i64>(6)?,
        "created": r.get::<_, i64>(7)?,
        "updated": r.get::<_, i64>(8)?,
        "summary": match json(15)? { Value::Null => json!({"notice": 0, "warning": 0, "error": 0, "critical": 0}), s => s },
        "ipv4": r.get::<_, i64>(9)?,
        "ipv6": r.get::<_, i64>(10)?,
        "ns": json(11)?,
        "ds": json(12)?,
        "meta_data": json(13)?,
    });
    let all = || -> rusqlite::Result<Vec<Value>> { Ok(json(14)?.as_array().cloned().unwrap_or_default()) };
    match results {
        Results::None => {}
        Results::All => v["results"] = Value::Array(all()?),
        Results::Last => {
            let all = all()?;
            v["results"] = Value::Array(all[all.len().saturating_sub(LAST_RESULTS)..].to_vec());
        }
    }
    Ok(v)
}

#[derive(Clone, Copy)]
enum Results {
    None,
    All,
    Last,
}

fn flag(q: &super::Query, key: &str) -> bool {
    q.get(key).is_some_and(|v| !matches!(v, "0" | "false"))
}

fn one(read: &Connection, q: &super::Query, space: &str, base: &str, id: &str) -> Reply {
    let results = if flag(q, "results") {
        Results::All
    } else if flag(q, "last_results") {
        Results::Last
    } else {
        Results::None
    };
    let sql = format!("SELECT {COLUMNS} FROM zonalizer WHERE space = ?1 AND id = ?2");
    let v = read.query_row(&sql, params![space, id], |r| analyze_object(r, base, results)).optional().map_err(super::internal)?;
    v.map(|v| (200, v)).ok_or_else(|| api(404, "id_not_found"))
}

/// `GET analysis`: a page of a space's analyses, sorted on fqdn, created or updated, with
/// cursors that hold the sort value and the row.
fn list(state: &State, read: &Connection, q: &super::Query, space: &str, base: &str) -> Reply {
    let limit = match q.get("limit") {
        None => state.opts.default_limit,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n >= 1 => n.min(state.opts.max_limit),
            _ => return Err(api(400, "invalid_limit")),
        },
    };
    let sort = match q.get("sort").unwrap_or("created") {
        s @ ("fqdn" | "created" | "updated") => s,
        _ => return Err(api(400, "invalid_sort_field")),
    };
    let descending = match q.get("direction").unwrap_or("ascending") {
        "ascending" | "asc" => false,
        "descending" | "desc" => true,
        _ => return Err(api(400, "invalid_sort_field")),
    };
    let after = q.get("after").map(|c| uncursor(c, sort).ok_or_else(|| api(400, "invalid_after"))).transpose()?;
    let before = q.get("before").map(|c| uncursor(c, sort).ok_or_else(|| api(400, "invalid_before"))).transpose()?;
    let mut filter = String::from("space = ?");
    let mut args: Vec<rusqlite::types::Value> = vec![space.to_string().into()];
    if flag(q, "ongoing") {
        filter.push_str(" AND status IN ('queued', 'analyzing')");
    }
    if let Some(s) = q.get("search") {
        let (suffix, name) = match s.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let name = fqdn(name).ok_or_else(|| api(400, "invalid_fqdn"))?;
        if suffix {
            filter.push_str(" AND (fqdn = ? OR substr(fqdn, -length(?) - 1) = '.' || ?)");
            args.extend([name.clone().into(), name.clone().into(), name.into()]);
        } else {
            filter.push_str(" AND fqdn = ?");
            args.push(name.into());
        }
    }
    // Rows past a cursor in the order asked; `before` reads backwards, then turns round.
    let (cmp_after, cmp_before) = if descending { ("<", ">") } else { (">", "<") };
    let backwards = before.is_some() && after.is_none();
    let mut page_filter = filter.clone();
    let mut page_args = args.clone();
    if let Some((v, seq)) = &after {
        page_filter.push_str(&format!(" AND ({sort}, seq) {cmp_after} (?, ?)"));
        page_args.extend([v.clone(), (*seq).into()]);
    }
    if let Some((v, seq)) = &before {
        page_filter.push_str(&format!(" AND ({sort}, seq) {cmp_before} (?, ?)"));
        page_args.extend([v.clone(), (*seq).into()]);
    }
    let dir = if descending != backwards { "DESC" } else { "ASC" };
    page_args.push(((limit + 1) as i64).into());
    let sql = format!("SELECT {COLUMNS}, {sort} FROM zonalizer WHERE {page_filter} ORDER BY {sort} {dir}, seq {dir} LIMIT ?");
    let results = if flag(q, "results") { Results::All } else { Results::None };
    let mut st = read.prepare(&sql).map_err(super::internal)?;
    let mut rows: Vec<(Value, String)> = st
        .query_map(params_from_iter(page_args), |r| {
            let key: rusqlite::types::Value = r.get(17)?;
            Ok((analyze_object(r, base, results)?, cursor(&key, r.get(0)?)))
        })
        .map_err(super::internal)?
        .collect::<rusqlite::Result<_>>()
        .map_err(super::internal)?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    if backwards {
        rows.reverse();
    }
    // Is there anything on the far side of the page's first and last rows?
    let exists = |c: &str, cmp: &str| -> Result<bool, ApiError> {
        let Some((v, seq)) = uncursor(c, sort) else { return Ok(false) };
        let mut a = args.clone();
        a.extend([v, seq.into()]);
        let sql = format!("SELECT EXISTS (SELECT 1 FROM zonalizer WHERE {filter} AND ({sort}, seq) {cmp} (?, ?))");
        read.query_row(&sql, params_from_iter(a), |r| r.get(0)).map_err(super::internal)
    };
    let first = rows.first().map(|(_, c)| c.clone());
    let last = rows.last().map(|(_, c)| c.clone());
    let has_next = if backwards { last.as_deref().map(|c| exists(c, cmp_after)).transpose()?.unwrap_or(false) } else { more };
    let has_prev = if backwards { more } else { first.as_deref().map(|c| exists(c, cmp_before)).transpose()?.unwrap_or(false) };
    let link = |key: &str, c: &Option<String>, on: bool| -> Value {
        match (c, on) {
            (Some(c), true) => {
                let mut kept: Vec<(String, String)> =
                    q.0.iter().filter(|(k, _)| !matches!(k.as_str(), "after" | "before")).map(|(k, v)| (k.clone(), v.clone())).collect();
                kept.push((key.to_string(), c.clone()));
                let qs: Vec<String> = kept.iter().map(|(k, v)| format!("{}={}", crate::http::encode(k), crate::http::encode(v))).collect();
                json!(format!("{base}/zonalizer/1/analysis?{}", qs.join("&")))
            }
            _ => Value::Null,
        }
    };
    let paging = json!({
        "cursors": {"after": last.clone(), "before": first.clone()},
        "previous": link("before", &first, has_prev),
        "next": link("after", &last, has_next),
    });
    Ok((200, json!({"analysis": rows.into_iter().map(|(v, _)| v).collect::<Vec<_>>(), "paging": paging})))
}

/// A cursor: the row's sort value and its `seq`, as opaque base64url.
fn cursor(key: &rusqlite::types::Value, seq: i64) -> String {
    let key = match key {
        rusqlite::types::Value::Integer(n) => format!("i{n}"),
        rusqlite::types::Value::Text(t) => format!("t{t}"),
        _ => "n".to_string(),
    };
    data_encoding::BASE64URL_NOPAD.encode(format!("{seq}\n{key}").as_bytes())
}

/// A cursor back to its sort value and row, when it is one for sorting on `sort`.
fn uncursor(c: &str, sort: &str) -> Option<(rusqlite::types::Value, i64)> {
    let raw = data_encoding::BASE64URL_NOPAD.decode(c.as_bytes()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (seq, key) = text.split_once('\n')?;
    let seq: i64 = seq.parse().ok()?;
    let value = match (key.split_at_checked(1)?, sort) {
        (("i", n), "created" | "updated") => rusqlite::types::Value::Integer(n.parse().ok()?),
        (("t", t), "fqdn") => rusqlite::types::Value::Text(t.to_string()),
        _ => return None,
    };
    Some((value, seq))
}

/// A name as the API keeps it: lower case, no final dot; None when it is not a name.
fn fqdn(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('.').to_ascii_lowercase();
    if s.is_empty() || s.len() > 253 || crate::dns::parse_name(&s).is_err() {
        return None;
    }
    let ok = s.split('.').all(|l| !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    ok.then_some(s)
}

/// `POST analysis`: checks the request as the text's configuration says, then queues it.
fn create(state: &State, w: &Connection, q: &super::Query, body: &[u8], space: &str, base: &str) -> Reply {
    let o = &state.opts;
    let body: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body).map_err(|_| api(400, "invalid_request"))?
    };
    let field = |k: &str| -> Option<String> {
        q.get(k).map(str::to_string).or_else(|| match &body[k] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
            _ => None,
        })
    };
    let name = field("fqdn").and_then(|f| fqdn(&f)).ok_or_else(|| api(400, "invalid_fqdn"))?;
    let family = |key: &str, allowed: bool, default: bool, refused: &'static str| -> Result<bool, ApiError> {
        match field(key).as_deref() {
            None => Ok(default),
            Some("0" | "false") => Ok(false),
            Some("1" | "true") if allowed => Ok(true),
            Some("1" | "true") => Err(api(400, refused)),
            Some(_) => Err(api(400, "invalid_request")),
        }
    };
    let ipv4 = family("ipv4", o.allow_ipv4, o.test_ipv4, "ipv4_not_allowed")?;
    let ipv6 = family("ipv6", o.allow_ipv6, o.test_ipv6, "ipv6_not_allowed")?;
    if !ipv4 && !ipv6 {
        return Err(api(400, "no_ip_protocol"));
    }
    let policy = field("policy").unwrap_or_else(|| POLICY.to_string());
    if policy != POLICY {
        return Err(api(400, "policy_not_found"));
    }
    let list = |k: &str| -> Result<Vec<Value>, ApiError> {
        match &body[k] {
            Value::Null => Ok(Vec::new()),
            Value::Array(a) => Ok(a.clone()),
            _ => Err(api(
                400,
                if k == "ns" {
                    "invalid_ns"
                } else if k == "ds" {
                    "invalid_ds"
                } else {
                    "invalid_meta_data"
                },
            )),
        }
    };
    let (ns, ds, meta) = (list("ns")?, list("ds")?, list("meta_data")?);
    let undelegated = !ns.is_empty() || !ds.is_empty();
    if undelegated && !o.allow_undelegated {
        return Err(api(400, "undelegated_not_allowed"));
    }
    if ns.is_empty() && o.force_undelegated {
        return Err(api(400, "undelegated_forced"));
    }
    if !ds.is_empty() && ns.is_empty() {
        return Err(api(400, "invalid_ds"));
    }
    if ns.len() > o.max_undelegated_ns || undelegated_ns(&ns).is_none() {
        return Err(api(400, "invalid_ns"));
    }
    if ds.len() > o.max_undelegated_ds || undelegated_ds(&ds).is_none() {
        return Err(api(400, "invalid_ds"));
    }
    if !meta.is_empty() && !o.allow_meta_data {
        return Err(api(400, "meta_data_not_allowed"));
    }
    let meta_ok = meta.len() <= o.max_meta_data_entries
        && meta.iter().all(|m| match (m["key"].as_str(), m["value"].as_str()) {
            (Some(k), Some(v)) => !k.is_empty() && k.len() + v.len() <= o.max_meta_data_entry_size,
            _ => false,
        });
    if !meta_ok {
        return Err(api(400, "invalid_meta_data"));
    }
    let ongoing: i64 =
        w.query_row("SELECT count(*) FROM zonalizer WHERE status IN ('queued', 'analyzing')", [], |r| r.get(0)).map_err(super::internal)?;
    if ongoing as usize >= o.max_ongoing {
        return Err(api(503, "queue_full"));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = crate::time::unix_now();
    let meta: Vec<Value> = meta.iter().map(|m| json!({"key": m["key"], "value": m["value"]})).collect();
    w.execute(
        "INSERT INTO zonalizer (id, space, fqdn, policy, status, progress, created, updated, ipv4, ipv6, ns, ds, meta_data)
         VALUES (?1, ?2, ?3, ?4, 'queued', 0, ?5, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            id,
            space,
            name,
            policy,
            now,
            ipv4,
            ipv6,
            Value::Array(ns).to_string(),
            Value::Array(ds).to_string(),
            Value::Array(meta).to_string()
        ],
    )
    .map_err(super::internal)?;
    let sql = format!("SELECT {COLUMNS} FROM zonalizer WHERE space = ?1 AND id = ?2");
    let v = w.query_row(&sql, params![space, id], |r| analyze_object(r, base, Results::None)).map_err(super::internal)?;
    Ok((200, v))
}

/// The `ns` objects as the engine takes them: a name, and an address when given.
fn undelegated_ns(ns: &[Value]) -> Option<Vec<(hickory_proto::rr::Name, Option<IpAddr>)>> {
    ns.iter()
        .map(|n| {
            let name = crate::dns::parse_name(&fqdn(n["fqdn"].as_str()?)?).ok()?;
            let ip = match &n["ip"] {
                Value::Null => None,
                Value::String(s) if s.is_empty() => None,
                Value::String(s) => Some(s.parse().ok()?),
                _ => return None,
            };
            Some((name, ip))
        })
        .collect()
}

/// The `ds` objects as the engine takes them.
fn undelegated_ds(ds: &[Value]) -> Option<Vec<hickory_proto::dnssec::rdata::DS>> {
    ds.iter()
        .map(|d| {
            let f = |k: &str| match &d[k] {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            };
            analyze::parse_ds(&format!("{},{},{},{}", f("keytag")?, f("algorithm")?, f("type")?, f("digest")?)).ok()
        })
        .collect()
}

/// The worker: runs queued analyses, `max_ongoing` at once, until the process ends. One per
/// database (`<db>.zonalizer.lock`): a second `serve --allow-analysis` queues and answers, and
/// its worker waits to take over. Those a stopped worker was running go back to the queue
/// first.
pub(super) fn work(db: &Path, opts: &Options) -> anyhow::Result<()> {
    let lock = std::path::PathBuf::from(format!("{}.zonalizer.lock", db.display()));
    let _lock = match crate::lock::exclusive(&lock, Duration::MAX) {
        Ok(f) => f,
        Err(crate::lock::LockError::Io(e)) => anyhow::bail!("lock file `{}`: {e}", lock.display()),
        Err(crate::lock::LockError::Busy) => anyhow::bail!("lock file `{}`: busy", lock.display()),
    };
    let conn = crate::store::open_rw(db, Duration::from_secs(10))?;
    conn.execute("UPDATE zonalizer SET status = 'queued', progress = 0 WHERE status = 'analyzing'", [])?;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    // One resolver per address family choice, each with the run's caches and limits.
    let mut resolvers: HashMap<(bool, bool), Arc<crate::dns::resolve::Resolver>> = HashMap::new();
    type Running = (i64, Arc<AtomicU8>, u8, tokio::task::JoinHandle<analyze::Analysis>);
    let mut running: Vec<Running> = Vec::new();
    loop {
        // Finished ones keep their results; the others say how far they are.
        let mut still = Vec::new();
        for (seq, progress, shown, task) in running {
            if task.is_finished() {
                let outcome = rt.block_on(task);
                finish(&conn, seq, outcome)?;
            } else {
                let p = progress.load(Ordering::Relaxed);
                if p != shown {
                    conn.execute(
                        "UPDATE zonalizer SET progress = ?2, updated = ?3 WHERE seq = ?1",
                        params![seq, p, crate::time::unix_now()],
                    )?;
                }
                still.push((seq, progress, p, task));
            }
        }
        running = still;
        while running.len() < opts.max_ongoing.max(1) {
            let next = conn
                .query_row("SELECT seq, fqdn, ipv4, ipv6, ns, ds FROM zonalizer WHERE status = 'queued' ORDER BY seq LIMIT 1", [], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                    ))
                })
                .optional()?;
            let Some((seq, name, ipv4, ipv6, ns, ds)) = next else { break };
            conn.execute("UPDATE zonalizer SET status = 'analyzing', updated = ?2 WHERE seq = ?1", params![seq, crate::time::unix_now()])?;
            let ns: Vec<Value> = serde_json::from_str(&ns).unwrap_or_default();
            let ds: Vec<Value> = serde_json::from_str(&ds).unwrap_or_default();
            let undelegated = (!ns.is_empty())
                .then(|| Undelegated { ns: undelegated_ns(&ns).unwrap_or_default(), ds: undelegated_ds(&ds).unwrap_or_default() });
            let Ok(name) = crate::dns::parse_name(&name) else {
                let err = json!({"code": "invalid_fqdn", "message": "not a name the DNS can ask about"});
                conn.execute(
                    "UPDATE zonalizer SET status = 'failed', error = ?2, updated = ?3 WHERE seq = ?1",
                    params![seq, err.to_string(), crate::time::unix_now()],
                )?;
                continue;
            };
            let r = resolvers
                .entry((ipv4, ipv6))
                .or_insert_with(|| {
                    let mut e = opts.engine.clone();
                    (e.ipv4, e.ipv6) = (ipv4, ipv6);
                    e.resolver()
                })
                .clone();
            let progress = Arc::new(AtomicU8::new(0));
            let p = progress.clone();
            let task = rt.spawn(async move { analyze::analyze_tracked(&r, &name, undelegated.as_ref(), &Selection::all(), &p).await });
            running.push((seq, progress, 0, task));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Keeps a finished analysis's results (an analysis deleted meanwhile is simply gone).
fn finish(conn: &Connection, seq: i64, outcome: Result<analyze::Analysis, tokio::task::JoinError>) -> rusqlite::Result<()> {
    let now = crate::time::unix_now();
    let a = match outcome {
        Ok(a) => a,
        Err(e) => {
            let err = json!({"code": "internal_error", "message": format!("the analysis stopped: {e}")});
            conn.execute(
                "UPDATE zonalizer SET status = 'failed', error = ?2, updated = ?3 WHERE seq = ?1",
                params![seq, err.to_string(), now],
            )?;
            return Ok(());
        }
    };
    let secs = a.elapsed.as_secs_f64();
    let results: Vec<Value> = a
        .findings
        .iter()
        .filter(|f| f.level > analyze::Level::Debug)
        .enumerate()
        .map(|(i, f)| {
            let args: serde_json::Map<String, Value> = f.args.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
            let text = f.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ");
            json!({
                "_id": i,
                "args": args,
                "level": f.level.as_str(),
                "module": f.module,
                "testcase": f.testcase,
                "tag": f.tag,
                "timestamp": secs,
                "message": if text.is_empty() { f.tag.to_string() } else { format!("{} {text}", f.tag) },
            })
        })
        .collect();
    let count = |l: analyze::Level| a.findings.iter().filter(|f| f.level == l).count();
    let summary = json!({
        "notice": count(analyze::Level::Notice),
        "warning": count(analyze::Level::Warning),
        "error": count(analyze::Level::Error),
        "critical": count(analyze::Level::Critical),
    });
    conn.execute(
        "UPDATE zonalizer SET status = 'done', progress = 100, results = ?2, summary = ?3, updated = ?4 WHERE seq = ?1",
        params![seq, Value::Array(results).to_string(), summary.to_string(), now],
    )?;
    Ok(())
}
