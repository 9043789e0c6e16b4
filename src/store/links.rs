//! The reverse-lookup index as the writer keeps it: `ns_links`, `ns_set_hosts` and
//! `glue_links` (see [`super::CORE`]).
//!
//! A domain links to its NS set (the hosts its own NS records name), not to each host: most
//! domains share a set with many others, so there is one row per domain rather than one per
//! host (2.4 per domain in the bench zone), and a set's hosts are written once. A set's id
//! is a hash of its hosts ([`set_id`]), so any run computes the same ids without asking the
//! database.
//!
//! Every structure ordered by host is scattered against the domain order imports arrive in:
//! - a version written whole (a zone's first, or one after a version without records) sorts
//!   its rows on a thread of their own with the importer's external sorter and appends them
//!   in key order at the end ([`Bulk`]);
//! - a compared version notes the changes of the names it changes, sorts them, and applies
//!   them in key order at the end ([`Changes`]), so each page of the index is written once.

use std::collections::HashSet;
use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};
use rusqlite::{params, Connection, Statement};

use super::writer::{multi_insert, ROWS_PER_INSERT};
use crate::ingest::sort::{Part, Sorter};
use crate::zone::name::reversed;

/// The id of the NS set of sorted, distinct reversed host names: the first 8 bytes of their
/// XXH3-128 (a collision needs billions of sets to be likely).
pub fn set_id(rhosts: &[String]) -> i64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for r in rhosts {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    h.digest128() as i64
}

/// What a name's records give the index: the NS set of the domain's own NS records (its
/// hosts reversed, sorted) and `(addr, rhost)` for each A and AAAA record.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Links {
    pub hosts: Vec<String>,
    pub glue: Vec<(String, String)>,
}

impl Links {
    /// Notes a record (canonical text fields) if it belongs in the index.
    pub fn add(&mut self, domain: &str, owner: &str, rtype: &str, rdata: &str) {
        match rtype {
            "NS" if owner == domain => self.hosts.push(reversed(rdata)),
            "A" | "AAAA" => self.glue.push((rdata.to_string(), reversed(owner))),
            _ => {}
        }
    }

    fn settle(&mut self) {
        self.hosts.sort_unstable();
        self.hosts.dedup();
        self.glue.sort_unstable();
        self.glue.dedup();
    }

    /// The set's id, when the domain has NS records.
    fn set(&self) -> Option<i64> {
        (!self.hosts.is_empty()).then(|| set_id(&self.hosts))
    }
}

/// The items of sorted `a` that sorted `b` lacks.
fn missing<'a, T: Ord>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = &'a T> {
    a.iter().filter(move |x| b.binary_search(x).is_err())
}

/// A change to the index, in its key order: closes before opens of the same key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    CloseNs { set: i64, domain: String },
    OpenNs { set: i64, domain: String },
    CloseGlue { addr: String, rhost: String },
    OpenGlue { addr: String, rhost: String },
}

/// The index changes of a compared version, noted as its names change and applied in key
/// order by [`Changes::finish`]; `?1` tld, `?2` the new version.
pub struct Changes<'c> {
    current: Statement<'c>,
    ops: Vec<Op>,
    /// Sets this version links to, to register once each.
    sets: Vec<(i64, Vec<String>)>,
    seen: HashSet<i64>,
}

impl<'c> Changes<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Changes {
            current: conn.prepare(
                "SELECT owner, type, rdata FROM records
                  WHERE tld = ?1 AND domain = ?2 AND until IS NULL AND since < ?3 AND type IN ('NS', 'A', 'AAAA')",
            )?,
            ops: Vec::new(),
            sets: Vec::new(),
            seen: HashSet::new(),
        })
    }

    /// What `name`'s current records give the index (read before the new version closes them).
    pub fn current(&mut self, tld: &str, name: &str, zone: i64) -> rusqlite::Result<Links> {
        let mut l = Links::default();
        let mut rows = self.current.query(params![tld, name, zone])?;
        while let Some(r) = rows.next()? {
            l.add(name, r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?);
        }
        Ok(l)
    }

    /// Notes what changes between `name`'s `old` and `new` links.
    pub fn note(&mut self, name: &str, mut old: Links, mut new: Links) {
        old.settle();
        new.settle();
        let (before, after) = (old.set(), new.set());
        if before != after {
            if let Some(set) = before {
                self.ops.push(Op::CloseNs { set, domain: name.to_string() });
            }
            if let Some(set) = after {
                self.ops.push(Op::OpenNs { set, domain: name.to_string() });
                if self.seen.insert(set) {
                    self.sets.push((set, std::mem::take(&mut new.hosts)));
                }
            }
        }
        for (addr, rhost) in missing(&old.glue, &new.glue) {
            self.ops.push(Op::CloseGlue { addr: addr.clone(), rhost: rhost.clone() });
        }
        for (addr, rhost) in missing(&new.glue, &old.glue) {
            self.ops.push(Op::OpenGlue { addr: addr.clone(), rhost: rhost.clone() });
        }
    }

    /// Applies the noted changes in key order; `tick(rows)` lets the writer commit.
    pub fn finish(
        mut self,
        conn: &Connection,
        tld: &str,
        zone: i64,
        tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        let mut register = conn.prepare("INSERT OR IGNORE INTO ns_set_hosts (rhost, set_id) VALUES (?1, ?2)")?;
        for (set, hosts) in &self.sets {
            for h in hosts {
                register.execute(params![h, set])?;
            }
        }
        self.ops.sort_unstable();
        let mut close_ns =
            conn.prepare("UPDATE ns_links SET until = ?2 WHERE set_id = ?3 AND tld = ?1 AND domain = ?4 AND until IS NULL AND since < ?2")?;
        let mut open_ns = conn.prepare("INSERT OR FAIL INTO ns_links (tld, since, set_id, domain) VALUES (?1, ?2, ?3, ?4)")?;
        let mut close_glue =
            conn.prepare("UPDATE glue_links SET until = ?2 WHERE addr = ?3 AND rhost = ?4 AND tld = ?1 AND until IS NULL AND since < ?2")?;
        let mut open_glue = conn.prepare("INSERT OR FAIL INTO glue_links (tld, since, addr, rhost) VALUES (?1, ?2, ?3, ?4)")?;
        for op in &self.ops {
            match op {
                Op::CloseNs { set, domain } => close_ns.execute(params![tld, zone, set, domain])?,
                Op::OpenNs { set, domain } => open_ns.execute(params![tld, zone, set, domain])?,
                Op::CloseGlue { addr, rhost } => close_glue.execute(params![tld, zone, addr, rhost])?,
                Op::OpenGlue { addr, rhost } => open_glue.execute(params![tld, zone, addr, rhost])?,
            };
            tick(1)?;
        }
        Ok(())
    }
}

/// Key bytes a part collects before it goes to the sorting thread.
const PART_BYTES: usize = 4 << 20;

/// An i64 as 8 bytes whose byte order is SQLite's integer order.
fn ordered(v: i64) -> [u8; 8] {
    ((v as u64) ^ (1 << 63)).to_be_bytes()
}

fn from_ordered(b: &[u8]) -> Option<i64> {
    Some((u64::from_be_bytes(b.get(..8)?.try_into().ok()?) ^ (1 << 63)) as i64)
}

/// The index of a version written whole: rows collected as sort keys (`set | domain` for
/// `ns_links`, `rhost \0 set` for a new set's hosts, `addr \0 rhost` for glue), sorted by a
/// thread of their own under a memory cap (spilling beside the database), appended in
/// primary-key order by [`Bulk::write`].
pub struct Bulk {
    parts: [Part; 3],
    seen: HashSet<i64>,
    tx: Option<Sender<[Part; 3]>>,
    sorting: Option<JoinHandle<io::Result<[Sorter; 3]>>>,
}

impl Bulk {
    /// `memory` is the import's budget: the links may hold a sixteenth of it, set hosts and
    /// glue a sixty-fourth each.
    pub fn new(memory: usize, spill_dir: PathBuf) -> Bulk {
        let (tx, rx) = bounded::<[Part; 3]>(2);
        let sorting = std::thread::spawn(move || {
            let mut s = [
                Sorter::new(memory / 4, spill_dir.clone()),
                Sorter::new(memory / 16, spill_dir.clone()),
                Sorter::new(memory / 16, spill_dir),
            ];
            for parts in rx {
                for (s, p) in s.iter_mut().zip(parts) {
                    s.push(p)?;
                }
            }
            Ok(s)
        });
        Bulk { parts: Self::fresh(), seen: HashSet::new(), tx: Some(tx), sorting: Some(sorting) }
    }

    fn fresh() -> [Part; 3] {
        [Part::with_capacity(PART_BYTES), Part::with_capacity(PART_BYTES / 8), Part::with_capacity(PART_BYTES / 8)]
    }

    fn key(part: &mut Part, pieces: &[&[u8]]) {
        let start = part.arena_len();
        let buf = part.key_buf();
        for p in pieces {
            buf.extend_from_slice(p);
        }
        part.finish(start, 0);
    }

    pub fn push(&mut self, domain: &str, mut links: Links) -> rusqlite::Result<()> {
        links.settle();
        if let Some(set) = links.set() {
            Self::key(&mut self.parts[0], &[&ordered(set), domain.as_bytes()]);
            if self.seen.insert(set) {
                for h in &links.hosts {
                    Self::key(&mut self.parts[1], &[h.as_bytes(), b"\0", &ordered(set)]);
                }
            }
        }
        for (addr, rhost) in &links.glue {
            Self::key(&mut self.parts[2], &[addr.as_bytes(), b"\0", rhost.as_bytes()]);
        }
        if self.parts.iter().any(|p| p.arena_len() >= PART_BYTES) {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> rusqlite::Result<()> {
        let parts = std::mem::replace(&mut self.parts, Self::fresh());
        // A closed channel means the thread stopped on an error, which `sorted` reports.
        if self.tx.as_ref().is_some_and(|tx| tx.send(parts).is_err()) {
            self.sorted()?;
        }
        Ok(())
    }

    /// Waits for the sorting thread and returns its sorters.
    fn sorted(&mut self) -> rusqlite::Result<[Sorter; 3]> {
        self.tx = None;
        let done = self.sorting.take().map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("the thread panicked"))));
        done.unwrap_or_else(|| Err(io::Error::other("the thread stopped before"))).map_err(spill_error)
    }

    /// Appends the rows, in key order, as rows of version `zone`; `tick(rows)` after each
    /// statement lets the writer commit on its schedule.
    pub fn write(
        mut self,
        conn: &Connection,
        tld: &str,
        zone: i64,
        tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        self.send()?;
        let [links, sets, glue] = self.sorted()?;
        let err = || rusqlite::Error::InvalidParameterName("malformed index key".into());
        append(conn, links, "ns_links", &["tld", "since"], &["set_id", "domain"], (tld, zone), tick, |st, at, key| {
            st.raw_bind_parameter(at, from_ordered(key).ok_or_else(err)?)?;
            st.raw_bind_parameter(at + 1, std::str::from_utf8(&key[8..]).map_err(rusqlite::Error::Utf8Error)?)
        })?;
        append(conn, sets, "ns_set_hosts", &[], &["rhost", "set_id"], (tld, zone), tick, |st, at, key| {
            let split = key.len().checked_sub(9).filter(|&i| key[i] == 0).ok_or_else(err)?;
            st.raw_bind_parameter(at, std::str::from_utf8(&key[..split]).map_err(rusqlite::Error::Utf8Error)?)?;
            st.raw_bind_parameter(at + 1, from_ordered(&key[split + 1..]).ok_or_else(err)?)
        })?;
        append(conn, glue, "glue_links", &["tld", "since"], &["addr", "rhost"], (tld, zone), tick, |st, at, key| {
            let text = std::str::from_utf8(key).map_err(rusqlite::Error::Utf8Error)?;
            let (a, b) = text.split_once('\0').ok_or_else(err)?;
            st.raw_bind_parameter(at, a)?;
            st.raw_bind_parameter(at + 1, b)
        })
    }
}

fn spill_error(e: io::Error) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(format!("sorting the name-server index: {e}")),
    )
}

/// Inserts the sorted keys of `sorter` once each into `table`: `shared` columns take `tld`
/// and `zone` (as many as named), `bind` binds a key's two own columns from parameter `at`.
/// `ns_set_hosts` rows may be there already (a set another zone or version made): ignored.
#[allow(clippy::too_many_arguments)]
fn append(
    conn: &Connection,
    sorter: Sorter,
    table: &str,
    shared: &[&str],
    cols: &[&str; 2],
    (tld, zone): (&str, i64),
    tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    bind: impl Fn(&mut Statement<'_>, usize, &[u8]) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let sql = |rows| {
        let s = multi_insert(table, shared, cols, rows);
        if shared.is_empty() {
            s.replacen("INSERT OR FAIL", "INSERT OR IGNORE", 1)
        } else {
            s
        }
    };
    let mut multi = conn.prepare(&sql(ROWS_PER_INSERT))?;
    let mut one = conn.prepare(&sql(1))?;
    if !shared.is_empty() {
        for st in [&mut multi, &mut one] {
            st.raw_bind_parameter(1, tld)?;
            st.raw_bind_parameter(2, zone)?;
        }
    }
    let base = shared.len() + 1;
    let mut merged = sorter.finish().map_err(spill_error)?;
    // The keys of the rows waiting for a full statement, and where each ends.
    let mut keys: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(ROWS_PER_INSERT);
    let mut last: Vec<u8> = Vec::new();
    while let Some((key, _)) = merged.next_rec().map_err(spill_error)? {
        // Equal keys come out side by side: one row each.
        if key == last.as_slice() {
            continue;
        }
        last.clear();
        last.extend_from_slice(key);
        keys.extend_from_slice(key);
        ends.push(keys.len());
        if ends.len() == ROWS_PER_INSERT {
            let mut start = 0;
            for (i, &end) in ends.iter().enumerate() {
                bind(&mut multi, base + 2 * i, &keys[start..end])?;
                start = end;
            }
            multi.raw_execute()?;
            tick(ends.len())?;
            keys.clear();
            ends.clear();
        }
    }
    let mut start = 0;
    for &end in &ends {
        bind(&mut one, base, &keys[start..end])?;
        one.raw_execute()?;
        start = end;
    }
    tick(ends.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_integers_sort_as_sqlite_compares_them() {
        let mut v = vec![i64::MIN, -5, -1, 0, 1, 7, i64::MAX];
        let mut bytes: Vec<[u8; 8]> = v.iter().map(|&x| ordered(x)).collect();
        bytes.reverse();
        bytes.sort();
        assert_eq!(bytes.iter().map(|b| from_ordered(b).unwrap()).collect::<Vec<_>>(), v);
        v.reverse();
        assert_ne!(set_id(&["com.a".into(), "net.b".into()]), set_id(&["com.a".into()]));
    }
}
