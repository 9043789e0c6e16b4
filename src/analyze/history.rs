//! Analyses kept in the store (issue 31): a run's list of domains, each domain's summary and
//! its findings over time, and the events a delegation that breaks or is fixed raises. The
//! tables are described in `crate::store::schema` (`ANALYSES`).
//!
//! A run is written before its first question; each finished domain is kept in a transaction
//! that also removes it from the run's list, so a run killed at any point is finished by the
//! next `analyze` of its zone, which analyses none twice and loses none.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{Analysis, Level};
use crate::changes::webhooks::{self, Endpoint};
use crate::changes::{Delegation, Kind};
use crate::dns::resolve::Resolver;
use crate::query::delegations::Pick;

/// One run of `analyze --tld`: the zone it read and the domains left to analyse.
#[derive(Debug)]
pub struct Run {
    pub id: i64,
    pub tld: String,
    /// The zone's version the domains were picked from.
    pub zone: i64,
    /// The time it speaks for, its events' `at`: the version's zone date, else when that was
    /// imported (RFC 3339 UTC), as the version's own change events have it.
    pub at: String,
    /// How many domains it picked.
    pub total: u64,
    /// The domains not analysed yet, in the order picked, with their place in it.
    pub todo: Vec<(i64, String)>,
    /// Begun by an earlier `analyze` that did not finish.
    pub resumed: bool,
}

/// The run of `tld` that an earlier `analyze` began and did not finish, if any.
pub fn unfinished(conn: &Connection, tld: &str) -> rusqlite::Result<Option<Run>> {
    let run = conn
        .query_row(
            "SELECT id, zone, at, domains FROM analysis_runs WHERE tld = ?1 AND finished_at IS NULL ORDER BY id DESC LIMIT 1",
            params![tld],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, i64>(3)?)),
        )
        .optional()?;
    let Some((id, zone, at, total)) = run else { return Ok(None) };
    let todo = conn
        .prepare("SELECT seq, domain FROM analysis_todo WHERE run = ?1 ORDER BY seq")?
        .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Some(Run { id, tld: tld.to_string(), zone, at, total: total as u64, todo, resumed: true }))
}

/// Writes a new run of `tld` (version `zone`, which speaks for `at`) with the domains picked,
/// all of them to do, in one transaction.
pub fn begin(conn: &Connection, tld: &str, zone: i64, at: &str, pick: &str, domains: &[String]) -> rusqlite::Result<Run> {
    let tx = conn.unchecked_transaction()?;
    tx.execute(
        "INSERT INTO analysis_runs (tld, zone, at, pick, started_at, domains) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![tld, zone, at, pick, crate::time::now_utc(), domains.len() as i64],
    )?;
    let id = tx.last_insert_rowid();
    {
        let mut st = tx.prepare("INSERT INTO analysis_todo (run, seq, domain) VALUES (?1, ?2, ?3)")?;
        for (seq, d) in domains.iter().enumerate() {
            st.execute(params![id, seq as i64, d])?;
        }
    }
    tx.commit()?;
    let todo = domains.iter().enumerate().map(|(i, d)| (i as i64, d.clone())).collect();
    Ok(Run { id, tld: tld.to_string(), zone, at: at.to_string(), total: domains.len() as u64, todo, resumed: false })
}

/// The run of `tld` to work on: the one an earlier `analyze` left unfinished (its picks stand),
/// else a new one of the delegations `pick` names, at most `limit`. None when `tld` has no
/// current version.
pub fn begin_or_resume(conn: &Connection, tld: &str, pick: &Pick, limit: Option<usize>) -> rusqlite::Result<Option<Run>> {
    if let Some(run) = unfinished(conn, tld)? {
        return Ok(Some(run));
    }
    let Some((zone, at)) = crate::query::delegations::version(conn, tld)? else { return Ok(None) };
    let domains = crate::query::delegations::pick(conn, tld, pick, limit)?;
    begin(conn, tld, zone, &at, &pick.describe(), &domains).map(Some)
}

/// Analyses what is left of `run` with resolver `r`, `concurrency` domains at once, keeping
/// each result as it comes; `each` sees every result after it is handed to the keeper (an error
/// from it stops the run, what was kept staying kept).
pub fn keep_run(
    rt: &tokio::runtime::Runtime,
    r: &Arc<Resolver>,
    conn: &mut Connection,
    run: &Run,
    endpoints: &[Endpoint],
    concurrency: usize,
    mut each: impl FnMut(i64, Analysis) -> anyhow::Result<()>,
) -> anyhow::Result<Kept> {
    let mut names = Vec::with_capacity(run.todo.len());
    let mut skipped = Vec::new();
    for (seq, d) in &run.todo {
        match crate::dns::parse_name(d) {
            Ok(n) => names.push((*seq, n)),
            Err(_) => skipped.push(*seq),
        }
    }
    // A stored name the DNS cannot ask about has nothing to analyse: off the list, so the run
    // can finish.
    for seq in &skipped {
        conn.execute("DELETE FROM analysis_todo WHERE run = ?1 AND seq = ?2", params![run.id, seq])?;
    }
    let current = crate::store::current_zones(conn)?;
    let just: Vec<_> = names.iter().map(|(_, n)| n.clone()).collect();
    seed_from_zones(conn, &current, r, &just)?;
    let mut keeper = Keeper::new(conn, run, endpoints);
    rt.block_on(super::many(r, names, None, &super::Selection::all(), concurrency, |i, a| -> anyhow::Result<()> {
        keeper.keep(i, &a)?;
        each(i, a)
    }))?;
    let mut kept = keeper.finish()?;
    kept.skipped = skipped.len() as u64;
    Ok(kept)
}

/// The zones the database holds give their own servers: resolution of their children starts
/// there, not at the root. For a zone it lacks, or when no imported zone gives the servers'
/// addresses, the walk starts at the root hints.
pub fn seed_from_zones(conn: &Connection, current: &[String], r: &Resolver, names: &[hickory_proto::rr::Name]) -> rusqlite::Result<()> {
    let mut tlds: Vec<hickory_proto::rr::Name> = names.iter().filter(|n| n.num_labels() > 1).map(|n| n.trim_to(1)).collect();
    tlds.sort();
    tlds.dedup();
    for tld in tlds {
        let text = crate::dns::text(&tld);
        if !current.contains(&text) {
            continue;
        }
        let mut servers = Vec::new();
        for (name, ips) in crate::query::delegations::apex(conn, &text)? {
            let Ok(n) = crate::dns::parse_name(&name) else { continue };
            // A name no imported zone gives an address to is left to resolution.
            let ips: Vec<IpAddr> = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
            servers.extend(ips.into_iter().map(|ip| crate::dns::resolve::Ns { name: n.to_lowercase(), ip }));
        }
        r.seed(&tld, servers);
    }
    Ok(())
}

/// A finding as kept: its identity, and its level.
type Key = (String, String, String);

/// One domain's result, waiting for the next commit.
struct Done {
    seq: i64,
    domain: String,
    elapsed_ms: i64,
    /// (test case, tag, arguments as JSON) -> (module, level); DEBUG left out.
    findings: BTreeMap<Key, (&'static str, Level)>,
}

/// Keeps a run's results as they come, committing them in batches (every `EVERY` or
/// `INTERVAL`, whichever comes first) and at the end.
pub struct Keeper<'a> {
    conn: &'a mut Connection,
    run: &'a Run,
    endpoints: &'a [Endpoint],
    pending: Vec<Done>,
    /// The places of the results taken and not committed yet.
    taken: std::collections::HashSet<i64>,
    last: Instant,
    /// Domains kept, events raised.
    pub kept: u64,
    pub events: u64,
}

const EVERY: usize = 256;
const INTERVAL: Duration = Duration::from_secs(1);

impl<'a> Keeper<'a> {
    pub fn new(conn: &'a mut Connection, run: &'a Run, endpoints: &'a [Endpoint]) -> Keeper<'a> {
        Keeper { conn, run, endpoints, pending: Vec::new(), taken: Default::default(), last: Instant::now(), kept: 0, events: 0 }
    }

    /// Takes the result of the run's domain number `seq`.
    pub fn keep(&mut self, seq: i64, a: &Analysis) -> rusqlite::Result<()> {
        let found = a
            .findings
            .iter()
            .map(|f| (f.module, f.testcase.to_string(), f.tag.to_string(), serde_json::to_string(&f.args).unwrap_or_default(), f.level));
        self.keep_found(seq, &a.domain, a.elapsed.as_millis() as i64, found)
    }

    /// Takes a result given as its findings, (module, test case, tag, arguments as JSON,
    /// level): one that a worker elsewhere sent (`analyze --via`).
    pub fn keep_found(
        &mut self,
        seq: i64,
        domain: &str,
        elapsed_ms: i64,
        found: impl Iterator<Item = (&'static str, String, String, String, Level)>,
    ) -> rusqlite::Result<()> {
        let mut findings: BTreeMap<Key, (&'static str, Level)> = BTreeMap::new();
        for (module, testcase, tag, args, level) in found.filter(|f| f.4 > Level::Debug) {
            let e = findings.entry((testcase, tag, args)).or_insert((module, level));
            e.1 = e.1.max(level);
        }
        self.pending.push(Done { seq, domain: domain.to_string(), elapsed_ms, findings });
        if self.pending.len() >= EVERY || self.last.elapsed() >= INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Results taken and not committed yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Whether the run's domain number `seq` is `domain` and still to do: neither kept nor
    /// taken since the last commit (a result that comes twice is kept once).
    pub fn is_todo(&self, seq: i64, domain: &str) -> rusqlite::Result<bool> {
        if self.taken.contains(&seq) {
            return Ok(false);
        }
        let found: Option<String> = self
            .conn
            .query_row("SELECT domain FROM analysis_todo WHERE run = ?1 AND seq = ?2", params![self.run.id, seq], |r| r.get(0))
            .optional()?;
        Ok(found.as_deref() == Some(domain))
    }

    /// Notes that the result of `seq` was taken (see [`Keeper::is_todo`]).
    pub fn mark_done(&mut self, seq: i64) {
        self.taken.insert(seq);
    }

    /// How many domains of run `run` are left to do, not counting those taken.
    pub fn todo_count(&self, run: i64) -> rusqlite::Result<i64> {
        let n: i64 = self.conn.query_row("SELECT count(*) FROM analysis_todo WHERE run = ?1", params![run], |r| r.get(0))?;
        Ok(n - self.taken.len() as i64)
    }

    /// Commits what is pending.
    pub fn flush(&mut self) -> rusqlite::Result<()> {
        self.last = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        self.taken.clear();
        let tx = self.conn.transaction()?;
        for d in std::mem::take(&mut self.pending) {
            self.events += keep_one(&tx, self.run, self.endpoints, &d)?;
            self.kept += 1;
        }
        tx.commit()
    }

    /// Commits the rest and, when no domain is left to do, marks the run finished.
    pub fn finish(mut self) -> rusqlite::Result<Kept> {
        self.flush()?;
        let left: i64 = self.conn.query_row("SELECT count(*) FROM analysis_todo WHERE run = ?1", params![self.run.id], |r| r.get(0))?;
        if left == 0 {
            self.conn.execute("UPDATE analysis_runs SET finished_at = ?2 WHERE id = ?1", params![self.run.id, crate::time::now_utc()])?;
        }
        Ok(Kept { analyses: self.kept, events: self.events, finished: left == 0, skipped: 0 })
    }
}

impl Kept {
    /// What was kept, for people (`analyze` and `sync` say it).
    pub fn line(&self, run: &Run) -> String {
        let n = if self.analyses == 1 { "1 analysis".to_string() } else { format!("{} analyses", self.analyses) };
        let events = if self.events == 1 { "1 delegation event".to_string() } else { format!("{} delegation events", self.events) };
        let mut line = format!("kept {n} in run {} of {} ({}), {events}", run.id, run.tld, crate::time::date_of(&run.at));
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped (not a name the DNS can ask about)", self.skipped));
        }
        line
    }
}

/// What a [`Keeper`] kept.
#[derive(Debug, Clone, Copy)]
pub struct Kept {
    pub analyses: u64,
    pub events: u64,
    /// No domain of the run is left to do.
    pub finished: bool,
    /// Names taken off the list that are not names the DNS can ask about.
    pub skipped: u64,
}

/// Writes one domain's analysis: its summary, the findings that came and went, the event
/// when it broke or was fixed; and takes it off the run's list. Returns the events raised.
fn keep_one(tx: &Transaction<'_>, run: &Run, endpoints: &[Endpoint], d: &Done) -> rusqlite::Result<u64> {
    let previous: Option<(Option<String>, i64)> = tx
        .prepare_cached(
            "SELECT a.worst, r.zone FROM analyses a JOIN analysis_runs r ON r.id = a.run WHERE a.domain = ?1 ORDER BY a.id DESC LIMIT 1",
        )?
        .query_row(params![d.domain], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // The findings open now: (identity) -> (level, since).
    let mut open: BTreeMap<Key, (String, i64)> = BTreeMap::new();
    {
        let mut st = tx.prepare_cached("SELECT testcase, tag, args, level, since FROM findings WHERE domain = ?1 AND until IS NULL")?;
        let rows = st.query_map(params![d.domain], |r| Ok(((r.get(0)?, r.get(1)?, r.get(2)?), (r.get(3)?, r.get(4)?))))?;
        for row in rows {
            let (k, v) = row?;
            open.insert(k, v);
        }
    }
    let mut count = [0i64; 6];
    for (_, level) in d.findings.values() {
        count[*level as usize] += 1;
    }
    let worst = d.findings.values().map(|(_, l)| *l).max();
    tx.prepare_cached(
        "INSERT INTO analyses (run, tld, domain, at, worst, info, notice, warning, error, critical, elapsed_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        run.id,
        run.tld,
        d.domain,
        crate::time::now_utc(),
        worst.map(Level::as_str),
        count[Level::Info as usize],
        count[Level::Notice as usize],
        count[Level::Warning as usize],
        count[Level::Error as usize],
        count[Level::Critical as usize],
        d.elapsed_ms
    ])?;
    let id = tx.last_insert_rowid();
    // Findings gone, or whose level changed, close; new ones open.
    {
        let mut close = tx.prepare_cached(
            "UPDATE findings SET until = ?1 WHERE domain = ?2 AND testcase = ?3 AND tag = ?4 AND args = ?5 AND since = ?6",
        )?;
        for (k, (level, since)) in &open {
            if d.findings.get(k).is_none_or(|(_, l)| l.as_str() != level) {
                close.execute(params![id, d.domain, k.0, k.1, k.2, since])?;
            }
        }
        let mut add = tx.prepare_cached(
            "INSERT INTO findings (domain, tld, module, testcase, level, tag, args, since) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (k, (module, level)) in &d.findings {
            if open.get(k).is_none_or(|(l, _)| l != level.as_str()) {
                add.execute(params![d.domain, run.tld, module, k.0, level.as_str(), k.1, k.2, id])?;
            }
        }
    }
    tx.prepare_cached("DELETE FROM analysis_todo WHERE run = ?1 AND seq = ?2")?.execute(params![run.id, d.seq])?;
    // A first analysis has nothing to break from: the event needs one before it.
    let Some((previous_worst, previous_zone)) = previous else { return Ok(0) };
    let kind = match (previous_worst.as_deref().is_some_and(severe), worst.is_some_and(|w| w >= Level::Error)) {
        (false, true) => Kind::DelegationBroken,
        (true, false) => Kind::DelegationFixed,
        _ => return Ok(0),
    };
    let before: BTreeSet<&str> = open.iter().filter(|(_, (l, _))| severe(l)).map(|(k, _)| k.1.as_str()).collect();
    let after: BTreeSet<&str> = d.findings.iter().filter(|(_, (_, l))| *l >= Level::Error).map(|(k, _)| k.1.as_str()).collect();
    let detail = Delegation {
        analysis: id,
        worst: worst.map(|w| w.as_str().to_string()),
        previous_worst,
        tags_added: after.difference(&before).map(|t| t.to_string()).collect(),
        tags_removed: before.difference(&after).map(|t| t.to_string()).collect(),
    };
    tx.prepare_cached("INSERT INTO events (zone, prev_zone, tld, domain, kind, at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?.execute(
        params![run.zone, previous_zone, run.tld, d.domain, kind.as_str(), run.at, serde_json::to_string(&detail).unwrap_or_default()],
    )?;
    let event = tx.last_insert_rowid();
    webhooks::enqueue_one(tx, event, &run.tld, kind, endpoints)?;
    Ok(1)
}

/// A stored level that breaks a delegation: ERROR or CRITICAL.
fn severe(level: &str) -> bool {
    level == Level::Error.as_str() || level == Level::Critical.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Finding;

    fn finding(testcase: &'static str, level: Level, tag: &'static str, ns: &str) -> Finding {
        Finding { module: "BASIC", testcase, level, tag, args: [("ns", ns.to_string())].into_iter().collect() }
    }

    fn analysis(domain: &str, findings: Vec<Finding>) -> Analysis {
        Analysis { domain: domain.into(), findings, trace: Vec::new(), elapsed: Duration::from_millis(3) }
    }

    fn run_once(conn: &mut Connection, day: &str, a: &Analysis) -> Kept {
        let run = begin(conn, "lab", 1, day, "all", std::slice::from_ref(&a.domain)).unwrap();
        let mut k = Keeper::new(conn, &run, &[]);
        k.keep(0, a).unwrap();
        k.finish().unwrap()
    }

    fn open_rows(conn: &Connection) -> Vec<(String, String, String, i64, Option<i64>)> {
        conn.prepare("SELECT tag, level, args, since, until FROM findings ORDER BY since, tag, args")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    #[test]
    fn findings_open_and_close_with_the_analyses_and_only_a_crossing_of_error_is_an_event() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = crate::store::open_rw(&dir.path().join("h.db"), Duration::from_secs(1)).unwrap();
        conn.execute("INSERT INTO zones (id, tld, source, imported_at, state) VALUES (1, 'lab', 'f', 'x', 'current')", []).unwrap();
        // A first analysis, broken already: kept, no event (nothing to break from); DEBUG not kept.
        let first =
            analysis("a.lab", vec![finding("BASIC02", Level::Error, "NS_FAILED", "ns1"), finding("BASIC02", Level::Debug, "NOISE", "ns1")]);
        let k = run_once(&mut conn, "2026-12-01T00:00:00Z", &first);
        assert_eq!((k.analyses, k.events, k.finished), (1, 0, true));
        assert_eq!(open_rows(&conn), [("NS_FAILED".into(), "ERROR".into(), r#"{"ns":"ns1"}"#.into(), 1, None)]);
        // The same finding again and a second one of the same tag: the first row stays open,
        // untouched; still broken, so no event.
        let second = analysis(
            "a.lab",
            vec![finding("BASIC02", Level::Error, "NS_FAILED", "ns1"), finding("BASIC02", Level::Error, "NS_FAILED", "ns2")],
        );
        assert_eq!(run_once(&mut conn, "2026-12-02T00:00:00Z", &second).events, 0);
        assert_eq!(open_rows(&conn).len(), 2);
        // Its level falls to WARNING: the ERROR row closes, a WARNING row opens; ns2's closes.
        // The worst level fell below ERROR: one delegation_fixed event naming the tag gone.
        let third = analysis("a.lab", vec![finding("BASIC02", Level::Warning, "NS_FAILED", "ns1")]);
        assert_eq!(run_once(&mut conn, "2026-12-03T00:00:00Z", &third).events, 1);
        let rows = open_rows(&conn);
        assert_eq!(
            rows,
            [
                ("NS_FAILED".into(), "ERROR".into(), r#"{"ns":"ns1"}"#.into(), 1, Some(3)),
                ("NS_FAILED".into(), "ERROR".into(), r#"{"ns":"ns2"}"#.into(), 2, Some(3)),
                ("NS_FAILED".into(), "WARNING".into(), r#"{"ns":"ns1"}"#.into(), 3, None),
            ]
        );
        let (kind, at, detail): (String, String, String) =
            conn.query_row("SELECT kind, at, detail FROM events", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap();
        assert_eq!((kind.as_str(), at.as_str()), ("delegation_fixed", "2026-12-03T00:00:00Z"));
        let d: Delegation = serde_json::from_str(&detail).unwrap();
        assert_eq!((d.worst.as_deref(), d.previous_worst.as_deref()), (Some("WARNING"), Some("ERROR")));
        assert_eq!((d.tags_added, d.tags_removed), (Vec::<String>::new(), vec!["NS_FAILED".to_string()]));
        let summary: (Option<String>, i64, i64) = conn
            .query_row("SELECT worst, warning, error FROM analyses WHERE id = 3", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        assert_eq!(summary, (Some("WARNING".into()), 1, 0));
    }
}
