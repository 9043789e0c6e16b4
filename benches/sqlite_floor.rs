//! SQLite's floor for the rows an import writes and reads, against a baseline in the same run.
//!
//!     cargo bench --bench sqlite_floor            # 1M rows
//!     FLOOR_ROWS=200000 cargo bench --bench sqlite_floor
//!
//! Each case inserts the same number of rows, already sorted, into a fresh database made by
//! `store::open_rw` (the real schema, page size, WAL and pragmas), the way the writer does,
//! with its statements and sizes (`store::batch`, `store::writer`): `ROWS_PER_INSERT` rows to a multi-row
//! `INSERT OR FAIL`, the columns every row shares bound once per statement, a commit every
//! `TX_ROWS` rows, checkpoints left to the end (the writer has them run on a thread beside
//! it). The next day's read of `domains` is the writer's query, `CURRENT_DOMAINS`. The
//! baseline is a table of one text key. Nothing else runs: no parsing, no sorting, no
//! hashing. What this prints is the least the writer thread of an import of that many
//! domains (or RRsets) can spend in SQLite.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, ToSql};

use zonefeed::store;
use zonefeed::store::batch::{multi_insert, ROWS_PER_INSERT};
use zonefeed::store::writer::{CURRENT_DOMAINS, TX_ROWS};

/// `n` names in byte order, shaped like a TLD's domains.
fn names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("d{i:09}-example.com")).collect()
}

/// A fresh database whose checkpoints wait until the end, as the writer's run on a thread
/// beside it: the time measured is the inserts'.
fn fresh(dir: &Path, label: &str) -> Connection {
    let c = store::open_rw(&dir.join(format!("{label}.db")), Duration::from_secs(5)).expect("open");
    c.pragma_update(None, "wal_autocheckpoint", 0).expect("pragma");
    c
}

/// Inserts rows `0..n`; `own(i)` gives row `i`'s own values. Returns the seconds taken.
fn insert<'v>(
    conn: &Connection,
    table: &str,
    shared: &[(&str, &dyn ToSql)],
    cols: &[&str],
    n: usize,
    own: &dyn Fn(usize) -> Vec<&'v dyn ToSql>,
) -> f64 {
    let shared_cols: Vec<&str> = shared.iter().map(|s| s.0).collect();
    let t = Instant::now();
    conn.execute_batch("BEGIN").expect("begin");
    let mut st = conn.prepare(&multi_insert(table, &shared_cols, cols, ROWS_PER_INSERT)).expect("prepare");
    let mut in_tx = 0;
    let mut i = 0;
    while i < n {
        let rows = ROWS_PER_INSERT.min(n - i);
        let mut tail = (rows < ROWS_PER_INSERT).then(|| conn.prepare(&multi_insert(table, &shared_cols, cols, rows)).expect("prepare"));
        let st = tail.as_mut().unwrap_or(&mut st);
        for (k, (_, v)) in shared.iter().enumerate() {
            st.raw_bind_parameter(k + 1, v).expect("bind");
        }
        for r in 0..rows {
            for (c, v) in own(i + r).into_iter().enumerate() {
                st.raw_bind_parameter(shared.len() + r * cols.len() + c + 1, v).expect("bind");
            }
        }
        st.raw_execute().expect("insert");
        i += rows;
        in_tx += rows;
        if in_tx >= TX_ROWS {
            conn.execute_batch("COMMIT; BEGIN").expect("commit");
            in_tx = 0;
        }
    }
    conn.execute_batch("COMMIT").expect("commit");
    t.elapsed().as_secs_f64()
}

/// A current `domains` row as the writer reads it: name, hash, sig, removed.
type OldDomain = (String, [u8; 16], Option<[u8; 16]>, bool);

/// Reads the TLD's current domains back a page of 10,000 at a time, as the writer reads the
/// current version on a next day. Returns the seconds taken and the rows read.
fn read_domains(conn: &Connection) -> (f64, usize) {
    let t = Instant::now();
    let mut st = conn.prepare(CURRENT_DOMAINS).expect("prepare");
    let (mut after, mut n) = (String::new(), 0);
    loop {
        let page: Vec<OldDomain> = st
            .query_map(rusqlite::params!["com", after, 10_000, 2], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("row");
        n += page.len();
        match page.last() {
            Some(last) if page.len() == 10_000 => after = last.0.clone(),
            _ => break,
        }
    }
    (t.elapsed().as_secs_f64(), n)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument would mean nothing here.
    let n: usize = std::env::var("FLOOR_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let names = names(n);
    let hash = [7u8; 16];
    let none: Option<&[u8]> = None;
    let (tld, since, now) = ("com", 1i64, "2026-11-24T00:00:00Z");
    let mut results: Vec<(&str, f64)> = Vec::new();

    let c = fresh(dir.path(), "key");
    c.execute_batch("CREATE TABLE k (name TEXT PRIMARY KEY) WITHOUT ROWID").expect("create");
    results.push(("one text key (baseline)", insert(&c, "k", &[], &["name"], n, &|i| vec![&names[i] as &dyn ToSql])));

    let shared: [(&str, &dyn ToSql); 4] = [("tld", &tld), ("since", &since), ("first_seen", &now), ("last_changed", &now)];
    let domain_row = |i: usize| vec![&names[i] as &dyn ToSql, &hash, &none];
    let c = fresh(dir.path(), "domains");
    results.push(("`domains`: 3 of 10 columns bound a row", insert(&c, "domains", &shared, &["name", "hash", "sig"], n, &domain_row)));
    let (read, rows) = read_domains(&c);
    assert_eq!(rows, n, "read back every row");

    let c = fresh(dir.path(), "nopk");
    c.execute_batch(
        "CREATE TABLE d (tld TEXT NOT NULL, name TEXT NOT NULL, hash BLOB NOT NULL, sig BLOB, first_seen TEXT NOT NULL,
                         last_seen TEXT, last_changed TEXT NOT NULL, removed_at TEXT, since INTEGER NOT NULL, until INTEGER)",
    )
    .expect("create");
    results.push(("the same columns, no primary key", insert(&c, "d", &shared, &["name", "hash", "sig"], n, &domain_row)));

    // A delegation's NS set of two, as most have: a row per RRset (schema 13), n domains.
    let (ns, ttl) = ("NS", 172_800i64);
    let rdata = r#"["ns1.example.net.","ns2.example.net."]"#;
    let c = fresh(dir.path(), "rrsets");
    let shared: [(&str, &dyn ToSql); 2] = [("tld", &tld), ("since", &since)];
    let rrset_row = |i: usize| vec![&names[i] as &dyn ToSql, &names[i], &ns, &ttl, &rdata];
    let cols = ["domain", "owner", "type", "ttl", "rdata"];
    results.push(("`rrsets`: 5 of 8 columns bound a row", insert(&c, "rrsets", &shared, &cols, n, &rrset_row)));
    // Issue 14's step 3 asks whether integer zone ids and type codes pay: the same rows with
    // `tld` and `type` as integers.
    let c = fresh(dir.path(), "rrsets_int");
    c.execute_batch(
        "CREATE TABLE r (tld INTEGER NOT NULL, domain TEXT NOT NULL, owner TEXT NOT NULL, type INTEGER NOT NULL, ttl INTEGER NOT NULL,
                         rdata TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER, PRIMARY KEY (tld, domain, owner, type, since)) WITHOUT ROWID",
    )
    .expect("create");
    let (zone_id, ns_code) = (1i64, 2i64);
    let shared: [(&str, &dyn ToSql); 2] = [("tld", &zone_id), ("since", &since)];
    let int_row = |i: usize| vec![&names[i] as &dyn ToSql, &names[i], &ns_code, &ttl, &rdata];
    results.push(("  the same, integer zone and type", insert(&c, "r", &shared, &cols, n, &int_row)));
    results.push(("reading `domains` back, 10,000 a query", read));

    let base = results[0].1;
    println!("{n} sorted rows a case, SQLite {}", rusqlite::version());
    println!("{:<42} {:>8} {:>10} {:>12}", "case", "seconds", "M rows/s", "x baseline");
    for (label, secs) in results {
        println!("{label:<42} {secs:>8.2} {:>10.2} {:>12.2}", n as f64 / secs / 1e6, secs / base);
    }
}
