//! A page of the domains delegated to one name server, read in name order from the
//! reverse-lookup index, so a page costs its length and not the host's size.
//!
//! [`super::pairs_sql`] lists every pair of a host before SQLite can sort and cut a page: 2 s
//! for a host of 715k domains on the 10M bench zone. A host's base pairs, though, are stored in
//! name order (`ns_base` rows keyed by host and first domain), so a page walks the rows from the
//! one holding its cursor and stops when it is full. The pairs the base lost and the pairs
//! gained since are few: they are read whole and merged in.

use std::collections::{HashMap, HashSet};

use xxhash_rust::xxh3::xxh3_128;

use rusqlite::types::{Value, ValueRef};
use rusqlite::{params, Connection, OptionalExtension};

use crate::store;

/// Up to `limit` domains of zone `tld`'s version `v` delegated to the host `rhost` (labels
/// reversed), after `cursor` in name order (before it, descending, with `desc`), each with
/// the version since which it has been (the base's, for a pair the base holds: the index's
/// history reaches no further).
pub fn page(
    conn: &Connection,
    rhost: &str,
    tld: &str,
    v: i64,
    cursor: Option<&str>,
    desc: bool,
    limit: usize,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let past = |d: &str| cursor.is_none_or(|c| if desc { d < c } else { d > c });
    let base = base_version(conn, tld)?;
    let mut gained: Vec<(String, i64)> = conn
        .prepare_cached(&format!(
            "SELECT domain, since FROM ns_links l WHERE l.rhost = ?1 AND l.tld = ?2 AND l.since > ?3 AND {}",
            store::visible("l", "?4")
        ))?
        .query_map(params![rhost, tld, base, v], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .filter(|d| d.as_ref().map_or(true, |(d, _)| past(d)))
        .collect::<rusqlite::Result<_>>()?;
    gained.sort();
    if desc {
        gained.reverse();
    }
    let mut out: Vec<(String, i64)> = Vec::with_capacity(limit.min(1024));
    let mut gained = gained.into_iter().peekable();
    let push = |d: (String, i64), out: &mut Vec<(String, i64)>| {
        if out.last().map(|l| &l.0) != Some(&d.0) {
            out.push(d);
        }
    };
    if base > 0 && base <= v {
        let closed: HashSet<String> = conn
            .prepare_cached("SELECT domain FROM ns_links WHERE rhost = ?1 AND tld = ?2 AND since = ?3 AND until <= ?4")?
            .query_map(params![rhost, tld, base, v], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        // The row holding the cursor's place (or the host's start, which may sit at the end of
        // a row keyed by the host before), then the host's rows from there on. SQLite steps the
        // rows lazily: the walk reads only as far as the page needs.
        let key = cursor.unwrap_or(if desc { "\u{10ffff}" } else { "" });
        let sql = if desc {
            "SELECT rhost, pairs FROM ns_base WHERE tld = ?1 AND (rhost, first) <= (?2, ?3) ORDER BY rhost DESC, first DESC".to_string()
        } else {
            rows_from_sql("rhost <= ?2")
        };
        let mut st = conn.prepare_cached(&sql)?;
        let mut rows = st.query(params![tld, rhost, key])?;
        'rows: while let Some(r) = rows.next()? {
            let first_host: String = r.get(0)?;
            let mut mine: Option<Vec<String>> = None;
            store::each_pair_entry(r.get_ref(1)?, |h, domains| {
                if h == rhost {
                    mine = Some(domains.iter().map(|d| d.to_string()).collect());
                }
            })?;
            let Some(domains) = mine else {
                if desc && first_host.as_str() < rhost {
                    break; // before the host's first row: nothing more of it
                }
                continue;
            };
            let ordered: Box<dyn Iterator<Item = String>> =
                if desc { Box::new(domains.into_iter().rev()) } else { Box::new(domains.into_iter()) };
            for d in ordered.filter(|d| past(d) && !closed.contains(d)) {
                while let Some(g) = gained.next_if(|g| if desc { g.0 > d } else { g.0 < d }) {
                    push(g, &mut out);
                }
                push((d, base), &mut out);
                if out.len() >= limit {
                    break 'rows;
                }
            }
            if desc && first_host.as_str() < rhost {
                break;
            }
        }
    }
    for g in gained {
        if out.len() >= limit {
            break;
        }
        push(g, &mut out);
    }
    out.truncate(limit);
    Ok(out)
}

/// The base rows (`rhost`, `pairs`, `n`) of zone `?1` in key order, from the one that holds the key
/// (`?2`, `?3`) (the last keyed at or before it: a row holds consecutive hosts' pairs from its
/// key on) while `upper`, a condition on `rhost`, holds.
pub(super) fn rows_from_sql(upper: &str) -> String {
    format!(
        "WITH s AS (SELECT rhost, first FROM ns_base WHERE tld = ?1 AND (rhost, first) <= (?2, ?3) ORDER BY rhost DESC, first DESC LIMIT 1)
         SELECT rhost, pairs, n FROM ns_base
          WHERE tld = ?1 AND (rhost, first) >= (coalesce((SELECT rhost FROM s), ?2), coalesce((SELECT first FROM s), '')) AND {upper}
          ORDER BY rhost, first"
    )
}

/// The hosts of zone `tld`'s index under the provider `rprov` (labels reversed): the provider
/// itself and the names below it, in the base and among the pairs gained since. A base row
/// holds consecutive hosts' pairs from its key on, so a row followed by one keyed by the
/// same host holds that host's pairs alone, as does a row that counts its pairs (`n`): only
/// the other rows where the key's host changes are read (a provider's host of millions of
/// domains spans thousands of rows; reading each took seconds).
pub fn under(conn: &Connection, rprov: &str, tld: &str) -> rusqlite::Result<Vec<String>> {
    let mut hosts: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    let mut st = conn.prepare_cached(&rows_from_sql("rhost < ?2 || '/'"))?;
    let mut rows = st.query(params![tld, rprov, ""])?;
    // The row before (its key's host and its pairs, unless it counts them), read only once
    // the next row's key shows where its host ends.
    let mut held: Option<(String, Option<Value>)> = None;
    loop {
        let next: Option<(String, Option<Value>)> = match rows.next()? {
            Some(r) => Some((r.get(0)?, if r.get_ref(2)?.as_i64_or_null()?.is_some() { None } else { Some(r.get(1)?) })),
            None => None,
        };
        if let Some((host, pairs)) = held.take() {
            if let Some(pairs) = pairs.filter(|_| next.as_ref().is_none_or(|(h, _)| *h != host)) {
                store::each_pair_entry(ValueRef::from(&pairs), |h, _| {
                    if is_under(h, rprov) {
                        hosts.insert(h.to_string());
                    }
                })?;
            } else if is_under(&host, rprov) {
                hosts.insert(host);
            }
        }
        held = next;
        if held.is_none() {
            break;
        }
    }
    let mut st = conn.prepare_cached("SELECT DISTINCT rhost FROM ns_links WHERE rhost >= ?2 AND rhost < ?2 || '/' AND tld = ?1")?;
    for h in st.query_map(params![tld, rprov], |r| r.get::<_, String>(0))? {
        let h = h?;
        if is_under(&h, rprov) {
            hosts.insert(h);
        }
    }
    Ok(hosts.into_iter().collect())
}

/// Whether the reversed host `rhost` is the provider `rprov` (reversed) or a name below it:
/// `net.dns` and `net.dns.ns1` are, `net.dnsx` is not.
fn is_under(rhost: &str, rprov: &str) -> bool {
    rhost.strip_prefix(rprov).is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The version whose pairs zone `tld`'s base rows hold; 0 when it has none.
fn base_version(conn: &Connection, tld: &str) -> rusqlite::Result<i64> {
    let base: Option<i64> = conn.query_row("SELECT version FROM ns_bases WHERE tld = ?1", [tld], |r| r.get(0)).optional()?;
    Ok(base.unwrap_or(0))
}

/// Calls `each(host, domain)` for each pair of zone `tld`'s base whose host is the provider
/// `rprov` (labels reversed) or a name below it: one pass in Rust over the base rows from the
/// provider's first. SQL's `json_each` over the same rows spends most of its time on the
/// pairs of the hosts around it.
pub fn each_base_pair_under(conn: &Connection, rprov: &str, tld: &str, mut each: impl FnMut(&str, &str)) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(&rows_from_sql("rhost < ?2 || '/'"))?;
    let mut rows = st.query(params![tld, rprov, ""])?;
    while let Some(r) = rows.next()? {
        store::each_pair_entry(r.get_ref(1)?, |host, domains| {
            if is_under(host, rprov) {
                domains.iter().for_each(|d| each(host, d));
            }
        })?;
    }
    Ok(())
}

/// Names counted once each, by a 128-bit hash (xxh3): its top bits pick one of [`BUCKETS`]
/// lists and its low 64 are kept there, so two names count once only when 72 bits agree,
/// about 1 in 20 million for the 21.6M domains of the largest provider of the 160M zone. Each
/// list is sorted and counted at the end: appends touch memory in order and a list fits the
/// cache when it is sorted. A hash set of those 21.6M names spent most of the count on cache
/// misses and on the kernel zeroing its pages (2.5x as long; docs/PERFORMANCE.md).
pub(super) struct Distinct(Vec<Vec<u64>>);

/// How many lists [`Distinct`] spreads its hashes over: at .com scale about 90,000 (700 KiB)
/// each.
const BUCKETS: usize = 256;

impl Default for Distinct {
    fn default() -> Self {
        Distinct(vec![Vec::new(); BUCKETS])
    }
}

impl Distinct {
    pub(super) fn insert(&mut self, name: &str) {
        let h = xxh3_128(name.as_bytes());
        self.0[(h >> (128 - BUCKETS.trailing_zeros())) as usize].push(h as u64);
    }

    /// How many different names were inserted.
    pub(super) fn count(self) -> u64 {
        use rayon::prelude::*;
        self.0
            .into_par_iter()
            .map(|mut b| {
                b.sort_unstable();
                b.dedup();
                b.len() as u64
            })
            .sum()
    }
}

/// How many domains of zone `tld`'s version `v` are delegated to the provider `rprov` (labels
/// reversed) or a host below it, each counted once however many of its hosts it has: the
/// base's pairs but those closed by `v`, and the pairs gained since that `v` still holds.
/// Domains are counted in Rust ([`Distinct`]), not listed in SQL: `DISTINCT` over the pairs
/// took 7.8 s for the largest provider of the 10M bench zone (1.35M domains).
pub fn count_under(conn: &Connection, rprov: &str, tld: &str, v: i64) -> rusqlite::Result<u64> {
    let under = format!("{} AND l.tld = ?1", super::Pattern::Provider(String::new()).host_match("l.rhost"));
    let mut seen = Distinct::default();
    let base = base_version(conn, tld)?;
    if base > 0 && base <= v {
        // The base's pairs that `v` no longer holds, by host.
        let mut closed: HashMap<String, HashSet<String>> = HashMap::new();
        let mut st =
            conn.prepare_cached(&format!("SELECT rhost, domain FROM ns_links l WHERE {under} AND l.since = ?3 AND l.until <= ?4"))?;
        let mut rows = st.query(params![tld, rprov, base, v])?;
        while let Some(r) = rows.next()? {
            closed.entry(r.get(0)?).or_default().insert(r.get(1)?);
        }
        each_base_pair_under(conn, rprov, tld, |host, d| {
            if !closed.get(host).is_some_and(|c| c.contains(d)) {
                seen.insert(d);
            }
        })?;
    }
    let mut st =
        conn.prepare_cached(&format!("SELECT domain FROM ns_links l WHERE {under} AND l.since > ?3 AND {}", store::visible("l", "?4")))?;
    let mut rows = st.query(params![tld, rprov, base, v])?;
    while let Some(r) = rows.next()? {
        seen.insert(r.get_ref(0)?.as_str()?);
    }
    Ok(seen.count())
}

#[cfg(test)]
mod tests {
    use super::{is_under, Distinct};

    #[test]
    fn distinct_counts_each_name_once_however_often_it_comes() {
        let mut d = Distinct::default();
        let names: Vec<String> = (0..10_000).map(|i| format!("d{i}.example")).collect();
        for n in names.iter().chain(names.iter().step_by(3)) {
            d.insert(n);
        }
        d.insert("b\\.x");
        d.insert("b\\.x");
        assert_eq!(d.count(), 10_001);
    }

    #[test]
    fn a_host_is_under_its_provider_and_not_under_a_name_that_only_starts_the_same() {
        assert!(is_under("net.dns", "net.dns"));
        assert!(is_under("net.dns.ns1", "net.dns"));
        assert!(!is_under("net.dnsx.ns1", "net.dns"));
        assert!(!is_under("net.dn", "net.dns"));
    }
}
