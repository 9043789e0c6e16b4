//! The single writer thread: rows of a new version in, batched transactions out.
//!
//! Records arrive as sort keys in primary-key order, so every insert appends at the right edge
//! of the new version's key range. Domains arrive in name order and are merged with the
//! previous version's domains (read a page at a time, never held whole) to carry
//! `first_seen` and `last_changed` forward.

use crossbeam_channel::Receiver;
use rusqlite::{params, Connection};

/// Rows per write transaction: large enough to amortise commits, small enough that the WAL
/// stays a few hundred MiB at most.
const TX_ROWS: usize = 250_000;
/// Previous-version domains read per query.
const PAGE: i64 = 10_000;
/// Rows per INSERT statement. Within one statement SQLite keeps its B-tree cursor on the last
/// page, so sorted keys append without a descent from the root per row (3-4x faster than
/// one row per statement here).
const ROWS_PER_INSERT: usize = 64;

/// `INSERT INTO table (cols) VALUES (?, ...), (?, ...)...` for `rows` rows.
fn multi_insert(table: &str, cols: &[&str], rows: usize) -> String {
    let one = format!("({})", vec!["?"; cols.len()].join(", "));
    format!("INSERT INTO {table} ({}) VALUES {}", cols.join(", "), vec![one; rows].join(", "))
}

/// A batch of records: sort keys (`domain \0 owner \0 TYPE \0 rdata`) and TTLs.
#[derive(Default)]
pub struct RecordBatch {
    pub keys: Vec<u8>,
    pub rows: Vec<(u32, u32, u32)>,
}

impl RecordBatch {
    pub fn push(&mut self, key: &[u8], ttl: u32) {
        self.rows.push((self.keys.len() as u32, key.len() as u32, ttl));
        self.keys.extend_from_slice(key);
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A domain of the new version and its state hash.
pub struct DomainRow {
    pub name: String,
    pub hash: [u8; 16],
}

pub enum Msg {
    Records(RecordBatch),
    Domains(Vec<DomainRow>),
}

/// What the writer needs to know about the version it writes.
pub struct Job {
    pub zone: i64,
    pub tld: String,
    pub previous: Option<i64>,
    pub now: String,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub records: u64,
    /// Domains the new version holds (not counting removed ones carried forward).
    pub domains: u64,
    pub new_domains: u64,
    pub changed_domains: u64,
    pub removed_domains: u64,
}

/// Splits a sort key into its four fields.
pub fn split_key(key: &[u8]) -> Option<[&str; 4]> {
    let mut it = key.splitn(4, |&b| b == 0);
    let mut f = [""; 4];
    for slot in &mut f {
        *slot = std::str::from_utf8(it.next()?).ok()?;
    }
    Some(f)
}

/// Runs the writer until the channel closes. Every batch received is committed when it returns.
pub fn run(conn: &Connection, job: &Job, rx: Receiver<Msg>) -> rusqlite::Result<Stats> {
    let mut stats = Stats::default();
    let mut in_tx = 0usize;
    conn.execute_batch("BEGIN")?;
    const REC: &[&str] = &["zone", "tld", "domain", "owner", "type", "ttl", "rdata"];
    let mut ins_rec = conn.prepare(&multi_insert("records", REC, ROWS_PER_INSERT))?;
    let mut ins_rec1 = conn.prepare(&multi_insert("records", REC, 1))?;
    let mut merge = DomainMerge::new(conn, job)?;
    for msg in rx {
        match msg {
            Msg::Records(b) => {
                let mut rows = b.rows.chunks_exact(ROWS_PER_INSERT);
                for group in rows.by_ref() {
                    for (i, &(off, len, ttl)) in group.iter().enumerate() {
                        bind_record(&mut ins_rec, i * REC.len(), job, &b.keys[off as usize..(off + len) as usize], ttl)?;
                    }
                    ins_rec.raw_execute()?;
                }
                for &(off, len, ttl) in rows.remainder() {
                    bind_record(&mut ins_rec1, 0, job, &b.keys[off as usize..(off + len) as usize], ttl)?;
                    ins_rec1.raw_execute()?;
                }
                stats.records += b.rows.len() as u64;
                in_tx += b.rows.len();
            }
            Msg::Domains(ds) => {
                for d in &ds {
                    merge.domain(d, &mut stats)?;
                }
                in_tx += ds.len();
            }
        }
        if in_tx >= TX_ROWS {
            conn.execute_batch("COMMIT; BEGIN")?;
            in_tx = 0;
        }
    }
    merge.finish(&mut stats)?;
    drop(merge);
    conn.execute_batch("COMMIT")?;
    Ok(stats)
}

/// A domain row of the previous version.
struct Old {
    name: String,
    hash: Vec<u8>,
    first_seen: String,
    last_seen: String,
    last_changed: String,
    removed_at: Option<String>,
}

/// A domain row to write: (name, hash, first_seen, last_seen, last_changed, removed_at).
type PendingDomain = (String, Vec<u8>, String, String, String, Option<String>);

const DOM: &[&str] = &["zone", "tld", "name", "hash", "first_seen", "last_seen", "last_changed", "removed_at"];

/// Merge-joins the new version's domains (in name order) with the previous version's (read a
/// page at a time), writing the new version's rows and the change events between the two.
/// Removed domains are carried forward with `removed_at` set; the first version of a zone is
/// its baseline and records no events.
struct DomainMerge<'c> {
    job: &'c Job,
    old: std::collections::VecDeque<Old>,
    old_after: Option<String>,
    page: rusqlite::Statement<'c>,
    ins: rusqlite::Statement<'c>,
    ins1: rusqlite::Statement<'c>,
    event: rusqlite::Statement<'c>,
    pending: Vec<PendingDomain>,
}

impl<'c> DomainMerge<'c> {
    fn new(conn: &'c Connection, job: &'c Job) -> rusqlite::Result<DomainMerge<'c>> {
        Ok(DomainMerge {
            job,
            old: Default::default(),
            old_after: job.previous.map(|_| String::new()),
            page: conn.prepare(
                "SELECT name, hash, first_seen, last_seen, last_changed, removed_at FROM domains
                 WHERE zone = ?1 AND name > ?2 ORDER BY name LIMIT ?3",
            )?,
            ins: conn.prepare(&multi_insert("domains", DOM, ROWS_PER_INSERT))?,
            ins1: conn.prepare(&multi_insert("domains", DOM, 1))?,
            event: conn.prepare("INSERT INTO events (zone, prev_zone, tld, domain, kind, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?,
            pending: Vec::with_capacity(ROWS_PER_INSERT),
        })
    }

    /// The next previous-version row, in name order.
    fn peek_old(&mut self) -> rusqlite::Result<Option<&Old>> {
        if self.old.is_empty() {
            if let (Some(after), Some(pz)) = (self.old_after.take(), self.job.previous) {
                let rows = self.page.query_map(params![pz, after, PAGE], |r| {
                    Ok(Old {
                        name: r.get(0)?,
                        hash: r.get(1)?,
                        first_seen: r.get(2)?,
                        last_seen: r.get(3)?,
                        last_changed: r.get(4)?,
                        removed_at: r.get(5)?,
                    })
                })?;
                for row in rows {
                    self.old.push_back(row?);
                }
                if self.old.len() as i64 == PAGE {
                    self.old_after = self.old.back().map(|o| o.name.clone());
                }
            }
        }
        Ok(self.old.front())
    }

    fn domain(&mut self, d: &DomainRow, stats: &mut Stats) -> rusqlite::Result<()> {
        // Previous-version names before this one are gone from the new version.
        while self.peek_old()?.is_some_and(|o| o.name.as_str() < d.name.as_str()) {
            if let Some(o) = self.old.pop_front() {
                self.gone(o, stats)?;
            }
        }
        let prev = if self.peek_old()?.is_some_and(|o| o.name == d.name) { self.old.pop_front() } else { None };
        let now = self.job.now.clone();
        let (first_seen, last_changed) = match prev {
            Some(o) if o.removed_at.is_none() && o.hash == d.hash => (o.first_seen, o.last_changed),
            Some(o) if o.removed_at.is_none() => {
                stats.changed_domains += 1;
                self.record_event(&d.name, "modified")?;
                (o.first_seen, now.clone())
            }
            Some(o) => {
                // It comes back: added again, first seen long ago.
                stats.new_domains += 1;
                self.record_event(&d.name, "added")?;
                (o.first_seen, now.clone())
            }
            None => {
                stats.new_domains += 1;
                if self.job.previous.is_some() {
                    self.record_event(&d.name, "added")?;
                }
                (now.clone(), now.clone())
            }
        };
        stats.domains += 1;
        self.push((d.name.clone(), d.hash.to_vec(), first_seen, now, last_changed, None))
    }

    /// A previous-version domain the new version does not hold.
    fn gone(&mut self, o: Old, stats: &mut Stats) -> rusqlite::Result<()> {
        let removed_at = match o.removed_at {
            Some(r) => r,
            None => {
                stats.removed_domains += 1;
                self.record_event(&o.name, "removed")?;
                self.job.now.clone()
            }
        };
        self.push((o.name, o.hash, o.first_seen, o.last_seen, o.last_changed, Some(removed_at)))
    }

    fn record_event(&mut self, domain: &str, kind: &str) -> rusqlite::Result<()> {
        let j = self.job;
        self.event.execute(params![j.zone, j.previous, j.tld, domain, kind, j.now])?;
        Ok(())
    }

    fn push(&mut self, row: PendingDomain) -> rusqlite::Result<()> {
        self.pending.push(row);
        if self.pending.len() == ROWS_PER_INSERT {
            for (i, row) in self.pending.iter().enumerate() {
                bind_domain(&mut self.ins, i * DOM.len(), self.job, row)?;
            }
            self.ins.raw_execute()?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Previous-version names after the last new one are gone too; then the last rows.
    fn finish(&mut self, stats: &mut Stats) -> rusqlite::Result<()> {
        while self.peek_old()?.is_some() {
            if let Some(o) = self.old.pop_front() {
                self.gone(o, stats)?;
            }
        }
        for row in std::mem::take(&mut self.pending) {
            bind_domain(&mut self.ins1, 0, self.job, &row)?;
            self.ins1.raw_execute()?;
        }
        Ok(())
    }
}

fn bind_record(st: &mut rusqlite::Statement<'_>, base: usize, job: &Job, key: &[u8], ttl: u32) -> rusqlite::Result<()> {
    let [domain, owner, rtype, rdata] = split_key(key).ok_or_else(|| rusqlite::Error::InvalidParameterName("malformed sort key".into()))?;
    st.raw_bind_parameter(base + 1, job.zone)?;
    st.raw_bind_parameter(base + 2, job.tld.as_str())?;
    st.raw_bind_parameter(base + 3, domain)?;
    st.raw_bind_parameter(base + 4, owner)?;
    st.raw_bind_parameter(base + 5, rtype)?;
    st.raw_bind_parameter(base + 6, ttl)?;
    st.raw_bind_parameter(base + 7, rdata)
}

fn bind_domain(st: &mut rusqlite::Statement<'_>, base: usize, job: &Job, d: &PendingDomain) -> rusqlite::Result<()> {
    st.raw_bind_parameter(base + 1, job.zone)?;
    st.raw_bind_parameter(base + 2, job.tld.as_str())?;
    st.raw_bind_parameter(base + 3, d.0.as_str())?;
    st.raw_bind_parameter(base + 4, &d.1[..])?;
    st.raw_bind_parameter(base + 5, d.2.as_str())?;
    st.raw_bind_parameter(base + 6, d.3.as_str())?;
    st.raw_bind_parameter(base + 7, d.4.as_str())?;
    st.raw_bind_parameter(base + 8, d.5.as_deref())
}
