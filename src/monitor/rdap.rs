//! Registration data of monitored domains from the registries' RDAP servers (RFC 9082 queries,
//! RFC 9083 answers), found through IANA's bootstrap (RFC 9224, `dns.json`).
//!
//! A domain is fetched once a day (`rdap.every_seconds`) and again soon after a `dns_changed`
//! (at most once per `rdap.min_interval_seconds`: the answers are cached that long). What a
//! fetch finds (registrar, its IANA id, creation, expiry and last-changed dates, status codes,
//! name servers) is kept as the zones' rows are, a row per state with `since`/`until`; a new
//! registrar is `registrar_changed`, new status codes `status_changed`, an expiry within
//! `rdap.expiring_days` `expiring` (once per expiry date). The first fetch is the baseline.
//!
//! Politeness: each server has its own queue, worked by its own thread, at most
//! `rdap.per_server_per_minute` questions a minute; a 429 is waited out (its `Retry-After`, up
//! to `rdap.max_wait_seconds`, else that server's domains wait for a later pass); a server
//! that fails three times running is left alone for this pass. A server that is slow or down
//! delays only its own domains.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::changes::webhooks::Endpoint;
use crate::changes::Kind;
use crate::config::Config;

/// IANA's bootstrap for domains, as published on the day it was bundled (`rdap bootstrap
/// --update` fetches the current one into the database).
const BUNDLED: &str = include_str!("../../data/rdap/dns.json");

/// Where `rdap bootstrap --update` fetches from unless told otherwise.
pub const IANA_URL: &str = "https://data.iana.org/rdap/dns.json";

/// The largest answer read from an RDAP server or IANA: a domain's record is a few KB.
const MAX_BODY: u64 = 2 << 20;

/// A parsed bootstrap: each service's labels (TLDs, or longer suffixes) and its base URLs.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub publication: Option<String>,
    /// Where it came from: `bundled`, or the URL it was fetched from.
    pub source: String,
    pub fetched_at: Option<String>,
    /// Suffix (lowercase, no dots at either end) -> base URL, https preferred.
    bases: BTreeMap<String, String>,
}

impl Bootstrap {
    /// Reads a bootstrap file; what is wrong with it is named.
    pub fn parse(text: &str, source: &str) -> Result<Bootstrap, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let services = v.get("services").and_then(Value::as_array).ok_or("no `services` list")?;
        let mut bases = BTreeMap::new();
        for (i, s) in services.iter().enumerate() {
            let bad = || format!("services[{i}] is not [[labels], [URLs]]");
            let pair = s.as_array().filter(|p| p.len() == 2).ok_or_else(bad)?;
            let labels = pair[0].as_array().ok_or_else(bad)?;
            let urls: Vec<&str> = pair[1].as_array().ok_or_else(bad)?.iter().filter_map(Value::as_str).collect();
            // RFC 9224 §3: a client may pick any; https is the one to pick when there is one.
            let Some(url) = urls.iter().find(|u| u.starts_with("https://")).or_else(|| urls.iter().find(|u| u.starts_with("http://")))
            else {
                continue;
            };
            let url = if url.ends_with('/') { url.to_string() } else { format!("{url}/") };
            for label in labels.iter().filter_map(Value::as_str) {
                bases.insert(label.trim_matches('.').to_ascii_lowercase(), url.clone());
            }
        }
        if bases.is_empty() {
            return Err("no service with an http(s) URL".into());
        }
        let publication = v.get("publication").and_then(Value::as_str).map(str::to_string);
        Ok(Bootstrap { publication, source: source.to_string(), fetched_at: None, bases })
    }

    /// The copy in the database when there is one, else the bundled one.
    pub fn load(conn: &Connection) -> rusqlite::Result<Bootstrap> {
        let stored: Option<(String, String, String)> = conn
            .query_row("SELECT json, source, fetched_at FROM rdap_bootstrap WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        if let Some((json, source, at)) = stored {
            if let Ok(mut b) = Bootstrap::parse(&json, &source) {
                b.fetched_at = Some(at);
                return Ok(b);
            }
        }
        Ok(Bootstrap::bundled())
    }

    pub fn bundled() -> Bootstrap {
        Bootstrap::parse(BUNDLED, "bundled").expect("the bundled bootstrap parses")
    }

    /// How many suffixes it names.
    pub fn len(&self) -> usize {
        self.bases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bases.is_empty()
    }

    /// The base URL of the server for `domain`: its longest suffix the bootstrap names.
    pub fn base_for(&self, domain: &str) -> Option<&str> {
        let domain = domain.trim_end_matches('.');
        let mut rest = domain;
        loop {
            if let Some(b) = self.bases.get(rest) {
                if rest != domain {
                    return Some(b);
                }
            }
            rest = rest.split_once('.')?.1;
        }
    }
}

/// Fetches a bootstrap from `url`, checks it, and keeps it in the database.
pub fn update_bootstrap(conn: &Connection, url: &str, timeout: Duration) -> anyhow::Result<Bootstrap> {
    let text = get(&agent(timeout), url).map_err(|f| anyhow::anyhow!("rdap bootstrap {url}: {}", f.why))?;
    let mut b = Bootstrap::parse(&text, url).map_err(|e| anyhow::anyhow!("rdap bootstrap {url}: {e}"))?;
    let now = crate::time::now_utc();
    conn.execute(
        "INSERT OR REPLACE INTO rdap_bootstrap (id, fetched_at, source, publication, json) VALUES (1, ?1, ?2, ?3, ?4)",
        params![now, url, b.publication, text],
    )?;
    b.fetched_at = Some(now);
    Ok(b)
}

/// What RDAP says of a domain's registration, as kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub registrar: Option<String>,
    /// The registrar's IANA id (`publicIds`, "IANA Registrar ID").
    pub registrar_id: Option<String>,
    pub created: Option<String>,
    pub expires: Option<String>,
    /// RDAP's "last changed" event.
    pub changed: Option<String>,
    /// EPP/RDAP status codes, sorted.
    pub status: Vec<String>,
    /// Name servers, lowercase without the final dot, sorted.
    pub nameservers: Vec<String>,
}

/// Reads an RFC 9083 domain object for `domain`.
pub fn parse_domain(text: &str, domain: &str) -> Result<Registration, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    if v.get("objectClassName").and_then(Value::as_str) != Some("domain") {
        return Err("not an RDAP domain object (objectClassName is not \"domain\")".into());
    }
    if let Some(ldh) = v.get("ldhName").and_then(Value::as_str) {
        if !ldh.trim_end_matches('.').eq_ignore_ascii_case(domain) {
            return Err(format!("the answer is for `{ldh}`, not `{domain}`"));
        }
    }
    let mut r = Registration::default();
    for e in v.get("events").and_then(Value::as_array).into_iter().flatten() {
        let (Some(action), Some(date)) = (e.get("eventAction").and_then(Value::as_str), e.get("eventDate").and_then(Value::as_str)) else {
            continue;
        };
        let date = crate::time::parse_instant(date).map(crate::time::utc).map_err(|_| format!("event `{action}`: bad date `{date}`"))?;
        match action {
            "registration" => r.created = Some(date),
            "expiration" => r.expires = Some(date),
            "last changed" => r.changed = Some(date),
            _ => {}
        }
    }
    let registrar = v
        .get("entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("roles").and_then(Value::as_array).is_some_and(|roles| roles.iter().any(|r| r == "registrar")));
    if let Some(e) = registrar {
        r.registrar = vcard_fn(e).or_else(|| e.get("handle").and_then(Value::as_str).map(str::to_string));
        r.registrar_id = e
            .get("publicIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("IANA Registrar ID"))
            .and_then(|p| p.get("identifier"))
            .map(|id| id.as_str().map_or_else(|| id.to_string(), str::to_string));
    }
    r.status = v.get("status").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    r.status.sort();
    r.status.dedup();
    r.nameservers = v
        .get("nameservers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("ldhName").and_then(Value::as_str))
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    r.nameservers.sort();
    r.nameservers.dedup();
    Ok(r)
}

/// A jCard's formatted name (`vcardArray`: ["vcard", [["fn", {}, "text", NAME], ...]]).
fn vcard_fn(entity: &Value) -> Option<String> {
    let props = entity.get("vcardArray")?.get(1)?.as_array()?;
    props.iter().find(|p| p.get(0).and_then(Value::as_str) == Some("fn")).and_then(|p| p.get(3)?.as_str()).map(str::to_string)
}

/// How the RDAP pass behaves (`rdap.*` keys).
#[derive(Debug, Clone)]
pub struct Options {
    pub every: Duration,
    pub min_interval: Duration,
    pub expiring_days: u64,
    pub timeout: Duration,
    pub per_minute: u64,
    pub max_wait: Duration,
}

impl Options {
    pub fn from_config(cfg: &Config) -> Options {
        let k = &cfg.keys;
        Options {
            every: k.rdap_every.map_or(Duration::from_secs(86_400), |s| s.0),
            min_interval: k.rdap_min_interval.map_or(Duration::from_secs(3600), |s| s.0),
            expiring_days: k.rdap_expiring_days.map_or(30, |n| n.0),
            timeout: k.rdap_timeout.map_or(Duration::from_secs(20), |s| s.0),
            per_minute: k.rdap_per_server_per_minute.map_or(60, |n| n.0),
            max_wait: k.rdap_max_wait.map_or(Duration::from_secs(60), |s| s.0),
        }
    }
}

/// The domains whose registration is due at `now`: never fetched, their day come, or asked
/// for by a `dns_changed` and not fetched within `min_interval`.
pub fn due(conn: &Connection, now: i64, o: &Options) -> rusqlite::Result<Vec<String>> {
    let recent = crate::time::utc(now - secs(o.min_interval));
    let mut st = conn.prepare(
        "SELECT name FROM monitored WHERE (until IS NULL OR until > ?1)
            AND (rdap_next IS NULL OR rdap_next <= ?1 OR (rdap_wanted AND (rdap_at IS NULL OR rdap_at <= ?2))) ORDER BY name",
    )?;
    let rows = st.query_map(params![crate::time::utc(now), recent], |r| r.get(0))?;
    rows.collect()
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// What one fetch came to.
#[derive(Debug)]
pub enum Fetched {
    Found {
        server: String,
        registration: Registration,
    },
    /// 404: the registry does not know the domain.
    NotFound {
        server: String,
    },
    /// The bootstrap names no server for its TLD (many ccTLDs have none): asked again when
    /// its day comes, after `rdap bootstrap --update` may have found one.
    Unserved,
    /// Failed; try again at the time given (seconds since the epoch).
    Failed {
        why: String,
        retry_at: i64,
    },
}

/// Asks the registry of `domain` now; its server and the registration, or what went wrong.
pub fn lookup(bootstrap: &Bootstrap, domain: &str, timeout: Duration) -> Result<(String, Registration), String> {
    let base = bootstrap.base_for(domain).ok_or_else(|| format!("{domain}: no RDAP server for its TLD in the bootstrap"))?;
    let url = format!("{base}domain/{domain}");
    let text = get(&agent(timeout), &url).map_err(|f| format!("{url}: {}", f.why))?;
    parse_domain(&text, domain).map(|r| (base.to_string(), r)).map_err(|e| format!("{url}: {e}"))
}

/// What a pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pass {
    pub fetched: u64,
    pub failed: u64,
    /// Domains whose TLD has no RDAP server in the bootstrap.
    pub unserved: u64,
    pub events: u64,
}

impl Pass {
    pub fn line(&self) -> String {
        let mut line = format!("rdap: {} fetched, {} failed, {} event(s)", self.fetched, self.failed, self.events);
        if self.unserved > 0 {
            line += &format!(", {} without an RDAP server", self.unserved);
        }
        line
    }
}

/// Fetches the registration of every domain due, each server's queue on its own thread, and
/// keeps each as it arrives. `each` sees every domain's name and what came of it.
pub fn pass(
    conn: &mut Connection,
    bootstrap: &Bootstrap,
    o: &Options,
    endpoints: &[Endpoint],
    mut each: impl FnMut(&str, &Fetched, &[Kind]),
) -> anyhow::Result<Pass> {
    let now = crate::time::unix_now();
    let names = due(conn, now, o)?;
    let mut queues: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut stats = Pass::default();
    for name in names {
        match bootstrap.base_for(&name) {
            Some(base) => queues.entry(base.to_string()).or_default().push(name),
            None => {
                let events = keep(conn, &name, &Fetched::Unserved, o, endpoints)?;
                stats.unserved += 1;
                each(&name, &Fetched::Unserved, &events);
            }
        }
    }
    let agent = agent(o.timeout);
    let (tx, rx) = crossbeam_channel::unbounded::<(String, Fetched)>();
    std::thread::scope(|s| -> anyhow::Result<()> {
        for (base, names) in &queues {
            let (tx, agent) = (tx.clone(), agent.clone());
            s.spawn(move || work_server(&agent, base, names, o, &tx));
        }
        drop(tx);
        for (name, f) in rx {
            let events = keep(conn, &name, &f, o, endpoints)?;
            match f {
                Fetched::Failed { .. } => stats.failed += 1,
                Fetched::Unserved => stats.unserved += 1,
                _ => stats.fetched += 1,
            }
            stats.events += events.len() as u64;
            each(&name, &f, &events);
        }
        Ok(())
    })?;
    Ok(stats)
}

/// One server's queue, in order, at its rate.
fn work_server(agent: &ureq::Agent, base: &str, names: &[String], o: &Options, tx: &crossbeam_channel::Sender<(String, Fetched)>) {
    let gap = Duration::from_secs(60).checked_div(u32::try_from(o.per_minute.max(1)).unwrap_or(u32::MAX)).unwrap_or_default();
    let mut last: Option<Instant> = None;
    let mut failures = 0;
    for (i, name) in names.iter().enumerate() {
        let url = format!("{base}domain/{name}");
        let mut waited = Duration::ZERO;
        let fetched = loop {
            if let Some(t) = last {
                std::thread::sleep(gap.saturating_sub(t.elapsed()));
            }
            last = Some(Instant::now());
            match get(agent, &url) {
                Ok(text) => match parse_domain(&text, name) {
                    Ok(registration) => break Fetched::Found { server: base.to_string(), registration },
                    Err(why) => break failed(&url, &why, o.min_interval),
                },
                Err(Failure { status: Some(404), .. }) => break Fetched::NotFound { server: base.to_string() },
                Err(Failure { status: Some(429), retry_after, .. }) => {
                    let pause = retry_after.unwrap_or(gap.max(Duration::from_secs(1)));
                    if waited + pause > o.max_wait {
                        // Longer than a pass waits: this server's domains wait for a later one.
                        // A second more than asked: times are kept to the second.
                        let retry_at = crate::time::unix_now() + secs(pause) + 1;
                        for rest in &names[i..] {
                            let why = format!("{base}domain/{rest}: HTTP 429, retried after {}s", secs(pause));
                            let _ = tx.send((rest.clone(), Fetched::Failed { why, retry_at }));
                        }
                        return;
                    }
                    waited += pause;
                    std::thread::sleep(pause);
                    last = None;
                }
                Err(f) => break failed(&url, &f.why, o.min_interval),
            }
        };
        failures = if matches!(fetched, Fetched::Failed { .. }) { failures + 1 } else { 0 };
        let _ = tx.send((name.clone(), fetched));
        if failures >= 3 && i + 1 < names.len() {
            let retry_at = crate::time::unix_now() + secs(o.min_interval);
            for rest in &names[i + 1..] {
                let why = format!("{base}: left for a later pass after 3 failures running");
                let _ = tx.send((rest.clone(), Fetched::Failed { why, retry_at }));
            }
            return;
        }
    }
}

fn failed(url: &str, why: &str, retry: Duration) -> Fetched {
    Fetched::Failed { why: format!("{url}: {why}"), retry_at: crate::time::unix_now() + secs(retry) }
}

struct Failure {
    why: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(concat!("zonefeed/", env!("CARGO_PKG_VERSION"), " (RDAP)"))
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

/// One GET of RDAP JSON: the body of a 200, else what went wrong.
fn get(agent: &ureq::Agent, url: &str) -> Result<String, Failure> {
    let resp = agent.get(url).header("Accept", "application/rdap+json, application/json").call().map_err(|e| Failure {
        why: e.to_string(),
        status: None,
        retry_after: None,
    })?;
    let status = resp.status().as_u16();
    if status != 200 {
        let retry_after = crate::http::retry_after(&resp);
        let why = if status == 404 { "HTTP 404: not found at the registry".to_string() } else { format!("HTTP {status}") };
        return Err(Failure { why, status: Some(status), retry_after });
    }
    let mut resp = resp;
    resp.body_mut().with_config().limit(MAX_BODY).read_to_string().map_err(|e| Failure {
        why: format!("reading the answer: {e}"),
        status: None,
        retry_after: None,
    })
}

/// The registration a domain has now (its open row), with where and when it was found.
#[derive(Debug, Clone, Serialize)]
pub struct Current {
    #[serde(flatten)]
    pub registration: Registration,
    pub since: String,
    pub server: String,
    /// When the registry was last asked.
    pub fetched_at: Option<String>,
    /// What the last fetch failed with, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

const REGISTRATION: &str = "registrar, registrar_id, created, expires, changed, status, nameservers";

fn registration_row(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<Registration> {
    let list = |i: usize| -> rusqlite::Result<Vec<String>> { Ok(serde_json::from_str(&r.get::<_, String>(i)?).unwrap_or_default()) };
    Ok(Registration {
        registrar: r.get(at)?,
        registrar_id: r.get(at + 1)?,
        created: r.get(at + 2)?,
        expires: r.get(at + 3)?,
        changed: r.get(at + 4)?,
        status: list(at + 5)?,
        nameservers: list(at + 6)?,
    })
}

/// `name`'s registration now, or at `at` (RFC 3339); None when none was found by then.
pub fn current(conn: &Connection, name: &str, at: Option<&str>) -> rusqlite::Result<Option<Current>> {
    let row = conn
        .prepare_cached(&format!(
            "SELECT since, server, {REGISTRATION} FROM registrations
              WHERE name = ?1 AND (?2 IS NULL OR (since <= ?2 AND (until IS NULL OR until > ?2))) AND (?2 IS NOT NULL OR until IS NULL)
              ORDER BY id DESC LIMIT 1"
        ))?
        .query_row(params![name, at], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, registration_row(r, 2)?)))
        .optional()?;
    let Some((since, server, registration)) = row else { return Ok(None) };
    let (fetched_at, error) = conn
        .query_row("SELECT rdap_at, rdap_error FROM monitored WHERE name = ?1", params![name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .unwrap_or((None, None));
    Ok(Some(Current { registration, since, server, fetched_at, error }))
}

/// Keeps what a fetch of `name` came to: the registration's row, its events (queued for the
/// webhooks that want them) and the domain's RDAP schedule, in one transaction.
pub fn keep(conn: &mut Connection, name: &str, f: &Fetched, o: &Options, endpoints: &[Endpoint]) -> rusqlite::Result<Vec<Kind>> {
    let tx = conn.transaction()?;
    let now = crate::time::unix_now();
    let at = crate::time::utc(now);
    let Some((tld, announced)) = tx
        .query_row("SELECT tld, rdap_expiring FROM monitored WHERE name = ?1", params![name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
        })
        .optional()?
    else {
        return Ok(Vec::new());
    };
    let mut events = Vec::new();
    let mut raise = |kind: Kind, detail: Value| -> rusqlite::Result<()> {
        super::raise_live(&tx, &tld, name, kind, &at, Some(&detail.to_string()), endpoints)?;
        events.push(kind);
        Ok(())
    };
    let next = |secs_from_now: i64| crate::time::utc(now + secs_from_now);
    match f {
        Fetched::Failed { why, retry_at } => {
            tx.execute(
                "UPDATE monitored SET rdap_at = ?2, rdap_error = ?3, rdap_next = ?4 WHERE name = ?1",
                params![name, at, why, crate::time::utc(*retry_at)],
            )?;
        }
        Fetched::Unserved => {
            tx.execute(
                "UPDATE monitored SET rdap_at = ?2, rdap_error = 'no RDAP server for its TLD in the bootstrap', rdap_next = ?3, rdap_wanted = 0 WHERE name = ?1",
                params![name, at, next(secs(o.every))],
            )?;
        }
        Fetched::NotFound { .. } | Fetched::Found { .. } => {
            let found = match f {
                Fetched::Found { server, registration } => Some((server, registration)),
                _ => None,
            };
            let open = tx
                .query_row(&format!("SELECT id, {REGISTRATION} FROM registrations WHERE name = ?1 AND until IS NULL"), params![name], |r| {
                    Ok((r.get::<_, i64>(0)?, registration_row(r, 1)?))
                })
                .optional()?;
            let changed = match (&open, &found) {
                (Some((_, old)), Some((_, new))) => old != *new,
                (None, None) => false,
                _ => true,
            };
            if changed {
                if let Some((id, _)) = &open {
                    tx.execute("UPDATE registrations SET until = ?2 WHERE id = ?1", params![id, at])?;
                }
                if let Some((server, r)) = &found {
                    tx.execute(
                        &format!("INSERT INTO registrations (name, since, server, {REGISTRATION}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                        params![
                            name,
                            at,
                            server,
                            r.registrar,
                            r.registrar_id,
                            r.created,
                            r.expires,
                            r.changed,
                            serde_json::to_string(&r.status).unwrap_or_default(),
                            serde_json::to_string(&r.nameservers).unwrap_or_default()
                        ],
                    )?;
                }
            }
            // The first registration found is the baseline; a change of registrar or status
            // after it is an event.
            if let (Some((_, old)), Some((_, new))) = (&open, &found) {
                if (&old.registrar, &old.registrar_id) != (&new.registrar, &new.registrar_id) {
                    let who = |r: &Registration| serde_json::json!({"name": r.registrar, "iana_id": r.registrar_id});
                    raise(Kind::RegistrarChanged, serde_json::json!({"from": who(old), "to": who(new)}))?;
                }
                if old.status != new.status {
                    let added: Vec<&String> = new.status.iter().filter(|s| !old.status.contains(s)).collect();
                    let removed: Vec<&String> = old.status.iter().filter(|s| !new.status.contains(s)).collect();
                    raise(Kind::StatusChanged, serde_json::json!({"added": added, "removed": removed, "status": new.status}))?;
                }
            }
            // Expiring: once per expiry date, when it comes within the window.
            let mut now_announced = announced.clone();
            if let Some((_, r)) = &found {
                if let Some(expires) = &r.expires {
                    let left = crate::time::parse_instant(expires).map_or(i64::MAX, |t| t - now);
                    let window = i64::try_from(o.expiring_days).unwrap_or(i64::MAX / 86_400 / 2) * 86_400;
                    if left <= window && announced.as_deref() != Some(expires.as_str()) {
                        raise(Kind::Expiring, serde_json::json!({"expires": expires, "days_left": left.div_euclid(86_400)}))?;
                        now_announced = Some(expires.clone());
                    }
                }
            }
            let error = if found.is_none() { Some("HTTP 404: not found at the registry") } else { None };
            tx.execute(
                "UPDATE monitored SET rdap_at = ?2, rdap_error = ?3, rdap_next = ?4, rdap_wanted = 0, rdap_expiring = ?5 WHERE name = ?1",
                params![name, at, error, next(secs(o.every)), now_announced],
            )?;
        }
    }
    tx.commit()?;
    Ok(events)
}

/// Every registration `name` has had, oldest first, with its since/until.
pub fn history(conn: &Connection, name: &str) -> rusqlite::Result<Vec<(String, Option<String>, Registration)>> {
    let mut st = conn.prepare_cached(&format!("SELECT since, until, {REGISTRATION} FROM registrations WHERE name = ?1 ORDER BY id"))?;
    let rows = st.query_map(params![name], |r| Ok((r.get(0)?, r.get(1)?, registration_row(r, 2)?)))?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
      "objectClassName": "domain", "ldhName": "Example.COM", "handle": "2336799_DOMAIN_COM-VRSN",
      "status": ["client transfer prohibited", "active", "client transfer prohibited"],
      "events": [
        {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2027-08-13T04:00:00+00:00"},
        {"eventAction": "last changed", "eventDate": "2026-08-14T07:01:38Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-12-07T10:00:00Z"}],
      "entities": [
        {"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
         "publicIds": [{"type": "IANA Registrar ID", "identifier": "376"}],
         "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]]}],
      "nameservers": [{"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET."}, {"objectClassName": "nameserver", "ldhName": "B.IANA-SERVERS.NET"}]
    }"#;

    #[test]
    fn a_domain_object_gives_its_registration() {
        let r = parse_domain(GOOD, "example.com").unwrap();
        assert_eq!(r.registrar.as_deref(), Some("RESERVED-Internet Assigned Numbers Authority"));
        assert_eq!(r.registrar_id.as_deref(), Some("376"));
        assert_eq!(r.created.as_deref(), Some("1995-08-14T04:00:00Z"));
        assert_eq!(r.expires.as_deref(), Some("2027-08-13T04:00:00Z"));
        assert_eq!(r.changed.as_deref(), Some("2026-08-14T07:01:38Z"));
        assert_eq!(r.status, ["active", "client transfer prohibited"]);
        assert_eq!(r.nameservers, ["a.iana-servers.net", "b.iana-servers.net"]);
    }

    #[test]
    fn what_is_wrong_with_an_answer_is_named() {
        assert!(parse_domain("{\"objectClassName\": \"domain\",", "x.test").unwrap_err().starts_with("not valid JSON: EOF while parsing"));
        assert!(parse_domain(r#"{"objectClassName": "entity"}"#, "x.test").unwrap_err().contains("not an RDAP domain object"));
        assert!(parse_domain(r#"{"objectClassName": "domain", "ldhName": "y.test"}"#, "x.test")
            .unwrap_err()
            .contains("`y.test`, not `x.test`"));
        let bad_date = r#"{"objectClassName": "domain", "events": [{"eventAction": "expiration", "eventDate": "soon"}]}"#;
        assert!(parse_domain(bad_date, "x.test").unwrap_err().contains("bad date `soon`"));
    }

    #[test]
    fn the_bootstrap_names_the_server_of_the_longest_suffix_and_prefers_https() {
        let b = Bootstrap::parse(
            r#"{"services": [[["com", "net"], ["http://rdap.example/com", "https://rdap.example/com/"]],
                              [["co.uk"], ["https://rdap.couk.example/"]], [["uk"], ["https://rdap.uk.example/"]],
                              [["ftp"], ["ftp://nope.example/"]]]}"#,
            "test",
        )
        .unwrap();
        assert_eq!(b.base_for("example.com"), Some("https://rdap.example/com/"));
        assert_eq!(b.base_for("a.b.co.uk"), Some("https://rdap.couk.example/"));
        assert_eq!(b.base_for("b.uk"), Some("https://rdap.uk.example/"));
        assert_eq!(b.base_for("com"), None, "a TLD itself has no registration");
        assert_eq!(b.base_for("x.ftp"), None);
        assert!(Bootstrap::parse(r#"{"services": 3}"#, "t").unwrap_err().contains("services"));
        let bundled = Bootstrap::bundled();
        assert!(bundled.len() > 1000, "{}", bundled.len());
        assert_eq!(bundled.base_for("example.com"), Some("https://rdap.verisign.com/com/v1/"));
    }

    fn found(registrar: &str, status: &[&str], expires: &str) -> Fetched {
        Fetched::Found {
            server: "https://rdap.test/".into(),
            registration: Registration {
                registrar: Some(registrar.into()),
                registrar_id: Some("9".into()),
                expires: Some(expires.into()),
                status: status.iter().map(|s| s.to_string()).collect(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn changes_of_registrar_status_and_a_near_expiry_are_events_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_rw(&dir.path().join("r.db"), Duration::from_secs(1)).unwrap();
        crate::monitor::add(&conn, &["x.test".to_string()], "manual", None).unwrap();
        let o = Options {
            every: Duration::from_secs(86_400),
            min_interval: Duration::from_secs(3600),
            expiring_days: 30,
            timeout: Duration::from_secs(1),
            per_minute: 60,
            max_wait: Duration::from_secs(1),
        };
        let far = crate::time::utc(crate::time::unix_now() + 400 * 86_400);
        let near = crate::time::utc(crate::time::unix_now() + 10 * 86_400);
        // The baseline: no event, due again in a day.
        assert_eq!(keep(&mut conn, "x.test", &found("A", &["active"], &far), &o, &[]).unwrap(), []);
        assert!(due(&conn, crate::time::unix_now(), &o).unwrap().is_empty());
        assert_eq!(keep(&mut conn, "x.test", &found("A", &["active"], &far), &o, &[]).unwrap(), []);
        assert_eq!(
            keep(&mut conn, "x.test", &found("B", &["active", "clientHold"], &far), &o, &[]).unwrap(),
            [Kind::RegistrarChanged, Kind::StatusChanged]
        );
        assert_eq!(keep(&mut conn, "x.test", &found("B", &["active", "clientHold"], &near), &o, &[]).unwrap(), [Kind::Expiring]);
        assert_eq!(keep(&mut conn, "x.test", &found("B", &["active", "clientHold"], &near), &o, &[]).unwrap(), []);
        let h = history(&conn, "x.test").unwrap();
        assert_eq!(h.len(), 3, "{h:?}");
        assert!(h[..2].iter().all(|(_, until, _)| until.is_some()));
        assert_eq!(current(&conn, "x.test", None).unwrap().unwrap().registration.registrar.as_deref(), Some("B"));
        // A dns_changed asks for a fetch, but not within the interval of the last one.
        conn.execute("UPDATE monitored SET rdap_wanted = 1", []).unwrap();
        assert!(due(&conn, crate::time::unix_now(), &o).unwrap().is_empty());
        assert_eq!(due(&conn, crate::time::unix_now() + 3600, &o).unwrap(), ["x.test"]);
        // A failure keeps the registration and names the error.
        let f = Fetched::Failed { why: "https://rdap.test/domain/x.test: HTTP 503".into(), retry_at: crate::time::unix_now() + 60 };
        keep(&mut conn, "x.test", &f, &o, &[]).unwrap();
        let c = current(&conn, "x.test", None).unwrap().unwrap();
        assert_eq!(c.error.as_deref(), Some("https://rdap.test/domain/x.test: HTTP 503"));
        assert_eq!(c.registration.registrar.as_deref(), Some("B"));
    }
}
