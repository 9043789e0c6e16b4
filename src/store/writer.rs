//! The single writer thread: a new version's groups in, the rows that changed out.
//!
//! Groups (a domain, or another name directly under the origin, or the apex, with its
//! records) arrive in name order and are merge-joined with the current version's state, never
//! held whole: its chain of packed blocks ([`super::state`]), or its rows a page at a time
//! when it has none (`domains` for the change events, `domains` and `record_groups` hashes for
//! the records). The state the new version leaves is packed as the merge goes, whole or as a
//! delta on the current version's. Only what differs is written, with `since` = the new
//! version: when a current version exists, the rows a change replaces get `until` = the new
//! version and the name goes into `pending` (see [`super::CORE`]); readers see none of it
//! until the switch. The first version of a zone is its baseline and records no events.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use rusqlite::{params, Connection, OptionalExtension, Row, Statement, ToSql};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use super::batch::{multi_insert, ROWS_PER_INSERT};
pub use super::batch::{GroupBatch, GroupRow, RRset};
use super::checkpoint::{self, Checkpointer};
use super::links::{Bulk, Changes, Pairs};
use super::push_json_array;
use super::space;
use super::state::{self, BlockWriter, Chain, DomainState, Entry, GroupState};
use super::trace;

/// Rows per write transaction: large enough to amortise commits, small enough that the WAL,
/// which holds up to four transactions between checkpoints (see [`checkpoint`]), stays near
/// 40 MiB.
pub const TX_ROWS: usize = 125_000;
/// Current rows read per query.
const PAGE: i64 = 10_000;

/// [`PAGE`] and [`TX_ROWS`], unless `ZONEFEED_TEST_BATCH` sets both: the tests make them tiny
/// so that a merge reads many pages across many commits (for tests, not an interface).
fn sizes() -> (i64, usize) {
    match std::env::var("ZONEFEED_TEST_BATCH").ok().and_then(|v| v.parse::<usize>().ok()) {
        Some(n) if n > 0 => (n as i64, n),
        _ => (PAGE, TX_ROWS),
    }
}

/// A [`GroupBatch`] as the writer takes it: its keys checked to be UTF-8 once, as a whole, so
/// that each field is sliced out of one `str` (checking each field on its own was 5% of the
/// writer's time).
struct Batch {
    keys: String,
    rows: Vec<(u32, u32, u32)>,
    groups: Vec<GroupRow>,
    names: String,
    sets: Vec<RRset>,
    json: Option<String>,
}

impl Batch {
    fn new(b: GroupBatch) -> rusqlite::Result<Batch> {
        let keys = String::from_utf8(b.keys).map_err(|e| rusqlite::Error::Utf8Error(e.utf8_error()))?;
        Ok(Batch { keys, rows: b.rows, groups: b.groups, names: b.names, sets: b.sets, json: b.json })
    }

    /// The name of `groups[i]`.
    fn name(&self, i: usize) -> &str {
        let (start, end) = self.groups[i].name;
        self.names.get(start as usize..end as usize).unwrap_or_default()
    }

    fn key(&self, r: &(u32, u32, u32)) -> Option<&str> {
        self.keys.get(r.0 as usize..(r.0 + r.1) as usize)
    }
}

/// What the writer needs to know about the version it writes.
pub struct Job {
    pub zone: i64,
    pub tld: String,
    /// The current version, when there is one.
    pub previous: Option<Previous>,
    pub now: String,
    /// This version keeps its records (no `--no-records`).
    pub records: bool,
}

/// What the writer is sent: batches in name order, then, for a version written whole (no
/// current version with records to compare with), the reverse-lookup index the grouping
/// step collected (see [`super::links::Bulk`]). One channel: closing it ends the writer
/// whatever it was waiting for.
pub enum ToWriter {
    Batch(GroupBatch),
    Index(Bulk),
}

/// The version a new one is compared with.
pub struct Previous {
    pub id: i64,
    /// When it was imported: the last time a domain it held and the new one lacks was seen.
    pub imported_at: String,
    /// It kept its records, so `records` and `record_groups` can be compared with.
    pub records: bool,
    /// Its blocks of packed state, if it has them.
    pub state_blocks: Option<i64>,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// Domains the new version holds (not counting removed ones carried forward).
    pub domains: u64,
    pub new_domains: u64,
    pub changed_domains: u64,
    pub removed_domains: u64,
    /// Blocks of packed state written for the new version (None: none that hold).
    pub state_blocks: Option<i64>,
    /// The version those blocks are a delta on (None: a base).
    pub state_prev: Option<i64>,
}

/// Splits a sort key into its four fields.
fn split_key(key: &str) -> Option<[&str; 4]> {
    // memchr: `str::splitn` with a char pattern was 2.5% of the writer's time.
    let mut f = [""; 4];
    let mut rest = key;
    for slot in &mut f[..3] {
        let i = memchr::memchr(0, rest.as_bytes())?;
        *slot = &rest[..i];
        rest = &rest[i + 1..];
    }
    f[3] = rest;
    Some(f)
}

/// Runs the writer until the channel closes. Every batch received is committed when it returns.
pub fn run(conn: &Connection, job: &Job, rx: Receiver<ToWriter>) -> rusqlite::Result<Stats> {
    checkpoint::beside(conn, |ck| write(conn, job, rx, ck))
}

fn write(conn: &Connection, job: &Job, rx: Receiver<ToWriter>, ck: &mut Checkpointer) -> rusqlite::Result<Stats> {
    let mut stats = Stats::default();
    let mut in_tx = 0usize;
    let (_, tx_rows) = sizes();
    // Stops while the disk has room to undo the import: told of the rows as they are written,
    // group by group (a batch is too large a step on a small disk), then the index's.
    let headroom = space::Headroom::of(conn);
    let wrote = |rows: usize| headroom.as_ref().map_or(Ok(()), |h| h.wrote(conn, rows));
    // Counts rows written and commits every `tx_rows`.
    let mut tick = |rows: usize| -> rusqlite::Result<()> {
        in_tx += rows;
        if in_tx >= tx_rows {
            conn.execute_batch("COMMIT")?;
            ck.committed(conn)?;
            conn.execute_batch("BEGIN")?;
            in_tx = 0;
        }
        Ok(())
    };
    conn.execute_batch("BEGIN")?;
    let started = Instant::now();
    // Time spent waiting for the importer: the rest is the writer's own work (SQLite and the
    // comparison with the current version), the floor the bench prints.
    let mut waiting = Duration::ZERO;
    let mut merge = Merge::new(conn, job)?;
    let mut bulk = None;
    loop {
        let t = Instant::now();
        let m = rx.recv();
        waiting += t.elapsed();
        let Ok(m) = m else { break };
        let b = match m {
            ToWriter::Batch(b) => Batch::new(b)?,
            ToWriter::Index(b) => {
                bulk = Some(b);
                continue;
            }
        };
        let mut start = 0;
        for (i, g) in b.groups.iter().enumerate() {
            merge.group(&b, i, start, &mut stats)?;
            wrote(g.end - start + 1)?;
            start = g.end;
        }
        merge.finish_batch(&b)?;
        tick(b.rows.len() + b.groups.len())?;
    }
    merge.finish(&mut stats)?;
    let Merge { links, state, delta, old, .. } = merge;
    let blocks = state.finish()?;
    if delta.is_some() && old.fell_back {
        // A delta on a state found damaged on the way is no state: the next import compares
        // with the rows, and writes a base.
        state::discard(conn, job.zone)?;
    } else {
        (stats.state_blocks, stats.state_prev) = (Some(blocks), delta);
    }
    trace("rows written; the reverse-lookup index next");
    let index = Instant::now();
    let mut index_tick = |rows: usize| {
        wrote(rows)?;
        tick(rows)
    };
    match bulk {
        Some(bulk) => bulk.write(conn, &job.tld, job.zone, &mut index_tick)?,
        None => links.finish(conn, &job.tld, job.zone, &mut index_tick)?,
    }
    let index = index.elapsed();
    trace("reverse-lookup index written");
    conn.execute_batch("COMMIT")?;
    let busy = started.elapsed().saturating_sub(waiting);
    trace(&format!(
        "busy {:.3}s (the index {:.3}s), waited {:.3}s for rows",
        busy.as_secs_f64(),
        index.as_secs_f64(),
        waiting.as_secs_f64()
    ));
    Ok(stats)
}

/// The reverse-lookup pairs of `b.rows[rows]`.
fn pairs_of(b: &Batch, rows: Range<usize>) -> rusqlite::Result<Pairs> {
    let mut p = Pairs::default();
    for r in &b.rows[rows] {
        let [domain, owner, rtype, rdata] = fields(b, r)?;
        p.add(domain, owner, rtype, rdata);
    }
    Ok(p)
}

/// A page of the current `domains` rows the merge compares with (see [`Pager::new`]).
pub const CURRENT_DOMAINS: &str = "SELECT name, hash, sig, removed_ts IS NOT NULL FROM domain_rows
  WHERE tld = ?1 AND name > ?2 AND until IS NULL AND since < ?4 ORDER BY name LIMIT ?3";
/// A page of the current `record_groups` rows.
const CURRENT_GROUPS: &str = "SELECT name, hash, sig FROM record_groups
  WHERE tld = ?1 AND name > ?2 AND until IS NULL AND since < ?4 ORDER BY name LIMIT ?3";

/// A table's rows for one TLD in name order, a page at a time.
struct Pager<'c, T> {
    st: Option<Statement<'c>>,
    tld: &'c str,
    zone: i64,
    /// Rows a query reads.
    page: i64,
    buf: VecDeque<T>,
    after: Option<String>,
    map: fn(&Row<'_>) -> rusqlite::Result<T>,
    name: fn(&T) -> &str,
}

impl<'c, T> Pager<'c, T> {
    /// `sql` selects the current rows of `?1` with names after `?2`, in name order, `LIMIT ?3`,
    /// written before version `?4`; None reads nothing. The first page starts after `after`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        conn: &'c Connection,
        sql: Option<&str>,
        tld: &'c str,
        zone: i64,
        after: &str,
        map: fn(&Row<'_>) -> rusqlite::Result<T>,
        name: fn(&T) -> &str,
    ) -> rusqlite::Result<Self> {
        let st = sql.map(|s| conn.prepare(s)).transpose()?;
        let after = st.as_ref().map(|_| after.to_string());
        let (page, _) = sizes();
        Ok(Pager { st, tld, zone, page, buf: VecDeque::new(), after, map, name })
    }

    fn peek(&mut self) -> rusqlite::Result<Option<&T>> {
        if self.buf.is_empty() {
            if let (Some(after), Some(st)) = (self.after.take(), self.st.as_mut()) {
                let rows = st.query_map(params![self.tld, after, self.page, self.zone], self.map)?;
                for row in rows {
                    self.buf.push_back(row?);
                }
                if self.buf.len() as i64 == self.page {
                    self.after = self.buf.back().map(|o| (self.name)(o).to_string());
                }
            }
        }
        Ok(self.buf.front())
    }

    /// The next row's name.
    fn peek_name(&mut self) -> rusqlite::Result<Option<&str>> {
        let f = self.name;
        Ok(self.peek()?.map(f))
    }

    /// The next row when it is `name`'s.
    fn pop_eq(&mut self, name: &str) -> rusqlite::Result<Option<T>> {
        Ok(if self.peek_name()? == Some(name) { self.buf.pop_front() } else { None })
    }
}

/// The current `domains` and `record_groups` rows, paged.
type Rows<'c> = (Pager<'c, (String, DomainState)>, Pager<'c, (String, GroupState)>);

/// The current version's state, name by name, in name order: from its chain of packed
/// blocks, else from its rows. Blocks found damaged are left for the rows from the last name
/// they gave. Entries come as the blocks hold them (a `record_groups` state even when records
/// are not compared: a delta needs it); from the rows, groups only when records are compared.
struct Old<'c> {
    conn: &'c Connection,
    job: &'c Job,
    /// `record_groups` rows are read too (records are compared).
    groups: bool,
    chain: Option<Chain<'c>>,
    rows: Option<Rows<'c>>,
    next: Option<Entry>,
    /// Blocks were found damaged and the rows took over.
    fell_back: bool,
}

impl<'c> Old<'c> {
    fn new(conn: &'c Connection, job: &'c Job, groups: bool) -> rusqlite::Result<Self> {
        let mut old = Old { conn, job, groups, chain: None, rows: None, next: None, fell_back: false };
        match &job.previous {
            Some(Previous { id, state_blocks: Some(n), .. }) => match Chain::open(conn, *id, *n) {
                Ok(c) => old.chain = Some(c),
                Err(state::ReadError::Sqlite(e)) => return Err(e),
                Err(damaged) => {
                    log::warn!("{}: {damaged}; comparing with its rows instead", job.tld);
                    old.rows = Some(old.pagers("")?);
                }
            },
            Some(_) => old.rows = Some(old.pagers("")?),
            None => {}
        }
        Ok(old)
    }

    /// The current rows' pagers, from the first name after `after`.
    fn pagers(&self, after: &str) -> rusqlite::Result<Rows<'c>> {
        let (conn, tld, zone) = (self.conn, self.job.tld.as_str(), self.job.zone);
        let domains = Pager::new(
            conn,
            Some(CURRENT_DOMAINS),
            tld,
            zone,
            after,
            |r| Ok((r.get::<_, String>(0)?, DomainState { hash: r.get(1)?, sig: r.get(2)?, removed: r.get(3)? })),
            |o| o.0.as_str(),
        )?;
        let groups = Pager::new(
            conn,
            self.groups.then_some(CURRENT_GROUPS),
            tld,
            zone,
            after,
            |r| Ok((r.get::<_, String>(0)?, GroupState { hash: r.get(1)?, sig: r.get(2)? })),
            |o| o.0.as_str(),
        )?;
        Ok((domains, groups))
    }

    /// The next name's state, read from the blocks or the rows.
    fn read(&mut self) -> rusqlite::Result<Option<Entry>> {
        if let Some(c) = &mut self.chain {
            match c.next_entry() {
                Ok(e) => return Ok(e),
                Err(state::ReadError::Sqlite(e)) => return Err(e),
                Err(damaged) => {
                    log::warn!("{}: {damaged}; comparing with its rows instead", self.job.tld);
                    let after = c.last().to_string();
                    self.chain = None;
                    self.rows = Some(self.pagers(&after)?);
                    self.fell_back = true;
                }
            }
        }
        let Some((domains, groups)) = &mut self.rows else { return Ok(None) };
        let name = match (domains.peek_name()?, groups.peek_name()?) {
            (Some(d), Some(g)) => d.min(g).to_string(),
            (Some(n), None) | (None, Some(n)) => n.to_string(),
            (None, None) => return Ok(None),
        };
        let domain = domains.pop_eq(&name)?.map(|d| d.1);
        let group = groups.pop_eq(&name)?.map(|g| g.1);
        Ok(Some(Entry { name, domain, group }))
    }

    fn peek(&mut self) -> rusqlite::Result<Option<&Entry>> {
        if self.next.is_none() {
            self.next = self.read()?;
        }
        Ok(self.next.as_ref())
    }

    /// The next name's state when the name sorts before `name`.
    fn pop_before(&mut self, name: &str) -> rusqlite::Result<Option<Entry>> {
        Ok(if self.peek()?.is_some_and(|e| e.name.as_str() < name) { self.next.take() } else { None })
    }

    /// The next name's state when it is `name`'s.
    fn pop_eq(&mut self, name: &str) -> rusqlite::Result<Option<Entry>> {
        Ok(if self.peek()?.is_some_and(|e| e.name == name) { self.next.take() } else { None })
    }

    fn pop(&mut self) -> rusqlite::Result<Option<Entry>> {
        self.peek()?;
        Ok(self.next.take())
    }
}

/// Buffered multi-row inserts into one table. Rows are `T`s bound with a context `C` that
/// outlives them only per call: rows are indices into the batch they came in.
struct Inserter<'c, T, C> {
    multi: Statement<'c>,
    one: Statement<'c>,
    pending: Vec<T>,
    bind: fn(&mut Statement<'_>, usize, &C, &T) -> rusqlite::Result<()>,
    /// Parameters before the first row's own: the shared ones.
    shared: usize,
    cols: usize,
}

impl<'c, T, C> Inserter<'c, T, C> {
    /// `shared` pairs a column with the value every row gets; `bind` binds a row's own
    /// `cols` from the parameter after the index it is given.
    fn new(
        conn: &'c Connection,
        table: &str,
        shared: &[(&str, &dyn ToSql)],
        cols: &[&str],
        bind: fn(&mut Statement<'_>, usize, &C, &T) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<Self> {
        let names: Vec<&str> = shared.iter().map(|(c, _)| *c).collect();
        let mut multi = conn.prepare(&multi_insert(table, &names, cols, ROWS_PER_INSERT))?;
        let mut one = conn.prepare(&multi_insert(table, &names, cols, 1))?;
        for (i, (_, v)) in shared.iter().enumerate() {
            multi.raw_bind_parameter(i + 1, v)?;
            one.raw_bind_parameter(i + 1, v)?;
        }
        Ok(Inserter { multi, one, pending: Vec::with_capacity(ROWS_PER_INSERT), bind, shared: shared.len(), cols: cols.len() })
    }

    fn push(&mut self, cx: &C, row: T) -> rusqlite::Result<()> {
        self.pending.push(row);
        if self.pending.len() == ROWS_PER_INSERT {
            for (i, row) in self.pending.iter().enumerate() {
                (self.bind)(&mut self.multi, self.shared + i * self.cols, cx, row)?;
            }
            self.multi.raw_execute()?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes the rows waiting for a full statement (before their context goes).
    fn finish(&mut self, cx: &C) -> rusqlite::Result<()> {
        for row in std::mem::take(&mut self.pending) {
            (self.bind)(&mut self.one, self.shared, cx, &row)?;
            self.one.raw_execute()?;
        }
        Ok(())
    }
}

/// A group row's own columns in `domains` and `record_groups`.
const GROUP: &[&str] = &["name", "hash", "sig"];

/// An `rrsets` row: the batch's `sets[k]`, with its rdata already encoded when it is an NS
/// set (see [`Hosts::ns_rdata`]).
struct SetRow {
    k: usize,
    ns: Option<String>,
}

/// The records of the batch's `sets[k]`.
fn set_rows(b: &Batch, k: usize) -> &[(u32, u32, u32)] {
    let start = if k == 0 { 0 } else { b.sets[k - 1].rows_end as usize };
    &b.rows[start..b.sets[k].rows_end as usize]
}

fn malformed() -> rusqlite::Error {
    rusqlite::Error::InvalidParameterName("malformed RRset".into())
}

/// The `rrsets` row of a [`SetRow`] (see [`super::CORE`]). Its records share owner, type and
/// TTL (the grouping gives an RRset its lowest); the owner is stored relative to the domain.
fn bind_rrset(st: &mut Statement<'_>, base: usize, b: &Batch, row: &SetRow) -> rusqlite::Result<()> {
    let k = row.k;
    let rows = set_rows(b, k);
    let mut built = String::new();
    let rdata = match (&row.ns, &b.json) {
        (Some(ns), _) => ns.as_str(),
        (None, Some(json)) => {
            let start = if k == 0 { 0 } else { b.sets[k - 1].json_end as usize };
            json.get(start..b.sets[k].json_end as usize).ok_or_else(malformed)?
        }
        (None, None) => {
            let rdatas = rows.iter().map(|r| fields(b, r).map(|f| f[3])).collect::<rusqlite::Result<Vec<_>>>()?;
            push_json_array(&mut built, rdatas.iter());
            built.as_str()
        }
    };
    let first = rows.first().ok_or_else(malformed)?;
    let [domain, owner, rtype, _] = fields(b, first)?;
    // Every owner is at or below its group's name; the root zone's are stored whole.
    let owner = match super::below(owner, domain) {
        Some(rel) => rel,
        None if domain == "." => owner,
        None => return Err(malformed()),
    };
    st.raw_bind_parameter(base + 1, domain)?;
    st.raw_bind_parameter(base + 2, owner)?;
    st.raw_bind_parameter(base + 3, rtype)?;
    st.raw_bind_parameter(base + 4, first.2)?;
    st.raw_bind_parameter(base + 5, rdata)
}

/// The `hosts` dictionary as one import uses it: the ids it looked up or added, kept for the
/// import (a host of a big provider serves millions of domains).
struct Hosts<'c> {
    ids: HashMap<Box<str>, i64, Xxh3DefaultBuilder>,
    find: Statement<'c>,
    add: Statement<'c>,
}

impl<'c> Hosts<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Hosts {
            ids: HashMap::default(),
            find: conn.prepare("SELECT id FROM hosts WHERE name = ?1")?,
            add: conn.prepare("INSERT INTO hosts (name) VALUES (?1) RETURNING id")?,
        })
    }

    fn id(&mut self, host: &str) -> rusqlite::Result<i64> {
        if let Some(&id) = self.ids.get(host) {
            return Ok(id);
        }
        let id = match self.find.query_row([host], |r| r.get(0)).optional()? {
            Some(id) => id,
            None => self.add.query_row([host], |r| r.get(0))?,
        };
        self.ids.insert(host.into(), id);
        Ok(id)
    }

    /// The rdata of the batch's `sets[k]` as `rrsets` stores an NS set: a JSON array whose
    /// items are targets relative to the domain ([`super::below`]) or `hosts` ids. None for
    /// any other type.
    fn ns_rdata(&mut self, b: &Batch, k: usize) -> rusqlite::Result<Option<String>> {
        let rows = set_rows(b, k);
        let [domain, _, rtype, _] = fields(b, rows.first().ok_or_else(malformed)?)?;
        if rtype != "NS" {
            return Ok(None);
        }
        let mut out = String::from("[");
        for (n, r) in rows.iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            let target = fields(b, r)?[3];
            match super::below(target, domain) {
                Some(rel) => super::push_json(&mut out, rel),
                None => {
                    let id = self.id(target)?;
                    let _ = write!(out, "{id}");
                }
            }
        }
        out.push(']');
        Ok(Some(out))
    }
}

/// The fields of a batch row's sort key.
fn fields<'b>(b: &'b Batch, row: &(u32, u32, u32)) -> rusqlite::Result<[&'b str; 4]> {
    b.key(row).and_then(split_key).ok_or_else(|| rusqlite::Error::InvalidParameterName("malformed sort key".into()))
}

/// A group's name and hashes: the row the batch's `groups[i]` gives `domains` (a new domain:
/// its dates are shared) or `record_groups`.
fn bind_group(st: &mut Statement<'_>, base: usize, b: &Batch, &i: &usize) -> rusqlite::Result<()> {
    let g = &b.groups[i];
    st.raw_bind_parameter(base + 1, b.name(i))?;
    st.raw_bind_parameter(base + 2, &g.hash[..])?;
    st.raw_bind_parameter(base + 3, g.sig.as_ref().map(|s| &s[..]))
}

/// A `domains` row that replaces a current one. `first_seen` and `last_changed` left None
/// keep that row's.
struct NewDomain {
    name: String,
    hash: [u8; 16],
    sig: Option<[u8; 16]>,
    first_seen: Option<String>,
    last_seen: Option<String>,
    last_changed: Option<String>,
    removed_at: Option<String>,
}

/// Statements that replace a name's current rows; `?1` tld, `?2` name, `?3` the new version.
struct Replace<'c> {
    /// Marks the name's current records and group row replaced.
    records: Statement<'c>,
    groups: Statement<'c>,
    /// Writes the name's new domain row from its current one (dates carried), then marks the
    /// current one replaced.
    domain: Statement<'c>,
    domain_done: Statement<'c>,
    /// Notes the name in `pending`, for a rollback should the import not finish.
    pending: Statement<'c>,
}

impl<'c> Replace<'c> {
    fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Replace {
            records: conn.prepare("UPDATE rrsets SET until = ?3 WHERE tld = ?1 AND domain = ?2 AND until IS NULL AND since < ?3")?,
            groups: conn.prepare("UPDATE record_groups SET until = ?3 WHERE tld = ?1 AND name = ?2 AND until IS NULL AND since < ?3")?,
            domain: conn.prepare(
                "INSERT OR FAIL INTO domain_rows (tld, name, hash, sig, first_seen_ts, last_seen_ts, last_changed_ts, removed_ts, since)
                 SELECT ?1, ?2, ?4, ?5, coalesce(unixepoch(?6), first_seen_ts), unixepoch(?7), coalesce(unixepoch(?8), last_changed_ts),
                        unixepoch(?9), ?3
                   FROM domain_rows WHERE tld = ?1 AND name = ?2 AND until IS NULL AND since < ?3",
            )?,
            domain_done: conn.prepare("UPDATE domain_rows SET until = ?3 WHERE tld = ?1 AND name = ?2 AND until IS NULL AND since < ?3")?,
            pending: conn.prepare("INSERT OR IGNORE INTO pending (zone, name) VALUES (?1, ?2)")?,
        })
    }
}

/// The merge of the new version's groups with the current rows.
struct Merge<'c> {
    job: &'c Job,
    tld: &'c str,
    old: Old<'c>,
    /// The state the new version leaves: a base, or a delta on the current version's.
    state: BlockWriter<'c>,
    /// The version the state is a delta on.
    delta: Option<i64>,
    /// Records are compared with the current ones (else written whole, or not at all).
    compare_records: bool,
    /// Records, a row per RRset.
    records: Inserter<'c, SetRow, Batch>,
    hosts: Hosts<'c>,
    /// Domains no current row names: first seen and changed now.
    domains: Inserter<'c, usize, Batch>,
    groups: Inserter<'c, usize, Batch>,
    replace: Replace<'c>,
    /// The name last noted in `pending`.
    pending_last: String,
    event: Statement<'c>,
    /// The reverse-lookup index's changes, when records are compared.
    links: Changes<'c>,
}

impl<'c> Merge<'c> {
    fn new(conn: &'c Connection, job: &'c Job) -> rusqlite::Result<Merge<'c>> {
        let compare_records = job.records && job.previous.as_ref().is_some_and(|p| p.records);
        let tld = job.tld.as_str();
        let zone = &job.zone as &dyn ToSql;
        // `domain_rows` keeps dates as Unix seconds (see `super::CORE`).
        let now_ts = crate::time::parse_instant(&job.now)
            .map_err(|e| rusqlite::Error::InvalidParameterName(format!("the version's date `{}`: {e}", job.now)))?;
        let now = &now_ts as &dyn ToSql;
        let tld_sql = &tld as &dyn ToSql;
        let old = Old::new(conn, job, compare_records)?;
        let delta = old.chain.as_ref().filter(|c| !c.wants_base()).and(job.previous.as_ref()).map(|p| p.id);
        Ok(Merge {
            job,
            tld,
            old,
            state: BlockWriter::new(conn, job.zone)?,
            delta,
            compare_records,
            records: Inserter::new(
                conn,
                "rrsets",
                &[("tld", tld_sql), ("since", zone)],
                &["domain", "owner", "type", "ttl", "rdata"],
                bind_rrset,
            )?,
            hosts: Hosts::new(conn)?,
            domains: Inserter::new(
                conn,
                "domain_rows",
                &[("tld", tld_sql), ("since", zone), ("first_seen_ts", now), ("last_changed_ts", now)],
                GROUP,
                bind_group,
            )?,
            groups: Inserter::new(conn, "record_groups", &[("tld", tld_sql), ("since", zone)], GROUP, bind_group)?,
            replace: Replace::new(conn)?,
            pending_last: String::new(),
            event: conn.prepare("INSERT INTO events (zone, prev_zone, tld, domain, kind, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?,
            links: Changes::new(conn)?,
        })
    }

    /// The `i`th group of `b`, whose records are `b.rows[start..]`.
    fn group(&mut self, b: &Batch, i: usize, start: usize, stats: &mut Stats) -> rusqlite::Result<()> {
        let (g, name) = (&b.groups[i], b.name(i));
        // Current names before this one are gone from the new version.
        while let Some(e) = self.old.pop_before(name)? {
            self.gone(e, stats)?;
        }
        let (od, og_all) = self.old.pop_eq(name)?.map_or((None, None), |e| (e.domain, e.group));
        let og = og_all.clone().filter(|_| self.compare_records);
        // The hashes the current records of this name have, if it has any.
        let old_records = match (&od, &og) {
            (Some(d), _) if !d.removed => Some((d.hash, d.sig)),
            (_, Some(o)) => Some((o.hash, o.sig)),
            _ => None,
        };
        // The state the rows below leave: a delegation's domain row has the group's hashes, a
        // name that was one keeps its row, removed; a group row for the rest, with records.
        let domain = match (g.delegation, &od) {
            (true, _) => Some(DomainState { hash: g.hash, sig: g.sig, removed: false }),
            (false, Some(o)) => Some(o.as_removed()),
            (false, None) => None,
        };
        let group = (self.job.records && !g.delegation).then_some(GroupState { hash: g.hash, sig: g.sig });
        self.leave(name, (od.as_ref(), og_all.as_ref()), (domain.as_ref(), group.as_ref()))?;
        match (g.delegation, od) {
            (true, od) => self.domain_present(b, i, od, stats)?,
            // Its records, if it keeps any, are replaced below.
            (false, Some(o)) => self.domain_gone(name, o, false, stats)?,
            (false, None) => {}
        }
        if !self.job.records {
            return Ok(());
        }
        if self.compare_records && old_records == Some((g.hash, g.sig)) {
            return Ok(());
        }
        if self.compare_records && old_records.is_some() {
            self.records_gone(name, og.is_some(), pairs_of(b, start..g.end)?)?;
        } else if self.compare_records {
            self.note_pending(name)?;
            self.links.note(Pairs::default(), pairs_of(b, start..g.end)?);
        }
        let sets_start = if i == 0 { 0 } else { b.groups[i - 1].sets_end };
        for k in sets_start..g.sets_end {
            let ns = self.hosts.ns_rdata(b, k)?;
            self.records.push(b, SetRow { k, ns })?;
        }
        if !g.delegation {
            self.groups.push(b, i)?;
        }
        Ok(())
    }

    /// A domain of the new version, and what the current version knew of it.
    fn domain_present(&mut self, b: &Batch, i: usize, od: Option<DomainState>, stats: &mut Stats) -> rusqlite::Result<()> {
        let (g, name) = (&b.groups[i], b.name(i));
        stats.domains += 1;
        let Some(o) = od else {
            stats.new_domains += 1;
            if self.job.previous.is_some() {
                self.record_event(name, "added")?;
            }
            self.note_pending(name)?;
            return self.domains.push(b, i);
        };
        let now = Some(self.job.now.clone());
        let last_changed = if !o.removed && o.hash == g.hash {
            if o.sig == g.sig {
                return Ok(());
            }
            // Only the signatures changed: no event, but the new hashes are kept.
            None
        } else if !o.removed {
            stats.changed_domains += 1;
            self.record_event(name, "modified")?;
            now
        } else {
            // It comes back: added again, first seen long ago.
            stats.new_domains += 1;
            self.record_event(name, "added")?;
            now
        };
        let row = NewDomain {
            name: name.to_string(),
            hash: g.hash,
            sig: g.sig,
            first_seen: None,
            last_seen: None,
            last_changed,
            removed_at: None,
        };
        if self.replace_domain(&row)? == 0 {
            // `prune` dropped the removed row the state still names: the domain comes back
            // with a new row, first seen now, as history before the prune is gone.
            self.domains.push(b, i)?;
        }
        Ok(())
    }

    /// A name of the current version that is not in the new one at all: its domain row is
    /// removed, its records go.
    fn gone(&mut self, e: Entry, stats: &mut Stats) -> rusqlite::Result<()> {
        let removed = e.domain.as_ref().map(DomainState::as_removed);
        self.leave(&e.name, (e.domain.as_ref(), e.group.as_ref()), (removed.as_ref(), None))?;
        if let Some(d) = e.domain {
            self.domain_gone(&e.name, d, true, stats)?;
        }
        if e.group.is_some() && self.compare_records {
            self.records_gone(&e.name, true, Pairs::default())?;
        }
        Ok(())
    }

    /// Packs the state `name` leaves, `new` where it had `old`: every name's in a base, only
    /// a change (a tombstone when it has none left) in a delta.
    fn leave(
        &mut self,
        name: &str,
        old: (Option<&DomainState>, Option<&GroupState>),
        new: (Option<&DomainState>, Option<&GroupState>),
    ) -> rusqlite::Result<()> {
        let keep = match self.delta {
            None => new.0.is_some() || new.1.is_some(),
            Some(_) => old != new,
        };
        if keep {
            self.state.push(name, new.0, new.1)?;
        }
        Ok(())
    }

    /// A current domain row whose name is no domain of the new version; `records_go` when
    /// the name has no records in it at all.
    fn domain_gone(&mut self, name: &str, o: DomainState, records_go: bool, stats: &mut Stats) -> rusqlite::Result<()> {
        if o.removed {
            return Ok(());
        }
        stats.removed_domains += 1;
        self.record_event(name, "removed")?;
        if self.compare_records && records_go {
            self.records_gone(name, false, Pairs::default())?;
        }
        let last_seen = self.job.previous.as_ref().map(|p| p.imported_at.clone());
        let row = NewDomain {
            name: name.to_string(),
            hash: o.hash,
            sig: o.sig,
            first_seen: None,
            last_seen,
            last_changed: None,
            removed_at: Some(self.job.now.clone()),
        };
        self.replace_domain(&row).map(drop)
    }

    /// Writes a domain row that replaces the name's current one; the rows written (0 when it
    /// has none, as after `prune` dropped a removed one).
    fn replace_domain(&mut self, d: &NewDomain) -> rusqlite::Result<usize> {
        self.note_pending(&d.name)?;
        let (tld, zone) = (self.tld, self.job.zone);
        let sig = d.sig.as_ref().map(|s| &s[..]);
        let written = self.replace.domain.execute(params![
            tld,
            d.name,
            zone,
            &d.hash[..],
            sig,
            d.first_seen,
            d.last_seen,
            d.last_changed,
            d.removed_at
        ])?;
        self.replace.domain_done.execute(params![tld, d.name, zone])?;
        Ok(written)
    }

    /// The name's current records (and its group row, when it has one) are replaced, by
    /// none or by new ones, whose reverse-lookup pairs are `new`.
    fn records_gone(&mut self, name: &str, group: bool, new: Pairs) -> rusqlite::Result<()> {
        self.note_pending(name)?;
        let old = self.links.current(self.tld, name, self.job.zone)?;
        self.links.note(old, new);
        self.replace.records.execute(params![self.tld, name, self.job.zone])?;
        if group {
            self.replace.groups.execute(params![self.tld, name, self.job.zone])?;
        }
        Ok(())
    }

    /// Notes a name whose rows this version writes while a current version exists. A name's
    /// rows are written together (its domain row, then its records): noted once, not by each.
    fn note_pending(&mut self, name: &str) -> rusqlite::Result<()> {
        if self.job.previous.is_some() && self.pending_last != name {
            self.replace.pending.execute(params![self.job.zone, name])?;
            self.pending_last.clear();
            self.pending_last.push_str(name);
        }
        Ok(())
    }

    fn record_event(&mut self, domain: &str, kind: &str) -> rusqlite::Result<()> {
        let j = self.job;
        self.event.execute(params![j.zone, j.previous.as_ref().map(|p| p.id), j.tld, domain, kind, j.now])?;
        Ok(())
    }

    /// Current names after the last new one are gone too; then the last rows.
    fn finish(&mut self, stats: &mut Stats) -> rusqlite::Result<()> {
        while let Some(e) = self.old.pop()? {
            self.gone(e, stats)?;
        }
        Ok(())
    }

    /// Writes the rows of `b` still waiting for a full statement.
    fn finish_batch(&mut self, b: &Batch) -> rusqlite::Result<()> {
        self.records.finish(b)?;
        self.domains.finish(b)?;
        self.groups.finish(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sort_key_splits_into_its_four_fields_and_rdata_keeps_its_blanks() {
        assert_eq!(
            split_key("example.com\0example.com\0NS\0ns1.example.net"),
            Some(["example.com", "example.com", "NS", "ns1.example.net"])
        );
        assert_eq!(split_key("a.com\0a.com\0TXT\0\"two words\""), Some(["a.com", "a.com", "TXT", "\"two words\""]));
        assert_eq!(split_key("a.com\0a.com\0NS"), None, "three fields");
    }
}
