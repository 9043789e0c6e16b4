//! The reverse-lookup index as the writer keeps it: `ns_links` and `glue_links` (see
//! [`super::CORE`]).
//!
//! A version compared with the current one changes the pairs of the names it changes, in
//! place ([`Changes`]). A version written whole (a zone's first, or one after a version
//! without records) would insert every pair in random key order, which made the first import
//! of the 10M-domain bench zone 5.6x slower as an index on `records`; its pairs are sorted on
//! a thread of their own instead and appended in key order at the end ([`Bulk`]).

use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};
use rusqlite::{params, Connection, Statement};

use super::writer::{multi_insert, ROWS_PER_INSERT};
use crate::ingest::sort::{Part, Sorter};
use crate::zone::name::reversed;

/// The pairs a name's records give: `(rhost, domain)` for each NS record at the domain's own
/// name, `(addr, rhost)` for each A and AAAA record.
#[derive(Default, Debug, PartialEq, Eq)]
pub struct Pairs {
    pub ns: Vec<(String, String)>,
    pub glue: Vec<(String, String)>,
}

impl Pairs {
    /// Notes a record (canonical text fields) if it gives a pair.
    pub fn add(&mut self, domain: &str, owner: &str, rtype: &str, rdata: &str) {
        match rtype {
            "NS" if owner == domain => self.ns.push((reversed(rdata), domain.to_string())),
            "A" | "AAAA" => self.glue.push((rdata.to_string(), reversed(owner))),
            _ => {}
        }
    }

    fn settle(&mut self) {
        for v in [&mut self.ns, &mut self.glue] {
            v.sort_unstable();
            v.dedup();
        }
    }
}

/// The items of sorted `a` that sorted `b` lacks.
fn missing<'a, T: Ord>(a: &'a [T], b: &'a [T]) -> impl Iterator<Item = &'a T> {
    a.iter().filter(move |x| b.binary_search(x).is_err())
}

/// Keeps the pairs of the names a compared version changes; `?1` tld, `?2` the new version.
pub struct Changes<'c> {
    current: Statement<'c>,
    close_ns: Statement<'c>,
    close_glue: Statement<'c>,
    open_ns: Statement<'c>,
    open_glue: Statement<'c>,
}

impl<'c> Changes<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Changes {
            current: conn.prepare(
                "SELECT owner, type, rdata FROM records
                  WHERE tld = ?1 AND domain = ?2 AND until IS NULL AND since < ?3 AND type IN ('NS', 'A', 'AAAA')",
            )?,
            close_ns: conn
                .prepare("UPDATE ns_links SET until = ?2 WHERE rhost = ?3 AND tld = ?1 AND domain = ?4 AND until IS NULL AND since < ?2")?,
            close_glue: conn
                .prepare("UPDATE glue_links SET until = ?2 WHERE addr = ?3 AND rhost = ?4 AND tld = ?1 AND until IS NULL AND since < ?2")?,
            open_ns: conn.prepare("INSERT OR FAIL INTO ns_links (tld, since, rhost, domain) VALUES (?1, ?2, ?3, ?4)")?,
            open_glue: conn.prepare("INSERT OR FAIL INTO glue_links (tld, since, addr, rhost) VALUES (?1, ?2, ?3, ?4)")?,
        })
    }

    /// The pairs of `name`'s current records (read before the new version closes them).
    pub fn current(&mut self, tld: &str, name: &str, zone: i64) -> rusqlite::Result<Pairs> {
        let mut p = Pairs::default();
        let mut rows = self.current.query(params![tld, name, zone])?;
        while let Some(r) = rows.next()? {
            p.add(name, r.get_ref(0)?.as_str()?, r.get_ref(1)?.as_str()?, r.get_ref(2)?.as_str()?);
        }
        Ok(p)
    }

    /// Closes the pairs `old` has and `new` lacks, opens those `new` adds.
    pub fn apply(&mut self, tld: &str, zone: i64, mut old: Pairs, mut new: Pairs) -> rusqlite::Result<()> {
        old.settle();
        new.settle();
        for (a, b) in missing(&old.ns, &new.ns) {
            self.close_ns.execute(params![tld, zone, a, b])?;
        }
        for (a, b) in missing(&old.glue, &new.glue) {
            self.close_glue.execute(params![tld, zone, a, b])?;
        }
        for (a, b) in missing(&new.ns, &old.ns) {
            self.open_ns.execute(params![tld, zone, a, b])?;
        }
        for (a, b) in missing(&new.glue, &old.glue) {
            self.open_glue.execute(params![tld, zone, a, b])?;
        }
        Ok(())
    }
}

/// Key bytes a part collects before it goes to the sorting thread.
const PART_BYTES: usize = 4 << 20;

/// The pairs of a version written whole: collected as sort keys (`a \0 b`), sorted by a
/// thread of their own under a memory cap (spilling beside the database), appended in
/// primary-key order by [`Bulk::write`].
pub struct Bulk {
    ns: Part,
    glue: Part,
    tx: Option<Sender<(Part, Part)>>,
    sorting: Option<JoinHandle<io::Result<(Sorter, Sorter)>>>,
}

impl Bulk {
    /// `memory` is the import's budget: the name-server pairs may hold an eighth of it, the
    /// glue (a tenth as many) a thirty-second.
    pub fn new(memory: usize, spill_dir: PathBuf) -> Bulk {
        let (tx, rx) = bounded::<(Part, Part)>(2);
        let sorting = std::thread::spawn(move || {
            let mut ns = Sorter::new(memory / 2, spill_dir.clone());
            let mut glue = Sorter::new(memory / 8, spill_dir);
            for (n, g) in rx {
                ns.push(n)?;
                glue.push(g)?;
            }
            Ok((ns, glue))
        });
        Bulk { ns: Part::with_capacity(PART_BYTES), glue: Part::with_capacity(PART_BYTES / 8), tx: Some(tx), sorting: Some(sorting) }
    }

    pub fn push(&mut self, pairs: &Pairs) -> rusqlite::Result<()> {
        for (part, pairs) in [(&mut self.ns, &pairs.ns), (&mut self.glue, &pairs.glue)] {
            for (a, b) in pairs {
                let start = part.arena_len();
                let buf = part.key_buf();
                buf.extend_from_slice(a.as_bytes());
                buf.push(0);
                buf.extend_from_slice(b.as_bytes());
                part.finish(start, 0);
            }
        }
        if self.ns.arena_len() >= PART_BYTES || self.glue.arena_len() >= PART_BYTES {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> rusqlite::Result<()> {
        let parts = (std::mem::replace(&mut self.ns, Part::with_capacity(PART_BYTES)), std::mem::take(&mut self.glue));
        // A closed channel means the thread stopped on an error, which `sorted` reports.
        if self.tx.as_ref().is_some_and(|tx| tx.send(parts).is_err()) {
            self.sorted()?;
        }
        Ok(())
    }

    /// Waits for the sorting thread and returns its sorters.
    fn sorted(&mut self) -> rusqlite::Result<(Sorter, Sorter)> {
        self.tx = None;
        let done = self.sorting.take().map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("the thread panicked"))));
        done.unwrap_or_else(|| Err(io::Error::other("the thread stopped before"))).map_err(spill_error)
    }

    /// Appends the pairs, in key order, as rows of version `zone`; `tick(rows)` after each
    /// statement lets the writer commit on its schedule.
    pub fn write(
        mut self,
        conn: &Connection,
        tld: &str,
        zone: i64,
        tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        self.send()?;
        let (ns, glue) = self.sorted()?;
        append(conn, ns, "ns_links", ["rhost", "domain"], tld, zone, tick)?;
        append(conn, glue, "glue_links", ["addr", "rhost"], tld, zone, tick)
    }
}

fn spill_error(e: io::Error) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(format!("sorting the name-server index: {e}")),
    )
}

/// Inserts the sorted `a \0 b` keys of `sorter` once each into `table`.
fn append(
    conn: &Connection,
    sorter: Sorter,
    table: &str,
    cols: [&str; 2],
    tld: &str,
    zone: i64,
    tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut multi = conn.prepare(&multi_insert(table, &["tld", "since"], &cols, ROWS_PER_INSERT))?;
    let mut one = conn.prepare(&multi_insert(table, &["tld", "since"], &cols, 1))?;
    for st in [&mut multi, &mut one] {
        st.raw_bind_parameter(1, tld)?;
        st.raw_bind_parameter(2, zone)?;
    }
    let mut merged = sorter.finish().map_err(spill_error)?;
    // The keys of the rows waiting for a full statement, and where each ends.
    let mut keys: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(ROWS_PER_INSERT);
    let bind = |st: &mut Statement<'_>, base: usize, key: &[u8]| -> rusqlite::Result<()> {
        let text = std::str::from_utf8(key).map_err(rusqlite::Error::Utf8Error)?;
        let (a, b) = text.split_once('\0').ok_or_else(|| rusqlite::Error::InvalidParameterName("malformed link key".into()))?;
        st.raw_bind_parameter(base, a)?;
        st.raw_bind_parameter(base + 1, b)
    };
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
                bind(&mut multi, 3 + 2 * i, &keys[start..end])?;
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
        bind(&mut one, 3, &keys[start..end])?;
        one.raw_execute()?;
        start = end;
    }
    tick(ends.len())
}
