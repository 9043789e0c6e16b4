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
    pub domains: u64,
    pub new_domains: u64,
    pub changed_domains: u64,
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

struct Old {
    name: String,
    hash: Vec<u8>,
    first_seen: String,
    last_changed: String,
}

/// Runs the writer until the channel closes. Every batch received is committed when it returns.
pub fn run(conn: &Connection, job: &Job, rx: Receiver<Msg>) -> rusqlite::Result<Stats> {
    let mut stats = Stats::default();
    let mut in_tx = 0usize;
    let mut old: std::collections::VecDeque<Old> = Default::default();
    let mut old_after: Option<String> = Some(String::new());
    conn.execute_batch("BEGIN")?;
    const REC: &[&str] = &["zone", "tld", "domain", "owner", "type", "ttl", "rdata"];
    const DOM: &[&str] = &["zone", "tld", "name", "hash", "first_seen", "last_seen", "last_changed"];
    let mut ins_rec = conn.prepare(&multi_insert("records", REC, ROWS_PER_INSERT))?;
    let mut ins_rec1 = conn.prepare(&multi_insert("records", REC, 1))?;
    let mut ins_dom = conn.prepare(&multi_insert("domains", DOM, ROWS_PER_INSERT))?;
    let mut ins_dom1 = conn.prepare(&multi_insert("domains", DOM, 1))?;
    let mut pending: Vec<PendingDomain> = Vec::with_capacity(ROWS_PER_INSERT);
    let mut page =
        conn.prepare("SELECT name, hash, first_seen, last_changed FROM domains WHERE zone = ?1 AND name > ?2 ORDER BY name LIMIT ?3")?;
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
                    // Advance the previous version's cursor to this name.
                    let mut prev: Option<Old> = None;
                    loop {
                        if old.is_empty() {
                            if let (Some(after), Some(pz)) = (old_after.take(), job.previous) {
                                let rows = page.query_map(params![pz, after, PAGE], |r| {
                                    Ok(Old { name: r.get(0)?, hash: r.get(1)?, first_seen: r.get(2)?, last_changed: r.get(3)? })
                                })?;
                                for row in rows {
                                    old.push_back(row?);
                                }
                                if old.len() as i64 == PAGE {
                                    old_after = old.back().map(|o| o.name.clone());
                                }
                            }
                        }
                        match old.front() {
                            Some(o) if o.name.as_str() < d.name.as_str() => {
                                old.pop_front();
                            }
                            Some(o) if o.name == d.name => {
                                prev = old.pop_front();
                                break;
                            }
                            _ => break,
                        }
                    }
                    let (first_seen, last_changed) = match &prev {
                        Some(o) if o.hash == d.hash => (o.first_seen.as_str(), o.last_changed.as_str()),
                        Some(o) => {
                            stats.changed_domains += 1;
                            (o.first_seen.as_str(), job.now.as_str())
                        }
                        None => {
                            stats.new_domains += 1;
                            (job.now.as_str(), job.now.as_str())
                        }
                    };
                    pending.push((d.name.clone(), d.hash, first_seen.to_string(), last_changed.to_string()));
                    if pending.len() == ROWS_PER_INSERT {
                        for (i, row) in pending.iter().enumerate() {
                            bind_domain(&mut ins_dom, i * DOM.len(), job, row)?;
                        }
                        ins_dom.raw_execute()?;
                        pending.clear();
                    }
                }
                stats.domains += ds.len() as u64;
                in_tx += ds.len();
            }
        }
        if in_tx >= TX_ROWS {
            conn.execute_batch("COMMIT; BEGIN")?;
            in_tx = 0;
        }
    }
    for row in &pending {
        bind_domain(&mut ins_dom1, 0, job, row)?;
        ins_dom1.raw_execute()?;
    }
    conn.execute_batch("COMMIT")?;
    Ok(stats)
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

/// (name, hash, first_seen, last_changed) of a domain row.
type PendingDomain = (String, [u8; 16], String, String);

fn bind_domain(st: &mut rusqlite::Statement<'_>, base: usize, job: &Job, d: &PendingDomain) -> rusqlite::Result<()> {
    st.raw_bind_parameter(base + 1, job.zone)?;
    st.raw_bind_parameter(base + 2, job.tld.as_str())?;
    st.raw_bind_parameter(base + 3, d.0.as_str())?;
    st.raw_bind_parameter(base + 4, &d.1[..])?;
    st.raw_bind_parameter(base + 5, d.2.as_str())?;
    st.raw_bind_parameter(base + 6, job.now.as_str())?;
    st.raw_bind_parameter(base + 7, d.3.as_str())
}
