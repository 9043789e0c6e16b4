//! Figures over time, for the web page's charts and feeds: a zone's domains and changes per
//! version, a name server's or provider's domains per day with the domains it gained and lost,
//! and a zone's changes of one day.
//!
//! Each reads only what a version stored about itself (`zones`), one version's events, or the
//! reverse-lookup index of the hosts asked for: never every domain of a zone.

use std::collections::{BTreeMap, HashMap, HashSet};

use rusqlite::{params, Connection};
use serde::Serialize;

use super::{host, pair_counts_sql, Pattern};
use crate::changes::{self, Event, Kind};

/// One version of a zone.
#[derive(Debug, Serialize)]
pub struct ZonePoint {
    pub version: i64,
    /// The day its data is for (`YYYY-MM-DD`).
    pub date: String,
    pub imported_at: String,
    pub domains: i64,
    /// The version's events; None for a zone's first version, which had nothing to compare with.
    pub added: Option<i64>,
    pub removed: Option<i64>,
    pub modified: Option<i64>,
    /// Domains with DS records, and their share of the domains; None where not known (a version
    /// imported before schema 10 without its records kept).
    pub ds_domains: Option<i64>,
    pub ds_share: Option<f64>,
}

/// Every version of `tld` that became current, oldest first; None when it was never imported.
pub fn zone(conn: &Connection, tld: &str) -> rusqlite::Result<Option<Vec<ZonePoint>>> {
    let mut st = conn.prepare(
        "SELECT id, substr(coalesce(zone_date, imported_at), 1, 10), coalesce(finished_at, imported_at), coalesce(domains, 0),
                added, removed, modified, ds_domains
           FROM zones WHERE tld = ?1 AND state IN ('current', 'replaced') ORDER BY id",
    )?;
    let points: Vec<ZonePoint> = st
        .query_map(params![tld], |r| {
            let domains: i64 = r.get(3)?;
            let ds: Option<i64> = r.get(7)?;
            Ok(ZonePoint {
                version: r.get(0)?,
                date: r.get(1)?,
                imported_at: r.get(2)?,
                domains,
                added: r.get(4)?,
                removed: r.get(5)?,
                modified: r.get(6)?,
                ds_domains: ds,
                ds_share: ds.filter(|_| domains > 0).map(|n| n as f64 / domains as f64),
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(if points.is_empty() { None } else { Some(points) })
}

/// A name server's or provider's domains on one day, over the zones that have it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct DayCount {
    pub date: String,
    pub domains: u64,
    pub gained: u64,
    pub lost: u64,
}

/// A domain that gained or lost a name server (or every host of a provider).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Delegation {
    pub date: String,
    pub tld: String,
    pub domain: String,
    /// `gained` or `lost`.
    pub kind: &'static str,
}

/// What the index tells of a host or provider over time.
#[derive(Debug, Default)]
pub struct Served {
    /// Per zone date, oldest first.
    pub days: Vec<DayCount>,
    /// Newest first, by domain within a day.
    pub changes: Vec<Delegation>,
}

/// The domains delegated to `p` (a [`Pattern::Ns`] or [`Pattern::Provider`]) per zone date,
/// and the domains that gained or lost it, from each zone's base on.
///
/// Each zone's base pairs are counted once, then its later pairs opened and closed are
/// replayed version by version. A domain counts once however many of a provider's hosts it
/// has, and moving between two of them is neither a gain nor a loss. Cost grows with the
/// domains the host or provider ever served, not with the zone.
pub fn served(conn: &Connection, p: &Pattern) -> rusqlite::Result<Served> {
    let (Pattern::Ns(h) | Pattern::Provider(h)) = p else { return Ok(Served::default()) };
    let rhost = crate::zone::name::reversed(h);
    let single = matches!(p, Pattern::Ns(_));
    let tx = conn.unchecked_transaction()?;
    let bases: Vec<(String, i64)> = tx
        .prepare("SELECT tld, version FROM ns_bases ORDER BY tld")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    // Per date, each zone's count that day (its last version of the day).
    let mut per_day: BTreeMap<String, HashMap<String, u64>> = BTreeMap::new();
    let mut moves: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut changes = Vec::new();
    for (tld, base) in bases {
        let versions: Vec<(i64, String)> = tx
            .prepare(
                "SELECT id, substr(coalesce(zone_date, imported_at), 1, 10) FROM zones
                  WHERE tld = ?1 AND id >= ?2 AND state IN ('current', 'replaced') ORDER BY id",
            )?
            .query_map(params![tld, base], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if versions.is_empty() {
            continue;
        }
        let mut steps = link_steps(&tx, p, &tld, &rhost, base)?;
        // The base's domains, counted, and the hosts each domain that changes later has in
        // the base. A single host is one pair per domain: its base needs counting only.
        let (mut count, mut hosts) = if single {
            let sql = pair_counts_sql(&|c| p.host_match(c), &p.host_ranges(), "?1", "?3");
            (tx.prepare_cached(&sql)?.query_row(params![tld, rhost, base], |r| r.get::<_, i64>(0))? as u64, HashMap::new())
        } else {
            let changing: HashSet<&str> = steps.values().flat_map(|s| s.keys().map(String::as_str)).collect();
            let (n, hosts) = provider_base(&tx, &rhost, &tld, &changing)?;
            (n, hosts.into_iter().map(|(d, n)| (d.to_string(), n)).collect::<HashMap<String, i64>>())
        };
        for (version, date) in versions {
            let (mut gained, mut lost) = (0, 0);
            if version > base {
                for (domain, n) in take_due(&mut steps, version) {
                    // A single host's pairs open and close one at a time: the net says it all.
                    let before = if single { i64::from(n < 0) } else { hosts.get(&domain).copied().unwrap_or(0) };
                    let after = before + n;
                    if !single {
                        hosts.insert(domain.clone(), after);
                    }
                    let kind = match (before > 0, after > 0) {
                        (false, true) => "gained",
                        (true, false) => "lost",
                        _ => continue,
                    };
                    if kind == "gained" {
                        gained += 1;
                        count += 1;
                    } else {
                        lost += 1;
                        count -= 1;
                    }
                    changes.push(Delegation { date: date.clone(), tld: tld.clone(), domain, kind });
                }
            }
            per_day.entry(date.clone()).or_default().insert(tld.clone(), count);
            let m = moves.entry(date).or_default();
            m.0 += gained;
            m.1 += lost;
        }
    }
    // A zone counts on the days after its last version of them too, until it has a newer one.
    let mut last: HashMap<String, u64> = HashMap::new();
    let mut days = Vec::new();
    for (date, zones) in per_day {
        last.extend(zones);
        let (gained, lost) = moves.get(&date).copied().unwrap_or_default();
        days.push(DayCount { domains: last.values().sum(), date, gained, lost });
    }
    changes.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| (&a.tld, &a.domain).cmp(&(&b.tld, &b.domain))));
    Ok(Served { days, changes })
}

/// The pairs of zone `tld` matching `p` opened (+1) and closed (-1) after its base version,
/// per domain, by version. A row whose `since` is the base closes a base pair, which the base
/// counts already.
fn link_steps(tx: &Connection, p: &Pattern, tld: &str, rhost: &str, base: i64) -> rusqlite::Result<BTreeMap<i64, HashMap<String, i64>>> {
    let mut steps: BTreeMap<i64, HashMap<String, i64>> = BTreeMap::new();
    let mut st =
        tx.prepare_cached(&format!("SELECT domain, since, until FROM ns_links l WHERE {} AND l.tld = ?1", p.host_match("l.rhost")))?;
    let mut rows = st.query(params![tld, rhost])?;
    while let Some(r) = rows.next()? {
        let (domain, since, until): (String, i64, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?);
        if since > base {
            *steps.entry(since).or_default().entry(domain.clone()).or_default() += 1;
        }
        if let Some(u) = until {
            *steps.entry(u).or_default().entry(domain).or_default() -= 1;
        }
    }
    Ok(steps)
}

/// The net change per domain of the steps up to `version`, taken out of `steps`. Steps of
/// versions that never became current (a failed import's were rolled back) fall between the
/// listed ones and are taken with the next.
fn take_due(steps: &mut BTreeMap<i64, HashMap<String, i64>>, version: i64) -> HashMap<String, i64> {
    let due: Vec<i64> = steps.range(..=version).map(|(v, _)| *v).collect();
    let mut net: HashMap<String, i64> = HashMap::new();
    for v in due {
        for (d, n) in steps.remove(&v).unwrap_or_default() {
            *net.entry(d).or_default() += n;
        }
    }
    net
}

/// The domains zone `tld`'s base delegates to the provider `rprov` (labels reversed), counted
/// once however many of its hosts each has, and how many of them each domain of `changing`
/// has. Domains are counted as [`host::count_under`] counts them ([`host::Distinct`]).
fn provider_base<'a>(
    conn: &Connection,
    rprov: &str,
    tld: &str,
    changing: &HashSet<&'a str>,
) -> rusqlite::Result<(u64, HashMap<&'a str, i64>)> {
    let mut seen = host::Distinct::default();
    let mut hosts: HashMap<&'a str, i64> = HashMap::new();
    host::each_base_pair_under(conn, rprov, tld, |_, d| {
        seen.insert(d);
        if let Some(c) = changing.get(d) {
            *hosts.entry(c).or_default() += 1;
        }
    })?;
    Ok((seen.count(), hosts))
}

/// Which of a day's events a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedKind {
    Added,
    Removed,
    Modified,
    /// Modified events whose name-server providers changed.
    Moved,
}

impl FeedKind {
    pub fn parse(s: &str) -> Option<FeedKind> {
        match s {
            "added" => Some(FeedKind::Added),
            "removed" => Some(FeedKind::Removed),
            "modified" => Some(FeedKind::Modified),
            "moved" => Some(FeedKind::Moved),
            _ => None,
        }
    }
}

/// An event of a day's feed, with the watchlist rules it hit.
#[derive(Debug, Serialize)]
pub struct FeedItem {
    #[serde(flatten)]
    pub event: Event,
    pub watch: Vec<WatchHit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WatchHit {
    pub term: Option<String>,
    pub rule: Option<String>,
}

/// How many modified events a moved feed reads at a time to find its page.
const MOVED_SCAN: usize = 512;

/// `kind` events (every kind but watch hits with None: the whole day) of `tld`'s versions
/// dated `date` (`YYYY-MM-DD`), after event `after`, at most `limit` (all with None), by event
/// id; None when no version of the zone is of that day.
pub fn feed(
    conn: &Connection,
    tld: &str,
    date: &str,
    kind: Option<FeedKind>,
    after: i64,
    limit: Option<usize>,
) -> rusqlite::Result<Option<Vec<FeedItem>>> {
    let tx = conn.unchecked_transaction()?;
    let versions: Vec<i64> = tx
        .prepare(
            "SELECT id FROM zones WHERE tld = ?1 AND substr(coalesce(zone_date, imported_at), 1, 10) = ?2
                AND state IN ('current', 'replaced') ORDER BY id",
        )?
        .query_map(params![tld, date], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if versions.is_empty() {
        return Ok(None);
    }
    let ev_kind = kind.map(|k| match k {
        FeedKind::Added => Kind::Added,
        FeedKind::Removed => Kind::Removed,
        FeedKind::Modified | FeedKind::Moved => Kind::Modified,
    });
    let moved = kind == Some(FeedKind::Moved);
    let mut out: Vec<Event> = Vec::new();
    for v in &versions {
        let mut cursor = after;
        loop {
            let want = limit.map(|l| l.saturating_sub(out.len()));
            if want == Some(0) {
                break;
            }
            let batch = if moved { want.map(|w| w.max(MOVED_SCAN)) } else { want };
            let filter = changes::Filter {
                tld: Some(tld.to_string()),
                kind: ev_kind,
                version: Some(*v),
                after_id: Some(cursor),
                limit: batch,
                diffs: !matches!(kind, Some(FeedKind::Added | FeedKind::Removed)),
                ..Default::default()
            };
            let got = changes::list(&tx, &filter)?;
            let Some(last) = got.last().map(|e| e.id) else { break };
            let read = got.len();
            for e in got {
                if !moved || e.moved.is_some() {
                    out.push(e);
                    if limit.is_some_and(|l| out.len() >= l) {
                        break;
                    }
                }
            }
            cursor = last;
            if batch.is_none_or(|b| read < b) {
                break;
            }
        }
    }
    // Watch hits of the same versions, by domain.
    let mut hits: HashMap<(Option<i64>, String), Vec<WatchHit>> = HashMap::new();
    for v in &versions {
        let filter = changes::Filter { tld: Some(tld.to_string()), kind: Some(Kind::Watch), version: Some(*v), ..Default::default() };
        for e in changes::list(&tx, &filter)? {
            hits.entry((e.zone_version, e.domain)).or_default().push(WatchHit { term: e.term, rule: e.rule });
        }
    }
    Ok(Some(
        out.into_iter()
            .map(|e| FeedItem { watch: hits.get(&(e.zone_version, e.domain.clone())).cloned().unwrap_or_default(), event: e })
            .collect(),
    ))
}
