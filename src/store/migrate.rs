//! The migration ladder: a database of an older schema brought to [`SCHEMA_VERSION`], one
//! step a schema, in order, each a function of its own (as rusqlite_migration and refinery
//! keep them). The tables of the newest schema are created before the ladder runs (every
//! `CREATE` is `IF NOT EXISTS`), so a step changes only what was there: it adds columns,
//! rebuilds a table whose constraints changed, or fills in what older versions lacked.
//! The store's tests upgrade databases of schemas 5, 6, 8, 9 and 12.

use rusqlite::{params, Connection};

use std::collections::{BTreeMap, HashMap};

use super::{add_column, has_column, links, pruned_before, visible, CORE, DOMAINS_V19, RECORDS_V12, SCHEMA_VERSION};

/// What the steps need to know of the database as it was, read once before the first.
struct Old {
    /// `records` is a table (before schema 13), not already the view over `rrsets`.
    records_table: bool,
    /// `records` has a `zone` column (before schema 7: a row per record and version).
    versioned: bool,
}

/// One step: brings a database below schema `to` up to it.
struct Step {
    to: i64,
    run: fn(&Connection, &Old) -> rusqlite::Result<()>,
}

/// Every step, in schema order. Schemas 3, 4 and 5 only added tables (`downloads`, the webhook
/// outbox, `service_runs`), which the `CREATE`s make; schema 14 only the view `current_zones`,
/// which `VIEWS` makes after the ladder.
const STEPS: &[Step] = &[
    Step { to: 2, run: removed_at },
    Step { to: 6, run: watch_events },
    Step { to: 7, run: current_rows_only },
    Step { to: 8, run: zone_dates },
    Step { to: 9, run: reverse_index },
    Step { to: 10, run: figures },
    Step { to: 11, run: packed_state },
    Step { to: 12, run: state_chains },
    Step { to: 13, run: rrsets },
    Step { to: 14, run: current_zones_view },
    Step { to: 15, run: delegation_events },
    Step { to: 16, run: zonalizer_table },
    Step { to: 17, run: live_events },
    Step { to: 18, run: registration_events },
    Step { to: 19, run: names_once },
    Step { to: 20, run: dates_as_seconds },
    Step { to: 21, run: pair_counts },
];

/// Runs the steps above schema `from` (below [`SCHEMA_VERSION`]), then records the new version.
pub(super) fn run(conn: &Connection, from: i64) -> rusqlite::Result<()> {
    conn.execute_batch("DROP VIEW IF EXISTS current_domains; DROP VIEW IF EXISTS current_records; DROP VIEW IF EXISTS current_zones;")?;
    // Since schema 20 `domains` is a view too (before, the table the steps below rebuild).
    if !is_table(conn, "domains")? {
        conn.execute_batch("DROP VIEW IF EXISTS domains;")?;
    }
    // Below schema 13 `records` is a table, which the steps read or rebuild: created empty for
    // a database that never had one. (A database whose `records` is the view already keeps it.)
    conn.execute_batch(RECORDS_V12)?;
    let records_table = is_table(conn, "records")?;
    let old = Old { records_table, versioned: records_table && has_column(conn, "records", "zone")? };
    for step in STEPS.iter().filter(|s| from < s.to) {
        (step.run)(conn, &old)?;
    }
    conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema_version'", params![SCHEMA_VERSION.to_string()])?;
    Ok(())
}

/// Schema 14: reads name the current versions through the view `current_zones`, which
/// `VIEWS` creates after the ladder, as it does every view; no table changes.
fn current_zones_view(_: &Connection, _: &Old) -> rusqlite::Result<()> {
    Ok(())
}

/// Schema 15: delegation events (`delegation_broken`, `delegation_fixed`) with their
/// `detail`; the analysis tables are new, made by their `CREATE`s. The CHECK changes: the
/// table is rebuilt, ids kept.
fn delegation_events(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE events_v15 (
             id INTEGER PRIMARY KEY, zone INTEGER NOT NULL, prev_zone INTEGER NOT NULL, tld TEXT NOT NULL, domain TEXT NOT NULL,
             kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified', 'watch', 'delegation_broken', 'delegation_fixed')),
             at TEXT NOT NULL, term TEXT, rule TEXT, detail TEXT);
         INSERT INTO events_v15 (id, zone, prev_zone, tld, domain, kind, at, term, rule)
             SELECT id, zone, prev_zone, tld, domain, kind, at, term, rule FROM events;
         DROP TABLE events;
         ALTER TABLE events_v15 RENAME TO events;
         CREATE INDEX IF NOT EXISTS events_zone ON events (zone, domain, kind);
         COMMIT;",
    )
}

/// Schema 17: monitoring's events (`dns_changed`, `dns_gone`, `armed`) belong to no zone
/// version: `zone` and `prev_zone` may be NULL. The table is rebuilt, ids kept; the monitor's
/// tables are new, made by their `CREATE`s; a watched term may put its hits under monitoring
/// (`watch.monitor_days`).
fn live_events(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    add_column(conn, "watch", "monitor_days", "INTEGER")?;
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE events_v17 (
             id INTEGER PRIMARY KEY, zone INTEGER, prev_zone INTEGER, tld TEXT NOT NULL, domain TEXT NOT NULL,
             kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified', 'watch', 'delegation_broken', 'delegation_fixed',
                                                'dns_changed', 'dns_gone', 'armed')),
             at TEXT NOT NULL, term TEXT, rule TEXT, detail TEXT);
         INSERT INTO events_v17 SELECT id, zone, prev_zone, tld, domain, kind, at, term, rule, detail FROM events;
         DROP TABLE events;
         ALTER TABLE events_v17 RENAME TO events;
         CREATE INDEX IF NOT EXISTS events_zone ON events (zone, domain, kind);
         CREATE INDEX IF NOT EXISTS events_live ON events (domain, id) WHERE zone IS NULL;
         COMMIT;",
    )
}

/// Schema 18: registration events from RDAP (`registrar_changed`, `status_changed`,
/// `expiring`), a monitored domain's RDAP schedule; `registrations` and `rdap_bootstrap` are
/// new, made by their `CREATE`s. The CHECK changes: the table is rebuilt, ids kept.
fn registration_events(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    for (column, decl) in [
        ("rdap_at", "TEXT"),
        ("rdap_next", "TEXT"),
        ("rdap_wanted", "INTEGER NOT NULL DEFAULT 0"),
        ("rdap_error", "TEXT"),
        ("rdap_expiring", "TEXT"),
    ] {
        add_column(conn, "monitored", column, decl)?;
    }
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE events_v18 (
             id INTEGER PRIMARY KEY, zone INTEGER, prev_zone INTEGER, tld TEXT NOT NULL, domain TEXT NOT NULL,
             kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified', 'watch', 'delegation_broken', 'delegation_fixed',
                                                'dns_changed', 'dns_gone', 'armed',
                                                'registrar_changed', 'status_changed', 'expiring')),
             at TEXT NOT NULL, term TEXT, rule TEXT, detail TEXT);
         INSERT INTO events_v18 SELECT id, zone, prev_zone, tld, domain, kind, at, term, rule, detail FROM events;
         DROP TABLE events;
         ALTER TABLE events_v18 RENAME TO events;
         CREATE INDEX IF NOT EXISTS events_zone ON events (zone, domain, kind);
         CREATE INDEX IF NOT EXISTS events_live ON events (domain, id) WHERE zone IS NULL;
         COMMIT;",
    )
}

/// Schema 16: the Zonalizer API's analyses, a new table its `CREATE` makes.
fn zonalizer_table(_: &Connection, _: &Old) -> rusqlite::Result<()> {
    Ok(())
}

/// Schema 2: removed domains are kept (`removed_at`) and changes recorded (`events`).
fn removed_at(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    conn.execute_batch("ALTER TABLE domains ADD COLUMN removed_at TEXT;")
}

/// Schema 6: watch events (kind `watch`, with term and rule). SQLite cannot change a CHECK in
/// place: the table is rebuilt, ids kept.
fn watch_events(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE events_v6 (
             id INTEGER PRIMARY KEY, zone INTEGER NOT NULL, prev_zone INTEGER NOT NULL, tld TEXT NOT NULL,
             domain TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified', 'watch')),
             at TEXT NOT NULL, term TEXT, rule TEXT);
         INSERT INTO events_v6 (id, zone, prev_zone, tld, domain, kind, at) SELECT id, zone, prev_zone, tld, domain, kind, at FROM events;
         DROP TABLE events;
         ALTER TABLE events_v6 RENAME TO events;
         CREATE INDEX IF NOT EXISTS events_zone ON events (zone, domain, kind);
         COMMIT;",
    )
}

/// Schema 7: no version column; rows of the current versions are kept.
fn current_rows_only(conn: &Connection, old: &Old) -> rusqlite::Result<()> {
    if !old.versioned {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN;
         ALTER TABLE records RENAME TO records_v6;
         ALTER TABLE domains RENAME TO domains_v6;
         {DOMAINS_V19}
         {CORE}
         {RECORDS_V12}
         INSERT INTO records SELECT r.tld, r.domain, r.owner, r.type, r.ttl, r.rdata, r.zone, NULL
           FROM records_v6 r JOIN zones z ON z.id = r.zone AND z.state = 'current';
         INSERT INTO domains SELECT d.tld, d.name, d.hash, NULL, d.first_seen,
                CASE WHEN d.removed_at IS NULL THEN NULL ELSE d.last_seen END, d.last_changed, d.removed_at, d.zone, NULL
           FROM domains_v6 d JOIN zones z ON z.id = d.zone AND z.state = 'current';
         DROP TABLE records_v6;
         DROP TABLE domains_v6;
         COMMIT;"
    ))
}

/// Schema 8: each version's zone date (the day its data is for); versions imported before it
/// get their import day.
fn zone_dates(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    if add_column(conn, "zones", "zone_date", "TEXT")? {
        conn.execute_batch("UPDATE zones SET zone_date = substr(imported_at, 1, 10) || 'T00:00:00Z';")?;
    }
    Ok(())
}

/// Schema 9: the reverse-lookup index, for the current versions (history before the upgrade is
/// not in it).
fn reverse_index(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    index_current(conn)
}

/// Schema 10: each version's domains with DS and its events by kind, for the figures over time
/// (reading them from the records and events would scan the zone).
fn figures(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    for column in ["ds_domains", "added", "removed", "modified"] {
        add_column(conn, "zones", column, "INTEGER")?;
    }
    count_ds_domains(conn)?;
    // A zone's first version compared with nothing: its counts stay NULL.
    conn.execute_batch(
        "UPDATE zones SET added = (SELECT count(*) FROM events e WHERE e.zone = zones.id AND e.kind = 'added'),
                          removed = (SELECT count(*) FROM events e WHERE e.zone = zones.id AND e.kind = 'removed'),
                          modified = (SELECT count(*) FROM events e WHERE e.zone = zones.id AND e.kind = 'modified')
          WHERE state IN ('current', 'replaced')
            AND EXISTS (SELECT 1 FROM zones p WHERE p.tld = zones.tld AND p.id < zones.id AND p.state IN ('current', 'replaced'));",
    )
}

/// Schema 11: packed comparison state (`state_blocks`, created with the tables). Versions
/// before it have none: the next import compares with their rows.
fn packed_state(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    add_column(conn, "zones", "state_blocks", "INTEGER").map(drop)
}

/// Schema 12: packed state in chains, a base and the deltas after it (`state_prev`). Every
/// version's blocks so far are a whole state: a base.
fn state_chains(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    add_column(conn, "zones", "state_prev", "INTEGER").map(drop)
}

/// Schema 13: an RRset per row (`rrsets`, created with the tables). A version replaced a
/// group's records together, so the rows of one RRset and `since` share their `until`; should
/// they not, the set stays open while any of them did. The grouping gives an RRset one TTL,
/// its lowest (RFC 2181 §5.2): so does this.
fn rrsets(conn: &Connection, old: &Old) -> rusqlite::Result<()> {
    if !old.records_table {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN;
         INSERT INTO rrsets (tld, domain, owner, type, ttl, rdata, since, until)
           SELECT tld, domain, owner, type, min(ttl), json_group_array(rdata), since,
                  CASE WHEN sum(until IS NULL) = 0 THEN max(until) END
             FROM (SELECT * FROM records ORDER BY tld, domain, owner, type, since, rdata)
            GROUP BY tld, domain, owner, type, since;
         DROP TABLE records;
         COMMIT;",
    )
}

/// Schema 19: `rrsets` stores owners relative to their domain and NS targets as relative
/// names or `hosts` ids (see `CORE`). Every row is rewritten into a new table, in one
/// transaction; the `records` view, which `VIEWS` makes again, reads them as before. Rows
/// already in that form (`hosts` has some: a database whose version number was set back)
/// are left as they are.
fn names_once(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    if conn.query_row("SELECT EXISTS (SELECT 1 FROM hosts)", [], |r| r.get::<_, bool>(0))? {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN;
         DROP VIEW IF EXISTS records;
         INSERT OR IGNORE INTO hosts (name)
           SELECT DISTINCT r.value FROM rrsets s, json_each(s.rdata) r
            WHERE s.type = 'NS' AND zf_below(r.value, s.domain) IS NULL ORDER BY 1;
         CREATE TABLE rrsets_v19 (
             tld TEXT NOT NULL, domain TEXT NOT NULL, owner TEXT NOT NULL, type TEXT NOT NULL, ttl INTEGER NOT NULL,
             rdata TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER,
             PRIMARY KEY (tld, domain, owner, type, since)) WITHOUT ROWID;
         INSERT INTO rrsets_v19 (tld, domain, owner, type, ttl, rdata, since, until)
           SELECT s.tld, s.domain, coalesce(zf_below(s.owner, s.domain), s.owner), s.type, s.ttl,
                  CASE WHEN s.type <> 'NS' THEN s.rdata ELSE
                    (SELECT json_group_array(coalesce(zf_below(r.value, s.domain), (SELECT h.id FROM hosts h WHERE h.name = r.value)))
                       FROM json_each(s.rdata) r) END,
                  s.since, s.until
             FROM rrsets s;
         DROP TABLE rrsets;
         ALTER TABLE rrsets_v19 RENAME TO rrsets;
         COMMIT;",
    )
}

/// Schema 20: the domains' rows move to `domain_rows`, their dates as Unix seconds; `domains`
/// becomes the view that gives them as text (`VIEWS`). One transaction.
fn dates_as_seconds(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    if !is_table(conn, "domains")? {
        return Ok(());
    }
    conn.execute_batch(
        "BEGIN;
         INSERT INTO domain_rows (tld, name, hash, sig, first_seen_ts, last_seen_ts, last_changed_ts, removed_ts, since, until)
           SELECT tld, name, hash, sig, unixepoch(first_seen), unixepoch(last_seen), unixepoch(last_changed), unixepoch(removed_at),
                  since, until
             FROM domains;
         DROP TABLE domains;
         COMMIT;",
    )
}

/// Schema 21: `ns_base` rows count their pairs (`n`) when they hold one host's alone. The
/// rows written before are read once here to fill it in (a host of millions of domains is
/// then counted from the column, see `query::pair_counts_sql`); the rows holding several
/// hosts keep NULL. One transaction.
fn pair_counts(conn: &Connection, _: &Old) -> rusqlite::Result<()> {
    add_column(conn, "ns_base", "n", "INTEGER")?;
    let tx = conn.unchecked_transaction()?;
    let mut counted: Vec<(String, String, String, i64)> = Vec::new();
    {
        let mut st = tx.prepare("SELECT tld, rhost, first, pairs FROM ns_base WHERE n IS NULL")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            // A row counts when its key's host is the only one it holds.
            let rhost: String = r.get(1)?;
            let (mut hosts, mut mine) = (0, None);
            super::each_pair_entry(r.get_ref(3)?, |host, domains| {
                hosts += 1;
                mine = (host == rhost).then_some(domains.len() as i64);
            })?;
            if let (1, Some(n)) = (hosts, mine) {
                counted.push((r.get(0)?, rhost, r.get(2)?, n));
            }
        }
    }
    let mut st = tx.prepare("UPDATE ns_base SET n = ?4 WHERE tld = ?1 AND rhost = ?2 AND first = ?3")?;
    for (tld, rhost, first, n) in &counted {
        st.execute(params![tld, rhost, first, n])?;
    }
    drop(st);
    tx.commit()
}

/// Whether `name` is a table (not a view, not missing).
fn is_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1", [name], |r| r.get(0))
}

/// Fills the reverse-lookup index from the current versions' records, in one transaction
/// (the upgrade to schema 9): each zone's current version is its base.
fn index_current(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let zones: Vec<(String, i64)> = {
        let mut st = tx.prepare("SELECT tld, id FROM zones WHERE state = 'current' AND with_records = 1")?;
        let v = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
        v
    };
    for (tld, id) in zones {
        let mut st = tx.prepare(&format!(
            "SELECT zf_reversed(rdata) AS h, domain FROM records r
              WHERE tld = ?1 AND type = 'NS' AND owner = domain AND {} ORDER BY h, domain",
            visible("r", "?2")
        ))?;
        let mut blocks = links::Blocks::new(&tx, &tld, id)?;
        let mut rows = st.query(params![tld, id])?;
        while let Some(r) = rows.next()? {
            blocks.add(r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?)?;
        }
        blocks.finish()?;
        tx.execute(
            &format!(
                "INSERT OR IGNORE INTO glue_links (addr, rhost, tld, since)
                   SELECT rdata, zf_reversed(owner), tld, ?2 FROM records r WHERE tld = ?1 AND type IN ('A', 'AAAA') AND {}",
                visible("r", "?2")
            ),
            params![tld, id],
        )?;
    }
    tx.commit()
}

/// Fills in `zones.ds_domains` of the versions imported before schema 10 from the history
/// kept, in one pass over the DS records: a domain counts in each version that one of its DS
/// rows covers. Versions without records, or older than what `prune` kept, stay NULL.
fn count_ds_domains(conn: &Connection) -> rusqlite::Result<()> {
    let tx = conn.unchecked_transaction()?;
    let pruned = pruned_before(&tx)?;
    // Per zone, +1/-1 at the versions where a domain's signed spans open and close.
    let mut steps: HashMap<String, BTreeMap<i64, i64>> = HashMap::new();
    {
        let mut st =
            tx.prepare("SELECT tld, domain, since, until FROM records WHERE type = 'DS' AND owner = domain ORDER BY tld, domain, since")?;
        let mut rows = st.query([])?;
        // The span of the domain being read: rows of one domain may touch or overlap.
        let mut open: Option<(String, String, i64, Option<i64>)> = None;
        let close = |span: (String, String, i64, Option<i64>), steps: &mut HashMap<String, BTreeMap<i64, i64>>| {
            let s = steps.entry(span.0).or_default();
            *s.entry(span.2).or_default() += 1;
            if let Some(u) = span.3 {
                *s.entry(u).or_default() -= 1;
            }
        };
        while let Some(r) = rows.next()? {
            let (tld, domain, since, until): (String, String, i64, Option<i64>) = (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
            match &mut open {
                Some(o) if o.0 == tld && o.1 == domain && o.3.is_none_or(|u| since <= u) => {
                    o.3 = match (o.3, until) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                _ => {
                    if let Some(o) = open.take() {
                        close(o, &mut steps);
                    }
                    open = Some((tld, domain, since, until));
                }
            }
        }
        if let Some(o) = open.take() {
            close(o, &mut steps);
        }
    }
    let versions: Vec<(i64, String)> = tx
        .prepare(
            "SELECT id, tld FROM zones WHERE state IN ('current', 'replaced') AND with_records = 1 AND ds_domains IS NULL
                AND (?1 IS NULL OR coalesce(zone_date, imported_at) >= ?1) ORDER BY tld, id",
        )?
        .query_map(params![pruned], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut up = tx.prepare("UPDATE zones SET ds_domains = ?2 WHERE id = ?1")?;
    for (id, tld) in versions {
        let n: i64 = steps.get(&tld).map_or(0, |s| s.range(..=id).map(|(_, d)| d).sum());
        up.execute(params![id, n])?;
    }
    drop(up);
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_steps_climb_in_order_to_the_current_schema() {
        assert!(STEPS.windows(2).all(|w| w[0].to < w[1].to), "steps out of order");
        assert_eq!(STEPS.last().map(|s| s.to), Some(SCHEMA_VERSION), "the last step reaches the current schema");
    }
}
