//! Versions of a zone: the current one, a new one begun, its rows settled or rolled back, the
//! switch that makes it current, the leftovers of an interrupted import cleaned, and `prune`,
//! the one way history is dropped. Every function takes the connection it writes on; the
//! writer thread (`writer`) fills a version's rows in between.

use rusqlite::{params, Connection, OptionalExtension};

use super::state;

/// The current version of a TLD.
#[derive(Clone)]
pub struct Current {
    pub id: i64,
    pub sha256: Option<String>,
    pub with_records: bool,
    pub serial: Option<u32>,
    /// Domains the version holds (removed ones not counted).
    pub domains: u64,
    pub imported_at: String,
    /// The day its data is for (RFC 3339, midnight UTC).
    pub zone_date: Option<String>,
    /// Unique records (0 for a `--no-records` version), malformed records skipped, bytes of text.
    pub records: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Blocks of packed comparison state it has (None: compare with its rows).
    pub state_blocks: Option<i64>,
    /// The size of the file it came from (None for a pipe).
    pub size: Option<u64>,
}

pub fn current_version(conn: &Connection, tld: &str) -> rusqlite::Result<Option<Current>> {
    conn.query_row(
        "SELECT id, sha256, with_records, serial, coalesce(domains, 0), imported_at, coalesce(records, 0), coalesce(errors, 0), coalesce(bytes, 0),
                zone_date, state_blocks, size
         FROM current_zones WHERE tld = ?1",
        params![tld],
        |r| {
            Ok(Current {
                id: r.get(0)?,
                sha256: r.get(1)?,
                with_records: r.get(2)?,
                serial: r.get(3)?,
                domains: r.get(4)?,
                imported_at: r.get(5)?,
                records: r.get(6)?,
                errors: r.get(7)?,
                bytes: r.get(8)?,
                zone_date: r.get(9)?,
                state_blocks: r.get(10)?,
                size: r.get(11)?,
            })
        },
    )
    .optional()
}

/// A version being imported, as its row starts out.
pub struct NewVersion<'a> {
    pub tld: &'a str,
    /// The file it comes from, as the user named it.
    pub source: &'a str,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub with_records: bool,
    /// The day its data is for (RFC 3339, midnight UTC).
    pub zone_date: &'a str,
}

/// Adds a version in state `importing`, which no reader sees; returns its id.
pub fn begin_version(conn: &Connection, v: &NewVersion<'_>) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO zones (tld, source, size, sha256, imported_at, state, with_records, zone_date)
         VALUES (?1, ?2, ?3, ?4, ?5, 'importing', ?6, ?7)",
        params![v.tld, v.source, v.size.map(|s| s as i64), v.sha256, crate::time::now_utc(), v.with_records, v.zone_date],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A finished download, as `downloads` keeps it for the importer (its zone date) and later
/// runs.
pub struct Download<'a> {
    pub tld: &'a str,
    pub url: &'a str,
    pub file: String,
    pub size: u64,
    pub last_modified: &'a str,
    pub sha256: &'a str,
}

/// Notes a finished download in `downloads`.
pub fn record_download(conn: &Connection, d: &Download<'_>) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO downloads (tld, url, file, size, last_modified, sha256, downloaded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![d.tld, d.url, d.file, d.size as i64, d.last_modified, d.sha256, crate::time::now_utc()],
    )?;
    Ok(())
}

/// The `Last-Modified` the latest download of these bytes (by SHA-256) recorded.
pub fn last_modified_of(conn: &Connection, sha256: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT last_modified FROM downloads WHERE sha256 = ?1 ORDER BY id DESC LIMIT 1", params![sha256], |r| r.get(0))
        .optional()
        .map(Option::flatten)
}

/// What an imported version holds, written when it becomes current.
pub struct Figures {
    pub serial: Option<u32>,
    pub records: u64,
    pub domains: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Known only now when the input was stdin.
    pub sha256: Option<String>,
    pub ds_domains: u64,
    /// Domains added, removed and modified against the version it replaces.
    pub added: u64,
    pub removed: u64,
    pub modified: u64,
    /// Blocks of packed comparison state the writer wrote (None: it wrote none that holds).
    pub state_blocks: Option<i64>,
    /// The version whose state those blocks are a delta on (None: they are a base).
    pub state_prev: Option<i64>,
}

/// Makes version `id` of `tld` the current one, in the caller's transaction: the current
/// one is `replaced`. A TLD's first version keeps NULL change counts: it was compared with
/// nothing.
pub fn switch_version(tx: &Connection, tld: &str, id: i64, f: &Figures) -> rusqlite::Result<()> {
    let compared: bool = tx.query_row("SELECT count(*) > 0 FROM current_zones WHERE tld = ?1", params![tld], |r| r.get(0))?;
    let changes = |n: u64| compared.then_some(n as i64);
    tx.execute("UPDATE zones SET state = 'replaced' WHERE tld = ?1 AND state = 'current'", params![tld])?;
    tx.execute(
        "UPDATE zones SET state = 'current', finished_at = ?2, serial = ?3, records = ?4, domains = ?5, errors = ?6, bytes = ?7,
                sha256 = coalesce(sha256, ?8), ds_domains = ?9, added = ?10, removed = ?11, modified = ?12, state_blocks = ?13,
                state_prev = ?14
         WHERE id = ?1",
        params![
            id,
            crate::time::now_utc(),
            f.serial,
            f.records as i64,
            f.domains as i64,
            f.errors as i64,
            f.bytes as i64,
            f.sha256,
            f.ds_domains as i64,
            changes(f.added),
            changes(f.removed),
            changes(f.modified),
            f.state_blocks,
            f.state_prev
        ],
    )?;
    Ok(())
}

/// The zones that have a current version, by name.
pub fn current_zones(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT tld FROM current_zones ORDER BY tld")?.query_map([], |r| r.get(0))?.collect()
}

/// Rows deleted per transaction when dropping rows no version owns.
const DELETE_BATCH: i64 = 50_000;

/// Deletes `tld`'s rows from `tables` in batches, so the WAL never has to hold a whole zone.
/// Each table is named with `key`, the column its primary key orders by first after `tld`,
/// or before it (the reverse-lookup index, whose rows of every TLD are interleaved: a cursor
/// on `key` makes the whole deletion one pass over them).
pub fn delete_tld_rows(conn: &Connection, tld: &str, tables: &[(&str, &str)]) -> rusqlite::Result<()> {
    for &(table, key) in tables {
        // NULL: from the first key (text or integer).
        let mut from = rusqlite::types::Value::Null;
        loop {
            // The key of the DELETE_BATCH-th row: everything before it goes in one transaction.
            let cut: Option<rusqlite::types::Value> = conn
                .query_row(
                    &format!("SELECT {key} FROM {table} WHERE (?3 IS NULL OR {key} >= ?3) AND tld = ?1 ORDER BY {key} LIMIT 1 OFFSET ?2"),
                    params![tld, DELETE_BATCH, from],
                    |r| r.get(0),
                )
                .optional()?;
            match cut {
                Some(c) => {
                    let n = conn.execute(
                        &format!("DELETE FROM {table} WHERE (?3 IS NULL OR {key} >= ?3) AND {key} < ?2 AND tld = ?1"),
                        params![tld, c, from],
                    )?;
                    if n == 0 {
                        // One key holds more rows than a batch: take it whole.
                        conn.execute(&format!("DELETE FROM {table} WHERE {key} = ?2 AND tld = ?1"), params![tld, c])?;
                    }
                    from = c;
                }
                None => {
                    conn.execute(&format!("DELETE FROM {table} WHERE (?2 IS NULL OR {key} >= ?2) AND tld = ?1"), params![tld, from])?;
                    break;
                }
            }
        }
    }
    Ok(())
}

/// The tables holding a TLD's records (kept only by imports with records), each with the
/// first column of its primary key.
pub const RECORD_TABLES: &[(&str, &str)] = &[
    ("rrsets", "domain"),
    ("record_groups", "name"),
    ("ns_base", "rhost"),
    ("ns_bases", "tld"),
    ("ns_links", "rhost"),
    ("glue_links", "addr"),
];
/// Names handled per transaction when a version's pending names are settled or its own rows
/// rolled back: the WAL holds one such batch at a time.
const NAMES_PER_TX: i64 = 2_000;

/// After version `zone` became current: the rows it replaced stay, closed (`until` = it), as
/// the zone's history (`prune` is the one way they go); its `pending` names are forgotten,
/// in batches.
pub fn settle(conn: &Connection, zone: i64) -> rusqlite::Result<()> {
    for_pending(conn, zone, &[])
}

/// Version `zone` never became current: drops the rows it wrote and makes the ones it
/// replaced current again, in batches.
pub fn roll_back(conn: &Connection, zone: i64) -> rusqlite::Result<()> {
    for_pending(
        conn,
        zone,
        &[
            // The index first: the records this version wrote and closed say which rows are its.
            "DELETE FROM glue_links WHERE tld = ?1 AND since = ?3 AND (addr, rhost) IN
               (SELECT rdata, zf_reversed(owner) FROM records WHERE tld = ?1 AND domain = ?2 AND type IN ('A', 'AAAA') AND since = ?3)",
            "UPDATE glue_links SET until = NULL WHERE tld = ?1 AND until = ?3 AND (addr, rhost) IN
               (SELECT rdata, zf_reversed(owner) FROM records WHERE tld = ?1 AND domain = ?2 AND type IN ('A', 'AAAA') AND until = ?3)",
            // Pairs it gained; base pairs it lost (their closing rows go); pairs it lost.
            "DELETE FROM ns_links WHERE tld = ?1 AND domain = ?2 AND since = ?3 AND rhost IN
               (SELECT zf_reversed(rdata) FROM records WHERE tld = ?1 AND domain = ?2 AND owner = ?2 AND type = 'NS' AND since = ?3)",
            "DELETE FROM ns_links WHERE tld = ?1 AND domain = ?2 AND until = ?3 AND since = (SELECT version FROM ns_bases WHERE tld = ?1)
               AND rhost IN (SELECT zf_reversed(rdata) FROM records WHERE tld = ?1 AND domain = ?2 AND owner = ?2 AND type = 'NS' AND until = ?3)",
            "UPDATE ns_links SET until = NULL WHERE tld = ?1 AND domain = ?2 AND until = ?3 AND rhost IN
               (SELECT zf_reversed(rdata) FROM records WHERE tld = ?1 AND domain = ?2 AND owner = ?2 AND type = 'NS' AND until = ?3)",
            "DELETE FROM rrsets WHERE tld = ?1 AND domain = ?2 AND since = ?3",
            "UPDATE rrsets SET until = NULL WHERE tld = ?1 AND domain = ?2 AND until = ?3",
            "DELETE FROM record_groups WHERE tld = ?1 AND name = ?2 AND since = ?3",
            "UPDATE record_groups SET until = NULL WHERE tld = ?1 AND name = ?2 AND until = ?3",
            "DELETE FROM domain_rows WHERE tld = ?1 AND name = ?2 AND since = ?3",
            "UPDATE domain_rows SET until = NULL WHERE tld = ?1 AND name = ?2 AND until = ?3",
        ],
    )
}

/// Runs `stmts` (`?1` tld, `?2` name, `?3` zone) for every name `pending` holds for `zone`,
/// then forgets them.
fn for_pending(conn: &Connection, zone: i64, stmts: &[&str]) -> rusqlite::Result<()> {
    let Some(tld): Option<String> = conn.query_row("SELECT tld FROM zones WHERE id = ?1", params![zone], |r| r.get(0)).optional()? else {
        conn.execute("DELETE FROM pending WHERE zone = ?1", params![zone])?;
        return Ok(());
    };
    loop {
        let names: Vec<String> = {
            let mut st = conn.prepare_cached("SELECT name FROM pending WHERE zone = ?1 ORDER BY name LIMIT ?2")?;
            let v = st.query_map(params![zone, NAMES_PER_TX], |r| r.get(0))?.collect::<Result<_, _>>()?;
            v
        };
        let Some(last) = names.last() else { return Ok(()) };
        let tx = conn.unchecked_transaction()?;
        for sql in stmts {
            let mut st = tx.prepare_cached(sql)?;
            for name in &names {
                st.execute(params![tld, name, zone])?;
            }
        }
        tx.execute("DELETE FROM pending WHERE zone = ?1 AND name <= ?2", params![zone, last])?;
        tx.commit()?;
    }
}

/// Puts right what interrupted imports left: versions still `importing` become `failed`, lose
/// their events and have their rows rolled back; a version that became current has its
/// pending names settled; a TLD with no current version loses the rows a cut-short first import
/// wrote; a TLD whose current version kept no records loses any records; versions that are not
/// current lose their packed state. Returns the versions marked failed.
pub fn clean_leftovers(conn: &Connection) -> rusqlite::Result<usize> {
    let ids: Vec<i64> = {
        let mut st = conn.prepare(
            "SELECT id FROM zones WHERE state = 'importing'
             UNION SELECT DISTINCT zone FROM events WHERE zone IN (SELECT id FROM zones WHERE state = 'failed')",
        )?;
        let v = st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
        v
    };
    for &id in &ids {
        conn.execute("DELETE FROM events WHERE zone = ?1", params![id])?;
        conn.execute("UPDATE zones SET state = 'failed' WHERE id = ?1 AND state = 'importing'", params![id])?;
    }
    let touched: Vec<(i64, bool)> = {
        let mut st = conn.prepare(
            "SELECT p.zone, coalesce((SELECT state IN ('current', 'replaced') FROM zones z WHERE z.id = p.zone), 0)
               FROM (SELECT DISTINCT zone FROM pending) p",
        )?;
        let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        v
    };
    for (zone, became_current) in touched {
        if became_current {
            settle(conn, zone)?;
        } else {
            roll_back(conn, zone)?;
        }
    }
    // Only a TLD that saw a failed import, or whose current version dropped its records (a
    // deletion that runs after the switch and may be cut short), can hold such rows.
    let tlds: Vec<(String, Option<bool>)> = {
        let mut st = conn.prepare(
            "SELECT f.tld, (SELECT with_records FROM current_zones c WHERE c.tld = f.tld)
               FROM (SELECT tld FROM zones WHERE state = 'failed' UNION SELECT tld FROM current_zones WHERE with_records = 0) f",
        )?;
        let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        v
    };
    for (tld, current) in tlds {
        match current {
            // No version at all: its domains go too.
            None => {
                delete_tld_rows(conn, &tld, RECORD_TABLES)?;
                delete_tld_rows(conn, &tld, &[("domain_rows", "name")])?;
            }
            Some(false) => delete_tld_rows(conn, &tld, RECORD_TABLES)?,
            Some(true) => {}
        }
    }
    state::drop_unchained(conn, None)?;
    Ok(ids.len())
}

/// What `prune` dropped.
#[derive(Debug, Default, serde::Serialize)]
pub struct Pruned {
    pub events: u64,
    pub outbox: u64,
    pub batches: u64,
    pub versions: u64,
    pub downloads: u64,
    /// Rows of domains removed before the cutoff.
    pub removed_domains: u64,
    /// History: records, domain and group rows that versions before the cutoff replaced.
    pub history_rows: u64,
    /// Name-server hosts no `rrsets` row names any more (see [`super::CORE`]).
    pub hosts: u64,
    /// Nothing was changed: the counts are what a prune would remove.
    pub dry_run: bool,
}

/// Drops history recorded before `cutoff` (RFC 3339 UTC): events no webhook still waits for,
/// delivered outbox rows and batches, replaced or failed versions no kept event refers to,
/// download records other than each zone's latest, and the rows of domains removed before it.
/// Current versions are never touched, nor the versions whose packed state a current one's
/// builds on (see [`state`]). `dry_run` counts the same rows in a transaction it then
/// rolls back, so what it prints is exactly what a real prune would remove.
pub fn prune(conn: &Connection, cutoff: &str, dry_run: bool) -> rusqlite::Result<Pruned> {
    let tx = conn.unchecked_transaction()?;
    let mut p = Pruned {
        dry_run,
        outbox: tx.execute("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?1", params![cutoff])? as u64,
        batches: tx.execute("DELETE FROM webhook_batches WHERE delivered_at IS NOT NULL AND delivered_at < ?1", params![cutoff])? as u64,
        ..Default::default()
    };
    p.events = tx
        .execute("DELETE FROM events WHERE at < ?1 AND id NOT IN (SELECT event FROM outbox WHERE delivered_at IS NULL)", params![cutoff])?
        as u64;
    let old: Vec<i64> = {
        let mut st = tx.prepare(
            "SELECT id FROM zones WHERE state IN ('replaced', 'failed') AND coalesce(finished_at, imported_at) < ?1
               AND id NOT IN (SELECT zone FROM events WHERE zone IS NOT NULL)
               AND id NOT IN (SELECT prev_zone FROM events WHERE prev_zone IS NOT NULL)
               AND id NOT IN (SELECT zone FROM pending)
               AND state_blocks IS NULL",
        )?;
        let v = st.query_map(params![cutoff], |r| r.get(0))?.collect::<Result<_, _>>()?;
        v
    };
    for id in &old {
        tx.execute("DELETE FROM zones WHERE id = ?1", params![id])?;
    }
    p.versions = old.len() as u64;
    p.downloads = tx.execute(
        "DELETE FROM downloads WHERE downloaded_at < ?1 AND id NOT IN (SELECT max(id) FROM downloads GROUP BY tld)",
        params![cutoff],
    )? as u64;
    p.removed_domains = tx
        .execute("DELETE FROM domain_rows WHERE removed_ts IS NOT NULL AND removed_ts < unixepoch(?1) AND until IS NULL", params![cutoff])?
        as u64;
    // History rows closed by versions that became current before the cutoff.
    // A base pair's closing row stays: without it the base would show the pair open.
    p.history_rows += tx.execute(
        "DELETE FROM ns_links WHERE until IS NOT NULL AND since <> coalesce((SELECT version FROM ns_bases b WHERE b.tld = ns_links.tld), -1)
           AND until IN (SELECT id FROM zones WHERE state IN ('current', 'replaced') AND coalesce(finished_at, imported_at) < ?1)",
        params![cutoff],
    )? as u64;
    for table in ["rrsets", "domain_rows", "record_groups", "glue_links"] {
        p.history_rows += tx.execute(
            &format!(
                "DELETE FROM {table} WHERE until IS NOT NULL AND until IN
                   (SELECT id FROM zones WHERE state IN ('current', 'replaced') AND coalesce(finished_at, imported_at) < ?1)"
            ),
            params![cutoff],
        )? as u64;
    }
    // The hosts only the rows just dropped named (or an import that failed added). One pass
    // over the NS sets, as the deletes above are over their tables.
    p.hosts = tx.execute(
        "DELETE FROM hosts WHERE id NOT IN (SELECT r.value FROM rrsets s, json_each(s.rdata) r WHERE s.type = 'NS' AND r.type = 'integer')",
        [],
    )? as u64;
    // History views say where what is left begins.
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ('pruned_before', ?1)
           ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        params![cutoff],
    )?;
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(p)
}
