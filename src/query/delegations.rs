//! What live analysis takes from the imported zones: which delegations to analyse (the day's
//! new and changed ones, those changed since a date, or all), and a zone's own name servers
//! with the addresses the imported zones give them, where resolution starts instead of the
//! root (`analyze` skips the root and TLD steps for a zone it holds).

use rusqlite::{params, Connection};

/// The apex NS names of the current version of `tld`, each with the A and AAAA addresses any
/// current zone holds for it (none when no imported zone does: resolution finds them).
pub fn apex(conn: &Connection, tld: &str) -> rusqlite::Result<Vec<(String, Vec<String>)>> {
    let mut ns = conn.prepare_cached("SELECT rdata FROM current_records WHERE tld = ?1 AND domain = ?1 AND owner = ?1 AND type = 'NS'")?;
    let names: Vec<String> = ns.query_map(params![tld], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let mut addr = conn.prepare_cached(
        "SELECT rdata FROM current_records WHERE tld = ?1 AND domain = ?2 AND owner = ?3 AND type IN ('A', 'AAAA') ORDER BY rdata",
    )?;
    let mut out = Vec::new();
    for name in names {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        // Stored under the zone of its last label, in the domain of its last two.
        let labels: Vec<&str> = name.rsplitn(3, '.').collect();
        let ips: Vec<String> = match labels[..] {
            [t, d, ..] => addr.query_map(params![t, format!("{d}.{t}"), name], |r| r.get(0))?.collect::<Result<_, _>>()?,
            _ => Vec::new(),
        };
        out.push((name, ips));
    }
    Ok(out)
}

/// The current version of `tld` and the time it speaks for (its zone date, else when it was
/// imported; RFC 3339 UTC), as its change events have it.
pub fn version(conn: &Connection, tld: &str) -> rusqlite::Result<Option<(i64, String)>> {
    use rusqlite::OptionalExtension;
    conn.query_row("SELECT id, coalesce(zone_date, imported_at) FROM current_zones WHERE tld = ?1", params![tld], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

/// Which delegations of a zone to analyse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Those the current version added or modified (the daily run).
    Latest,
    /// Those added or modified at or after this RFC 3339 UTC time, still delegated now.
    ChangedSince(String),
    /// Every current one.
    All,
}

impl Pick {
    /// As a run keeps it (`analysis_runs.pick`).
    pub fn describe(&self) -> String {
        match self {
            Pick::Latest => "latest".into(),
            Pick::ChangedSince(t) => format!("changed-since {t}"),
            Pick::All => "all".into(),
        }
    }
}

/// The delegations of `tld` that `pick` names, in name order, at most `limit`. A zone's first
/// version has no change events (it has nothing to differ from): the day's new ones are then
/// all of them.
pub fn pick(conn: &Connection, tld: &str, pick: &Pick, limit: Option<usize>) -> rusqlite::Result<Vec<String>> {
    let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let versions: i64 =
        conn.query_row("SELECT count(*) FROM zones WHERE tld = ?1 AND state IN ('current', 'replaced')", params![tld], |r| r.get(0))?;
    let (sql, since) = match pick {
        Pick::Latest if versions > 1 => (
            "SELECT DISTINCT e.domain FROM events e JOIN current_zones z ON z.id = e.zone
              WHERE e.tld = ?1 AND e.kind IN ('added', 'modified') ORDER BY e.domain LIMIT ?3",
            None,
        ),
        Pick::All | Pick::Latest => ("SELECT name FROM current_domains WHERE tld = ?1 ORDER BY name LIMIT ?3", None),
        // `last_changed` is the zone date of a domain's newest change, its arrival included.
        Pick::ChangedSince(t) => {
            ("SELECT name FROM current_domains WHERE tld = ?1 AND last_changed >= ?2 ORDER BY name LIMIT ?3", Some(t.as_str()))
        }
    };
    let mut st = conn.prepare(sql)?;
    let rows = st.query_map(params![tld, since, limit], |r| r.get(0))?;
    rows.collect()
}
