//! Zone checks from the zone data alone: delegations, glue, DS records, TTLs.
//!
//! Each finding has a level (notice < warning < error < critical), a stable code, the domain
//! and a message, as Zonemaster's results do. One ordered pass over the version's records,
//! domain by domain, plus one query for glue that no NS record points to.

use std::collections::BTreeMap;

use crate::store;
use rusqlite::{params, Connection};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Notice,
    Warning,
    Error,
    Critical,
}

impl Level {
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "notice" => Some(Level::Notice),
            "warning" => Some(Level::Warning),
            "error" => Some(Level::Error),
            "critical" => Some(Level::Critical),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Notice => "notice",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub level: Level,
    pub code: &'static str,
    pub domain: String,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub tld: String,
    pub version: i64,
    /// Findings per level name, like Zonalizer's `summary`: all of the zone's, whatever
    /// level the list below was cut at.
    pub summary: BTreeMap<&'static str, u64>,
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether the zone has a finding at `level` or above (`--fail-on`).
    pub fn any_at(&self, level: Level) -> bool {
        [Level::Notice, Level::Warning, Level::Error, Level::Critical]
            .iter()
            .any(|l| *l >= level && self.summary.get(l.name()).is_some_and(|n| *n > 0))
    }
}

/// TTLs outside this range (seconds) are worth a look.
const TTL_RANGE: std::ops::RangeInclusive<i64> = 300..=604_800;

/// DNSSEC algorithm numbers IANA has assigned for DS/DNSKEY (RFC 8624 and later).
const KNOWN_ALGORITHMS: [u32; 14] = [1, 3, 5, 6, 7, 8, 10, 12, 13, 14, 15, 16, 17, 23];

/// Hex digits of each DS digest type: SHA-1, SHA-256, GOST R 34.11-94, SHA-384, GOST 2012, SM3.
fn digest_hex_len(t: u32) -> Option<usize> {
    match t {
        1 => Some(40),
        2 | 3 | 5 | 6 => Some(64),
        4 => Some(96),
        _ => None,
    }
}

/// Letters, digits and hyphens in labels of 1-63 octets, not starting or ending with a hyphen
/// (RFC 952/1123), the whole at most 253.
fn valid_hostname(h: &str) -> bool {
    h.len() <= 253
        && !h.is_empty()
        && h.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Checks `tld`'s current version; None when it was never imported or kept no records.
pub fn check(conn: &Connection, tld: &str, min: Level) -> rusqlite::Result<Option<Report>> {
    // One snapshot: an import may switch versions between two statements.
    let tx = conn.unchecked_transaction()?;
    let conn: &Connection = &tx;
    let Some((version, kept)) = conn
        .query_row("SELECT id, with_records FROM current_zones WHERE tld = ?1", params![tld], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? != 0))
        })
        .ok()
    else {
        return Ok(None);
    };
    if !kept {
        return Ok(None);
    }
    // Every finding is collected, so the summary counts the zone's findings whatever `min`
    // shows; the list is cut to `min` at the end.
    let mut findings = Vec::new();
    let mut add = |level: Level, code: &'static str, domain: &str, message: String| {
        findings.push(Finding { level, code, domain: domain.to_string(), message });
    };
    let mut st = conn.prepare(&format!(
        "SELECT domain, owner, type, ttl, rdata FROM records r WHERE tld = ?1 AND {} ORDER BY domain, owner, type",
        store::visible("r", "?2")
    ))?;
    let mut rows = st.query(params![tld, version])?;
    let mut group: Vec<(String, String, i64, String)> = Vec::new();
    let mut current = String::new();
    // TTLs are per RRset (RFC 2181 §5.2): one finding per (owner, type), not per record.
    let mut last_outlier: Option<(String, String)> = None;
    let flush = |domain: &str, g: &[(String, String, i64, String)], add: &mut dyn FnMut(Level, &'static str, &str, String)| {
        if domain != tld {
            check_delegation(domain, g, add);
        }
    };
    while let Some(r) = rows.next()? {
        let (domain, owner, rtype, ttl, rdata): (String, String, String, i64, String) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        if domain != current {
            flush(&current, &group, &mut add);
            group.clear();
            current = domain;
        }
        if !TTL_RANGE.contains(&ttl) && last_outlier.as_ref().is_none_or(|(o, t)| *o != owner || *t != rtype) {
            add(Level::Notice, "ttl_outlier", &current, format!("{owner} {rtype} has TTL {ttl}, outside 300-604800"));
            last_outlier = Some((owner.clone(), rtype.clone()));
        }
        group.push((owner, rtype, ttl, rdata));
    }
    flush(&current, &group, &mut add);
    // Address records below the apex that no NS record of the zone names.
    let mut st = conn.prepare(&format!(
        "SELECT DISTINCT domain, owner FROM records r WHERE tld = ?1 AND type IN ('A', 'AAAA') AND owner <> ?1 AND {}
               AND owner NOT IN (SELECT rdata FROM records n WHERE tld = ?1 AND type = 'NS' AND {}) ORDER BY domain, owner",
        store::visible("r", "?2"),
        store::visible("n", "?2")
    ))?;
    let orphans = st.query_map(params![tld, version], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    for o in orphans {
        let (domain, owner) = o?;
        add(Level::Notice, "orphan_glue", &domain, format!("address records at {owner}, which no NS record points to"));
    }
    findings.sort();
    let mut summary: BTreeMap<&'static str, u64> =
        [Level::Notice, Level::Warning, Level::Error, Level::Critical].iter().map(|l| (l.name(), 0)).collect();
    for f in &findings {
        *summary.entry(f.level.name()).or_default() += 1;
    }
    findings.retain(|f| f.level >= min);
    Ok(Some(Report { tld: tld.into(), version, summary, findings }))
}

/// One delegation's records: (owner, type, ttl, rdata).
fn check_delegation(domain: &str, g: &[(String, String, i64, String)], add: &mut dyn FnMut(Level, &'static str, &str, String)) {
    let ns: Vec<&str> = g.iter().filter(|(o, t, _, _)| o == domain && t == "NS").map(|(_, _, _, r)| r.as_str()).collect();
    if ns.len() == 1 {
        add(Level::Warning, "single_ns", domain, format!("only one name server: {}", ns[0]));
    }
    for host in &ns {
        if !valid_hostname(host) {
            add(Level::Error, "bad_ns_hostname", domain, format!("NS `{host}` is not a valid host name"));
        }
        // RFC 9471: a name server inside the delegated domain needs glue.
        let in_domain = *host == domain || host.ends_with(&format!(".{domain}"));
        if in_domain && !g.iter().any(|(o, t, _, _)| o == host && (t == "A" || t == "AAAA")) {
            add(Level::Error, "missing_glue", domain, format!("NS {host} is inside {domain} but has no A or AAAA glue"));
        }
    }
    let ds: Vec<Vec<&str>> =
        g.iter().filter(|(o, t, _, _)| o == domain && t == "DS").map(|(_, _, _, r)| r.split_whitespace().collect()).collect();
    for d in &ds {
        let (alg, dtype) = (d.get(1).and_then(|v| v.parse::<u32>().ok()), d.get(2).and_then(|v| v.parse::<u32>().ok()));
        if let Some(a) = alg.filter(|a| !KNOWN_ALGORITHMS.contains(a)) {
            add(Level::Error, "ds_unknown_alg", domain, format!("DS with unassigned algorithm {a}"));
        }
        let digest: String = d.iter().skip(3).copied().collect();
        if let Some(want) = dtype.and_then(digest_hex_len) {
            if digest.len() != want {
                add(
                    Level::Error,
                    "ds_digest_length",
                    domain,
                    format!("DS digest type {} should have {} hex digits, has {}", dtype.unwrap_or(0), want, digest.len()),
                );
            }
        }
    }
    if !ds.is_empty() && ds.iter().all(|d| d.get(2) == Some(&"1")) {
        add(Level::Notice, "ds_sha1_only", domain, "every DS record uses SHA-1 (digest type 1)".into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_and_digest_lengths() {
        assert!(valid_hostname("ns1.example.net") && valid_hostname("a-b.c"));
        assert!(!valid_hostname("ns_1.example.net") && !valid_hostname("-a.b") && !valid_hostname("a..b") && !valid_hostname("*.b"));
        assert_eq!(digest_hex_len(2), Some(64));
        assert_eq!(digest_hex_len(9), None);
        assert!(Level::Error > Level::Warning && Level::parse("NOTICE") == Some(Level::Notice));
    }
}
