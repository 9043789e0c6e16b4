//! SQLite: schema, the process lock, and the single writer thread.
//!
//! Connections are opened here only ([`open_rw`], [`open_ro`]), and every write of a
//! version's rows is here; the modules that answer questions (`query`, `changes`, `service`,
//! `serve`) and the webhook outbox run their own read SQL over those connections, beside the
//! types they return. Versions of a TLD's zone are rows of
//! `zones`; `rrsets` (read as `records`, a row per record), `domains` and `record_groups`
//! hold every version of each TLD: rows carry the version that wrote them and the one that
//! replaced them (see [`schema`]). An import compares the new version with the current rows as it writes and
//! writes only what differs, in batches, so a day's import writes its changes, not the whole
//! zone again, and the WAL holds a few batches at a time (see [`checkpoint`]). Readers see one
//! whole version: the switch is one tiny transaction. [`clean_leftovers`] rolls back an
//! interrupted import.

pub mod batch;
mod checkpoint;
pub mod links;
mod migrate;
mod schema;
pub mod space;
pub mod state;
mod versions;
pub mod writer;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lock::LockError;

pub(crate) use schema::STATE;
use schema::{ANALYSES, CORE, DOMAINS_V19, RECORDS_V12, SCHEMA, VIEWS};
pub use versions::*;

use rusqlite::functions::FunctionFlags;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

/// Notes a step of the writer at debug level (`-v`; the importer traces its own).
pub(crate) fn trace(what: &str) {
    log::debug!("writer: {what} ({})", crate::time::now_utc());
}

/// Bumped when the schema changes; `open` refuses a database from a newer zonefeed.
pub const SCHEMA_VERSION: i64 = 21;

/// The condition that a row of `alias` (records, rrsets, domains, record_groups) belongs to the version
/// `zone` (an SQL expression: `z.id`, `?1`).
pub fn visible(alias: &str, zone: &str) -> String {
    format!("{alias}.since <= {zone} AND ({alias}.until IS NULL OR {alias}.until > {zone})")
}

/// What went wrong with the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database `{}` is busy: another zonefeed process is writing it (waited {waited}s)", path.display())]
    Busy { path: PathBuf, waited: u64 },
    #[error("database `{}`: {source}", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error("`{}` is an SQLite database but not zonefeed's (it has tables and no zonefeed schema); give --db another path", path.display())]
    Foreign { path: PathBuf },
    #[error("database `{}` was written by a newer zonefeed (schema {found}, this one knows {SCHEMA_VERSION})", path.display())]
    TooNew { path: PathBuf, found: i64 },
    #[error("lock file `{}`: {source}", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
}

impl StoreError {
    pub fn is_busy(&self) -> bool {
        match self {
            StoreError::Busy { .. } => true,
            StoreError::Sqlite { source, .. } => {
                matches!(source.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
            }
            _ => false,
        }
    }
}

/// An exclusive writer lock on a database, held by a `<db>.lock` file (released on drop, and
/// by the kernel when the process dies, so a killed import never leaves a stale lock).
pub struct WriteLock {
    _file: File,
}

impl WriteLock {
    pub fn acquire(db: &Path, wait: Duration) -> Result<WriteLock, StoreError> {
        let path = lock_path(db);
        match crate::lock::exclusive(&path, wait) {
            Ok(file) => Ok(WriteLock { _file: file }),
            Err(LockError::Busy) => Err(StoreError::Busy { path: db.to_path_buf(), waited: wait.as_secs() }),
            Err(LockError::Io(source)) => Err(StoreError::Lock { path, source }),
        }
    }
}

/// How long a writer waits for readers at its final checkpoint: a reader holding an old
/// snapshot must not stall an import (it kept one waiting the whole `--wait`, 30 s, before).
pub const READER_BOUND: Duration = Duration::from_secs(2);

/// Copies `conn`'s WAL into the database and truncates it, waiting at most `bound` for
/// readers still on older snapshots. Returns false when one kept it from completing: the WAL
/// then stays as it is until a later checkpoint (the next import, or `serve`'s upkeep) finds
/// the readers gone.
pub fn truncate_wal(conn: &Connection, bound: Duration) -> rusqlite::Result<bool> {
    match conn.path().filter(|p| !p.is_empty()) {
        Some(path) => checkpoint_truncate(Path::new(path), bound),
        None => Ok(false),
    }
}

/// The TRUNCATE checkpoint on a connection of its own, so `bound` never replaces the busy
/// timeout (`--wait`) of the connection that asked.
fn checkpoint_truncate(db: &Path, bound: Duration) -> rusqlite::Result<bool> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(bound)?;
    let busy = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get::<_, i64>(0));
    let busy = match busy {
        Ok(b) => b != 0,
        Err(e) if matches!(e.sqlite_error_code(), Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)) => true,
        Err(e) => return Err(e),
    };
    Ok(!busy)
}

/// `serve`'s upkeep: when no zonefeed writes the database and its WAL has grown, truncates it
/// (a reader that held an old snapshot during an import kept the import from doing so).
/// Does nothing when another process writes, or the WAL is small; never waits.
pub fn upkeep(db: &Path) -> Result<bool, StoreError> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    let size = std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len());
    if size < 1 << 20 {
        return Ok(false);
    }
    let Ok(_lock) = WriteLock::acquire(db, Duration::ZERO) else { return Ok(false) };
    checkpoint_truncate(db, Duration::ZERO).map_err(|source| StoreError::Sqlite { path: db.to_path_buf(), source })
}

fn lock_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".lock");
    PathBuf::from(s)
}

/// Opens (creating if needed) the database for writing, with the schema in place.
pub fn open_rw(path: &Path, busy: Duration) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let conn = Connection::open(path).map_err(err)?;
    conn.busy_timeout(busy).map_err(err)?;
    // Someone else's database is refused before anything is written to it.
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0)).map_err(err)?;
    if tables > 0 && !is_zonefeed(&conn) {
        return Err(StoreError::Foreign { path: path.to_path_buf() });
    }
    // A fresh database gets 8 KiB pages. A day's changes, spread over the name space, dirty
    // most leaf pages whatever their size, so smaller pages mean fewer bytes through the WAL
    // (the next day's import of 10M domains: 13% faster than with 16 KiB); 4 KiB ones cost
    // bulk inserts more page splits (a first import 15% slower than with 8 KiB).
    conn.execute_batch("PRAGMA page_size = 8192;").map_err(err)?;
    // A page cache of 32 MiB, not 256: an import writes in key order and touches a page about
    // once, so a large cache only fills with fresh memory the kernel must zero first (on this
    // VM 11-24% of a first import's CPU went to zeroing pages). Smaller, every import measured
    // was as fast or faster: 1M, three runs each, the first full import 2.13-2.39 s against
    // 2.30-2.80 s and peak RSS 504 against 744 MiB; 10M, one run each, 28.4 s against 30.3 s,
    // its 0.2% next day 8.6 s against 9.9 s.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA journal_size_limit = 67108864;
         PRAGMA cache_size = -32768;
         PRAGMA temp_store = FILE;",
    )
    .map_err(err)?;
    register_functions(&conn).map_err(err)?;
    conn.execute_batch(CORE).map_err(err)?;
    conn.execute_batch(SCHEMA).map_err(err)?;
    conn.execute_batch(STATE).map_err(err)?;
    conn.execute_batch(ANALYSES).map_err(err)?;
    match schema_version(&conn).map_err(err)? {
        Some(v) if v > SCHEMA_VERSION => return Err(StoreError::TooNew { path: path.to_path_buf(), found: v }),
        Some(SCHEMA_VERSION) => {}
        Some(v) => migrate::run(&conn, v).map_err(err)?,
        None => {
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)", params![SCHEMA_VERSION.to_string()])
                .map_err(err)?;
        }
    }
    conn.execute_batch(VIEWS).map_err(err)?;
    Ok(conn)
}

/// The SQL functions zonefeed's SQL uses, on every connection it opens: `zf_reversed(name)`
/// ([`crate::zone::name::reversed`]), `zf_below(name, domain)` ([`below`], NULL for None) and
/// `zf_pairs(pairs)` ([`pairs_json`]).
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("zf_reversed", 1, flags, |cx| Ok(crate::zone::name::reversed(&cx.get::<String>(0)?)))?;
    conn.create_scalar_function("zf_below", 2, flags, |cx| {
        let (name, domain) = (cx.get::<String>(0)?, cx.get::<String>(1)?);
        Ok(below(&name, &domain).map(str::to_string))
    })?;
    conn.create_scalar_function("zf_pairs", 1, flags, |cx| {
        pairs_json(cx.get_raw(0)).map_err(|e| rusqlite::Error::UserFunctionError(e.into()))
    })
}

/// zstd's level for `ns_base.pairs`: its default, which packed the 1M bench zone's base about
/// 4x at no measurable cost to the import.
const PAIRS_LEVEL: i32 = 3;

/// Packs base rows' pairs as `ns_base.pairs` stores them (see [`links::Blocks`]), with one
/// zstd context for all of them: a context per row was 1.1% of a first import's CPU.
pub(crate) struct PairsPacker(Option<zstd::bulk::Compressor<'static>>);

impl PairsPacker {
    pub(crate) fn new() -> Self {
        PairsPacker(zstd::bulk::Compressor::new(PAIRS_LEVEL).ok())
    }

    /// The row's JSON compressed; as text should zstd fail (read back the same, see
    /// [`pairs_json`]).
    pub(crate) fn pack(&mut self, json: &str) -> rusqlite::types::Value {
        match self.0.as_mut().and_then(|c| c.compress(json.as_bytes()).ok()) {
            Some(packed) => rusqlite::types::Value::Blob(packed),
            None => rusqlite::types::Value::Text(json.to_string()),
        }
    }
}

/// `ns_base.pairs` as JSON text (SQL: `zf_pairs(pairs)`): a blob is zstd-compressed JSON
/// (schema 19 on), text is the JSON itself (rows written before).
pub fn pairs_json(v: rusqlite::types::ValueRef<'_>) -> Result<String, std::io::Error> {
    use rusqlite::types::ValueRef;
    let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("ns_base.pairs: {why}"));
    match v {
        ValueRef::Text(t) => String::from_utf8(t.to_vec()).map_err(|_| bad("not UTF-8")),
        ValueRef::Blob(b) => {
            // One decompressor a thread: a fresh one a row was most of the cost of counting
            // a host's rows. The packer writes each frame's size in its header.
            thread_local! {
                static UNPACK: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { std::cell::RefCell::new(None) };
            }
            let size = zstd::zstd_safe::get_frame_content_size(b).ok().flatten().ok_or_else(|| bad("not a zstd frame with its size"))?;
            // A row holds at most about 32 KiB of JSON: a larger size is a damaged header.
            if size > 16 << 20 {
                return Err(bad("a frame larger than any row"));
            }
            let json = UNPACK.with(|u| {
                let mut u = u.borrow_mut();
                let d = match &mut *u {
                    Some(d) => d,
                    none => none.insert(zstd::bulk::Decompressor::new()?),
                };
                d.decompress(b, size as usize)
            })?;
            String::from_utf8(json).map_err(|_| bad("not UTF-8"))
        }
        _ => Err(bad("neither text nor a blob")),
    }
}

/// Calls `each(rhost, domains)` for each host of a base row's pairs (`ns_base.pairs`,
/// `[[rhost, [domain...]]...]`, read as a SQL value; a damaged one is a conversion error of
/// that value), the names borrowed from the row's JSON (a `String` a name was a fifth of
/// counting a provider's domains).
pub fn each_pair_entry(
    pairs: rusqlite::types::ValueRef<'_>,
    mut each: impl FnMut(&str, &[std::borrow::Cow<'_, str>]),
) -> rusqlite::Result<()> {
    /// One host's entry; a name is copied only when it holds a JSON escape.
    #[derive(serde::Deserialize)]
    struct Entry<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>, #[serde(borrow)] Vec<std::borrow::Cow<'a, str>>);
    let bad = |e: Box<dyn std::error::Error + Send + Sync>| rusqlite::Error::FromSqlConversionFailure(1, pairs.data_type(), e);
    let json = pairs_json(pairs).map_err(|e| bad(e.into()))?;
    let entries: Vec<Entry<'_>> = serde_json::from_str(&json).map_err(|e| bad(e.into()))?;
    for Entry(host, domains) in &entries {
        each(host, domains);
    }
    Ok(())
}

/// `name` as `rrsets` stores it under `domain` (see [`schema::CORE`]): `""` for the domain
/// itself, the labels before it for a name below it. None for any other name, and for every
/// name of the root zone (domain `.`), which is stored whole. The `records` view joins the
/// two back with a dot, so the round trip is exact for any text.
pub(crate) fn below<'a>(name: &'a str, domain: &str) -> Option<&'a str> {
    if domain == "." {
        return None;
    }
    if name == domain {
        return Some("");
    }
    name.strip_suffix(domain)?.strip_suffix('.').filter(|p| !p.is_empty())
}

/// A name `rrsets` stores under `domain` (as [`below`] gives it, or whole), as the `records`
/// view joins it back.
pub fn whole<'a>(stored: &'a str, domain: &'a str) -> std::borrow::Cow<'a, str> {
    match (stored, domain) {
        ("", _) => domain.into(),
        (_, ".") => stored.into(),
        _ => format!("{stored}.{domain}").into(),
    }
}

/// `rrsets` rows read as the `records` view gives them, one record each, in Rust. The view
/// takes a `json_each` row and, for an NS target kept as a `hosts` id, a lookup a record: the
/// Parquet export of the 1M bench zone's domains spent 3.82 s in them. Here each host is
/// looked up once (up to [`Records::HOSTS_KEPT`] at a time).
pub struct Records<'c> {
    lookup: rusqlite::Statement<'c>,
    hosts: std::collections::HashMap<i64, String>,
}

impl<'c> Records<'c> {
    /// More hosts than real .com's name servers (a few million) take little memory.
    const HOSTS_KEPT: usize = 1 << 22;

    pub fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Records { lookup: conn.prepare("SELECT name FROM hosts WHERE id = ?1")?, hosts: Default::default() })
    }

    /// Calls `each` with the rdata of each record of a set: type `rtype` under `domain`,
    /// `rdata` its stored JSON array.
    pub fn rdata(&mut self, domain: &str, rtype: &str, rdata: &str, mut each: impl FnMut(&str)) -> rusqlite::Result<()> {
        use serde_json::Value;
        let bad = |why: String| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("rrsets.rdata of {domain} {rtype}: {why}").into(),
            )
        };
        let items: Vec<Value> = serde_json::from_str(rdata).map_err(|e| bad(e.to_string()))?;
        for item in items {
            match item {
                Value::String(s) if rtype == "NS" => each(&whole(&s, domain)),
                Value::String(s) => each(&s),
                Value::Number(n) => {
                    let id = n.as_i64().ok_or_else(|| bad(format!("host id {n}")))?;
                    if !self.hosts.contains_key(&id) {
                        if self.hosts.len() >= Self::HOSTS_KEPT {
                            self.hosts.clear();
                        }
                        let name: String = self.lookup.query_row([id], |r| r.get(0)).map_err(|e| bad(format!("host id {id}: {e}")))?;
                        self.hosts.insert(id, name);
                    }
                    each(&self.hosts[&id]);
                }
                other => return Err(bad(format!("an item {other}"))),
            }
        }
        Ok(())
    }
}

/// `s` as a JSON string, quotes included, for the JSON the tables hold (`rrsets.rdata`,
/// `ns_base.pairs`). Names and rdata in canonical text are printable ASCII (`\DDD` escapes
/// the rest): `"` and `\` need escaping; control characters, should one come, too. Runs
/// without either are copied whole.
pub(crate) fn push_json(out: &mut String, s: &str) {
    out.push('"');
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        if b == b'"' || b == b'\\' || b < 0x20 {
            out.push_str(&s[from..i]);
            match b {
                b'"' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                _ => out.push_str(&format!("\\u{b:04x}")),
            }
            from = i + 1;
        }
    }
    out.push_str(&s[from..]);
    out.push('"');
}

/// `items` as a JSON array of strings.
pub(crate) fn push_json_array<S: AsRef<str>>(out: &mut String, items: impl Iterator<Item = S>) {
    out.push('[');
    for (n, s) in items.enumerate() {
        if n > 0 {
            out.push(',');
        }
        push_json(out, s.as_ref());
    }
    out.push(']');
}

/// Opens the database read-only (queries; safe beside a running import thanks to WAL).
pub fn open_ro(path: &Path) -> Result<Connection, StoreError> {
    let err = |source| StoreError::Sqlite { path: path.to_path_buf(), source };
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(err)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
    register_functions(&conn).map_err(err)?;
    Ok(conn)
}

/// The time before which `prune` dropped history, if it ever did.
pub fn pruned_before(conn: &Connection) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM meta WHERE key = 'pruned_before'", [], |r| r.get(0)).optional()
}

/// The schema version `meta` records: None when the row is missing, an error when there is
/// no `meta` table at all.
fn schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let v: Option<String> = conn.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).optional()?;
    Ok(v.and_then(|v| v.parse().ok()))
}

/// Whether the database holds zonefeed's schema (its `meta` row).
fn is_zonefeed(conn: &Connection) -> bool {
    matches!(schema_version(conn), Ok(Some(_)))
}

/// Whether the database has an older schema than this zonefeed's (opening it read-write upgrades it).
pub fn is_older(conn: &Connection) -> bool {
    schema_version(conn).ok().flatten().is_some_and(|v| v < SCHEMA_VERSION)
}

/// Checks that a read-only connection to `path` can read a zonefeed database (and that it is one).
pub fn check_readable(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let path = path.to_path_buf();
    let v = schema_version(conn).map_err(|source| match &source {
        rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("no such table") => StoreError::Foreign { path: path.clone() },
        _ => StoreError::Sqlite { path: path.clone(), source },
    })?;
    match v {
        Some(found) if found > SCHEMA_VERSION => Err(StoreError::TooNew { path, found }),
        Some(_) => Ok(()),
        None => Err(StoreError::Foreign { path }),
    }
}

/// Whether `table` has `column` (an older database may lack one a migration adds).
pub(super) fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2", params![table, column], |r| r.get(0))
}

/// Adds `column` (declared `decl`) to `table` unless it is there (a migration run again
/// finds it, or the table was created with it); true when it was added.
pub(super) fn add_column(conn: &Connection, table: &str, column: &str, decl: &str) -> rusqlite::Result<bool> {
    if has_column(conn, table, column)? {
        return Ok(false);
    }
    conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl};"))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(c: &Connection, sql: &str) -> Vec<String> {
        c.prepare(sql).unwrap().query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
    }

    /// A database written by `sql` (an older schema), then opened by this zonefeed.
    fn migrated(sql: &str) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        Connection::open(&path).unwrap().execute_batch(sql).unwrap();
        let c = open_rw(&path, Duration::from_secs(1)).unwrap();
        (dir, c)
    }

    #[test]
    fn schema_9_versions_get_their_ds_domains_from_the_history_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let c = open_rw(&path, Duration::from_secs(1)).unwrap();
        c.execute_batch("DROP VIEW current_records; DROP VIEW records;").unwrap();
        c.execute_batch(RECORDS_V12).unwrap();
        c.execute_batch(
            "INSERT INTO zones (id, tld, source, imported_at, state) VALUES
               (1, 'com', 'a', '2026-11-01T00:00:00Z', 'replaced'), (2, 'com', 'b', '2026-11-02T00:00:00Z', 'replaced'),
               (3, 'com', 'c', '2026-11-03T00:00:00Z', 'current');
             INSERT INTO records (tld, domain, owner, type, ttl, rdata, since, until) VALUES
               ('com', 'a.com', 'a.com', 'DS', 60, '1 8 2 AA', 1, NULL),
               ('com', 'a.com', 'a.com', 'DS', 60, '2 8 2 BB', 1, 3),
               ('com', 'b.com', 'b.com', 'DS', 60, '1 8 2 CC', 2, 3),
               ('com', 'c.com', 'x.c.com', 'DS', 60, '1 8 2 DD', 1, NULL);
             UPDATE meta SET value = '9' WHERE key = 'schema_version';",
        )
        .unwrap();
        drop(c);
        let c = open_rw(&path, Duration::from_secs(1)).unwrap();
        // a.com's two keys count once; b.com only in version 2; a DS below a delegation is none.
        let got: Vec<(i64, Option<i64>)> = c
            .prepare("SELECT id, ds_domains FROM zones ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(got, [(1, Some(1)), (2, Some(2)), (3, Some(1))]);
    }

    #[test]
    fn schema_5_events_are_kept_through_the_rebuild_for_watch_events() {
        let (_dir, c) = migrated(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema_version', '5');
                 CREATE TABLE events (id INTEGER PRIMARY KEY, zone INTEGER NOT NULL, prev_zone INTEGER NOT NULL, tld TEXT NOT NULL,
                   domain TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('added', 'removed', 'modified')), at TEXT NOT NULL);
                 INSERT INTO events VALUES (7, 2, 1, 'com', 'a.com', 'added', '2026-11-24T00:00:00Z');",
        );
        let (id, kind): (i64, String) = c.query_row("SELECT id, kind FROM events", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        assert_eq!((id, kind.as_str()), (7, "added"));
        c.execute("INSERT INTO events (zone, prev_zone, tld, domain, kind, at, term, rule) VALUES (2, 1, 'com', 'b.com', 'watch', 'x', 't', 'contains')", [])
            .unwrap();
        let v: String = c.query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |r| r.get(0)).unwrap();
        assert_eq!(v, SCHEMA_VERSION.to_string());
    }

    #[test]
    fn schema_6_keeps_the_current_versions_rows_without_their_version() {
        let (_dir, c) = migrated(
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('schema_version', '6');
                 CREATE TABLE zones (id INTEGER PRIMARY KEY, tld TEXT NOT NULL, serial INTEGER, source TEXT NOT NULL, size INTEGER,
                   sha256 TEXT, imported_at TEXT NOT NULL, finished_at TEXT, state TEXT NOT NULL, records INTEGER, domains INTEGER,
                   errors INTEGER, bytes INTEGER, with_records INTEGER NOT NULL DEFAULT 1);
                 INSERT INTO zones (id, tld, source, imported_at, state) VALUES (1, 'com', 'a', '2026-11-01T00:00:00Z', 'replaced'),
                   (2, 'com', 'b', '2026-11-02T00:00:00Z', 'current');
                 CREATE TABLE records (zone INTEGER NOT NULL, tld TEXT NOT NULL, domain TEXT NOT NULL, owner TEXT NOT NULL,
                   type TEXT NOT NULL, ttl INTEGER NOT NULL, rdata TEXT NOT NULL, PRIMARY KEY (zone, domain, owner, type, rdata)) WITHOUT ROWID;
                 INSERT INTO records VALUES (1, 'com', 'a.com', 'a.com', 'NS', 60, 'old.net'), (2, 'com', 'a.com', 'a.com', 'NS', 60, 'ns.net');
                 CREATE TABLE domains (zone INTEGER NOT NULL, tld TEXT NOT NULL, name TEXT NOT NULL, hash BLOB NOT NULL,
                   first_seen TEXT NOT NULL, last_seen TEXT NOT NULL, last_changed TEXT NOT NULL, removed_at TEXT, PRIMARY KEY (zone, name)) WITHOUT ROWID;
                 INSERT INTO domains VALUES (1, 'com', 'a.com', x'01', '2026-10-01T00:00:00Z', '2026-11-01T00:00:00Z', '2026-10-02T00:00:00Z', NULL),
                   (2, 'com', 'a.com', x'02', '2026-10-01T00:00:00Z', '2026-11-02T00:00:00Z', '2026-10-02T00:00:00Z', NULL),
                   (2, 'com', 'b.com', x'03', '2026-10-01T00:00:00Z', '2026-10-30T00:00:00Z', '2026-10-02T00:00:00Z', '2026-10-31T12:30:00Z');",
        );
        let recs: Vec<(String, String)> = c
            .prepare("SELECT tld, rdata FROM records")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs, vec![("com".to_string(), "ns.net".to_string())]);
        let doms: Vec<(String, Vec<u8>, Option<String>)> = c
            .prepare("SELECT name, hash, last_seen FROM domains ORDER BY name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(doms, vec![("a.com".into(), vec![2], None), ("b.com".into(), vec![3], Some("2026-10-30T00:00:00Z".into()))]);
        // Dates are kept as Unix seconds (schema 20); the `domains` view reads them as text.
        let dates = rows(&c, "SELECT first_seen_ts || ' ' || removed_ts FROM domain_rows WHERE name = 'b.com'");
        assert_eq!(dates, ["1790812800 1793449800"]);
        let text = rows(&c, "SELECT first_seen || ' ' || removed_at FROM domains WHERE name = 'b.com'");
        assert_eq!(text, ["2026-10-01T00:00:00Z 2026-10-31T12:30:00Z"]);
        let kinds = rows(&c, "SELECT type || ' ' || name FROM sqlite_schema WHERE name IN ('domains', 'domain_rows') ORDER BY 1");
        assert_eq!(kinds, ["table domain_rows", "view domains"]);
    }

    #[test]
    fn schema_12_records_become_one_row_per_rrset_with_names_once_and_read_back_the_same() {
        let records = "('com', 'a.com', 'a.com', 'NS', 60, 'ns1.dns.net', 1, 2), ('com', 'a.com', 'ns.a.com', 'A', 60, '192.0.2.1', 1, 2),
               ('com', 'a.com', 'a.com', 'NS', 60, 'ns2.dns.net', 2, NULL), ('com', 'a.com', 'a.com', 'NS', 300, 'ns3.dns.net', 2, NULL),
               ('com', 'a.com', 'ns.a.com', 'A', 60, '192.0.2.1', 2, NULL), ('com', 'a.com', 'ns.a.com', 'AAAA', 60, '2001:db8::1', 2, NULL),
               ('com', '_t.com', '_t.com', 'TXT', 60, '\"say \\\"hi\\\"\" \"back\\\\slash\"', 1, NULL),
               ('net', 'a.net', 'a.net', 'NS', 60, 'ns1.dns.net', 1, NULL),
               ('net', 'a.net', 'a.net', 'NS', 60, 'ns.a.net', 1, NULL), ('net', 'a.net', 'a.net', 'NS', 60, 'a.net', 1, NULL)";
        let (_dir, c) = migrated(&format!(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '12');
             {RECORDS_V12}
             INSERT INTO records VALUES {records};
             CREATE TABLE old AS SELECT * FROM records;"
        ));
        let all = "SELECT tld, domain, owner, type, ttl, rdata, since, coalesce(until, 0) FROM {} ORDER BY 1, 2, 3, 4, 6, 7";
        let row = |r: &rusqlite::Row<'_>| -> rusqlite::Result<String> {
            Ok(format!(
                "{} {} {} {} {} {} {} {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?
            ))
        };
        let read = |table: &str| -> Vec<String> {
            c.prepare(&all.replace("{}", table)).unwrap().query_map([], row).unwrap().map(|r| r.unwrap()).collect()
        };
        // The view gives back what the table held, but for the TTL an RRset's records share.
        let (before, after) = (read("old"), read("records"));
        assert_eq!(before.len(), 10);
        assert_eq!(after, before.iter().map(|r| r.replace("NS 300 ns3", "NS 60 ns3")).collect::<Vec<_>>());
        assert!(after.iter().any(|r| r.contains(r#""say \"hi\"" "back\\slash""#)), "{after:?}");
        let sets = rows(
            &c,
            "SELECT domain || ' ' || owner || ' ' || type || ' ' || ttl || ' ' || since || ' ' || coalesce(until, 0) || ' ' || rdata
               FROM rrsets ORDER BY tld, domain, owner, type, since",
        );
        assert_eq!(
            sets,
            [
                r#"_t.com  TXT 60 1 0 ["\"say \\\"hi\\\"\" \"back\\\\slash\""]"#,
                r#"a.com  NS 60 1 2 [1]"#,
                r#"a.com  NS 60 2 0 [2,3]"#,
                r#"a.com ns A 60 1 2 ["192.0.2.1"]"#,
                r#"a.com ns A 60 2 0 ["192.0.2.1"]"#,
                r#"a.com ns AAAA 60 2 0 ["2001:db8::1"]"#,
                r#"a.net  NS 60 1 0 ["","ns",1]"#,
            ],
            "a row per RRset and version, with the lowest of its TTLs; owners relative to the domain and NS targets \
             as `hosts` ids (schema 19)"
        );
        assert_eq!(rows(&c, "SELECT id || ' ' || name FROM hosts ORDER BY id"), ["1 ns1.dns.net", "2 ns2.dns.net", "3 ns3.dns.net"]);
        let tables = rows(&c, "SELECT type || ' ' || name FROM sqlite_schema WHERE name IN ('records', 'rrsets') ORDER BY 1");
        assert_eq!(tables, ["table rrsets", "view records"]);
    }

    #[test]
    fn base_pairs_read_back_from_compressed_rows_and_from_the_text_rows_before_them() {
        use rusqlite::types::ValueRef;
        let json = r#"[["net.dns.ns1",["a.com","b.com"]],["net.dns.ns2",["a.com"]]]"#;
        let rusqlite::types::Value::Blob(packed) = PairsPacker::new().pack(json) else { panic!("not compressed") };
        assert_eq!(pairs_json(ValueRef::Blob(&packed)).unwrap(), json);
        assert_eq!(pairs_json(ValueRef::Text(json.as_bytes())).unwrap(), json, "schema 18's rows are text");
        assert!(pairs_json(ValueRef::Blob(b"not zstd")).is_err());
        assert!(pairs_json(ValueRef::Integer(1)).is_err());
        // SQL reads them the same way.
        let c = Connection::open_in_memory().unwrap();
        register_functions(&c).unwrap();
        let n: i64 = c.query_row("SELECT json_array_length(zf_pairs(?1))", [&packed], |r| r.get(0)).unwrap();
        assert_eq!(n, 2);
        // Entries, the names borrowed from the JSON but where an escape is undone.
        let pair_entries = |v: ValueRef<'_>| -> rusqlite::Result<Vec<(String, Vec<String>)>> {
            let mut out = Vec::new();
            each_pair_entry(v, |h, d| out.push((h.to_string(), d.iter().map(|d| d.to_string()).collect())))?;
            Ok(out)
        };
        let want = [("net.dns.ns1", vec!["a.com", "b.com"]), ("net.dns.ns2", vec!["a.com"])];
        let got = pair_entries(ValueRef::Blob(&packed)).unwrap();
        assert_eq!(got.iter().map(|(h, d)| (h.as_str(), d.iter().map(String::as_str).collect::<Vec<_>>())).collect::<Vec<_>>(), want);
        let escaped = r#"[["net.dns.ns1",["a\\.com","b\"c.com"]]]"#;
        assert_eq!(
            pair_entries(ValueRef::Text(escaped.as_bytes())).unwrap(),
            [("net.dns.ns1".into(), vec![r"a\.com".into(), r#"b"c.com"#.into()])]
        );
        assert!(pair_entries(ValueRef::Text(b"[[1]]")).is_err());
    }

    #[test]
    fn a_name_below_its_domain_is_stored_as_the_labels_before_it_and_joins_back_exactly() {
        assert_eq!(below("example.com", "example.com"), Some(""));
        assert_eq!(below("ns1.example.com", "example.com"), Some("ns1"));
        assert_eq!(below("a.b.example.com", "example.com"), Some("a.b"));
        // Not below it: another domain, one that only ends the same, a suffix without a dot.
        assert_eq!(below("ns1.example.net", "example.com"), None);
        assert_eq!(below("myexample.com", "example.com"), None);
        assert_eq!(below(".example.com", "example.com"), None);
        // The root zone's names are stored whole.
        assert_eq!(below("com", "."), None);
        assert_eq!(below(".", "."), None);
        // Escapes are text like any other: the view's `rel || '.' || domain` gives it back.
        for name in [r"a\.example.com", r"x\046y.example.com", r"\\.example.com"] {
            let rel = below(name, "example.com").unwrap();
            assert_eq!(format!("{rel}.example.com"), name);
        }
    }

    #[test]
    fn rrsets_read_in_rust_give_what_the_records_view_gives() {
        let dir = tempfile::tempdir().unwrap();
        let c = open_rw(&dir.path().join("x.db"), Duration::from_secs(1)).unwrap();
        c.execute_batch(
            r#"INSERT INTO hosts (id, name) VALUES (7, 'ns1.dns.net'), (9, 'a.root-servers.net');
               INSERT INTO rrsets (tld, domain, owner, type, ttl, rdata, since) VALUES
                 ('com', 'a.com', '', 'NS', 60, '["", "ns1", 7]', 1),
                 ('com', 'a.com', 'ns1', 'A', 60, '["192.0.2.1"]', 1),
                 ('com', 'a.com', 'x.y', 'TXT', 60, '["\"a \\ b\""]', 1),
                 ('.', '.', '.', 'NS', 60, '[9]', 1),
                 ('.', '.', 'com', 'NS', 60, '[7]', 1);"#,
        )
        .unwrap();
        let view = rows(&c, "SELECT owner || ' ' || type || ' ' || rdata FROM records ORDER BY tld, domain, owner, type, rdata");
        let mut rust = Vec::new();
        let mut expand = Records::new(&c).unwrap();
        let mut st = c.prepare("SELECT domain, owner, type, rdata FROM rrsets").unwrap();
        let mut q = st.query([]).unwrap();
        while let Some(r) = q.next().unwrap() {
            let (d, o, t, data): (String, String, String, String) =
                (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap(), r.get(3).unwrap());
            expand.rdata(&d, &t, &data, |x| rust.push(format!("{} {t} {x}", whole(&o, &d)))).unwrap();
        }
        rust.sort();
        let mut view = view;
        view.sort();
        assert_eq!(rust, view);
        assert!(rust.contains(&"a.com NS ns1.a.com".to_string()) && rust.contains(&"com NS ns1.dns.net".to_string()), "{rust:?}");
        // A damaged row or a host that is not there is an error naming the set.
        let e = expand.rdata("b.com", "NS", "[42]", |_| {}).unwrap_err().to_string();
        assert!(e.contains("b.com NS") && e.contains("host id 42"), "{e}");
        assert!(expand.rdata("b.com", "A", "[1.5]", |_| {}).is_err());
        assert!(expand.rdata("b.com", "A", "not json", |_| {}).is_err());
    }

    #[test]
    fn schema_8_gets_the_reverse_lookup_index_from_its_records() {
        let (_dir, c) = migrated(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('schema_version', '8');
             CREATE TABLE zones (id INTEGER PRIMARY KEY, tld TEXT NOT NULL, serial INTEGER, source TEXT NOT NULL, size INTEGER, sha256 TEXT,
               imported_at TEXT NOT NULL, finished_at TEXT, zone_date TEXT, state TEXT NOT NULL, records INTEGER, domains INTEGER,
               errors INTEGER, bytes INTEGER, with_records INTEGER NOT NULL DEFAULT 1);
             INSERT INTO zones (id, tld, source, imported_at, zone_date, state) VALUES
               (1, 'com', 'a', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 'replaced'), (2, 'com', 'b', '2026-11-02T00:00:00Z', '2026-11-02T00:00:00Z', 'current');
             CREATE TABLE records (tld TEXT NOT NULL, domain TEXT NOT NULL, owner TEXT NOT NULL, type TEXT NOT NULL, ttl INTEGER NOT NULL,
               rdata TEXT NOT NULL, since INTEGER NOT NULL, until INTEGER, PRIMARY KEY (tld, domain, owner, type, rdata, since)) WITHOUT ROWID;
             INSERT INTO records VALUES ('com', 'a.com', 'a.com', 'NS', 60, 'ns1.dns.net', 1, 2), ('com', 'a.com', 'a.com', 'NS', 60, 'ns2.dns.net', 2, NULL),
               ('com', 'a.com', 'ns.a.com', 'A', 60, '192.0.2.1', 1, NULL), ('com', 'a.com', 'sub.a.com', 'NS', 60, 'x.net', 1, NULL),
               ('com', 'a.com', 'a.com', 'DS', 60, '1 8 2 AA', 1, NULL);",
        );
        let ns = rows(&c, "SELECT rhost || ' ' || tld || ' ' || zf_pairs(pairs) || ' ' || since FROM ns_base ORDER BY 1");
        assert_eq!(ns, ["net.dns.ns2 com [[\"net.dns.ns2\",[\"a.com\"]]] 2"], "the current version is the base");
        assert_eq!(rows(&c, "SELECT tld || ' ' || version FROM ns_bases"), ["com 2"]);
        let glue = rows(&c, "SELECT addr || ' ' || rhost || ' ' || since FROM glue_links");
        assert_eq!(glue, ["192.0.2.1 com.a.ns 2"]);
    }
}
