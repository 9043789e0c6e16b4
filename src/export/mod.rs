//! `zonefeed export`: the history as a Hive-partitioned Parquet dataset, for the engines people
//! outgrow SQLite into (Spark, Trino, DuckDB, ClickHouse).
//!
//! One partition per table, zone and zone date: `DIR/domains/tld=com/date=2026-11-01/
//! part-0.parquet`. A partition holds the last version imported for that date (`changes`:
//! the events of every version of that date). The manifest (`DIR/zonefeed-export.json`)
//! names each partition written and the version it holds, so a run writes only what is not
//! there yet. Every file is written under a temporary name, synced and renamed, then the
//! manifest is replaced the same way: an interrupted run leaves no partial file visible, and
//! the next run writes what is missing. Files are deterministic: the same versions give the
//! same bytes.

mod parquet;

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};

use self::parquet::Table;
use crate::changes::{self, Event, Filter, Kind};
use crate::store;

/// The manifest's file name in DIR.
pub const MANIFEST: &str = "zonefeed-export.json";
const LOCK: &str = ".zonefeed-export.lock";
/// The part file of a partition: one per partition (row groups inside it bound its memory).
const PART: &str = "part-0.parquet";

/// The tables an export can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportTable {
    Domains,
    Records,
    Changes,
}

impl ExportTable {
    pub fn name(self) -> &'static str {
        match self {
            ExportTable::Domains => "domains",
            ExportTable::Records => "records",
            ExportTable::Changes => "changes",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("`{}` is not a directory", path.display())]
    NotADir { path: PathBuf },
    #[error("`{}` holds files and no {MANIFEST}: it is not a zonefeed export; give an empty or new directory", path.display())]
    Foreign { path: PathBuf },
    #[error("`{}`: another zonefeed export is writing this directory", path.display())]
    Busy { path: PathBuf },
    #[error("manifest `{}`: {msg}", path.display())]
    Manifest { path: PathBuf, msg: String },
    #[error("`{}`: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("`{}`: {source}", path.display())]
    Parquet { path: PathBuf, source: ::parquet::errors::ParquetError },
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

impl ExportError {
    /// The directory cannot be an export: a usage error.
    pub fn is_usage(&self) -> bool {
        matches!(self, ExportError::NotADir { .. } | ExportError::Foreign { .. })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ExportError + '_ {
    move |source| ExportError::Io { path: path.to_path_buf(), source }
}

/// What is in DIR, as the manifest records it.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct Manifest {
    /// The manifest's format.
    format: u32,
    /// By partition directory (`domains/tld=com/date=2026-11-01`).
    partitions: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Entry {
    /// The newest version the partition holds.
    version: i64,
    rows: u64,
    /// The part file, relative to DIR (none for a partition with no rows).
    file: Option<String>,
    bytes: u64,
    /// The part file's XXH3-64 (hex): a file that is not the one written is written again.
    /// Manifests from before it have none; their files are checked by size alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xxh3: Option<String>,
}

impl Entry {
    /// Whether the partition's file in `dir` is the one this entry recorded.
    fn intact(&self, dir: &Path) -> bool {
        let Some(f) = &self.file else { return true };
        match digest(&dir.join(f)) {
            Ok((bytes, sum)) => bytes == self.bytes && self.xxh3.as_ref().is_none_or(|want| *want == sum),
            Err(_) => false,
        }
    }
}

/// A file's size and XXH3-64 (hex), read in 1 MiB pieces.
fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    use std::io::Read;
    let mut f = File::open(path)?;
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok((bytes, format!("{:016x}", h.digest())));
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    pub tlds: Vec<String>,
    /// Zone dates from this day on (`YYYY-MM-DD`).
    pub since: Option<String>,
    pub tables: Vec<ExportTable>,
}

/// One partition written (or, in the report, found already there).
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub table: ExportTable,
    pub tld: String,
    pub date: String,
    pub version: i64,
    pub rows: u64,
    pub file: Option<String>,
    pub bytes: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub dir: String,
    pub written: Vec<Written>,
    /// Partitions already there, unchanged.
    pub kept: u64,
    /// Versions whose history `prune` dropped, so they cannot be read back whole.
    pub pruned: u64,
}

/// A zone date of a zone: the version its `domains` and `records` partitions hold and the
/// versions whose events its `changes` partition holds.
struct Day {
    tld: String,
    date: String,
    version: i64,
    with_records: bool,
    versions: Vec<i64>,
}

/// The Hive partition value of a zone: the root zone is `root` (`tld=.` would be a path).
fn tld_value(tld: &str) -> String {
    if tld == "." {
        return "root".into();
    }
    // Hive's escaping: a zone name is anyone's to write, and a `/` in it must not make a
    // folder (nor `=` a partition key). The API's percent-encoding escapes every byte but
    // RFC 3986's unreserved ones, a superset of what Hive escapes, and Spark, Trino and DuckDB
    // read %XX back.
    crate::http::encode(tld)
}

/// Creates the export directory if need be; refuses a path that is not one.
fn make_dir(dir: &Path) -> Result<(), ExportError> {
    match fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(ExportError::NotADir { path: dir.to_path_buf() }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fs::create_dir_all(dir).map_err(io(dir)),
        Err(e) => Err(io(dir)(e)),
    }
}

/// Whether `dir` holds files other than an export's own before its manifest: the lock file,
/// and the temporary file of a first manifest whose run was killed before the rename.
fn holds_others(dir: &Path) -> Result<bool, ExportError> {
    let ours = |name: &std::ffi::OsStr| name == LOCK || name.to_string_lossy().starts_with(".tmp-");
    Ok(fs::read_dir(dir).map_err(io(dir))?.filter_map(Result::ok).any(|e| !ours(&e.file_name())))
}

/// Reads the manifest (under the lock). A directory without one becomes an export only when
/// it is empty, and gets its manifest before anything else: a run killed before its first
/// partition leaves a directory the next run knows as its own.
fn read_manifest(dir: &Path) -> Result<Manifest, ExportError> {
    let path = dir.join(MANIFEST);
    match fs::read(&path) {
        Ok(bytes) => {
            let m: Manifest =
                serde_json::from_slice(&bytes).map_err(|e| ExportError::Manifest { path: path.clone(), msg: e.to_string() })?;
            if m.format != 1 {
                return Err(ExportError::Manifest { path, msg: format!("format {} is not one this zonefeed writes (1)", m.format) });
            }
            Ok(m)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if holds_others(dir)? {
                return Err(ExportError::Foreign { path: dir.to_path_buf() });
            }
            let m = Manifest { format: 1, partitions: BTreeMap::new() };
            save_manifest(dir, &m)?;
            Ok(m)
        }
        Err(e) => Err(io(&path)(e)),
    }
}

fn save_manifest(dir: &Path, m: &Manifest) -> Result<(), ExportError> {
    let path = dir.join(MANIFEST);
    let json = serde_json::to_vec_pretty(m).map_err(|e| ExportError::Manifest { path: path.clone(), msg: e.to_string() })?;
    replace_file(&path, |mut f| {
        f.write_all(&json).and_then(|_| f.write_all(b"\n")).map_err(io(&path))?;
        Ok(f)
    })
}

/// Writes `bytes` to `path` through a temporary file, synced, renamed and the directory synced.
fn replace_file(path: &Path, write: impl FnOnce(File) -> Result<File, ExportError>) -> Result<(), ExportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir).map_err(io(dir))?;
    let (file, tmp_path) = tmp.into_parts();
    let file = write(file)?;
    file.sync_all().map_err(io(path))?;
    drop(file);
    tmp_path.persist(path).map_err(|e| io(path)(e.error))?;
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Removes the temporary files an interrupted run left (`.tmp-*` anywhere under DIR).
fn remove_leftovers(dir: &Path) -> Result<(), ExportError> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let e = e.map_err(io(&d))?;
            let p = e.path();
            if e.file_type().map_err(io(&p))?.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(".tmp-") {
                fs::remove_file(&p).map_err(io(&p))?;
            }
        }
    }
    Ok(())
}

/// The zone dates to export, oldest first per zone.
fn days(conn: &Connection, opts: &Options, pruned_before: Option<&str>) -> rusqlite::Result<(Vec<Day>, u64)> {
    let mut st = conn.prepare(
        "SELECT tld, substr(zone_date, 1, 10), id, with_records, state, coalesce(finished_at, imported_at) FROM zones
          WHERE state IN ('current', 'replaced') AND zone_date IS NOT NULL AND (?1 IS NULL OR zone_date >= ?1)
          ORDER BY tld, zone_date, id",
    )?;
    let since = opts.since.as_ref().map(|d| format!("{d}T00:00:00Z"));
    let rows = st.query_map(params![since], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, bool>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
        ))
    })?;
    let mut out: Vec<Day> = Vec::new();
    let mut pruned = 0;
    for row in rows {
        let (tld, date, id, with_records, state, finished) = row?;
        if !opts.tlds.is_empty() && !opts.tlds.contains(&tld) {
            continue;
        }
        // A replaced version finished before a prune's cutoff may have lost the rows its
        // successor closed: it cannot be read back whole.
        if state == "replaced" && pruned_before.is_some_and(|p| finished.as_str() < p) {
            pruned += 1;
            continue;
        }
        match out.last_mut() {
            Some(d) if d.tld == tld && d.date == date => {
                d.version = id;
                d.with_records = with_records;
                d.versions.push(id);
            }
            _ => out.push(Day { tld, date, version: id, with_records, versions: vec![id] }),
        }
    }
    Ok((out, pruned))
}

/// Exports what the manifest in `dir` does not hold yet. `progress(partition, rows)` is told
/// of each partition as it is written.
pub fn export(conn: &Connection, dir: &Path, opts: &Options, progress: &mut dyn FnMut(&str, u64)) -> Result<Report, ExportError> {
    make_dir(dir)?;
    // Someone else's directory is refused before the lock file is made in it.
    if !dir.join(MANIFEST).exists() && holds_others(dir)? {
        return Err(ExportError::Foreign { path: dir.to_path_buf() });
    }
    let _lock = match crate::lock::exclusive(&dir.join(LOCK), std::time::Duration::ZERO) {
        Ok(f) => f,
        Err(crate::lock::LockError::Busy) => return Err(ExportError::Busy { path: dir.to_path_buf() }),
        Err(crate::lock::LockError::Io(e)) => return Err(io(dir)(e)),
    };
    let mut manifest = read_manifest(dir)?;
    remove_leftovers(dir)?;
    // One read snapshot for the whole run: a `prune` that runs meanwhile cannot cut rows out
    // from under a partition the run has decided is whole (it once wrote 140,803 rows of
    // 141,981 and recorded the partition complete).
    let snapshot = conn.unchecked_transaction()?;
    let conn: &Connection = &snapshot;
    let pruned_before = store::pruned_before(conn)?;
    let (days, pruned) = days(conn, opts, pruned_before.as_deref())?;
    let mut report = Report { dir: dir.display().to_string(), pruned, ..Default::default() };
    let mut tables = opts.tables.clone();
    tables.sort();
    tables.dedup();
    for day in &days {
        for &table in &tables {
            if table == ExportTable::Records && !day.with_records {
                continue;
            }
            let key = format!("{}/tld={}/date={}", table.name(), tld_value(&day.tld), day.date);
            if let Some(e) = manifest.partitions.get(&key) {
                if e.version == day.version && e.intact(dir) {
                    report.kept += 1;
                    continue;
                }
            }
            let part_dir = dir.join(&key);
            fs::create_dir_all(&part_dir).map_err(io(&part_dir))?;
            let path = part_dir.join(PART);
            let mut rows = 0u64;
            let mut tick = |n: u64| {
                rows = n;
                progress(&key, n);
            };
            replace_file(&path, |f| {
                let parquet = |source| ExportError::Parquet { path: path.clone(), source };
                let mut t = Table::create(f, schema(table), dictionary(table)).map_err(parquet)?;
                match table {
                    ExportTable::Domains => domains(conn, day, &mut t, &mut tick),
                    ExportTable::Records => records(conn, day, &mut t, &mut tick),
                    ExportTable::Changes => events(conn, day, &mut t, &mut tick),
                }
                .map_err(|e| match e {
                    Fill::Sql(e) => ExportError::Sqlite(e),
                    Fill::Parquet(e) => parquet(e),
                })?;
                let (_, f) = t.close().map_err(parquet)?;
                Ok(f)
            })?;
            // A partition with no rows (the changes of a zone's first version) has no file.
            let (file, bytes, xxh3) = if rows == 0 {
                fs::remove_file(&path).map_err(io(&path))?;
                let _ = fs::remove_dir(&part_dir);
                (None, 0, None)
            } else {
                let (bytes, sum) = digest(&path).map_err(io(&path))?;
                (Some(format!("{key}/{PART}")), bytes, Some(sum))
            };
            let entry = Entry { version: day.version, rows, file: file.clone(), bytes, xxh3 };
            manifest.partitions.insert(key, entry);
            save_manifest(dir, &manifest)?;
            report.written.push(Written { table, tld: day.tld.clone(), date: day.date.clone(), version: day.version, rows, file, bytes });
        }
    }
    Ok(report)
}

enum Fill {
    Sql(rusqlite::Error),
    Parquet(::parquet::errors::ParquetError),
}

impl From<rusqlite::Error> for Fill {
    fn from(e: rusqlite::Error) -> Fill {
        Fill::Sql(e)
    }
}

impl From<rusqlite::types::FromSqlError> for Fill {
    fn from(e: rusqlite::types::FromSqlError) -> Fill {
        Fill::Sql(e.into())
    }
}

impl From<::parquet::errors::ParquetError> for Fill {
    fn from(e: ::parquet::errors::ParquetError) -> Fill {
        Fill::Parquet(e)
    }
}

/// Rows between progress reports.
const TICK: u64 = 100_000;

/// Ends a row, telling `tick` every [`TICK`] rows.
fn row_done(t: &mut Table, tick: &mut dyn FnMut(u64)) -> Result<(), Fill> {
    let n = t.row_done()?;
    if n.is_multiple_of(TICK) {
        tick(n);
    }
    Ok(())
}

fn schema(table: ExportTable) -> &'static str {
    match table {
        ExportTable::Domains => {
            "message domain {
                required binary name (STRING);
                required int32 first_seen (DATE);
                required int32 last_changed (DATE);
                optional group ns (LIST) { repeated group list { required binary element (STRING); } }
                optional int32 ds_count;
                optional boolean signed;
            }"
        }
        ExportTable::Records => {
            "message record {
                required binary domain (STRING);
                required binary owner (STRING);
                required binary type (STRING);
                required int32 ttl;
                required binary rdata (STRING);
            }"
        }
        ExportTable::Changes => {
            "message change {
                required binary domain (STRING);
                required binary kind (STRING);
                required int32 at (DATE);
                optional group diff {
                    required group added (LIST) { repeated group list { required group element {
                        required binary owner (STRING); required binary type (STRING); required int32 ttl; required binary rdata (STRING); } } }
                    required group removed (LIST) { repeated group list { required group element {
                        required binary owner (STRING); required binary type (STRING); required int32 ttl; required binary rdata (STRING); } } }
                }
                optional group moved {
                    required group from (LIST) { repeated group list { required binary element (STRING); } }
                    required group to (LIST) { repeated group list { required binary element (STRING); } }
                }
            }"
        }
    }
}

/// The columns whose values repeat: dictionary-encoded (the rest are near-unique names).
fn dictionary(table: ExportTable) -> &'static [&'static str] {
    match table {
        ExportTable::Domains => &["ns.list.element", "first_seen", "last_changed", "ds_count"],
        ExportTable::Records => &["type", "ttl"],
        ExportTable::Changes => &[
            "kind",
            "at",
            "diff.added.list.element.type",
            "diff.added.list.element.ttl",
            "diff.removed.list.element.type",
            "diff.removed.list.element.ttl",
            "moved.from.list.element",
            "moved.to.list.element",
        ],
    }
}

/// Days since 1970-01-01 of an RFC 3339 date: Parquet's DATE.
fn date(text: &str) -> i32 {
    crate::time::parse_instant(text.get(..10).unwrap_or(text)).map_or(0, |s| s.div_euclid(86400) as i32)
}

/// The version's domains in name order, each with its NS hosts and DS count from its records
/// (a merge of two ordered scans of the tables, dates as they are stored; none for a version
/// kept without records).
fn domains(tx: &Connection, day: &Day, t: &mut Table, tick: &mut dyn FnMut(u64)) -> Result<(), Fill> {
    let mut names = tx.prepare(&format!(
        "SELECT name, first_seen_ts, last_changed_ts FROM domain_rows d WHERE tld = ?1 AND removed_ts IS NULL AND {} ORDER BY name",
        store::visible("d", "?2")
    ))?;
    // The domains' own NS and DS sets, in key order (`rrsets`' primary key). The unary `+`
    // keeps SQLite from taking `owner = ''` as a key term, which made it
    // sort each domain's sets (the 1M bench zone's export: 1.78-2.11 s with it, 1.42-1.77 without).
    let mut sets = tx.prepare(&format!(
        "SELECT domain, type, rdata FROM rrsets r WHERE tld = ?1 AND +owner = '' AND +type IN ('DS', 'NS') AND {} ORDER BY domain, owner, type",
        store::visible("r", "?2")
    ))?;
    let mut expand = store::Records::new(tx)?;
    let mut set_rows = if day.with_records { Some(sets.query(params![day.tld, day.version])?) } else { None };
    let mut pending: Option<(String, String, String)> = None;
    let mut rows = names.query(params![day.tld, day.version])?;
    let mut ns = Vec::<String>::new();
    while let Some(r) = rows.next()? {
        let name = r.get_ref(0)?.as_str()?;
        ns.clear();
        let mut ds = 0i32;
        if let Some(sr) = set_rows.as_mut() {
            loop {
                if pending.is_none() {
                    pending = match sr.next()? {
                        Some(x) => Some((x.get(0)?, x.get(1)?, x.get(2)?)),
                        None => break,
                    };
                }
                let Some((d, ty, rdata)) = pending.take() else { break };
                match d.as_str().cmp(name) {
                    std::cmp::Ordering::Less => continue,
                    std::cmp::Ordering::Greater => {
                        pending = Some((d, ty, rdata));
                        break;
                    }
                    std::cmp::Ordering::Equal if ty == "NS" => expand.rdata(&d, &ty, &rdata, |h| ns.push(h.to_string()))?,
                    std::cmp::Ordering::Equal => expand.rdata(&d, &ty, &rdata, |_| ds += 1)?,
                }
            }
        }
        let c = &mut t.cols;
        c[0].text(name);
        c[1].int(epoch_day(r.get(1)?));
        c[2].int(epoch_day(r.get(2)?));
        let known = day.with_records;
        c[3].opt_list(known.then(|| ns.iter().map(String::as_str)));
        c[4].opt_int(known.then_some(ds));
        c[5].opt_bool(known.then_some(ds > 0));
        row_done(t, tick)?;
    }
    tick(t.rows());
    Ok(())
}

/// Days since 1970-01-01 of Unix seconds: Parquet's DATE.
fn epoch_day(secs: i64) -> i32 {
    secs.div_euclid(86400) as i32
}

/// The version's records in the order the `records` table of schema 12 kept: by domain, owner
/// and type, an RRset's rdata in the order `rrsets` holds them, which is theirs. `rrsets` keys
/// owners relative to their domain, so a domain's sets are put in owners' order here.
fn records(tx: &Connection, day: &Day, t: &mut Table, tick: &mut dyn FnMut(u64)) -> Result<(), Fill> {
    let mut st = tx.prepare(&format!(
        "SELECT domain, owner, type, ttl, rdata FROM rrsets r WHERE tld = ?1 AND {} ORDER BY domain, owner, type",
        store::visible("r", "?2")
    ))?;
    let mut expand = store::Records::new(tx)?;
    let mut rows = st.query(params![day.tld, day.version])?;
    // One domain's records: (owner, type, TTL, rdata).
    let mut domain = String::new();
    let mut recs: Vec<(String, String, i32, String)> = Vec::new();
    let mut flush = |domain: &str, recs: &mut Vec<(String, String, i32, String)>, t: &mut Table| -> Result<(), Fill> {
        // Stable: a set's records keep their order.
        recs.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        for (owner, rtype, ttl, rdata) in recs.drain(..) {
            let c = &mut t.cols;
            c[0].text(domain);
            c[1].text(&owner);
            c[2].text(&rtype);
            c[3].int(ttl);
            c[4].text(&rdata);
            row_done(t, tick)?;
        }
        Ok(())
    };
    while let Some(r) = rows.next()? {
        let d = r.get_ref(0)?.as_str()?;
        if d != domain {
            flush(&domain, &mut recs, t)?;
            domain.clear();
            domain.push_str(d);
        }
        let owner = store::whole(r.get_ref(1)?.as_str()?, &domain).into_owned();
        let rtype = r.get_ref(2)?.as_str()?;
        // RFC 2181: a TTL is 0 to 2^31 - 1, so a signed int32 every engine reads holds it.
        let ttl = r.get::<_, i64>(3)?.clamp(0, i64::from(i32::MAX)) as i32;
        expand.rdata(&domain, rtype, r.get_ref(4)?.as_str()?, |x| recs.push((owner.clone(), rtype.to_string(), ttl, x.to_string())))?;
    }
    flush(&domain, &mut recs, t)?;
    tick(t.rows());
    Ok(())
}

/// The day's events (every version of that date), with each `modified` one's diff and move.
fn events(tx: &Connection, day: &Day, t: &mut Table, tick: &mut dyn FnMut(u64)) -> Result<(), Fill> {
    for &v in &day.versions {
        let f = Filter { tld: Some(day.tld.clone()), version: Some(v), diffs: true, ..Default::default() };
        for e in changes::list(tx, &f)? {
            put_event(t, &e);
            row_done(t, tick)?;
        }
    }
    tick(t.rows());
    Ok(())
}

fn put_event(t: &mut Table, e: &Event) {
    let c = &mut t.cols;
    c[0].text(&e.domain);
    c[1].text(e.kind.as_str());
    c[2].int(date(&e.at));
    let diff = match (&e.kind, &e.diff) {
        (Kind::Modified, Some(Some(d))) => Some(d),
        _ => None,
    };
    // The four fields of added, then of removed: each a column with the same levels.
    for (i, side) in [0usize, 1].into_iter().enumerate() {
        let recs = diff.map(|d| if side == 0 { &d.added } else { &d.removed });
        let base = 3 + i * 4;
        c[base].opt_list_with(recs.map(|r| r.iter()), |col, x| col.text(&x.owner));
        c[base + 1].opt_list_with(recs.map(|r| r.iter()), |col, x| col.text(&x.rtype));
        c[base + 2].opt_list_with(recs.map(|r| r.iter()), |col, x| col.int(x.ttl.clamp(0, i64::from(i32::MAX)) as i32));
        c[base + 3].opt_list_with(recs.map(|r| r.iter()), |col, x| col.text(&x.rdata));
    }
    let moved = e.moved.as_ref();
    c[11].opt_list(moved.map(|m| m.from.iter().map(String::as_str)));
    c[12].opt_list(moved.map(|m| m.to.iter().map(String::as_str)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zone_name_is_one_folder_whatever_it_holds() {
        assert_eq!(tld_value("."), "root");
        assert_eq!(tld_value("com"), "com");
        assert_eq!(tld_value("xn--p1ai"), "xn--p1ai");
        assert_eq!(tld_value("a/b"), "a%2Fb");
        assert_eq!(tld_value("../x=y"), "..%2Fx%3Dy");
    }

    #[test]
    fn a_zone_date_is_days_since_the_epoch() {
        assert_eq!(date("1970-01-02T00:00:00Z"), 1);
        assert_eq!(date("2026-11-01T00:00:00Z"), 20_758);
        assert_eq!(date("2026-11-01"), 20_758);
    }

    #[test]
    fn a_part_file_is_trusted_only_when_its_size_and_digest_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p"), b"parquet bytes").unwrap();
        let (bytes, sum) = digest(&dir.path().join("p")).unwrap();
        let entry = Entry { version: 1, rows: 1, file: Some("p".into()), bytes, xxh3: Some(sum) };
        assert!(entry.intact(dir.path()));
        std::fs::write(dir.path().join("p"), b"junk  bytes!!").unwrap();
        assert!(!entry.intact(dir.path()), "same size, other bytes");
        std::fs::remove_file(dir.path().join("p")).unwrap();
        assert!(!entry.intact(dir.path()), "gone");
        // A manifest from before the digest: its size alone is checked.
        std::fs::write(dir.path().join("p"), b"parquet bytes").unwrap();
        assert!(Entry { xxh3: None, ..entry.clone() }.intact(dir.path()));
        // A partition with no rows has no file to check.
        assert!(Entry { file: None, bytes: 0, xxh3: None, ..entry }.intact(dir.path()));
    }
}
