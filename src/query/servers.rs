//! A zone's own name servers as the imported zone files say, with the addresses the imported
//! zones give them: where live analysis starts instead of the root (`analyze` skips the
//! root and TLD steps for a zone it holds).

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
