//! A CZDS server for the tests: ICANN's REST API (spec 1.0.8) on 127.0.0.1, with switches
//! for the failures real links and servers produce.
//!
//! Plain HTTP/1.1 over std's TcpListener, one thread per connection, `Connection: close` on
//! every answer: small enough to read whole, exact about every byte it sends.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};

use crate::http::{read_request, reason, respond, Request};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const USER: &str = "tester@example.com";
pub const PASSWORD: &str = "correct-horse-battery-staple-77";

#[derive(Clone)]
pub struct Zone {
    pub data: Vec<u8>,
    pub last_modified: String,
    /// 403 (not authorised) or 409 (terms) instead of the file.
    pub status: Option<u16>,
}

/// Faults, each applied to the next `n` GETs of zone files that they match.
#[derive(Default)]
pub struct Faults {
    /// Close the connection after this many body bytes (headers announce the full length).
    pub cut_after: Option<(u64, u32)>,
    /// Answer 200 with the whole file whatever Range says.
    pub ignore_range: bool,
    /// After the next cut GET, replace the zone with these bytes and a new Last-Modified.
    pub change_after_cut: Option<Vec<u8>>,
    /// Send this many bytes at once, then a byte every interval (for `n` GETs).
    pub drip: Option<(u64, Duration, u32)>,
    /// The Content-Disposition file name to send.
    pub disposition: Option<String>,
    /// Refuse every bearer token (a server that lost its sessions for good).
    pub reject_tokens: bool,
    /// Send zone bodies at this many bytes per second (a link as slow as CZDS's).
    pub rate: Option<u64>,
    /// Hold back the last N bytes of a whole-file GET until the check passes (20 s at most).
    pub hold_tail: Option<(u64, HoldCheck)>,
}

/// A condition the server waits for before sending the held bytes.
pub type HoldCheck = Arc<dyn Fn() -> bool + Send + Sync>;

/// An access request, as the portal keeps it.
#[derive(Clone, Debug)]
pub struct AccessRequest {
    pub id: String,
    pub tld: String,
    pub status: String,
    pub created: String,
    /// Unix seconds.
    pub expired: Option<u64>,
    pub extension_in_process: bool,
}

impl AccessRequest {
    /// The portal's rule: approved, expiring within 30 days, no extension under way.
    pub fn extensible(&self) -> bool {
        let now = now();
        self.status == "Approved" && !self.extension_in_process && self.expired.is_some_and(|e| e > now && e <= now + 30 * 86400)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "requestId": self.id, "tld": self.tld, "ulable": self.tld, "status": self.status, "created": self.created,
            "last_updated": self.created, "expired": self.expired.map(iso), "sftp": false, "auto_renew": false,
        })
    }
}

pub fn iso(t: u64) -> String {
    // The portal writes ISO 8601 with milliseconds and +0000.
    let z = zonefeed::time::utc(t as i64);
    format!("{}.000+0000", z.trim_end_matches('Z'))
}

#[derive(Default)]
pub struct State {
    pub access: Vec<AccessRequest>,
    /// Every TLD of `czds/tlds`.
    pub all_tlds: Vec<String>,
    pub terms_version: String,
    /// Bodies of `requests/all` calls, ids sent to `extension/`, bodies of `create` and `cancel`.
    pub list_calls: Vec<serde_json::Value>,
    pub extensions: Vec<String>,
    pub creates: Vec<serde_json::Value>,
    pub cancels: Vec<serde_json::Value>,
    pub zones: BTreeMap<String, Zone>,
    /// Links listed besides the zones' own (hostile names).
    pub extra_links: Vec<String>,
    pub tokens: HashMap<String, u64>,
    /// Lifetime of issued tokens, seconds.
    pub token_ttl: u64,
    /// Successful and refused logins, in order (all attempts count for the rate limit).
    pub login_times: Vec<Instant>,
    pub logins_ok: u32,
    pub login_attempts: u32,
    pub rate_window: Duration,
    pub heads: Vec<String>,
    /// (zone, Range header, If-Range header) of every GET of a zone file.
    pub gets: Vec<(String, Option<String>, Option<String>)>,
    pub faults: Faults,
    /// Whether the hold_tail check passed before the last bytes were sent.
    pub hold_passed: Option<bool>,
    /// Every request line and header block, to look for leaked secrets.
    pub requests: Vec<String>,
}

pub struct Czds {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl Czds {
    pub fn start() -> Czds {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind test server");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State { token_ttl: 24 * 3600, rate_window: Duration::from_secs(300), ..Default::default() }));
        let st = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &st, addr);
                });
            }
        });
        Czds { addr, state }
    }

    /// The config keys that point zonefeed at this server with the tests' account.
    pub fn config(&self, work_dir: &std::path::Path) -> serde_json::Value {
        serde_json::json!({
            "icann.account.username": USER,
            "icann.account.password": PASSWORD,
            "authentication.base.url": self.base(),
            "czds.base.url": self.base(),
            "working.directory": work_dir,
        })
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn add_zone(&self, tld: &str, data: Vec<u8>) {
        self.state()
            .zones
            .insert(tld.into(), Zone { data, last_modified: http_date(SystemTime::now() - Duration::from_secs(3600)), status: None });
    }
}

pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn b64url(data: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(data)
}

fn serve(stream: TcpStream, st: &Mutex<State>, addr: SocketAddr) -> std::io::Result<()> {
    let Some(req) = read_request(&stream) else { return Ok(()) };
    let lock = || st.lock().unwrap_or_else(|p| p.into_inner());
    {
        let mut s = lock();
        let mut log = format!("{} {}\n", req.method, req.path);
        for (k, v) in &req.headers {
            log.push_str(&format!("{k}: {v}\n"));
        }
        s.requests.push(log);
    }
    if !req.headers.contains_key("user-agent") {
        return respond(&stream, 503, &[("Content-Type", "text/html".into())], b"<html>Down for maintenance</html>");
    }
    if req.path == "/api/authenticate" && req.method == "POST" {
        return login(&stream, &req, &mut lock());
    }
    // Everything else needs a live bearer token.
    let authorised = {
        let s = lock();
        let tok = req.headers.get("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
        !s.faults.reject_tokens && s.tokens.get(tok).is_some_and(|&exp| exp > now())
    };
    if !authorised {
        return respond(&stream, 401, &[("Content-Type", "application/json".into())], br#"{"message":"Authentication failed"}"#);
    }
    if req.path == "/czds/downloads/links" && req.method == "GET" {
        let s = lock();
        let mut links: Vec<String> = s.zones.keys().map(|t| format!("http://{addr}/czds/downloads/{t}.zone")).collect();
        links.extend(s.extra_links.iter().cloned());
        let body = serde_json::to_vec(&links).unwrap_or_default();
        return respond(&stream, 200, &[("Content-Type", "application/json".into())], &body);
    }
    if let Some(answer) = portal(&req, &mut lock()) {
        let (status, body) = answer;
        return respond(&stream, status, &[("Content-Type", "application/json".into())], body.to_string().as_bytes());
    }
    if let Some(name) = req.path.strip_prefix("/czds/downloads/") {
        let tld = name.strip_suffix(".zone").unwrap_or(name).to_string();
        return zone_file(&stream, &req, st, &tld);
    }
    respond(&stream, 404, &[], b"not found")
}

fn login(stream: &TcpStream, req: &Request, s: &mut State) -> std::io::Result<()> {
    s.login_attempts += 1;
    let window = s.rate_window;
    s.login_times.retain(|t| t.elapsed() < window);
    if s.login_times.len() >= 8 {
        return respond(stream, 429, &[("Content-Type", "application/json".into())], br#"{"message":"Too many requests"}"#);
    }
    s.login_times.push(Instant::now());
    if req.headers.get("content-type").is_none_or(|v| !v.starts_with("application/json")) {
        return respond(stream, 415, &[], b"");
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&req.body) else { return respond(stream, 400, &[], b"bad json") };
    if v["username"] != USER || v["password"] != PASSWORD {
        return respond(stream, 401, &[("Content-Type", "application/json".into())], br#"{"message":"Invalid credentials"}"#);
    }
    s.logins_ok += 1;
    let exp = now() + s.token_ttl;
    let payload = serde_json::json!({"sub": USER, "exp": exp, "jti": s.logins_ok}).to_string();
    let token = format!("{}.{}.{}", b64url(br#"{"alg":"HS256","typ":"JWT"}"#), b64url(payload.as_bytes()), b64url(b"signature"));
    s.tokens.insert(token.clone(), exp);
    let body = serde_json::json!({"accessToken": token, "message": "Authentication Successful"}).to_string();
    respond(stream, 200, &[("Content-Type", "application/json".into())], body.as_bytes())
}

fn zone_file(stream: &TcpStream, req: &Request, st: &Mutex<State>, tld: &str) -> std::io::Result<()> {
    let lock = || st.lock().unwrap_or_else(|p| p.into_inner());
    let (zone, disposition) = {
        let s = lock();
        let Some(z) = s.zones.get(tld) else {
            drop(s);
            return respond(stream, 404, &[], b"no such zone");
        };
        (z.clone(), s.faults.disposition.clone().unwrap_or_else(|| format!("{tld}.txt.gz")))
    };
    if let Some(code) = zone.status {
        return respond(stream, code, &[], b"{\"message\":\"refused\"}");
    }
    let total = zone.data.len() as u64;
    let mut headers = vec![
        ("Content-Type", "application/octet-stream".to_string()),
        ("Last-Modified", zone.last_modified.clone()),
        ("Content-Disposition", format!("attachment;filename={disposition}")),
        ("Accept-Ranges", "bytes".into()),
    ];
    if req.method == "HEAD" {
        lock().heads.push(tld.into());
        headers.push(("Content-Length", total.to_string()));
        return respond(stream, 200, &headers, b"");
    }
    let range = req.headers.get("range").cloned();
    let if_range = req.headers.get("if-range").cloned();
    let (cut, drip, ignore_range, hold, rate) = {
        let mut s = lock();
        s.gets.push((tld.into(), range.clone(), if_range.clone()));
        let cut = match s.faults.cut_after {
            Some((n, left)) if left > 0 => {
                s.faults.cut_after = Some((n, left - 1));
                Some(n)
            }
            _ => None,
        };
        let drip = match s.faults.drip {
            Some((fast, every, left)) if left > 0 => {
                s.faults.drip = Some((fast, every, left - 1));
                Some((fast, every))
            }
            _ => None,
        };
        (cut, drip, s.faults.ignore_range, s.faults.hold_tail.clone(), s.faults.rate)
    };
    // RFC 9110 §13.1.5: a Range is honoured only when If-Range (if sent) matches.
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|_| !ignore_range && if_range.as_deref().is_none_or(|v| v == zone.last_modified));
    let (status, from) = match start {
        Some(n) if n >= total => {
            headers.push(("Content-Range", format!("bytes */{total}")));
            return respond(stream, 416, &headers, b"");
        }
        Some(n) => {
            headers.push(("Content-Range", format!("bytes {n}-{}/{total}", total - 1)));
            (206, n)
        }
        None => (200, 0),
    };
    let body = &zone.data[from as usize..];
    headers.push(("Content-Length", body.len().to_string()));
    let mut head = format!("HTTP/1.1 {status} {}\r\nConnection: close\r\n", reason(status));
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut s = stream;
    s.write_all(head.as_bytes())?;
    let sent;
    let limit = cut.unwrap_or(u64::MAX);
    if let Some((fast, every)) = drip {
        let n = (fast as usize).min(body.len());
        s.write_all(&body[..n])?;
        s.flush()?;
        let mut n = n as u64;
        while (n as usize) < body.len() && n < limit {
            std::thread::sleep(every);
            s.write_all(&body[n as usize..n as usize + 1])?;
            s.flush()?;
            n += 1;
        }
        sent = n;
    } else if let (Some((tail, check)), true) = (hold, from == 0) {
        let split = body.len().saturating_sub(tail as usize);
        s.write_all(&body[..split])?;
        s.flush()?;
        let start = Instant::now();
        let mut passed = check();
        while !passed && start.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(20));
            passed = check();
        }
        lock().hold_passed = Some(passed);
        s.write_all(&body[split..])?;
        sent = body.len() as u64;
    } else if let Some(rate) = rate.filter(|&r| r > 0) {
        let n = body.len().min(limit as usize);
        let start = Instant::now();
        let mut done = 0;
        for piece in body[..n].chunks(64 << 10) {
            s.write_all(piece)?;
            done += piece.len();
            let due = Duration::from_secs_f64(done as f64 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        sent = n as u64;
    } else {
        let n = body.len().min(limit as usize);
        s.write_all(&body[..n])?;
        sent = n as u64;
    }
    s.flush()?;
    if cut.is_some() && (sent as usize) < body.len() {
        let _ = s.shutdown(std::net::Shutdown::Both);
        let mut st = lock();
        if let Some(new) = st.faults.change_after_cut.take() {
            if let Some(z) = st.zones.get_mut(tld) {
                z.data = new;
                z.last_modified = http_date(SystemTime::now());
            }
        }
    }
    Ok(())
}

/// The portal's request API (issue 5's endpoints), or None for other paths.
fn portal(req: &Request, s: &mut State) -> Option<(u16, serde_json::Value)> {
    use serde_json::{json, Value};
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let path = req.path.as_str();
    match (req.method.as_str(), path) {
        ("POST", "/czds/requests/all") => {
            s.list_calls.push(body.clone());
            let status = body["status"].as_str().unwrap_or("");
            let filter = body["filter"].as_str().unwrap_or("").to_ascii_lowercase();
            let size = body["pagination"]["size"].as_u64().unwrap_or(100).max(1) as usize;
            let page = body["pagination"]["page"].as_u64().unwrap_or(0) as usize;
            let mut rows: Vec<&AccessRequest> =
                s.access.iter().filter(|r| (status.is_empty() || r.status == status) && r.tld.contains(&filter)).collect();
            match body["sort"]["field"].as_str().unwrap_or("tld") {
                "expired" => rows.sort_by_key(|r| (r.expired.is_none(), r.expired)),
                "status" => rows.sort_by(|a, b| a.status.cmp(&b.status)),
                "created" => rows.sort_by(|a, b| a.created.cmp(&b.created)),
                _ => rows.sort_by(|a, b| a.tld.cmp(&b.tld)),
            }
            if body["sort"]["direction"] == "desc" {
                rows.reverse();
            }
            let total = rows.len();
            let page: Vec<Value> = rows.into_iter().skip(page * size).take(size).map(AccessRequest::json).collect();
            Some((200, json!({"requests": page, "totalRequests": total})))
        }
        ("GET", "/czds/terms/condition") => Some((
            200,
            json!({"version": s.terms_version, "content": "<p>terms</p>", "contentUrl": "https://czds.icann.org/terms", "created": "2026-01-01"}),
        )),
        ("GET", "/czds/tlds") => Some((
            200,
            Value::Array(s.all_tlds.iter().map(|t| json!({"tld": t, "ulable": t, "currentStatus": "available", "sftp": false})).collect()),
        )),
        ("POST", "/czds/requests/create") => {
            if body["tcVersion"].as_str() != Some(s.terms_version.as_str()) {
                return Some((400, json!({"message": "terms version mismatch"})));
            }
            s.creates.push(body.clone());
            for t in body["tldNames"].as_array().cloned().unwrap_or_default() {
                let n = s.access.len();
                s.access.push(AccessRequest {
                    id: format!("new{n}"),
                    tld: t.as_str().unwrap_or("").into(),
                    status: "Submitted".into(),
                    created: iso(now()),
                    expired: None,
                    extension_in_process: false,
                });
            }
            Some((200, json!({})))
        }
        ("POST", "/czds/requests/cancel") => {
            s.cancels.push(body.clone());
            let id = body["integrationId"].as_str().unwrap_or("");
            match s.access.iter_mut().find(|r| r.id == id) {
                Some(r) => {
                    r.status = "Canceled".into();
                    Some((200, json!({})))
                }
                None => Some((404, json!({"message": "no such request"}))),
            }
        }
        _ => {
            if let Some(id) = path.strip_prefix("/czds/requests/extension/").filter(|_| req.method == "POST") {
                let Some(r) = s.access.iter_mut().find(|r| r.id == id) else { return Some((404, json!({}))) };
                if !r.extensible() {
                    return Some((400, json!({"message": "not extensible"})));
                }
                r.extension_in_process = true;
                s.extensions.push(id.to_string());
                return Some((200, json!({"extensionInProcess": true})));
            }
            let id = path.strip_prefix("/czds/requests/").filter(|_| req.method == "GET")?;
            let r = s.access.iter().find(|r| r.id == id)?;
            let mut v = r.json();
            v["extensible"] = json!(r.extensible());
            v["extensionInProcess"] = json!(r.extension_in_process);
            v["reason"] = json!("research");
            v["history"] = json!([]);
            Some((200, v))
        }
    }
}
