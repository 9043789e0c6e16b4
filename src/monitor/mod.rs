//! Domain monitoring (issue 32): the live records of chosen domains, checked every few
//! minutes, kept with their history, and their changes as events.
//!
//! A check walks to the domain's servers (from the zones the database holds, else from the
//! root, as `analyze` does), asks each whether it serves the zone (SOA), then asks the first
//! that answers with authority for the apex's A, AAAA, MX, TXT, NS, SOA, CAA and DNSKEY and for
//! `www` A and AAAA. What it finds is kept like the zones' rows: an RRset per row, opened and
//! closed by the checks (`live_rrsets`, `since`/`until` = `live_checks.id`). A set that differs
//! from the last check's is a `dns_changed` event with the records added and removed; a
//! server that stops answering is a finding of the check (its `state` and `servers`), not a
//! change of records; NXDOMAIN at the parent is `dns_gone`; the first address or mail server
//! of a domain a watch term brought in is `armed`. Each domain's check is one transaction: a
//! cycle killed midway loses no event and doubles none.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RecordType};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use crate::changes::diff::{Diff, Rec};
use crate::changes::webhooks::{self, Endpoint};
use crate::changes::Kind;
use crate::dns::client::Scope;
use crate::dns::resolve::Resolver;
use crate::dns::Flags;

pub mod rdap;

/// The questions of a check: owner (relative to the domain: "" the apex) and type.
const QUESTIONS: [(&str, RecordType); 10] = [
    ("", RecordType::A),
    ("", RecordType::AAAA),
    ("", RecordType::MX),
    ("", RecordType::TXT),
    ("", RecordType::NS),
    ("", RecordType::SOA),
    ("", RecordType::CAA),
    ("", RecordType::DNSKEY),
    ("www", RecordType::A),
    ("www", RecordType::AAAA),
];

/// An RRset's key, (owner, type), and what it holds, (ttl, rdata sorted).
pub type SetKey = (String, String);
pub type Set = (i64, Vec<String>);

/// A monitored domain.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: String,
    pub tld: String,
    /// `manual`, or `term:WORD` for one a watch term brought in.
    pub source: String,
    pub added_at: String,
    /// When monitoring ends (a term's `--monitor` days); null: until removed.
    pub until: Option<String>,
    pub last_check: Option<String>,
    pub last_change: Option<String>,
    /// The last check's: `ok`, `degraded` (a server did not answer), `no_answer`, `gone`.
    pub state: Option<String>,
    /// When the registry's RDAP server was last asked, and what that failed with, if it did.
    pub rdap_at: Option<String>,
    pub rdap_error: Option<String>,
}

/// Puts `names` under monitoring (those already there are left as they are); returns how
/// many are new.
pub fn add(conn: &Connection, names: &[String], source: &str, until: Option<&str>) -> rusqlite::Result<u64> {
    let now = crate::time::now_utc();
    let mut n = 0;
    // One transaction: a list of 100,000 is added at once, not with a commit each.
    let tx = conn.unchecked_transaction()?;
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO monitored (name, tld, source, added_at, until) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
        )?;
        for name in names {
            let tld = name.rsplit('.').next().unwrap_or(name);
            n += st.execute(params![name, tld, source, now, until])? as u64;
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Takes `name` off monitoring (its history stays); false when it was not monitored.
pub fn remove(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM monitored WHERE name = ?1", params![name])? > 0)
}

const ENTRY: &str = "SELECT name, tld, source, added_at, until, last_check, last_change, state, rdap_at, rdap_error FROM monitored";

fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        name: r.get(0)?,
        tld: r.get(1)?,
        source: r.get(2)?,
        added_at: r.get(3)?,
        until: r.get(4)?,
        last_check: r.get(5)?,
        last_change: r.get(6)?,
        state: r.get(7)?,
        rdap_at: r.get(8)?,
        rdap_error: r.get(9)?,
    })
}

/// Every monitored domain, by name.
pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut st = conn.prepare(&format!("{ENTRY} ORDER BY name"))?;
    let rows = st.query_map([], entry_row)?;
    rows.collect()
}

/// One monitored domain, or None when it is not monitored.
pub fn entry(conn: &Connection, name: &str) -> rusqlite::Result<Option<Entry>> {
    conn.prepare_cached(&format!("{ENTRY} WHERE name = ?1"))?.query_row(params![name], entry_row).optional()
}

/// The domains due for a check at `now` (RFC 3339): never checked, or last checked before
/// `since`; those whose monitoring ended are left out.
pub fn due(conn: &Connection, now: &str, since: &str) -> rusqlite::Result<Vec<String>> {
    let mut st = conn.prepare(
        "SELECT name FROM monitored WHERE (until IS NULL OR until > ?1) AND (last_check IS NULL OR last_check < ?2) ORDER BY name",
    )?;
    let rows = st.query_map(params![now, since], |r| r.get(0))?;
    rows.collect()
}

/// The domains a pass now checks: those last checked before `every` ago or never (with
/// `all`, every one), their monitoring not over.
pub fn due_now(conn: &Connection, every: std::time::Duration, all: bool) -> rusqlite::Result<Vec<String>> {
    let now = crate::time::unix_now();
    let since = if all { now + 1 } else { now - i64::try_from(every.as_secs()).unwrap_or(i64::MAX / 2) };
    due(conn, &crate::time::utc(now), &crate::time::utc(since))
}

/// What one server did in a check.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Server {
    pub server: String,
    /// Answered the SOA question with authority.
    pub answered: bool,
    /// What it did otherwise: a timeout, REFUSED, no authority.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a check found.
#[derive(Debug, Clone)]
pub struct Observed {
    pub name: String,
    pub state: &'static str,
    pub servers: Vec<Server>,
    /// (owner, type) -> (ttl, rdata sorted); empty unless a server answered.
    pub rrsets: BTreeMap<SetKey, Set>,
}

/// Checks `name` live.
pub async fn observe(r: &Resolver, name: &Name) -> Observed {
    let name = name.to_lowercase();
    let text = crate::dns::text(&name);
    let scope = Scope::of(&name);
    let mut out = Observed { name: text.clone(), state: "no_answer", servers: Vec::new(), rrsets: BTreeMap::new() };
    let w = r.walk(&name, &name, RecordType::SOA, &scope).await;
    if w.zone != name {
        // The walk ended above the domain: its parent says it does not exist, or no server
        // on the way answered.
        if w.answer.as_ref().is_some_and(|m| m.metadata.response_code == ResponseCode::NXDomain) {
            out.state = "gone";
        }
        return out;
    }
    let client = r.client().clone();
    let mut answering: Vec<IpAddr> = Vec::new();
    for s in w.servers.iter().filter(|s| r.family_ok(s.ip)) {
        let e = scope.ask(&client, s.ip, &name, RecordType::SOA, Flags::default()).await;
        let (answered, error) = match e.answer.as_ref() {
            Ok(m) if m.metadata.authoritative && m.metadata.response_code == ResponseCode::NoError => (true, None),
            Ok(m) if !m.metadata.authoritative => {
                (false, Some(format!("{} without authority", crate::dns::rcode_name(m.metadata.response_code))))
            }
            Ok(m) => (false, Some(crate::dns::rcode_name(m.metadata.response_code))),
            Err(err) => (false, Some(err.to_string())),
        };
        if answered {
            answering.push(s.ip);
        }
        out.servers.push(Server { server: s.to_string(), answered, error });
    }
    if answering.is_empty() {
        return out;
    }
    out.state = if answering.len() == out.servers.len() { "ok" } else { "degraded" };
    for (label, rtype) in QUESTIONS {
        let owner = if label.is_empty() {
            name.clone()
        } else {
            Name::from_ascii(label).and_then(|l| l.append_domain(&name)).unwrap_or(name.clone())
        };
        for &ip in &answering {
            let e = scope.ask(&client, ip, &owner, rtype, Flags::default()).await;
            let Ok(m) = e.answer.as_ref() else { continue };
            if !m.metadata.authoritative || !matches!(m.metadata.response_code, ResponseCode::NoError | ResponseCode::NXDomain) {
                continue;
            }
            for rr in m.answers.iter().filter(|rr| rr.name.to_lowercase() == owner) {
                let t = rr.record_type();
                // The type asked, or the alias that stands for it (www as a CNAME).
                if t != rtype && t != RecordType::CNAME {
                    continue;
                }
                let set = out.rrsets.entry((crate::dns::text(&owner), t.to_string())).or_insert((i64::from(rr.ttl), Vec::new()));
                let rdata = presentation(&rr.data);
                if !set.1.contains(&rdata) {
                    set.1.push(rdata);
                }
            }
            break;
        }
    }
    for set in out.rrsets.values_mut() {
        set.1.sort();
    }
    out
}

/// RDATA in presentation form: hickory's, but TXT as the quoted strings a zone file holds
/// (hickory joins them unquoted, which loses where one ends).
fn presentation(d: &hickory_proto::rr::RData) -> String {
    match d {
        hickory_proto::rr::RData::TXT(t) => {
            let mut s = String::new();
            for (i, part) in t.txt_data.iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                crate::zone::rdata::push_quoted(part, &mut s);
            }
            s
        }
        other => other.to_string(),
    }
}

/// The records of an RRset map, one [`Rec`] each.
fn records(sets: &BTreeMap<SetKey, Set>) -> Vec<Rec> {
    let mut out = Vec::new();
    for ((owner, rtype), (ttl, rdata)) in sets {
        out.extend(rdata.iter().map(|d| Rec { owner: owner.clone(), rtype: rtype.clone(), ttl: *ttl, rdata: d.clone() }));
    }
    out
}

/// Keeps one check of `o.name`: the check, the RRsets that changed, its events (queued for
/// the webhooks that want them) and the domain's state, in one transaction. Returns the
/// events raised.
pub fn keep(conn: &mut Connection, o: &Observed, endpoints: &[Endpoint]) -> rusqlite::Result<Vec<Kind>> {
    let tx = conn.transaction()?;
    let events = keep_in(&tx, o, endpoints)?;
    tx.commit()?;
    Ok(events)
}

fn keep_in(tx: &Transaction<'_>, o: &Observed, endpoints: &[Endpoint]) -> rusqlite::Result<Vec<Kind>> {
    let now = crate::time::now_utc();
    let Some((tld, source, state, armed)) = tx
        .query_row("SELECT tld, source, state, armed FROM monitored WHERE name = ?1", params![o.name], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, bool>(3)?))
        })
        .optional()?
    else {
        // Removed while it was being checked.
        return Ok(Vec::new());
    };
    let mut current: BTreeMap<SetKey, (i64, Vec<String>, i64)> = BTreeMap::new();
    {
        let mut st = tx.prepare_cached("SELECT owner, type, ttl, rdata, since FROM live_rrsets WHERE name = ?1 AND until IS NULL")?;
        let rows = st.query_map(params![o.name], |r| {
            let rdata: String = r.get(3)?;
            Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, serde_json::from_str(&rdata).unwrap_or_default(), r.get(4)?)))
        })?;
        for row in rows {
            let (k, v) = row?;
            current.insert(k, v);
        }
    }
    // The last check kept: its state and which servers answered.
    let last: Option<(String, String)> = tx
        .prepare_cached("SELECT state, servers FROM live_checks WHERE name = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row(params![o.name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let first = last.is_none();
    let mut events = Vec::new();
    let mut raise = |kind: Kind, detail: Option<String>| -> rusqlite::Result<()> {
        raise_live(tx, &tld, &o.name, kind, &now, detail.as_deref(), endpoints)?;
        events.push(kind);
        Ok(())
    };
    // Gone: every set closes, once; no answer: nothing is known, nothing changes.
    let observed: BTreeMap<SetKey, Set> = match o.state {
        "gone" => BTreeMap::new(),
        "no_answer" => current.iter().map(|(k, (ttl, rdata, _))| (k.clone(), (*ttl, rdata.clone()))).collect(),
        _ => o.rrsets.clone(),
    };
    let before: BTreeMap<SetKey, Set> = current.iter().map(|(k, (t, d, _))| (k.clone(), (*t, d.clone()))).collect();
    let closes: Vec<(&SetKey, i64)> = current
        .iter()
        .filter(|(k, (ttl, rdata, _))| observed.get(*k) != Some(&(*ttl, rdata.clone())))
        .map(|(k, (_, _, since))| (k, *since))
        .collect();
    let opens: Vec<(&SetKey, &Set)> = observed.iter().filter(|(k, v)| before.get(*k) != Some(*v)).collect();
    let changed = !closes.is_empty() || !opens.is_empty();
    // A check is kept when it found something new: its records, its state, or which servers
    // answered. A check that found all as it was only moves `last_check`: a domain checked
    // every 10 minutes costs a row per change, not 144 a day.
    let answered = |servers: &str| -> Vec<(String, bool)> {
        let v: Vec<serde_json::Value> = serde_json::from_str(servers).unwrap_or_default();
        v.iter().map(|s| (s["server"].as_str().unwrap_or_default().to_string(), s["answered"] == true)).collect()
    };
    let servers = serde_json::to_string(&o.servers).unwrap_or_default();
    let keep_check = match &last {
        None => true,
        Some((last_state, last_servers)) => changed || last_state != o.state || answered(last_servers) != answered(&servers),
    };
    if keep_check {
        tx.execute("INSERT INTO live_checks (name, at, state, servers) VALUES (?1, ?2, ?3, ?4)", params![o.name, now, o.state, servers])?;
        let check = tx.last_insert_rowid();
        for (k, since) in &closes {
            tx.execute(
                "UPDATE live_rrsets SET until = ?1 WHERE name = ?2 AND owner = ?3 AND type = ?4 AND since = ?5",
                params![check, o.name, k.0, k.1, since],
            )?;
        }
        for (k, (ttl, rdata)) in &opens {
            tx.execute(
                "INSERT INTO live_rrsets (name, owner, type, ttl, rdata, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![o.name, k.0, k.1, ttl, serde_json::to_string(rdata).unwrap_or_default(), check],
            )?;
        }
    }
    let (old, new) = (records(&before), records(&observed));
    let diff = Diff {
        added: new.iter().filter(|r| !old.contains(r)).cloned().collect(),
        removed: old.iter().filter(|r| !new.contains(r)).cloned().collect(),
    };
    // The first check is the baseline: nothing to differ from.
    if o.state == "gone" && state.as_deref() != Some("gone") {
        raise(Kind::DnsGone, None)?;
    } else if changed && !first {
        raise(Kind::DnsChanged, Some(serde_json::to_string(&diff).unwrap_or_default()))?;
        // New records may mean a new owner: the registration is fetched again soon.
        tx.execute("UPDATE monitored SET rdap_wanted = 1 WHERE name = ?1", params![o.name])?;
    }
    // Armed: the first address or mail server of a domain a watch term brought in (counted
    // from its first check); a domain added by hand is armed silently.
    let live = |r: &Rec| matches!(r.rtype.as_str(), "A" | "AAAA" | "MX") && r.owner == o.name;
    let weapons: Vec<Rec> = new.iter().filter(|r| live(r)).cloned().collect();
    let mut now_armed = armed;
    if !armed && !weapons.is_empty() {
        now_armed = true;
        if source.starts_with("term:") {
            raise(Kind::Armed, Some(serde_json::to_string(&Diff { added: weapons, removed: Vec::new() }).unwrap_or_default()))?;
        }
    }
    tx.execute(
        "UPDATE monitored SET last_check = ?2, state = ?3, armed = ?4, last_change = CASE WHEN ?5 THEN ?2 ELSE last_change END WHERE name = ?1",
        params![o.name, now, o.state, now_armed, changed && !first],
    )?;
    Ok(events)
}

/// Writes a monitoring event of `name` (of zone `tld`), which belongs to no zone version, and
/// queues it for the sinks that want it: the live checks' and RDAP's events alike.
pub(crate) fn raise_live(
    tx: &Transaction<'_>,
    tld: &str,
    name: &str,
    kind: Kind,
    at: &str,
    detail: Option<&str>,
    endpoints: &[Endpoint],
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO events (zone, prev_zone, tld, domain, kind, at, detail) VALUES (NULL, NULL, ?1, ?2, ?3, ?4, ?5)",
        params![tld, name, kind.as_str(), at, detail],
    )?;
    webhooks::enqueue_one(tx, tx.last_insert_rowid(), tld, kind, endpoints)?;
    Ok(())
}

/// One domain's live records as the checks found them: now, or at `at` (RFC 3339): the
/// state the last kept check at or before then found, `since` that check, and when the
/// domain was last checked. None when it was never checked by then.
pub fn live(conn: &Connection, name: &str, at: Option<&str>) -> rusqlite::Result<Option<Live>> {
    let check = conn
        .query_row(
            "SELECT id, at, state, servers FROM live_checks WHERE name = ?1 AND (?2 IS NULL OR at <= ?2) ORDER BY id DESC LIMIT 1",
            params![name, at],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?)),
        )
        .optional()?;
    let Some((id, since, state, servers)) = check else { return Ok(None) };
    let last_check: Option<String> =
        conn.query_row("SELECT last_check FROM monitored WHERE name = ?1", params![name], |r| r.get(0)).optional()?.flatten();
    let mut st = conn.prepare_cached(
        "SELECT owner, type, ttl, rdata FROM live_rrsets WHERE name = ?1 AND since <= ?2 AND (until IS NULL OR until > ?2) ORDER BY owner, type",
    )?;
    let mut records = Vec::new();
    let rows = st.query_map(params![name, id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
    })?;
    for row in rows {
        let (owner, rtype, ttl, rdata) = row?;
        let rdata: Vec<String> = serde_json::from_str(&rdata).unwrap_or_default();
        records.extend(rdata.into_iter().map(|d| Rec { owner: owner.clone(), rtype: rtype.clone(), ttl, rdata: d }));
    }
    Ok(Some(Live { since, last_check, state, servers: serde_json::from_str(&servers).unwrap_or_default(), records }))
}

/// One check of a domain: when, and what state it found.
#[derive(Debug, Serialize)]
pub struct Check {
    pub at: String,
    pub state: String,
    pub servers: serde_json::Value,
}

/// Every kept check of `name` (each that found a change of records, state or answering
/// servers, and the first), oldest first.
pub fn checks(conn: &Connection, name: &str) -> rusqlite::Result<Vec<Check>> {
    let mut st = conn.prepare_cached("SELECT at, state, servers FROM live_checks WHERE name = ?1 ORDER BY id")?;
    let rows = st.query_map(params![name], |r| {
        let servers: String = r.get(2)?;
        Ok(Check { at: r.get(0)?, state: r.get(1)?, servers: serde_json::from_str(&servers).unwrap_or_default() })
    })?;
    rows.collect()
}

/// A domain's live records at one time.
#[derive(Debug, Serialize)]
pub struct Live {
    /// The check that first found them (and this state and these servers' answers); the
    /// checks after it until the next kept one found the same.
    pub since: String,
    /// The domain's latest check (null once it is no longer monitored).
    pub last_check: Option<String>,
    pub state: String,
    pub servers: serde_json::Value,
    pub records: Vec<Rec>,
}

/// What a pass did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Cycle {
    pub checked: u64,
    pub events: u64,
    /// Questions sent.
    pub questions: u64,
    /// The registration fetches.
    pub rdap: rdap::Pass,
}

/// What the monitor runs with: the engine, how often a domain is checked, the webhook
/// endpoints, and what a pass does (the live checks, the registration fetches, or both).
#[derive(Clone)]
pub struct Setup {
    pub engine: crate::analyze::Engine,
    pub every: std::time::Duration,
    pub endpoints: Vec<Endpoint>,
    /// How the events of a pass are delivered right after it: one attempt per endpoint.
    pub delivery: webhooks::DeliveryOptions,
    pub dns: bool,
    /// None: registration data is not fetched (`monitor.rdap` false, `--only dns`).
    pub rdap: Option<rdap::Options>,
}

impl Setup {
    /// From the `monitor.*`, `rdap.*`, `dns.*` and `webhooks` keys.
    pub fn from_config(cfg: &crate::config::Config) -> anyhow::Result<Setup> {
        let mut engine = crate::analyze::Engine::from_config(cfg)?;
        engine.concurrency = cfg.keys.monitor_concurrency.map_or(256, |c| c.usize());
        Ok(Setup {
            engine,
            every: cfg.keys.monitor_every.map_or(std::time::Duration::from_secs(600), |e| e.0),
            endpoints: webhooks::endpoints(cfg)?,
            delivery: webhooks::DeliveryOptions { patient: false, ..webhooks::DeliveryOptions::from_config(cfg) },
            dns: true,
            rdap: cfg.keys.monitor_rdap.unwrap_or(true).then(|| rdap::Options::from_config(cfg)),
        })
    }
}

/// What a pass reports as it goes.
pub enum Item<'a> {
    /// A live check kept, its events, and the questions sent so far.
    Checked(&'a Observed, &'a [Kind], u64),
    /// A registration fetched (or not), and its events.
    Registration(&'a str, &'a rdap::Fetched, &'a [Kind]),
}

/// One pass of the monitor: the domains due at this time (checked last before `every` ago, or
/// never; with `all`, every one) checked on a fresh resolver of the engine (answers cached for
/// this pass only), seeded with the servers of the zones the database holds; then the
/// registrations due fetched. None when nothing was due. `each` sees every check kept and
/// every registration fetched.
pub fn pass(
    rt: &tokio::runtime::Runtime,
    setup: &Setup,
    conn: &mut Connection,
    all: bool,
    mut each: impl FnMut(Item<'_>),
) -> anyhow::Result<Option<Cycle>> {
    let mut out: Option<Cycle> = None;
    if setup.dns {
        let names = due_now(conn, setup.every, all)?;
        if !names.is_empty() {
            let resolver = setup.engine.resolver();
            let current = crate::store::current_zones(conn)?;
            let parsed: Vec<Name> = names.iter().filter_map(|n| crate::dns::parse_name(n).ok()).collect();
            crate::analyze::history::seed_from_zones(conn, &current, &resolver, &parsed)?;
            let r = resolver.clone();
            let concurrency = setup.engine.concurrency;
            let mut stats = cycle(rt, &resolver, conn, &names, concurrency, &setup.endpoints, |o, events| {
                each(Item::Checked(o, events, r.client().sent()))
            })?;
            stats.questions = resolver.client().sent();
            out = Some(stats);
        }
    }
    if let Some(o) = &setup.rdap {
        let bootstrap = rdap::Bootstrap::load(conn)?;
        let p = rdap::pass(conn, &bootstrap, o, &setup.endpoints, |name, f, events| each(Item::Registration(name, f, events)))?;
        if p.fetched + p.failed + p.unserved > 0 {
            let c = out.get_or_insert_with(Cycle::default);
            c.events += p.events;
            c.rdap = p;
        }
    }
    Ok(out)
}

/// Delivers what is pending to the webhooks and e-mail right after a pass, so that an alert
/// leaves within the pass's minute, not at the next daily sync: one attempt per endpoint
/// (a failed one backs off to a later pass), skipped while another zonefeed delivers or
/// when nothing is pending.
pub fn deliver(
    conn: &Connection,
    db: &std::path::Path,
    wait: std::time::Duration,
    setup: &Setup,
) -> anyhow::Result<Vec<webhooks::Delivered>> {
    webhooks::deliver_pending(conn, db, wait, &setup.endpoints, &setup.delivery)
}

/// The lock one monitor per database holds (`<db>.monitor.lock`).
pub fn lock_path(db: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.monitor.lock", db.display()))
}

impl Cycle {
    /// What a pass did, as the logs say it.
    pub fn line(&self) -> String {
        let mut line = format!("monitor: {} checked, {} event(s)", self.checked, self.events);
        // A pass through the broker asks nothing itself: its workers do.
        if self.questions > 0 {
            line += &format!(", {} questions sent", self.questions);
        }
        if self.rdap.fetched + self.rdap.failed + self.rdap.unserved > 0 {
            line += &format!("; {}", self.rdap.line());
        }
        line
    }
}

/// One pass beside the service, logged: skipped while another monitor holds the lock.
pub fn pass_beside(rt: &tokio::runtime::Runtime, db: &std::path::Path, wait: std::time::Duration, setup: &Setup, log: &dyn Fn(&str)) {
    let result = (|| -> anyhow::Result<Option<Cycle>> {
        let Ok(_lock) = crate::lock::exclusive(&lock_path(db), std::time::Duration::ZERO) else { return Ok(None) };
        let mut conn = crate::store::open_rw(db, wait)?;
        let cycle = pass(rt, setup, &mut conn, false, |item| {
            if let Item::Registration(_, rdap::Fetched::Failed { why, .. }, _) = item {
                log(&format!("rdap: {why}"));
            }
        })?;
        if cycle.is_some() {
            for d in deliver(&conn, db, wait, setup)? {
                if let Some(e) = d.error {
                    log(&format!("delivery to {}: {e}", d.endpoint));
                }
            }
        }
        Ok(cycle)
    })();
    match result {
        Ok(Some(c)) => log(&c.line()),
        Ok(None) => {}
        Err(e) => log(&format!("monitor: {e:#}")),
    }
}

/// The monitor beside the service: a pass every few seconds, each checking what is due, until
/// the process ends.
pub fn keep_watch(db: &std::path::Path, setup: &Setup, log: impl Fn(&str)) {
    let Ok(rt) = tokio::runtime::Builder::new_multi_thread().enable_all().build() else { return log("monitor: no runtime") };
    loop {
        pass_beside(&rt, db, std::time::Duration::from_secs(30), setup, &log);
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
}

/// Checks `names` with resolver `r`, `concurrency` at once, keeping each as it finishes;
/// `each` sees every check kept.
pub fn cycle(
    rt: &tokio::runtime::Runtime,
    r: &Arc<Resolver>,
    conn: &mut Connection,
    names: &[String],
    concurrency: usize,
    endpoints: &[Endpoint],
    mut each: impl FnMut(&Observed, &[Kind]),
) -> anyhow::Result<Cycle> {
    let mut stats = Cycle::default();
    let todo = names.iter().filter_map(|n| crate::dns::parse_name(n).ok());
    let work = |name: Name| {
        let r = r.clone();
        async move { observe(&r, &name).await }
    };
    rt.block_on(crate::dns::at_most(todo, concurrency, work, |o: Observed| -> anyhow::Result<()> {
        let events = keep(conn, &o, endpoints)?;
        stats.checked += 1;
        stats.events += events.len() as u64;
        each(&o, &events);
        Ok(())
    }))?;
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed(state: &'static str, a: &[&str], answered: &[bool]) -> Observed {
        let mut rrsets = BTreeMap::new();
        if !a.is_empty() {
            rrsets.insert(("x.test".to_string(), "A".to_string()), (300, a.iter().map(|s| s.to_string()).collect()));
        }
        let servers = answered
            .iter()
            .enumerate()
            .map(|(i, &answered)| Server { server: format!("ns{i}.test/192.0.2.{i}"), answered, error: None })
            .collect();
        Observed { name: "x.test".into(), state, servers, rrsets }
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_check_is_kept_only_when_it_finds_something_new_and_records_stay_exact() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_rw(&dir.path().join("m.db"), std::time::Duration::from_secs(1)).unwrap();
        add(&conn, &["x.test".to_string()], "manual", None).unwrap();
        // The baseline: kept, no event.
        assert_eq!(keep(&mut conn, &observed("ok", &["192.0.2.1"], &[true, true]), &[]).unwrap(), []);
        // The same again: not kept, no event; last_check moves.
        let before: String = conn.query_row("SELECT last_check FROM monitored", [], |r| r.get(0)).unwrap();
        assert_eq!(keep(&mut conn, &observed("ok", &["192.0.2.1"], &[true, true]), &[]).unwrap(), []);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_checks"), 1);
        assert!(conn.query_row("SELECT last_check >= ?1 FROM monitored", [&before], |r| r.get::<_, bool>(0)).unwrap());
        // A server stops answering: kept (the state changed), no event, records as they were.
        assert_eq!(keep(&mut conn, &observed("degraded", &["192.0.2.1"], &[true, false]), &[]).unwrap(), []);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_checks"), 2);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_rrsets"), 1);
        // The other server fails instead, same state: which servers answered changed, kept.
        assert_eq!(keep(&mut conn, &observed("degraded", &["192.0.2.1"], &[false, true]), &[]).unwrap(), []);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_checks"), 3);
        // A second address: kept, dns_changed; the old set closes at this check, the new opens.
        assert_eq!(keep(&mut conn, &observed("ok", &["192.0.2.1", "192.0.2.2"], &[true, true]), &[]).unwrap(), [Kind::DnsChanged]);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_checks"), 4);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_rrsets WHERE until = 4"), 1);
        assert_eq!(count(&conn, "SELECT count(*) FROM live_rrsets WHERE since = 4 AND until IS NULL"), 1);
        // No server answers: nothing known, nothing changes, but the state is kept.
        assert_eq!(keep(&mut conn, &observed("no_answer", &[], &[false, false]), &[]).unwrap(), []);
        let l = live(&conn, "x.test", None).unwrap().unwrap();
        assert_eq!(l.state, "no_answer");
        assert_eq!(l.records.len(), 2, "the records last seen stand");
    }
}
