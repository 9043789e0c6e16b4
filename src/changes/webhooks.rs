//! Webhooks: the durable outbox and its delivery.
//!
//! An import that becomes current writes, in the same transaction that makes it current, one
//! `outbox` row per event and subscribed endpoint; so a crash can neither lose an event nor
//! announce one of a version that never committed. Delivery takes the oldest undelivered rows
//! of an endpoint, fixes them into a batch with a stable id (`webhook_batches`), and sends that
//! same batch until the endpoint takes it: at-least-once, and a receiver dedups by batch or
//! event id. Requests are signed as Standard Webhooks specifies (`webhook-id`,
//! `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), redirects are not
//! followed, 410 disables the endpoint, and other failures back off exponentially with jitter,
//! honouring `Retry-After`.

use std::collections::BTreeMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use hmac::{Hmac, Mac};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Kind;
use crate::config::{Config, ConfigError};
use crate::czds::Secret;
use crate::time::{now_utc, unix_now};

/// Kinds an endpoint gets when its entry names none: the zone changes. Watch hits and
/// delegation events are asked for by name, so a receiver written for the first three never
/// meets a kind it does not know.
const DEFAULT_KINDS: [Kind; 3] = [Kind::Added, Kind::Removed, Kind::Modified];

/// One endpoint of the config's `webhooks` list.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: String,
    /// Event kinds it wants (all by default).
    pub events: Vec<String>,
    /// Zones it wants (all when empty).
    pub tlds: Vec<String>,
    pub batch_size: usize,
    pub secret: Option<Secret>,
    pub headers: BTreeMap<String, String>,
    /// Allows a loopback, private or link-local address (tests, internal receivers).
    pub allow_private: bool,
    /// E-mail instead of HTTP: the config's `email` entry (`url` is `mailto:` and its
    /// recipients).
    pub mail: Option<std::sync::Arc<super::email::Mailer>>,
    /// RabbitMQ instead of HTTP: the config's `amqp.url` (`url` is the broker's URL and
    /// `#` the exchange).
    pub broker: Option<std::sync::Arc<crate::amqp::Publisher>>,
}

/// The `webhooks` key: a list of endpoints; wrong shapes are config errors naming the entry.
pub fn endpoints(cfg: &Config) -> Result<Vec<Endpoint>, ConfigError> {
    let mut out = Vec::new();
    for (i, raw) in cfg.keys.webhooks.iter().flatten().enumerate() {
        let key = format!("webhooks[{i}]");
        if !(raw.url.starts_with("https://") || raw.url.starts_with("http://")) || raw.url.parse::<ureq::http::Uri>().is_err() {
            return Err(cfg.invalid(&key, format!("url `{}` is not an http(s) URL", raw.url)));
        }
        let (events, tlds, batch_size) =
            routing(cfg, &key, raw.events.as_deref(), &DEFAULT_KINDS, &raw.tlds, raw.batch_size.unwrap_or(100))?;
        out.push(Endpoint {
            url: raw.url.clone(),
            events,
            tlds,
            batch_size,
            secret: raw.secret.clone(),
            headers: raw.headers.clone(),
            allow_private: raw.allow_private,
            mail: None,
            broker: None,
        });
    }
    if let Some(e) = super::email::entry(cfg)? {
        out.push(Endpoint {
            url: e.url,
            events: e.events,
            tlds: e.tlds,
            batch_size: e.batch_size,
            secret: None,
            headers: BTreeMap::new(),
            allow_private: false,
            mail: Some(std::sync::Arc::new(e.mailer)),
            broker: None,
        });
    }
    if let Some(b) = crate::amqp::Broker::from_config(cfg)? {
        // Every kind by default: a broker's consumers pick by routing key.
        let all: Vec<Kind> = super::KINDS.to_vec();
        let (events, tlds, batch_size) = routing(cfg, "amqp.events", cfg.keys.amqp_events.as_deref(), &all, &[], 500)?;
        out.push(Endpoint {
            url: format!("{}#{}", b.shown, b.exchange),
            events,
            tlds,
            batch_size,
            secret: None,
            headers: BTreeMap::new(),
            allow_private: false,
            mail: None,
            broker: Some(std::sync::Arc::new(crate::amqp::Publisher::new(b))),
        });
    }
    Ok(out)
}

/// A sink's kinds (`default` when it names none), zones and batch size, checked: what a
/// webhook and the e-mail entry share. Errors name `key`.
pub(super) fn routing(
    cfg: &Config,
    key: &str,
    events: Option<&[String]>,
    default: &[Kind],
    tlds: &[String],
    batch_size: usize,
) -> Result<(Vec<String>, Vec<String>, usize), ConfigError> {
    let events = events.map_or_else(|| default.iter().map(|k| k.to_string()).collect(), <[String]>::to_vec);
    if let Some(bad) = events.iter().find(|k| Kind::parse(k).is_none()) {
        let all = super::KINDS.map(Kind::as_str).join(", ");
        return Err(cfg.invalid(key, format!("unknown event kind `{bad}` (use {all})")));
    }
    if !(1..=10_000).contains(&batch_size) {
        return Err(cfg.invalid(key, "batch_size must be between 1 and 10000".into()));
    }
    let tlds = tlds.iter().map(|t| t.trim().trim_end_matches('.').to_ascii_lowercase()).collect();
    Ok((events, tlds, batch_size))
}

/// Queues the events of `version` (zone `tld`) for every endpoint that wants them. Runs inside
/// the transaction that makes the version current.
pub fn enqueue(tx: &Transaction<'_>, version: i64, tld: &str, endpoints: &[Endpoint]) -> rusqlite::Result<u64> {
    let mut n = 0;
    for e in endpoints.iter().filter(|e| e.tlds.is_empty() || e.tlds.iter().any(|t| t == tld)) {
        let kinds = e.events.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(", ");
        // `kinds` holds only the three checked words, never input text.
        let sql = format!(
            "INSERT INTO outbox (endpoint, tld, event) SELECT ?1, tld, id FROM events WHERE zone = ?2 AND kind IN ({kinds}) ORDER BY id"
        );
        n += tx.execute(&sql, params![e.url, version])? as u64;
    }
    Ok(n)
}

/// Queues event `id` (of zone `tld`, kind `kind`) for every endpoint that wants it: the
/// events that come after their version became current (a delegation's analysis), in the
/// transaction that writes the event.
pub fn enqueue_one(tx: &Transaction<'_>, id: i64, tld: &str, kind: Kind, endpoints: &[Endpoint]) -> rusqlite::Result<u64> {
    let mut n = 0;
    for e in endpoints.iter().filter(|e| e.wants(tld, kind)) {
        n += tx.execute("INSERT INTO outbox (endpoint, tld, event) VALUES (?1, ?2, ?3)", params![e.url, tld, id])? as u64;
    }
    Ok(n)
}

impl Endpoint {
    fn wants(&self, tld: &str, kind: Kind) -> bool {
        (self.tlds.is_empty() || self.tlds.iter().any(|t| t == tld)) && self.events.iter().any(|k| k == kind.as_str())
    }
}

/// How delivery retries within one run.
#[derive(Debug, Clone)]
pub struct DeliveryOptions {
    /// Failed attempts per endpoint before this run leaves its batch for the next one.
    pub retries: u32,
    /// The first pause; doubled per attempt, with jitter, at most `max_delay`.
    pub retry_delay: Duration,
    pub max_delay: Duration,
    pub timeout: Duration,
    /// Waits out a batch's backoff and retries within the run; when false (the monitor's
    /// delivery after each pass), one attempt per endpoint and a batch still backing off is
    /// left for a later run.
    pub patient: bool,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            retries: 5,
            retry_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(300),
            timeout: Duration::from_secs(30),
            patient: true,
        }
    }
}

impl DeliveryOptions {
    pub fn from_config(cfg: &Config) -> DeliveryOptions {
        let (k, d) = (&cfg.keys, DeliveryOptions::default());
        DeliveryOptions {
            retries: k.webhooks_retries.map_or(d.retries, crate::config::Count::u32),
            retry_delay: k.webhooks_retry_delay.map_or(d.retry_delay, |s| s.0),
            timeout: k.webhooks_timeout.map_or(d.timeout, |s| s.0),
            ..d
        }
    }
}

/// What one endpoint's delivery did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delivered {
    pub endpoint: String,
    pub batches: u64,
    pub events: u64,
    pub failures: u64,
    /// Events still waiting after this run.
    pub pending: u64,
    pub disabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A batch fixed in the outbox.
struct Batch {
    id: String,
    tld: String,
    created_at: String,
    attempts: u32,
    next_attempt: i64,
}

/// Why a delivery stopped: the database, or its write lock that another zonefeed held past
/// the wait.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Sql(#[from] rusqlite::Error),
    #[error(transparent)]
    Lock(#[from] crate::store::StoreError),
}

/// The database's write lock, taken for each write of a delivery and let go before it waits on
/// the network: one endpoint that times out once kept `webhooks deliver` holding it for 926 s,
/// and every import meanwhile exited 5 (busy).
pub struct WriteGate<'a> {
    pub db: &'a std::path::Path,
    pub wait: Duration,
}

impl WriteGate<'_> {
    fn hold(&self) -> Result<crate::store::WriteLock, DeliverError> {
        Ok(crate::store::WriteLock::acquire(self.db, self.wait)?)
    }
}

/// Delivers what is pending for every endpoint, oldest first. The caller holds no write lock:
/// each write takes `gate`'s for as long as it lasts.
pub fn deliver(
    conn: &Connection,
    endpoints: &[Endpoint],
    opts: &DeliveryOptions,
    gate: &WriteGate<'_>,
) -> Result<Vec<Delivered>, DeliverError> {
    let agent = agent(opts.timeout);
    let mut out = Vec::new();
    for e in endpoints {
        let mut d = Delivered { endpoint: e.url.clone(), ..Default::default() };
        deliver_one(conn, &agent, e, opts, gate, &mut d)?;
        d.pending = pending_events(conn, &e.url)?;
        out.push(d);
    }
    Ok(out)
}

/// Delivers what is pending, if anything is and no other zonefeed is delivering (its lock,
/// not waited for): what runs beside a service or after a monitor pass, so that events
/// waiting on a sink that was down leave soon after it is back, not at the next daily sync.
pub fn deliver_pending(
    conn: &Connection,
    db: &std::path::Path,
    wait: Duration,
    endpoints: &[Endpoint],
    opts: &DeliveryOptions,
) -> anyhow::Result<Vec<Delivered>> {
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let pending: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM outbox WHERE delivered_at IS NULL)", [], |r| r.get(0))?;
    if !pending {
        return Ok(Vec::new());
    }
    let Ok(_lock) = crate::lock::webhooks(db, Duration::ZERO) else { return Ok(Vec::new()) };
    let gate = WriteGate { db, wait };
    Ok(deliver(conn, endpoints, opts, &gate)?)
}

/// Beside a service: every minute, what is pending is delivered (one attempt per endpoint; a
/// failed one backs off as its batch says), until the process ends.
pub fn keep_delivering(db: &std::path::Path, endpoints: &[Endpoint], opts: &DeliveryOptions, log: impl Fn(&str)) {
    let opts = DeliveryOptions { patient: false, ..opts.clone() };
    loop {
        std::thread::sleep(Duration::from_secs(60));
        let result = crate::store::open_rw(db, Duration::from_secs(30))
            .map_err(anyhow::Error::from)
            .and_then(|conn| deliver_pending(&conn, db, Duration::from_secs(30), endpoints, &opts));
        match result {
            Ok(done) => {
                for d in done.iter().filter(|d| d.events > 0 || d.error.is_some()) {
                    match &d.error {
                        Some(e) => log(&format!("delivery to {}: {e} ({} waiting)", d.endpoint, d.pending)),
                        None => log(&format!("delivery to {}: {} event(s) delivered", d.endpoint, d.events)),
                    }
                }
            }
            Err(e) => log(&format!("delivery: {e:#}")),
        }
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("zonefeed-webhooks/", env!("CARGO_PKG_VERSION")))
        .timeout_global(Some(timeout))
        .build()
        .new_agent()
}

fn deliver_one(
    conn: &Connection,
    agent: &ureq::Agent,
    e: &Endpoint,
    opts: &DeliveryOptions,
    gate: &WriteGate<'_>,
    d: &mut Delivered,
) -> Result<(), DeliverError> {
    if let Some(reason) = disabled(conn, &e.url)? {
        d.disabled = true;
        d.error = Some(format!("disabled: {reason}"));
        return Ok(());
    }
    if let Err(why) = check_address(e) {
        d.error = Some(why);
        return Ok(());
    }
    heal(conn, e, gate)?;
    let mut failures_this_run = 0u32;
    loop {
        let Some(batch) = next_batch(conn, e, gate)? else { return Ok(()) };
        let wait = batch.next_attempt - unix_now();
        if wait > 0 {
            if !opts.patient || wait as u64 > opts.max_delay.as_secs() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(wait as u64));
        }
        let (events, count) = batch_events(conn, &batch)?;
        let sent = match &e.mail {
            Some(m) => {
                let (subject, body) = super::email::render(&batch.id, &batch.tld, &events);
                m.send(&subject, body, &batch.id, opts.timeout).map(|()| 200).map_err(|why| Failure {
                    why,
                    status: None,
                    retry_after: None,
                })
            }
            None => match &e.broker {
                Some(p) => {
                    let messages: Vec<crate::amqp::Outgoing> = events.iter().map(event_message).collect();
                    p.publish(&messages, opts.timeout).map(|()| 200).map_err(|why| Failure { why, status: None, retry_after: None })
                }
                None => post(agent, e, &batch.id, &payload(&batch, events)),
            },
        };
        match sent {
            Ok(200..=299) => {
                let now = now_utc();
                let _w = gate.hold()?;
                // One transaction: a delivery killed between the two updates had left the
                // batch delivered and its events pending, and no later run sent them.
                let tx = conn.unchecked_transaction()?;
                tx.execute(
                    "UPDATE webhook_batches SET delivered_at = ?2, attempts = attempts + 1, last_status = 200 WHERE id = ?1",
                    params![batch.id, now],
                )?;
                tx.execute("UPDATE outbox SET delivered_at = ?2 WHERE batch = ?1", params![batch.id, now])?;
                tx.commit()?;
                d.batches += 1;
                d.events += count;
            }
            Ok(410) => {
                let _w = gate.hold()?;
                conn.execute(
                    "INSERT OR REPLACE INTO webhook_endpoints (endpoint, disabled_at, reason) VALUES (?1, ?2, 'HTTP 410 Gone')",
                    params![e.url, now_utc()],
                )?;
                d.disabled = true;
                d.error = Some("HTTP 410 Gone: endpoint disabled".into());
                return Ok(());
            }
            result => {
                let (status, why, retry_after) = match result {
                    Ok(s) => (Some(s), format!("HTTP {s}"), None),
                    Err(Failure { why, retry_after, status }) => (status, why, retry_after),
                };
                let attempts = batch.attempts + 1;
                let pause = retry_after.unwrap_or_else(|| backoff(opts, attempts)).min(opts.max_delay);
                let w = gate.hold()?;
                conn.execute(
                    "UPDATE webhook_batches SET attempts = ?2, next_attempt = ?3, last_status = ?4, last_error = ?5 WHERE id = ?1",
                    params![batch.id, attempts, unix_now() + pause.as_secs_f64().ceil() as i64, status, why],
                )?;
                drop(w);
                d.failures += 1;
                d.error = Some(why);
                failures_this_run += 1;
                if !opts.patient || failures_this_run > opts.retries {
                    return Ok(());
                }
                std::thread::sleep(pause);
            }
        }
    }
}

/// Events of a delivered batch still marked pending: what a delivery killed between its two
/// updates left before they were one transaction. They were delivered; they are marked so.
fn heal(conn: &Connection, e: &Endpoint, gate: &WriteGate<'_>) -> Result<(), DeliverError> {
    let stuck: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM outbox o JOIN webhook_batches b ON b.id = o.batch
          WHERE o.endpoint = ?1 AND o.delivered_at IS NULL AND b.delivered_at IS NOT NULL)",
        params![e.url],
        |r| r.get(0),
    )?;
    if stuck {
        let _w = gate.hold()?;
        conn.execute(
            "UPDATE outbox SET delivered_at = (SELECT b.delivered_at FROM webhook_batches b WHERE b.id = outbox.batch)
              WHERE endpoint = ?1 AND delivered_at IS NULL
                AND batch IN (SELECT id FROM webhook_batches WHERE delivered_at IS NOT NULL)",
            params![e.url],
        )?;
    }
    Ok(())
}

/// Exponential backoff with full jitter between half and all of `delay * 2^(n-1)`.
fn backoff(opts: &DeliveryOptions, attempts: u32) -> Duration {
    let base = opts.retry_delay.saturating_mul(1 << attempts.saturating_sub(1).min(16)).min(opts.max_delay);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let jitter = 0.5 + (nanos % 1000) as f64 / 2000.0;
    base.mul_f64(jitter)
}

struct Failure {
    why: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

/// One signed POST; the status, or why there was none.
fn post(agent: &ureq::Agent, e: &Endpoint, id: &str, body: &str) -> Result<u16, Failure> {
    let ts = unix_now().to_string();
    let mut req = agent.post(&e.url).header("Content-Type", "application/json").header("webhook-id", id).header("webhook-timestamp", &ts);
    if let Some(secret) = &e.secret {
        req = req.header("webhook-signature", sign(secret, id, &ts, body));
    }
    for (k, v) in &e.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    match req.send(body) {
        Ok(resp) => {
            let status = resp.status().as_u16();
            if status == 429 || status >= 500 {
                let retry_after = crate::http::retry_after(&resp);
                return Err(Failure { why: format!("HTTP {status}"), status: Some(status), retry_after });
            }
            if (300..400).contains(&status) {
                return Err(Failure { why: format!("HTTP {status}: redirects are not followed"), status: Some(status), retry_after: None });
            }
            Ok(status)
        }
        Err(err) => Err(Failure { why: err.to_string(), status: None, retry_after: None }),
    }
}

/// Standard Webhooks: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")); a
/// `whsec_` secret is base64 of the key, any other secret is the key's bytes.
pub fn sign(secret: &Secret, id: &str, timestamp: &str, body: &str) -> String {
    let s = secret.expose();
    let key =
        s.strip_prefix("whsec_").and_then(|b| data_encoding::BASE64.decode(b.as_bytes()).ok()).unwrap_or_else(|| s.as_bytes().to_vec());
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", data_encoding::BASE64.encode(&mac.finalize().into_bytes()))
}

/// Refuses loopback, private, link-local and unspecified addresses (after DNS resolution)
/// unless the endpoint allows them.
fn check_address(e: &Endpoint) -> Result<(), String> {
    // A mail server or broker is the one the config names: no receiver's address to check.
    if e.allow_private || e.mail.is_some() || e.broker.is_some() {
        return Ok(());
    }
    let uri: ureq::http::Uri = e.url.parse().map_err(|_| format!("`{}` is not a URL", e.url))?;
    let host = uri.host().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if uri.scheme_str() == Some("https") { 443 } else { 80 });
    let addrs: Vec<_> = (host, port).to_socket_addrs().map_err(|err| format!("cannot resolve `{host}`: {err}"))?.collect();
    match addrs.iter().find(|a| private(a.ip())) {
        Some(a) => {
            Err(format!("refused: `{host}` resolves to {} (loopback, private or link-local); set allow_private: true to allow it", a.ip()))
        }
        None => Ok(()),
    }
}

fn private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (o[0] == 100 && (o[1] & 0xc0) == 64) // RFC 6598 shared space
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || v6.to_ipv4_mapped().is_some_and(|v4| private(IpAddr::V4(v4)))
        }
    }
}

fn disabled(conn: &Connection, url: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT reason FROM webhook_endpoints WHERE endpoint = ?1 AND disabled_at IS NOT NULL", params![url], |r| r.get(0))
        .optional()
}

fn pending_events(conn: &Connection, url: &str) -> rusqlite::Result<u64> {
    conn.query_row("SELECT count(*) FROM outbox WHERE endpoint = ?1 AND delivered_at IS NULL", params![url], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
}

/// The endpoint's oldest undelivered batch, forming one from the oldest unbatched rows when
/// none is open. A formed batch never changes: retries send the same id and events.
fn next_batch(conn: &Connection, e: &Endpoint, gate: &WriteGate<'_>) -> Result<Option<Batch>, DeliverError> {
    let open = |conn: &Connection| {
        conn.query_row(
            "SELECT id, tld, created_at, attempts, next_attempt FROM webhook_batches WHERE endpoint = ?1 AND delivered_at IS NULL ORDER BY created_at, id LIMIT 1",
            params![e.url],
            |r| Ok(Batch { id: r.get(0)?, tld: r.get(1)?, created_at: r.get(2)?, attempts: r.get(3)?, next_attempt: r.get(4)? }),
        )
        .optional()
    };
    if let Some(b) = open(conn)? {
        return Ok(Some(b));
    }
    let _w = gate.hold()?;
    let tx = conn.unchecked_transaction()?;
    let first: Option<(i64, String)> = tx
        .query_row(
            "SELECT id, tld FROM outbox WHERE endpoint = ?1 AND batch IS NULL AND delivered_at IS NULL ORDER BY id LIMIT 1",
            params![e.url],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((first, tld)) = first else { return Ok(None) };
    let id = format!("msg_{}_{first}", endpoint_key(&e.url));
    let n = tx.execute(
        "UPDATE outbox SET batch = ?1 WHERE id IN (SELECT id FROM outbox WHERE endpoint = ?2 AND tld = ?3 AND batch IS NULL AND delivered_at IS NULL ORDER BY id LIMIT ?4)",
        params![id, e.url, tld, e.batch_size as i64],
    )?;
    tx.execute(
        "INSERT INTO webhook_batches (id, endpoint, tld, events, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, e.url, tld, n as i64, now_utc()],
    )?;
    tx.commit()?;
    Ok(open(conn)?)
}

/// A short stable name for an endpoint URL, part of batch ids.
fn endpoint_key(url: &str) -> String {
    data_encoding::HEXLOWER.encode(&Sha256::digest(url.as_bytes())[..6])
}

#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    timestamp: &'a str,
    tld: &'a str,
    events: Vec<super::Event>,
}

/// An event as a broker message: routing key `zonefeed.<tld>.<kind>`, its id the event's
/// (a consumer drops one it has seen: a batch is published again after a failure), its body
/// the event as `changes --format json` gives it.
fn event_message(e: &super::Event) -> crate::amqp::Outgoing {
    crate::amqp::Outgoing {
        routing_key: format!("zonefeed.{}.{}", e.tld, e.kind.as_str()),
        message_id: e.id.to_string(),
        body: serde_json::to_vec(e).unwrap_or_default(),
        reply_to: None,
        correlation_id: None,
    }
}

/// The batch as JSON: `{id, timestamp, tld, events: [{id, kind, domain, tld, zone_version, ...}]}`.
fn payload(b: &Batch, events: Vec<super::Event>) -> String {
    serde_json::to_string(&Payload { id: &b.id, timestamp: &b.created_at, tld: &b.tld, events }).unwrap_or_default()
}

/// The batch's events, in order, with their diffs.
fn batch_events(conn: &Connection, b: &Batch) -> rusqlite::Result<(Vec<super::Event>, u64)> {
    let mut st = conn.prepare(&format!(
        "SELECT {} FROM outbox o JOIN events e ON e.id = o.event WHERE o.batch = ?1 ORDER BY o.id",
        super::EVENT_COLUMNS
    ))?;
    let mut events = st.query_map(params![b.id], super::event_row)?.collect::<Result<Vec<_>, _>>()?;
    // A modified event carries its diff, read from the kept history: the same on every retry.
    for e in &mut events {
        e.add_diff(conn)?;
    }
    let n = events.len() as u64;
    Ok((events, n))
}

/// One endpoint's state, for `webhooks status`.
#[derive(Debug, Serialize)]
pub struct Status {
    pub endpoint: String,
    pub pending_events: u64,
    pub open_batches: u64,
    pub delivered_batches: u64,
    pub delivered_events: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

pub fn status(conn: &Connection, endpoints: &[Endpoint]) -> rusqlite::Result<Vec<Status>> {
    endpoints
        .iter()
        .map(|e| {
            let count = |sql: &str| conn.query_row(sql, params![e.url], |r| r.get::<_, i64>(0)).map(|n| n as u64);
            let (last_error, next): (Option<String>, Option<i64>) = conn
                .query_row(
                    "SELECT last_error, next_attempt FROM webhook_batches WHERE endpoint = ?1 AND delivered_at IS NULL ORDER BY created_at, id LIMIT 1",
                    params![e.url],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or((None, None));
            // A disabled endpoint's last word is the 410 that disabled it; an older batch's
            // error and retry time no longer apply.
            let disabled = disabled(conn, &e.url)?;
            let (last_error, next) = if disabled.is_some() { (disabled.clone(), None) } else { (last_error, next) };
            Ok(Status {
                endpoint: e.url.clone(),
                pending_events: pending_events(conn, &e.url)?,
                open_batches: count("SELECT count(*) FROM webhook_batches WHERE endpoint = ?1 AND delivered_at IS NULL")?,
                delivered_batches: count("SELECT count(*) FROM webhook_batches WHERE endpoint = ?1 AND delivered_at IS NOT NULL")?,
                delivered_events: count("SELECT coalesce(sum(events), 0) FROM webhook_batches WHERE endpoint = ?1 AND delivered_at IS NOT NULL")?,
                last_error,
                next_attempt: next.filter(|&n| n > unix_now()).map(crate::time::utc),
                disabled,
            })
        })
        .collect()
}

/// Sends one signed sample batch (no events from the database) and returns the status.
pub fn test(e: &Endpoint, opts: &DeliveryOptions) -> Result<u16, String> {
    check_address(e)?;
    let id = format!("msg_test_{}", unix_now());
    if let Some(m) = &e.mail {
        let body = "A test message from `zonefeed webhooks test`: e-mail alerts reach you.\n".to_string();
        return m.send("zonefeed: test message", body, &id, opts.timeout).map(|()| 250);
    }
    if let Some(p) = &e.broker {
        let m = crate::amqp::Outgoing {
            routing_key: "zonefeed.test.test".into(),
            message_id: id,
            body: br#"{"test": true}"#.to_vec(),
            reply_to: None,
            correlation_id: None,
        };
        return p.publish(&[m], opts.timeout).map(|()| 200);
    }
    let now = now_utc();
    let body = serde_json::to_string(&Payload { id: &id, timestamp: &now, tld: "test", events: Vec::new() }).unwrap_or_default();
    post(&agent(opts.timeout), e, &id, &body).map_err(|f| f.why)
}

/// Re-enables an endpoint that answered 410.
pub fn enable(conn: &Connection, url: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM webhook_endpoints WHERE endpoint = ?1", params![url])? > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_a_delivered_batch_left_pending_by_a_kill_are_healed_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let conn = crate::store::open_rw(&db, Duration::from_secs(1)).unwrap();
        let url = "http://127.0.0.1:9/hook";
        // What a delivery killed between its two updates left: the batch delivered, its events not.
        conn.execute(
            "INSERT INTO webhook_batches (id, endpoint, tld, events, created_at, delivered_at) VALUES ('b1', ?1, 'com', 2, 'x', '2026-12-07T10:00:00Z')",
            params![url],
        )
        .unwrap();
        for event in [1, 2] {
            conn.execute("INSERT INTO outbox (endpoint, tld, event, batch) VALUES (?1, 'com', ?2, 'b1')", params![url, event]).unwrap();
        }
        let e = Endpoint {
            url: url.into(),
            events: vec!["added".into()],
            tlds: Vec::new(),
            batch_size: 100,
            secret: None,
            headers: BTreeMap::new(),
            allow_private: true,
            mail: None,
            broker: None,
        };
        let gate = WriteGate { db: &db, wait: Duration::from_secs(1) };
        assert_eq!(pending_events(&conn, url).unwrap(), 2);
        let done = deliver(&conn, &[e], &DeliveryOptions::default(), &gate).unwrap();
        assert_eq!((done[0].pending, done[0].batches), (0, 0), "marked delivered, nothing sent again: {done:?}");
    }

    #[test]
    fn signature_matches_the_standard_webhooks_example() {
        // The example in the Standard Webhooks specification.
        let secret = Secret::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into());
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["192.0.43.8", "8.8.8.8", "2001:500:88:200::8", "100.128.0.1"] {
            assert!(!private(ip.parse().unwrap()), "{ip}");
        }
    }
}
