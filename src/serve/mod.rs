//! `zonefeed serve`: a read-only JSON API over the database (prefix `/v1`).
//!
//! hyper's HTTP/1 server on a small tokio runtime, chosen for the limits a listener needs
//! that a hand-written loop around a simpler server would have to reinvent:
//! - request heads (line and headers) are capped at [`MAX_HEAD`]: more gets 431, never a
//!   read of the whole thing;
//! - a head must arrive within `serve.header_timeout_seconds` (default 10) of the connection
//!   going idle, so idle keep-alive connections and half-sent requests are closed;
//! - a request is answered within `serve.request_timeout_seconds` (default 30), else 503;
//! - open connections are capped (`--max-connections`); past it, new ones wait in the kernel's
//!   backlog instead of each getting a thread;
//! - threads are fixed: two for the network, `--threads` for SQLite queries, each with its own
//!   read-only connection, safe beside a running import thanks to WAL.
//!
//! Beside the API, `/` serves the web page ([`web`]): static files built into the binary that
//! call `/v1` and nothing else.
//!
//! Lists are cursor-paginated (`{"items", "paging": {"cursors": {"after", "before"}, "next",
//! "previous"}}`); errors are `{"error": {"code", "message"}}`. Every value from a request
//! reaches SQL as a parameter.

mod web;
mod zonalizer;

pub use zonalizer::Options as ZonalizerOptions;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};

use crate::changes::Kind;
use crate::http::{decode, encode};
use crate::query::series::{self, FeedKind};
use crate::query::{self, check::Level, Page, Pattern};

/// Settings of the server.
#[derive(Debug, Clone)]
pub struct Options {
    pub db: PathBuf,
    /// The largest `limit` a list accepts.
    pub max_limit: usize,
    /// Threads answering queries.
    pub threads: usize,
    /// Open connections at most.
    pub max_connections: usize,
    /// How long a request head may take, counted from when the connection is idle.
    pub header_timeout: Duration,
    /// How long a request may take to answer.
    pub request_timeout: Duration,
    /// The Zonalizer API (`/zonalizer/1/`).
    pub zonalizer: ZonalizerOptions,
    /// `--allow-monitor`: `/v1/monitor/domains` takes POST and DELETE (guarded as the
    /// Zonalizer API's writes are: its token and rate).
    pub allow_monitor: bool,
}

const DEFAULT_LIMIT: usize = 100;
/// The largest request head (request line and headers) read: 16 KiB, as nginx's
/// `large_client_header_buffers` default allows for one line. Larger gets 431.
pub const MAX_HEAD: usize = 16 << 10;
/// How often `serve` looks whether the WAL can be truncated.
const UPKEEP: Duration = Duration::from_secs(5);
/// Network threads; queries run on their own threads.
const IO_THREADS: usize = 2;

struct Shared {
    opts: Options,
    requests: AtomicU64,
    errors: AtomicU64,
    started: String,
    memo: Memo,
    zonalizer: zonalizer::State,
}

/// Answers that read much of a zone, kept while the versions they read are current:
/// - a zone's statistics and checks read every record of its current version (seconds on a
///   zone of millions of domains): computed ahead for every current zone, at start and after
///   each import, so pages do not wait for them;
/// - a name server's or provider's domains over time replay its pairs (0.1-0.3 s for the
///   bench zone's largest): its page's requests share one replay.
#[derive(Default)]
struct Memo {
    figures: Cache<Value>,
    served: Cache<series::Served>,
}

/// How many name servers' and providers' histories are kept.
const SERVED_KEPT: usize = 64;

/// Values by key, each for the version (or set of versions) it was computed from.
struct Cache<T> {
    map: Mutex<HashMap<String, (i64, Arc<T>)>>,
    /// Held while a value is computed: a request for one being computed waits for it
    /// instead of reading the zone a second time beside it.
    computing: Mutex<()>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Cache { map: Mutex::new(HashMap::new()), computing: Mutex::new(()) }
    }
}

impl<T> Cache<T> {
    /// The value of `key` for `version`, from the cache or `make`; at most `keep` keys.
    fn get(&self, key: String, version: i64, keep: usize, make: impl FnOnce() -> Result<T, ApiError>) -> Result<Arc<T>, ApiError> {
        let known = || -> Result<Option<Arc<T>>, ApiError> {
            Ok(self.map.lock().map_err(internal)?.get(&key).filter(|(v, _)| *v == version).map(|(_, val)| val.clone()))
        };
        if let Some(val) = known()? {
            return Ok(val);
        }
        let _computing = self.computing.lock().map_err(internal)?;
        if let Some(val) = known()? {
            return Ok(val);
        }
        let val = Arc::new(make()?);
        let mut map = self.map.lock().map_err(internal)?;
        if map.len() >= keep && !map.contains_key(&key) {
            map.clear();
        }
        map.insert(key, (version, val.clone()));
        Ok(val)
    }
}

/// An API error: HTTP status, stable code, message.
#[derive(Debug)]
struct ApiError(u16, &'static str, String);

type Reply = Result<Value, ApiError>;

/// What an API request answers: JSON, or a feed as a CSV download.
enum Answer {
    Json(Value),
    Csv { name: String, body: String },
}

fn bad(code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError(400, code, msg.into())
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError(404, "not_found", msg.into())
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    // Details go to the log only.
    eprintln!("{} zonefeed serve: internal error: {e}", crate::time::now_utc());
    ApiError(500, "internal_error", "internal error".into())
}

/// Serves until the process ends; `ready` gets the bound address (port 0 picks one).
pub fn run(listen: &str, opts: Options, ready: impl FnOnce(&str) -> std::io::Result<()>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(IO_THREADS)
        .max_blocking_threads(opts.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
        ready(&listener.local_addr()?.to_string())?;
        let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_connections.max(1)));
        let shared = Arc::new(Shared {
            opts: opts.clone(),
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            started: crate::time::now_utc(),
            memo: Memo::default(),
            zonalizer: zonalizer::State::new(opts.zonalizer.clone()),
        });
        // The Zonalizer API's worker runs the queued analyses on a thread of its own.
        if shared.zonalizer.allows_analysis() {
            let (db, z) = (opts.db.clone(), opts.zonalizer.clone());
            std::thread::spawn(move || {
                if let Err(e) = zonalizer::work(&db, &z) {
                    eprintln!("{} zonefeed serve: zonalizer worker stopped: {e:#}", crate::time::now_utc());
                }
            });
        }
        // A reader that held an old snapshot through an import left the WAL long; once no
        // import runs and the readers have let go, it is truncated here.
        let db = opts.db.clone();
        let sh = shared.clone();
        tokio::spawn(async move {
            loop {
                let s = sh.clone();
                // Figures of versions that became current since the last look.
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || warm(&s)).await {
                    eprintln!("{} zonefeed serve: zone figures: {}", crate::time::now_utc(), e.2);
                }
                tokio::time::sleep(UPKEEP).await;
                let db = db.clone();
                if let Ok(Err(e)) = tokio::task::spawn_blocking(move || crate::store::upkeep(&db)).await {
                    eprintln!("{} zonefeed serve: WAL upkeep: {e}", crate::time::now_utc());
                }
            }
        });
        loop {
            // Past the cap, connections wait in the kernel's backlog, costing us nothing.
            let slot = slots.clone().acquire_owned().await?;
            let (stream, peer) = match listener.accept().await {
                Ok((stream, peer)) => (stream, peer.ip()),
                Err(e) => {
                    // Out of file descriptors, say: wait rather than spin.
                    eprintln!("{} zonefeed serve: accept: {e}", crate::time::now_utc());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let shared = shared.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| respond(req, shared.clone(), peer));
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(opts.header_timeout)
                    .max_buf_size(MAX_HEAD)
                    .serve_connection(TokioIo::new(stream), service);
                // A client that went away or timed out: nothing to report.
                let _ = conn.await;
            });
        }
    })
}

async fn respond(req: Request<Incoming>, shared: Arc<Shared>, peer: std::net::IpAddr) -> Result<Response<Full<Bytes>>, Infallible> {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let host = req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_string();
    let head = req.method() == Method::HEAD;
    let path = req.uri().path();
    if path.starts_with("/zonalizer/") {
        return Ok(zonalizer_respond(req, shared, peer, host).await);
    }
    if path == "/v1/monitor/domains" || path.starts_with("/v1/monitor/domains/") {
        return Ok(monitor_respond(req, shared, peer).await);
    }
    if !path.starts_with("/v1") && (req.method() == Method::GET || head) {
        // The web page: static files, no query.
        let (status, ctype, body) = web::serve(path);
        return Ok(web::response(status, ctype, if head { Bytes::new() } else { body }));
    }
    let reply = if req.method() != Method::GET && !head {
        Err(ApiError(405, "method_not_allowed", "only GET is supported".into()))
    } else {
        let url = req.uri().path_and_query().map_or_else(|| req.uri().path().to_string(), |p| p.as_str().to_string());
        let sh = shared.clone();
        let work = tokio::task::spawn_blocking(move || {
            CONN.with(|slot| match connection(&mut slot.borrow_mut(), &sh.opts.db) {
                Ok(c) => route(c, &sh, &url, &host),
                Err(e) => Err(e),
            })
        });
        match tokio::time::timeout(shared.opts.request_timeout, work).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(internal(e)),
            Err(_) => Err(ApiError(503, "timeout", "the request took too long; narrow it (tld, limit)".into())),
        }
    };
    let (status, ctype, body, download) = match reply {
        Ok(Answer::Json(v)) => (200, "application/json", v.to_string(), None),
        Ok(Answer::Csv { name, body }) => (200, "text/csv; charset=utf-8", body, Some(name)),
        Err(ApiError(status, code, message)) => {
            shared.errors.fetch_add(1, Ordering::Relaxed);
            (status, "application/json", json!({"error": {"code": code, "message": message}}).to_string(), None)
        }
    };
    let body = if head { Bytes::new() } else { Bytes::from(body) };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(ctype));
    if let Some(v) = download.and_then(|n| hyper::header::HeaderValue::from_str(&format!("attachment; filename=\"{n}\"")).ok()) {
        resp.headers_mut().insert(hyper::header::CONTENT_DISPOSITION, v);
    }
    if status == 405 {
        resp.headers_mut().insert(hyper::header::ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
    }
    Ok(resp)
}

/// A Zonalizer API request: its body read (at most 64 KiB), then answered on a query thread.
async fn zonalizer_respond(req: Request<Incoming>, shared: Arc<Shared>, peer: std::net::IpAddr, host: String) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or_default().to_string();
    let authorization = req.headers().get(hyper::header::AUTHORIZATION).and_then(|h| h.to_str().ok()).map(str::to_string);
    let body = match http_body_util::Limited::new(req.into_body(), zonalizer::MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return json_response(413, &zonalizer::error(413, "request_too_large"), &shared),
    };
    let sh = shared.clone();
    let work = tokio::task::spawn_blocking(move || {
        let call = zonalizer::Call {
            method: &method,
            path: &path,
            query: &query,
            host: &host,
            authorization: authorization.as_deref(),
            body: &body,
            peer,
        };
        let counters = (sh.requests.load(Ordering::Relaxed), sh.errors.load(Ordering::Relaxed));
        CONN.with(|slot| match connection(&mut slot.borrow_mut(), &sh.opts.db) {
            Ok(c) => zonalizer::answer(&sh.zonalizer, &sh.opts.db, c, &call, counters),
            Err(ApiError(status, code, _)) => (status, zonalizer::error(status, code)),
        })
    });
    let (status, v) = match tokio::time::timeout(shared.opts.request_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            let ApiError(status, code, _) = internal(e);
            (status, zonalizer::error(status, code))
        }
        Err(_) => (503, zonalizer::error(503, "timeout")),
    };
    json_response(status, &v, &shared)
}

/// A `/v1/monitor/domains` request: reads answer from the query threads' connections, writes
/// (POST, DELETE) pass the write guard first.
async fn monitor_respond(req: Request<Incoming>, shared: Arc<Shared>, peer: std::net::IpAddr) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let authorization = req.headers().get(hyper::header::AUTHORIZATION).and_then(|h| h.to_str().ok()).map(str::to_string);
    let body = match http_body_util::Limited::new(req.into_body(), zonalizer::MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return json_response(413, &json!({"error": {"code": "request_too_large", "message": "the body is over 64 KiB"}}), &shared)
        }
    };
    let sh = shared.clone();
    let work = tokio::task::spawn_blocking(move || {
        CONN.with(|slot| {
            let mut slot = slot.borrow_mut();
            let read = connection(&mut slot, &sh.opts.db)?;
            monitor_api(&sh, read, &method, &path, &body, peer, authorization.as_deref())
        })
    });
    let reply = match tokio::time::timeout(shared.opts.request_timeout, work).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(internal(e)),
        Err(_) => Err(ApiError(503, "timeout", "the request took too long".into())),
    };
    match reply {
        Ok(v) => json_response(200, &v, &shared),
        Err(ApiError(status, code, message)) => json_response(status, &json!({"error": {"code": code, "message": message}}), &shared),
    }
}

/// The monitor's routes: the monitored domains (GET, POST `{"domains": [...]}`), one domain's
/// entry and live records (GET, DELETE), its checks and events (`/history`).
fn monitor_api(
    sh: &Shared,
    read: &rusqlite::Connection,
    method: &str,
    path: &str,
    body: &[u8],
    peer: std::net::IpAddr,
    authorization: Option<&str>,
) -> Result<Value, ApiError> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(4).collect();
    let guard = || zonalizer::guard_write(&sh.zonalizer, peer, authorization, sh.opts.allow_monitor, "monitor_not_allowed");
    let entry = |name: &str| -> Result<crate::monitor::Entry, ApiError> {
        crate::monitor::entry(read, name).map_err(internal)?.ok_or_else(|| not_found(format!("`{name}` is not monitored")))
    };
    match (method, segs.as_slice()) {
        ("GET", []) => {
            let items = crate::monitor::list(read).map_err(internal)?;
            Ok(json!({"items": items, "paging": {"cursors": {"after": null, "before": null}, "next": null, "previous": null}}))
        }
        ("POST", []) => {
            guard()?;
            let v: Value =
                serde_json::from_slice(body).map_err(|_| bad("invalid_body", r#"the body is {"domains": ["example.com", ...]}"#))?;
            let list = v["domains"].as_array().ok_or_else(|| bad("invalid_body", r#"the body is {"domains": ["example.com", ...]}"#))?;
            let mut names = Vec::new();
            for d in list {
                let n = d.as_str().map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
                match n {
                    Some(n) if n.contains('.') => names.push(n),
                    _ => return Err(bad("invalid_fqdn", format!("{d} is not a domain"))),
                }
            }
            let added = sh.zonalizer.with_writer(&sh.opts.db, |w| crate::monitor::add(w, &names, "manual", None).map_err(internal))?;
            Ok(json!({"added": added, "domains": names}))
        }
        ("GET", [name]) => {
            let name = domain_of_path(name)?;
            let e = entry(&name)?;
            let live = crate::monitor::live(read, &name, None).map_err(internal)?;
            let registration = crate::monitor::rdap::current(read, &name, None).map_err(internal)?;
            Ok(json!({"name": name, "monitored": e, "live": live, "registration": registration}))
        }
        ("GET", [name, "history"]) => {
            let name = domain_of_path(name)?;
            entry(&name)?;
            let f = crate::changes::Filter { domain: Some(name.clone()), ..Default::default() };
            let events: Vec<crate::changes::Event> =
                crate::changes::list(read, &f).map_err(internal)?.into_iter().filter(|e| e.kind.is_monitoring()).collect();
            let checks = crate::monitor::checks(read, &name).map_err(internal)?;
            let registrations: Vec<serde_json::Value> = crate::monitor::rdap::history(read, &name)
                .map_err(internal)?
                .into_iter()
                .map(|(since, until, r)| {
                    let mut v = json!(r);
                    v["since"] = json!(since);
                    v["until"] = json!(until);
                    v
                })
                .collect();
            Ok(json!({"name": name, "checks": checks, "registrations": registrations, "events": events}))
        }
        ("DELETE", [name]) => {
            guard()?;
            let name = domain_of_path(name)?;
            if !sh.zonalizer.with_writer(&sh.opts.db, |w| crate::monitor::remove(w, &name).map_err(internal))? {
                return Err(not_found(format!("`{name}` is not monitored")));
            }
            Ok(json!({"removed": name}))
        }
        _ => Err(ApiError(405, "method_not_allowed", format!("{method} {path}: GET, POST (the list) or DELETE (a domain)"))),
    }
}

fn json_response(status: u16, v: &Value, shared: &Shared) -> Response<Full<Bytes>> {
    if status >= 400 {
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }
    let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    if status == 429 {
        resp.headers_mut().insert(hyper::header::RETRY_AFTER, hyper::header::HeaderValue::from_static("60"));
    }
    resp
}

thread_local! {
    /// Each query thread's read-only connection, opened on its first request.
    static CONN: RefCell<Option<rusqlite::Connection>> = const { RefCell::new(None) };
}

fn connection<'a>(slot: &'a mut Option<rusqlite::Connection>, db: &Path) -> Result<&'a rusqlite::Connection, ApiError> {
    if slot.is_none() {
        *slot = Some(crate::store::open_ro(db).map_err(internal)?);
    }
    slot.as_ref().ok_or_else(|| internal("no connection"))
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

    /// `at=YYYY-MM-DD` as a zone date, checked to exist.
    fn at(&self) -> Result<Option<String>, ApiError> {
        self.get("at").map(|a| crate::time::parse_day(a).map_err(|e| bad("invalid_date", format!("at `{a}`: {e}")))).transpose()
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

/// A domain named in a path: as [`zone_of_path`], or else as a zone file may spell it. Zones
/// delegate names with `<`, `/` or `\` in a label, which search and the feeds list: their
/// links must lead somewhere. A blank or a control character is still refused.
fn domain_of_path(seg: &str) -> Result<String, ApiError> {
    zone_of_path(seg).or_else(|e| {
        let name = decode(seg, false).ok_or_else(|| bad("invalid_fqdn", "bad percent-encoding"))?;
        let name = name.strip_suffix('.').unwrap_or(&name).to_ascii_lowercase();
        let plain = !name.is_empty() && name.len() <= 253 && name.bytes().all(|b| b.is_ascii_graphic()) && !name.contains("..");
        if plain {
            Ok(name)
        } else {
            Err(e)
        }
    })
}

fn route(conn: &rusqlite::Connection, shared: &Shared, url: &str, host: &str) -> Result<Answer, ApiError> {
    let (path, qs) = url.split_once('?').unwrap_or((url, ""));
    let q = Query::parse(qs)?;
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    match segs.as_slice() {
        ["v1", "zones", tld, "feed", date] => feed(conn, shared, &q, path, host, tld, date),
        _ => api(conn, shared, &q, &segs, path, host).map(Answer::Json),
    }
}

fn api(conn: &rusqlite::Connection, shared: &Shared, q: &Query, segs: &[&str], path: &str, host: &str) -> Reply {
    match segs {
        ["v1"] => Ok(endpoints()),
        ["v1", "version"] => Ok(json!({"name": "zonefeed", "version": env!("CARGO_PKG_VERSION"), "schema": crate::store::SCHEMA_VERSION})),
        ["v1", "status"] => status(conn, shared),
        ["v1", "zones"] => zones(conn),
        ["v1", "zones", tld] => {
            let tld = zone_of_path(tld)?;
            Ok((*zone_stats(conn, shared, &tld)?).clone())
        }
        ["v1", "zones", tld, "checks"] => {
            let tld = zone_of_path(tld)?;
            let level = match q.get("level") {
                None => Level::Notice,
                Some(l) => Level::parse(l).ok_or_else(|| bad("invalid_level", "level is one of notice, warning, error, critical"))?,
            };
            // A zone of millions has findings by the million: `limit` cuts the list, and
            // `findings_total` says how many there are at the level.
            let limit = q.get("limit").map(|_| q.limit(shared.opts.max_limit)).transpose()?;
            let all = zone_checks(conn, shared, &tld)?;
            // The memo holds every finding; the list is cut to the level asked for.
            let at_level = all["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["level"].as_str().and_then(Level::parse).is_some_and(|l| l >= level));
            let total = at_level.clone().count();
            let findings: Vec<&Value> = at_level.take(limit.unwrap_or(usize::MAX)).collect();
            Ok(
                json!({"tld": all["tld"], "version": all["version"], "summary": all["summary"], "findings": findings, "findings_total": total}),
            )
        }
        ["v1", "zones", tld, "series"] => {
            let tld = zone_of_path(tld)?;
            match series::zone(conn, &tld).map_err(internal)? {
                Some(items) => Ok(json!({"tld": tld, "items": items})),
                None => Err(not_found(format!("zone `{tld}` is not imported"))),
            }
        }
        ["v1", "zones", tld, "findings"] => {
            let tld = zone_of_path(tld)?;
            let items: Vec<Value> = query::analyses::per_tag(conn, &tld)
                .map_err(internal)?
                .into_iter()
                .map(|(date, tag, domains)| json!({"date": date, "tag": tag, "domains": domains}))
                .collect();
            Ok(json!({"tld": tld, "items": items}))
        }
        ["v1", "findings", tag] => {
            let tag = tag.to_ascii_uppercase();
            if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return Err(bad("invalid_tag", "a Zonemaster message tag is letters, digits and `_` (NS_FAILED)"));
            }
            let tld = q.get("tld").map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
            let limit = q.limit(shared.opts.max_limit)?;
            let items = query::analyses::with_finding(conn, &tag, tld.as_deref(), limit).map_err(internal)?;
            Ok(json!({"tag": tag, "tld": tld, "items": items}))
        }
        ["v1", "domains"] => domains(conn, shared, q, path, host),
        ["v1", "domains", name] => {
            let name = domain_of_path(name)?;
            let at = q.at()?;
            let found = query::domain(conn, &name, true, at.as_deref()).map_err(internal)?;
            if found.is_empty() {
                return Err(not_found(query::domain_absent(&name, at.as_deref())));
            }
            // A monitored domain's live records come with it (null for one that is not).
            let monitor = match crate::monitor::entry(conn, &name).map_err(internal)? {
                Some(e) => json!({
                    "monitored": e,
                    "live": crate::monitor::live(conn, &name, None).map_err(internal)?,
                    "registration": crate::monitor::rdap::current(conn, &name, None).map_err(internal)?,
                }),
                None => Value::Null,
            };
            Ok(json!({"name": name, "unicode": query::unicode(&name), "zones": found, "monitor": monitor}))
        }
        ["v1", "nameservers", host] => {
            let host = zone_of_path(host)?;
            // `days=0` leaves out the lists of domains gained and lost (the web page pages
            // them from `/changes`; a busy host's run to thousands).
            let days = match q.get("days") {
                None => 30,
                Some(d) => d
                    .parse::<i64>()
                    .ok()
                    .filter(|d| (0..=36_500).contains(d))
                    .ok_or_else(|| bad("invalid_days", "days is a whole number from 0 to 36500"))?,
            };
            let page = query::nameserver(conn, &host, days).map_err(internal)?;
            if page.first_seen.is_none() {
                return Err(not_found(format!("no imported version delegates to `{host}`")));
            }
            serde_json::to_value(page).map_err(internal)
        }
        ["v1", kind @ ("nameservers" | "providers"), name, rest @ ..] => served(conn, shared, q, path, host, kind, name, rest),
        ["v1", "changes"] => changes(conn, shared, q, path, host, None),
        ["v1", "watch", "hits"] => changes(conn, shared, q, path, host, Some(Kind::Watch)),
        _ => Err(not_found(format!("no such resource: {path}"))),
    }
}

/// `/v1/`: what there is to ask.
fn endpoints() -> Value {
    let e = |path: &str, about: &str| json!({"path": path, "about": about});
    json!({"endpoints": [
        e("/v1/version", "name, version, schema"),
        e("/v1/status", "current zones, total domains, API counters"),
        e("/v1/zones", "the imported zones"),
        e("/v1/zones/{tld}", "a zone's statistics (`root` is the root zone)"),
        e("/v1/zones/{tld}/checks?level=&limit=", "check findings and summary"),
        e("/v1/zones/{tld}/series", "per version: zone date, domains, added/removed/modified, domains with DS and their share"),
        e("/v1/zones/{tld}/feed/{date}?kind=added|removed|modified|moved&limit=&after=&format=csv", "a day's changes (every kind without `kind`) with watchlist hits, paged, or all as CSV"),
        e("/v1/zones/{tld}/findings", "per day of its kept analyses: the domains holding each tag at WARNING or above"),
        e("/v1/findings/{tag}?tld=&limit=", "the delegated domains whose latest kept analysis has a finding with this tag"),
        e("/v1/domains?search=|contains=|glob=|ns=|provider=|ip=&at=&tld=&limit=&after=&before=&sort=name&direction=", "domains by name, suffix, word, glob or name server, paged"),
        e("/v1/domains/{name}?at=", "a domain in every zone: records, dates, history, latest kept analysis and its findings' history; as it was on a day"),
        e("/v1/nameservers/{host}?days=", "a name server: domains now, first and last seen, gained and lost in `days` (30; 0: no lists), glue"),
        e("/v1/nameservers/{host}/series", "a name server's domains, gained and lost per day"),
        e("/v1/nameservers/{host}/changes?limit=&after=", "the domains that gained or lost a name server, newest first"),
        e("/v1/providers/{domain}", "a provider (the registrable domain of NS hosts): domains now, first and last seen"),
        e("/v1/providers/{domain}/series", "a provider's domains, gained and lost per day"),
        e("/v1/providers/{domain}/changes?limit=&after=", "the domains that gained or lost a provider, newest first"),
        e("/v1/changes?tld=&kind=&since=&limit=&after=", "the change feed, oldest first (delegation_broken and delegation_fixed events of kept analyses among them)"),
        e("/v1/watch/hits?since=&limit=&after=", "watchlist hits, oldest first"),
        e("/v1/monitor/domains", "monitored domains (POST {\"domains\": [...]} with --allow-monitor)"),
        e("/v1/monitor/domains/{name}", "a monitored domain, its live records and registration (DELETE with --allow-monitor)"),
        e("/v1/monitor/domains/{name}/history", "its checks, registrations and monitoring events"),
        e("/zonalizer/1/", "the Zonalizer API v1: version, status, analysis (GET, POST with --allow-analysis, DELETE), policies"),
    ]})
}

fn status(conn: &rusqlite::Connection, shared: &Shared) -> Reply {
    let mut st = conn
        .prepare("SELECT tld, id, serial, coalesce(domains, 0), coalesce(finished_at, imported_at) FROM current_zones ORDER BY tld")
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
        .prepare(
            "SELECT tld, id, serial, coalesce(domains, 0), coalesce(records, 0), with_records, coalesce(finished_at, imported_at), zone_date
               FROM current_zones ORDER BY tld",
        )
        .map_err(internal)?;
    let items: Vec<Value> = st
        .query_map([], |r| {
            let tld: String = r.get(0)?;
            let path = if tld == "." { "root".to_string() } else { tld.clone() };
            Ok(json!({"tld": tld, "version": r.get::<_, i64>(1)?, "serial": r.get::<_, Option<i64>>(2)?, "domains": r.get::<_, i64>(3)?,
                      "records": r.get::<_, i64>(4)?, "records_kept": r.get::<_, i64>(5)? != 0, "imported_at": r.get::<_, String>(6)?,
                      "zone_date": r.get::<_, Option<String>>(7)?,
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
    let fqdn = |n: &str| query::normalize(n).map_err(|e| bad("invalid_fqdn", e.to_string()));
    let asked: Vec<(&str, &str)> =
        ["search", "contains", "glob", "ns", "provider", "ip"].into_iter().filter_map(|k| q.get(k).map(|v| (k, v))).collect();
    let pattern = match asked.as_slice() {
        [("search", n)] => Pattern::parse(n).map_err(|e| bad("invalid_fqdn", e.to_string()))?,
        [("contains", w)] => Pattern::contains(w).map_err(|e| bad("invalid_query", e.to_string()))?,
        [("glob", g)] => Pattern::glob(g).map_err(|e| bad("invalid_query", e.to_string()))?,
        [("ns", h)] => Pattern::Ns(fqdn(h)?),
        [("provider", p)] => Pattern::Provider(fqdn(p)?),
        [("ip", a)] => Pattern::ip(a).map_err(|e| bad("invalid_query", e.to_string()))?,
        _ => {
            return Err(bad(
                "invalid_query",
                "give one of search=NAME (or .SUFFIX), contains=WORD, glob=PATTERN, ns=HOST, provider=DOMAIN, ip=ADDRESS",
            ))
        }
    };
    let at = q.at()?;
    let tld = q.get("tld").map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
    let (after, before) = (q.get("after").map(|c| uncursor('d', c)).transpose()?, q.get("before").map(|c| uncursor('d', c)).transpose()?);
    // `before` walks the other way from its cursor, then the page is put back in order.
    let page = match (&after, &before) {
        (_, Some(b)) => Page { cursor: Some(b.clone()), desc: !desc, at },
        (a, None) => Page { cursor: a.clone(), desc, at },
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
        .map(|h| {
            let mut item =
                json!({"name": h.name, "unicode": h.unicode, "tld": h.tld, "links": {"self": format!("/v1/domains/{}", encode(&h.name))}});
            if let Some(d) = &h.delegated_since {
                item["delegated_since"] = json!(d);
            }
            item
        })
        .collect();
    Ok(json!({"items": items, "paging": paging(q, path, host, first, last, more_after, more_before)}))
}

/// The change feed, or (`only` = `watch`) the watch hits.
fn changes(conn: &rusqlite::Connection, shared: &Shared, q: &Query, path: &str, host: &str, only: Option<Kind>) -> Reply {
    let limit = q.limit(shared.opts.max_limit)?;
    let since = match q.get("since") {
        Some(s) => {
            let since = crate::time::Since::parse(s).map_err(|e| bad("invalid_since", format!("since `{s}`: {e}")))?;
            let reference = if since.is_age() { query::age_reference(conn).map_err(internal)? } else { 0 };
            Some(since.resolve(reference))
        }
        None => None,
    };
    let kind = match q.get("kind").filter(|_| only.is_none()) {
        None => only,
        Some(k) => match Kind::parse(k).filter(|k| *k != Kind::Watch) {
            Some(k) => Some(k),
            None => {
                return Err(bad("invalid_kind", format!("kind `{k}` is added, removed, modified, delegation_broken or delegation_fixed")))
            }
        },
    };
    let tld = q.get("tld").map(query::normalize).transpose().map_err(|e| bad("invalid_fqdn", e.to_string()))?;
    let after: i64 = match q.get("after") {
        Some(c) => uncursor('e', c)?.parse().map_err(|_| bad("invalid_cursor", "the cursor is not one this API gave out"))?,
        None => 0,
    };
    let filter =
        crate::changes::Filter { tld, kind, since, after_id: Some(after), limit: Some(limit + 1), diffs: true, ..Default::default() };
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

/// The current version of `tld`, or 404.
fn current_version(conn: &rusqlite::Connection, tld: &str) -> Result<i64, ApiError> {
    crate::store::current_version(conn, tld)
        .map_err(internal)?
        .map(|c| c.id)
        .ok_or_else(|| not_found(format!("zone `{tld}` is not imported")))
}

fn zone_stats(conn: &rusqlite::Connection, shared: &Shared, tld: &str) -> Result<Arc<Value>, ApiError> {
    let version = current_version(conn, tld)?;
    shared.memo.figures.get(format!("stats {tld}"), version, usize::MAX, || match query::stats(conn, tld, 10).map_err(internal)? {
        Some(s) => serde_json::to_value(s).map_err(internal),
        None => Err(not_found(format!("zone `{tld}` is not imported"))),
    })
}

/// Every finding of `tld`'s current version.
fn zone_checks(conn: &rusqlite::Connection, shared: &Shared, tld: &str) -> Result<Arc<Value>, ApiError> {
    let version = current_version(conn, tld)?;
    shared.memo.figures.get(format!("checks {tld}"), version, usize::MAX, || {
        match query::check::check(conn, tld, Level::Notice).map_err(internal)? {
            Some(r) => serde_json::to_value(r).map_err(internal),
            None => Err(not_found(format!("zone `{tld}` is not imported with its records"))),
        }
    })
}

/// Computes the figures of every current zone the memo lacks, on a connection of its own.
fn warm(shared: &Shared) -> Result<(), ApiError> {
    let conn = crate::store::open_ro(&shared.opts.db).map_err(internal)?;
    for tld in crate::store::current_zones(&conn).map_err(internal)? {
        zone_stats(&conn, shared, &tld)?;
        // A zone kept without records has no checks: nothing to warm.
        match zone_checks(&conn, shared, &tld) {
            Err(ApiError(404, ..)) | Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `/v1/zones/{tld}/feed/{date}`: a day's events of one kind, paged, or all as CSV.
fn feed(
    conn: &rusqlite::Connection,
    shared: &Shared,
    q: &Query,
    path: &str,
    host: &str,
    tld: &str,
    date: &str,
) -> Result<Answer, ApiError> {
    let tld = zone_of_path(tld)?;
    let day = crate::time::parse_day(date).map_err(|e| bad("invalid_date", format!("`{date}`: {e}")))?;
    let day = &day[..10];
    // Without `kind`: the whole day, every kind.
    let kind_name = q.get("kind").unwrap_or("all");
    let kind = match q.get("kind") {
        None => None,
        Some(k) => Some(FeedKind::parse(k).ok_or_else(|| bad("invalid_kind", format!("kind `{k}` is added, removed, modified or moved")))?),
    };
    let csv = match q.get("format") {
        None | Some("json") => false,
        Some("csv") => true,
        Some(f) => return Err(bad("invalid_format", format!("format `{f}` is json or csv"))),
    };
    let none = || not_found(format!("no version of zone `{tld}` is dated {day}"));
    if csv {
        let items = series::feed(conn, &tld, day, kind, 0, None).map_err(internal)?.ok_or_else(none)?;
        let mut body = String::from("date,tld,kind,domain,unicode,moved_from,moved_to,watch\r\n");
        for i in &items {
            let e = &i.event;
            let (from, to) = e.moved.as_ref().map(|m| (m.from.join(" "), m.to.join(" "))).unwrap_or_default();
            let watch: Vec<&str> = i.watch.iter().filter_map(|w| w.term.as_deref()).collect();
            let row = [day, &e.tld, e.kind.as_str(), &e.domain, &query::unicode(&e.domain), &from, &to, &watch.join(" ")];
            body.push_str(&row.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            body.push_str("\r\n");
        }
        let name = format!("{}-{day}-{kind_name}.csv", if tld == "." { "root" } else { &tld });
        return Ok(Answer::Csv { name, body });
    }
    let limit = q.limit(shared.opts.max_limit)?;
    let after: i64 = match q.get("after") {
        Some(c) => uncursor('f', c)?.parse().map_err(|_| bad("invalid_cursor", "the cursor is not one this API gave out"))?,
        None => 0,
    };
    let mut items = series::feed(conn, &tld, day, kind, after, Some(limit + 1)).map_err(internal)?.ok_or_else(none)?;
    let more = items.len() > limit;
    items.truncate(limit);
    let last = items.last().map(|i| cursor('f', &i.event.id.to_string()));
    let first = q.get("after").map(str::to_string);
    let p = paging(q, path, host, first, last, more, false);
    Ok(Answer::Json(
        json!({"tld": tld, "date": day, "kind": kind_name, "items": serde_json::to_value(&items).map_err(internal)?, "paging": p}),
    ))
}

/// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field that a
/// spreadsheet would run as a formula (it begins with `=`, `+`, `-`, `@`, a tab or a carriage
/// return) gets a leading `'` and quotes, as OWASP's advice on CSV injection has it: zone
/// data is anyone's to write.
fn csv_field(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("\"'{}\"", s.replace('"', "\"\""))
    } else if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `/v1/nameservers/{host}/…` and `/v1/providers/{domain}[/…]`: what the index tells of a
/// host or provider over time.
#[allow(clippy::too_many_arguments)]
fn served(conn: &rusqlite::Connection, shared: &Shared, q: &Query, path: &str, host: &str, kind: &str, name: &str, rest: &[&str]) -> Reply {
    let name = zone_of_path(name)?;
    let p = if kind == "nameservers" { Pattern::Ns(name.clone()) } else { Pattern::Provider(name.clone()) };
    // Any import that becomes current changes the sum of the current versions' ids.
    let current: i64 = conn.query_row("SELECT total(id) FROM current_zones", [], |r| r.get::<_, f64>(0)).map_err(internal)? as i64;
    let s = shared.memo.served.get(format!("{kind} {name}"), current, SERVED_KEPT, || series::served(conn, &p).map_err(internal))?;
    if !s.days.iter().any(|d| d.domains > 0 || d.lost > 0) {
        return Err(not_found(format!("no imported version delegates to `{name}`")));
    }
    match rest {
        [] => {
            let last = s.days.last().map_or(0, |d| d.domains);
            // Zone dates as RFC 3339 midnight, as /v1/nameservers gives them.
            let seen: Vec<String> = s.days.iter().filter(|d| d.domains > 0).map(|d| format!("{}T00:00:00Z", d.date)).collect();
            Ok(json!({"provider": name, "domains": last, "first_seen": seen.first(), "last_seen": seen.last(),
                      "links": {"domains": format!("/v1/domains?provider={}", encode(&name)), "series": format!("{path}/series"), "changes": format!("{path}/changes")}}))
        }
        ["series"] => Ok(json!({"name": name, "items": s.days})),
        ["changes"] => {
            let limit = q.limit(shared.opts.max_limit)?;
            // Newest day first, then zone and domain: the cursor is the last item's key.
            let key = |d: &series::Delegation| format!("{}\t{}\t{}", d.date, d.tld, d.domain);
            let start = match q.get("after") {
                Some(c) => {
                    let k = uncursor('g', c)?;
                    let mut parts = k.splitn(3, '\t');
                    let (Some(date), Some(tld), Some(domain)) = (parts.next(), parts.next(), parts.next()) else {
                        return Err(bad("invalid_cursor", "the cursor is not one this API gave out"));
                    };
                    s.changes.partition_point(|d| {
                        d.date.as_str() > date || (d.date == date && (d.tld.as_str(), d.domain.as_str()) <= (tld, domain))
                    })
                }
                None => 0,
            };
            let page: Vec<&series::Delegation> = s.changes[start..].iter().take(limit).collect();
            let more = s.changes.len() > start + page.len();
            let last = page.last().map(|d| cursor('g', &key(d)));
            let p = paging(q, path, host, q.get("after").map(str::to_string), last, more, false);
            Ok(json!({"name": name, "items": page, "paging": p}))
        }
        _ => Err(not_found(format!("no such resource: {path}"))),
    }
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

    #[test]
    fn csv_fields_that_a_spreadsheet_would_run_are_neutralised() {
        assert_eq!(csv_field("example.com"), "example.com");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        for f in ["=cmd|' /C calc'!A0", "+1", "-2+3", "@sum(1)", "\tx"] {
            let got = csv_field(f);
            assert!(got.starts_with("\"'"), "{f}: {got}");
        }
        assert_eq!(csv_field("=a\"b"), "\"'=a\"\"b\"");
    }
}
