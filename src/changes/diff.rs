//! What a `modified` event changed: the records at or below the domain that the new version
//! added and removed, and whether its name-server providers moved.
//!
//! Read from the history the store keeps: an import closes every current row of a changed
//! domain (`until` = the new version) and writes the new rows (`since` = it), so the diff is
//! the difference of those two sets, RRSIG, NSEC and NSEC3 left out (re-signing is no change).
//! A TTL change is the old record removed and the new one added.

use std::collections::BTreeSet;

use rusqlite::{params, Connection};
use serde::Serialize;

/// One record, canonical form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
pub struct Rec {
    pub owner: String,
    #[serde(rename = "type")]
    pub rtype: String,
    pub ttl: i64,
    pub rdata: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Diff {
    pub added: Vec<Rec>,
    pub removed: Vec<Rec>,
}

/// The providers (registrable domains of the NS hosts, by the Public Suffix List) before and
/// after: DZDB's "moved" feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Moved {
    pub from: Vec<String>,
    pub to: Vec<String>,
}

/// The records version `zone` closed (`until`) or wrote (`since`) for `domain`.
fn rows(conn: &Connection, column: &str, tld: &str, domain: &str, zone: i64) -> rusqlite::Result<BTreeSet<Rec>> {
    let sql = format!(
        "SELECT owner, type, ttl, rdata FROM records WHERE tld = ?1 AND domain = ?2 AND {column} = ?3
           AND type NOT IN ('RRSIG', 'NSEC', 'NSEC3')"
    );
    let mut st = conn.prepare_cached(&sql)?;
    let rows =
        st.query_map(params![tld, domain, zone], |r| Ok(Rec { owner: r.get(0)?, rtype: r.get(1)?, ttl: r.get(2)?, rdata: r.get(3)? }))?;
    rows.collect()
}

fn providers(recs: &BTreeSet<Rec>, domain: &str) -> BTreeSet<String> {
    recs.iter().filter(|r| r.rtype == "NS" && r.owner == domain).map(|r| crate::zone::name::provider(&r.rdata)).collect()
}

/// The diff of `domain` between `prev` and `zone` (a `modified` event's versions), and its
/// providers' move when they changed. None when either version kept no records
/// (`--no-records`): there is nothing to compare.
pub fn of(conn: &Connection, tld: &str, domain: &str, zone: i64, prev: i64) -> rusqlite::Result<Option<(Diff, Option<Moved>)>> {
    let kept: i64 =
        conn.query_row("SELECT count(*) FROM zones WHERE id IN (?1, ?2) AND with_records = 1", params![zone, prev], |r| r.get(0))?;
    if kept < 2 {
        return Ok(None);
    }
    let closed = rows(conn, "until", tld, domain, zone)?;
    let opened = rows(conn, "since", tld, domain, zone)?;
    let diff = Diff { added: opened.difference(&closed).cloned().collect(), removed: closed.difference(&opened).cloned().collect() };
    // Providers compare the NS sets of both versions, unchanged NS records included.
    let (before, after) = (providers(&closed, domain), providers(&opened, domain));
    let moved = (before != after).then(|| Moved { from: before.into_iter().collect(), to: after.into_iter().collect() });
    Ok(Some((diff, moved)))
}
