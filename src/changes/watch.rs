//! Watchlists: exact domains (alert when their delegation changes or they disappear) and
//! brand terms (alert when a new domain contains the term or looks like it).
//!
//! Matching runs in the transaction that makes a version current, over that version's events
//! only (its new domains for terms), and writes `watch` events there, so they reach webhooks
//! through the same outbox. The look-alike rules, in the order they are tried for a new
//! domain's label against a term:
//!
//! 1. `punycode`: an `xn--` label decoded and folded to ASCII with [`fold_unicode`], then the
//!    rules below on the folded text;
//! 2. `extra_tld`: the term followed by a TLD word (`paypal-com`, `paypalnet`);
//! 3. `contains`: the term inside the label;
//! 4. `hyphen`: the term inside the label with its hyphens removed (`pay-pal`);
//! 5. `edit_distance`: one insertion, deletion or substitution away (`paypa`, `paypall`);
//! 6. `homoglyph`: equal after digit and letter swaps ([`skeleton`]: `0`->`o`, `1`->`l`,
//!    `rn`->`m`, ...).

use rusqlite::{params, Connection, Transaction};
use serde::Serialize;

/// ASCII look-alikes: (what appears, what it imitates). Multi-letter ones first.
const SWAPS: [(&str, &str); 16] = [
    ("rn", "m"),
    ("vv", "w"),
    ("cl", "d"),
    ("0", "o"),
    ("1", "l"),
    ("i", "l"),
    ("3", "e"),
    ("4", "a"),
    ("5", "s"),
    ("7", "t"),
    ("8", "b"),
    ("9", "g"),
    ("6", "b"),
    ("2", "z"),
    ("u", "v"),
    ("q", "g"),
];

/// Unicode letters that pass for ASCII ones (Cyrillic, Greek, Latin with marks, others).
const CONFUSABLES: [(char, char); 58] = [
    ('а', 'a'),
    ('в', 'b'),
    ('е', 'e'),
    ('ё', 'e'),
    ('к', 'k'),
    ('м', 'm'),
    ('н', 'h'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('т', 't'),
    ('у', 'y'),
    ('х', 'x'),
    ('і', 'i'),
    ('ї', 'i'),
    ('ј', 'j'),
    ('ѕ', 's'),
    ('һ', 'h'),
    ('ԁ', 'd'),
    ('ԛ', 'q'),
    ('ԝ', 'w'),
    ('α', 'a'),
    ('ο', 'o'),
    ('ν', 'v'),
    ('ρ', 'p'),
    ('τ', 't'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ı', 'i'),
    ('ɡ', 'g'),
    ('ℓ', 'l'),
    ('á', 'a'),
    ('à', 'a'),
    ('â', 'a'),
    ('ä', 'a'),
    ('ã', 'a'),
    ('å', 'a'),
    ('é', 'e'),
    ('è', 'e'),
    ('ê', 'e'),
    ('ë', 'e'),
    ('í', 'i'),
    ('ì', 'i'),
    ('î', 'i'),
    ('ï', 'i'),
    ('ó', 'o'),
    ('ò', 'o'),
    ('ô', 'o'),
    ('ö', 'o'),
    ('õ', 'o'),
    ('ú', 'u'),
    ('ù', 'u'),
    ('û', 'u'),
    ('ü', 'u'),
    ('ç', 'c'),
    ('ñ', 'n'),
    ('ý', 'y'),
    ('ÿ', 'y'),
];

/// TLD words of the `extra_tld` trick.
const TLD_WORDS: [&str; 8] = ["com", "net", "org", "co", "io", "info", "biz", "app"];

/// Unicode text folded to ASCII look-alikes; None when something stays non-ASCII.
pub fn fold_unicode(s: &str) -> Option<String> {
    s.chars().map(|c| if c.is_ascii() { Some(c) } else { CONFUSABLES.iter().find(|(u, _)| *u == c).map(|(_, a)| *a) }).collect()
}

/// The label with every ASCII look-alike replaced by what it imitates, hyphens dropped.
pub fn skeleton(s: &str) -> String {
    let mut out = s.replace('-', "");
    for (from, to) in SWAPS {
        out = out.replace(from, to);
    }
    out
}

/// Levenshtein distance, stopping early past 1 (all we ask).
fn within_one_edit(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let prefix = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        // One substitution (or none).
        short[prefix..].iter().zip(&long[prefix..]).filter(|(x, y)| x != y).count() <= 1
    } else {
        // One insertion into the shorter.
        short[prefix..] == long[prefix + 1..]
    }
}

/// The rule by which `label` (a new domain's first label) imitates `term`, if any.
pub fn look_alike(label: &str, term: &str) -> Option<&'static str> {
    if let Some(puny) = label.strip_prefix("xn--").map(|_| label) {
        let (u, r) = idna::domain_to_unicode(puny);
        let folded = r.ok().and_then(|_| fold_unicode(&u))?;
        return ascii_rule(&folded, term).map(|_| "punycode");
    }
    ascii_rule(label, term)
}

fn ascii_rule(label: &str, term: &str) -> Option<&'static str> {
    let plain = label.replace('-', "");
    if TLD_WORDS.iter().any(|t| plain.contains(&format!("{term}{t}"))) {
        return Some("extra_tld");
    }
    if label.contains(term) {
        return Some("contains");
    }
    if plain.contains(term) {
        return Some("hyphen");
    }
    if term.len() >= 4 && within_one_edit(&plain, term) {
        return Some("edit_distance");
    }
    let sk = skeleton(term);
    if skeleton(label).contains(&sk) {
        return Some("homoglyph");
    }
    None
}

/// A watchlist entry.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: i64,
    pub kind: String,
    pub value: String,
    pub created_at: String,
}

pub fn add(conn: &Connection, kind: &str, value: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "INSERT OR IGNORE INTO watch (kind, value, created_at) VALUES (?1, ?2, ?3)",
        params![kind, value, crate::time::now_utc()],
    )? > 0)
}

/// Has the new domains that match term `value` monitored for `days` days from when an import
/// finds them (`zonefeed monitor`); None stops that.
pub fn monitor_term(conn: &Connection, value: &str, days: Option<u32>) -> rusqlite::Result<()> {
    conn.execute("UPDATE watch SET monitor_days = ?2 WHERE kind = 'term' AND value = ?1", params![value, days])?;
    Ok(())
}

pub fn remove(conn: &Connection, value: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM watch WHERE value = ?1", params![value])? > 0)
}

pub fn list(conn: &Connection) -> rusqlite::Result<Vec<Entry>> {
    let mut st = conn.prepare("SELECT id, kind, value, created_at FROM watch ORDER BY kind, value")?;
    let rows = st.query_map([], |r| Ok(Entry { id: r.get(0)?, kind: r.get(1)?, value: r.get(2)?, created_at: r.get(3)? }))?;
    rows.collect()
}

/// Writes the `watch` events of `version` (zone `tld`): watched domains that changed or went,
/// and new domains that imitate a watched term; a term with `monitor_days` puts those under
/// monitoring (the `monitored` table `zonefeed monitor` checks) for that many days from now.
/// Returns how many events.
pub fn match_version(tx: &Transaction<'_>, version: i64, tld: &str) -> rusqlite::Result<u64> {
    let mut n = tx.execute(
        "INSERT INTO events (zone, prev_zone, tld, domain, kind, at, term, rule)
         SELECT e.zone, e.prev_zone, e.tld, e.domain, 'watch', e.at, w.value, 'domain_' || e.kind
           FROM events e JOIN watch w ON w.kind = 'domain' AND w.value = e.domain
          WHERE e.zone = ?1 AND e.kind IN ('added', 'removed', 'modified') ORDER BY e.id",
        params![version],
    )? as u64;
    let terms: Vec<(String, Option<i64>)> = {
        let mut st = tx.prepare("SELECT value, monitor_days FROM watch WHERE kind = 'term' ORDER BY value")?;
        let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        v
    };
    if terms.is_empty() {
        return Ok(n);
    }
    let suffix = if tld == "." { String::new() } else { format!(".{tld}") };
    let added: Vec<(String, i64, String)> = {
        let mut st = tx.prepare("SELECT domain, prev_zone, at FROM events WHERE zone = ?1 AND kind = 'added' ORDER BY id")?;
        let v = st.query_map(params![version], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<rusqlite::Result<_>>()?;
        v
    };
    let mut ins =
        tx.prepare("INSERT INTO events (zone, prev_zone, tld, domain, kind, at, term, rule) VALUES (?1, ?2, ?3, ?4, 'watch', ?5, ?6, ?7)")?;
    let mut monitor =
        tx.prepare("INSERT INTO monitored (name, tld, source, added_at, until) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING")?;
    let now = crate::time::unix_now();
    for (domain, prev, at) in &added {
        let label = domain.strip_suffix(&suffix).unwrap_or(domain);
        for (term, days) in &terms {
            if let Some(rule) = look_alike(label, term) {
                ins.execute(params![version, prev, tld, domain, at, term, rule])?;
                n += 1;
                if let Some(days) = days {
                    let until = crate::time::utc(now + days * 86_400);
                    monitor.execute(params![domain, tld, format!("term:{term}"), crate::time::utc(now), until])?;
                }
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_rules() {
        assert_eq!(look_alike("paypal", "paypal"), Some("contains"));
        assert_eq!(look_alike("secure-paypal-login", "paypal"), Some("contains"));
        assert_eq!(look_alike("pay-pal", "paypal"), Some("hyphen"));
        assert_eq!(look_alike("paypal-com", "paypal"), Some("extra_tld"));
        assert_eq!(look_alike("paypl", "paypal"), Some("edit_distance"));
        assert_eq!(look_alike("paypol", "paypal"), Some("edit_distance"));
        assert_eq!(look_alike("paypa1", "paypal"), Some("edit_distance"));
        assert_eq!(look_alike("rnicrosoft", "microsoft"), Some("homoglyph"));
        assert_eq!(look_alike("micr0s0ft", "microsoft"), Some("homoglyph"));
        let puny = idna::domain_to_ascii("pаypal").unwrap(); // Cyrillic а
        assert!(puny.starts_with("xn--"));
        assert_eq!(look_alike(&puny, "paypal"), Some("punycode"));
        for other in ["raba", "47defo", "pizza", "paper", "microscope"] {
            assert_eq!(look_alike(other, "paypal"), None, "{other}");
            assert_eq!(look_alike(other, "microsoft"), None, "{other}");
        }
    }

    #[test]
    fn one_edit() {
        assert!(
            within_one_edit("abc", "abc")
                && within_one_edit("abc", "abd")
                && within_one_edit("abc", "ab")
                && within_one_edit("abc", "abxc")
        );
        assert!(!within_one_edit("abc", "axy") && !within_one_edit("abc", "a"));
    }
}
