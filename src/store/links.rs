//! The reverse-lookup index as the writer keeps it: `ns_base`, `ns_bases`, `ns_links` and
//! `glue_links` (see [`super::CORE`]).
//!
//! Any structure in host order is scattered against the domain order imports arrive in, and
//! a B-tree row per (host, domain) pair costs a first import nearly what its records cost
//! (measured: +60% on the 10M bench zone). So the pairs of the version that starts a zone's
//! index, its base, are written as rows of many pairs ([`Blocks`], [`Bulk`]: sorted on a
//! thread of their own with the importer's external sorter, appended in key order at the
//! end). Later versions change the base with rows per pair ([`Changes`]: noted as names
//! change, applied sorted at the end): a pair gained opens a row, a pair lost closes its
//! row, or, for a pair of the base, gets a closing row whose `since` is the base version.
//! The queries are [`crate::query::pairs_sql`].

use std::io;
use std::path::PathBuf;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender};
use rusqlite::{params, Connection, OptionalExtension, Statement};

use super::batch::{multi_insert, GroupBatch, ROWS_PER_INSERT};
use super::push_json;
use crate::sort::{Part, Sorter};
use crate::zone::name::{reversed, reversed_into};

/// Bytes per base row, at most, once compressed: a row must stay under SQLite's largest local
/// payload on an 8 KiB page of a WITHOUT ROWID table (about 2,000 bytes), or its tail takes an
/// overflow page of its own (at 2 KiB rows, 402 MB of the bench zone's 935 MB index was such
/// pages' unused space). A row's JSON is cut where the last row's compression ratio says
/// it will compress to this, and never shorter than it.
pub const BLOCK_BYTES: usize = 1_600;
/// The most JSON a base row holds, whatever it compresses to.
const BLOCK_JSON_MAX: usize = 32 * 1024;

/// What a name's records give the index: `(rhost, domain)` for each NS record at the
/// domain's own name, `(addr, rhost)` for each A and AAAA record.
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

/// A change to the index, in key order.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Ns { rhost: String, domain: String, open: bool },
    Glue { addr: String, rhost: String, open: bool },
}

/// The index changes of a compared version, noted as its names change and applied in key
/// order by [`Changes::finish`], so each page of the index is written once.
pub struct Changes<'c> {
    current: Statement<'c>,
    ops: Vec<Op>,
}

impl<'c> Changes<'c> {
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Changes {
            current: conn.prepare(
                "SELECT owner, type, rdata FROM records
                  WHERE tld = ?1 AND domain = ?2 AND until IS NULL AND since < ?3 AND type IN ('NS', 'A', 'AAAA')",
            )?,
            ops: Vec::new(),
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

    /// Notes the pairs `old` has and `new` lacks (closed) and those `new` adds (opened).
    pub fn note(&mut self, mut old: Pairs, mut new: Pairs) {
        old.settle();
        new.settle();
        for (open, from, to) in [(false, &old, &new), (true, &new, &old)] {
            for (rhost, domain) in missing(&from.ns, &to.ns) {
                self.ops.push(Op::Ns { rhost: rhost.clone(), domain: domain.clone(), open });
            }
            for (addr, rhost) in missing(&from.glue, &to.glue) {
                self.ops.push(Op::Glue { addr: addr.clone(), rhost: rhost.clone(), open });
            }
        }
    }

    /// Applies the noted changes in key order as version `zone`'s; `tick(rows)` lets the
    /// writer commit.
    pub fn finish(
        mut self,
        conn: &Connection,
        tld: &str,
        zone: i64,
        tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        self.ops.sort_unstable();
        let base: Option<i64> = conn.query_row("SELECT version FROM ns_bases WHERE tld = ?1", params![tld], |r| r.get(0)).optional()?;
        let mut close_ns =
            conn.prepare("UPDATE ns_links SET until = ?2 WHERE rhost = ?3 AND tld = ?1 AND domain = ?4 AND until IS NULL AND since < ?2")?;
        let mut open_ns = conn.prepare("INSERT OR FAIL INTO ns_links (tld, since, rhost, domain) VALUES (?1, ?2, ?3, ?4)")?;
        let mut close_base = conn.prepare("INSERT OR FAIL INTO ns_links (tld, until, rhost, domain, since) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut close_glue =
            conn.prepare("UPDATE glue_links SET until = ?2 WHERE addr = ?3 AND rhost = ?4 AND tld = ?1 AND until IS NULL AND since < ?2")?;
        let mut open_glue = conn.prepare("INSERT OR FAIL INTO glue_links (tld, since, addr, rhost) VALUES (?1, ?2, ?3, ?4)")?;
        for op in &self.ops {
            match op {
                Op::Ns { rhost, domain, open: true } => {
                    open_ns.execute(params![tld, zone, rhost, domain])?;
                }
                Op::Ns { rhost, domain, open: false } => {
                    // No open row: the pair is the base's, and gets its closing row.
                    if close_ns.execute(params![tld, zone, rhost, domain])? == 0 {
                        if let Some(b) = base {
                            close_base.execute(params![tld, zone, rhost, domain, b])?;
                        }
                    }
                }
                Op::Glue { addr, rhost, open: true } => {
                    open_glue.execute(params![tld, zone, addr, rhost])?;
                }
                Op::Glue { addr, rhost, open: false } => {
                    close_glue.execute(params![tld, zone, addr, rhost])?;
                }
            }
            tick(CHANGE_WEIGHT)?;
        }
        Ok(())
    }
}

/// What an index write weighs in the writer's transaction budget (`TX_ROWS` rows of about
/// 80 bytes, some 10 MB of WAL a transaction). A change, sorted by host, still lands on a page
/// of its own (8 KiB): counted as one row, a transaction dirtied up to 126 MiB.
const CHANGE_WEIGHT: usize = 100;
/// A base row: up to 1,400 bytes (counted as one row, the WAL reached 264 MiB). At 18 the
/// WAL stayed at 44 MiB, but the 10M first import took 1 s more (+29% over the build
/// without the index, against +24%; the budget is 30%): 8 keeps it at 99 MiB.
const BASE_ROW_WEIGHT: usize = 8;

/// Key bytes a part collects before it goes to the sorting thread.
const PART_BYTES: usize = 4 << 20;
/// The same for glue, which is about a tenth as many pairs.
const GLUE_PART_BYTES: usize = PART_BYTES / 8;

/// The index of a version written whole: pairs collected as sort keys (`a \0 b`), sorted by
/// a thread of their own under a memory cap (spilling beside the database), written in
/// primary-key order by [`Bulk::write`]: name-server pairs as base blocks, glue as rows.
pub struct Bulk {
    ns: Part,
    glue: Part,
    tx: Option<Sender<(Part, Part)>>,
    sorting: Option<JoinHandle<io::Result<(Sorter, Sorter)>>>,
}

impl Bulk {
    /// `memory` is the import's budget: the name-server pairs may hold a quarter of it, beside
    /// the records' sorter's quarter (fewer runs to spill and merge: 6.7 s for the 10M bench
    /// zone's index instead of 8.5), the glue (a tenth as many) a thirty-second.
    pub fn new(memory: usize, spill_dir: PathBuf) -> Bulk {
        let (tx, rx) = bounded::<(Part, Part)>(2);
        let sorting = std::thread::spawn(move || {
            let mut ns = Sorter::new(memory, spill_dir.clone());
            let mut glue = Sorter::new(memory / 8, spill_dir);
            for (n, g) in rx {
                ns.push(n)?;
                glue.push(g)?;
            }
            Ok((ns, glue))
        });
        Bulk { ns: Part::with_capacity(PART_BYTES), glue: Part::with_capacity(GLUE_PART_BYTES), tx: Some(tx), sorting: Some(sorting) }
    }

    /// Notes the pairs of a batch's records (sort keys `domain \0 owner \0 TYPE \0 rdata`),
    /// on the grouping step's thread: the writer's is the import's busiest.
    pub fn batch(&mut self, b: &GroupBatch) -> io::Result<()> {
        for &(at, len, _) in &b.rows {
            let key = &b.keys[at as usize..(at + len) as usize];
            let mut f = key.splitn(4, |&c| c == 0);
            let (Some(domain), Some(owner), Some(rtype), Some(rdata)) = (f.next(), f.next(), f.next(), f.next()) else { continue };
            let (part, name, other, ns) = match rtype {
                b"NS" if owner == domain => (&mut self.ns, rdata, domain, true),
                b"A" | b"AAAA" => (&mut self.glue, owner, rdata, false),
                _ => continue,
            };
            let start = part.arena_len();
            let buf = part.key_buf();
            // `rhost \0 domain`, or `addr \0 rhost` for glue.
            if ns {
                reversed_into(name, buf);
                buf.push(0);
                buf.extend_from_slice(other);
            } else {
                buf.extend_from_slice(other);
                buf.push(0);
                reversed_into(name, buf);
            }
            part.finish(start, 0);
        }
        if self.ns.arena_len() >= PART_BYTES || self.glue.arena_len() >= GLUE_PART_BYTES {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> io::Result<()> {
        let parts = (
            std::mem::replace(&mut self.ns, Part::with_capacity(PART_BYTES)),
            std::mem::replace(&mut self.glue, Part::with_capacity(GLUE_PART_BYTES)),
        );
        // A closed channel means the thread stopped on an error, which `sorted` reports.
        if self.tx.as_ref().is_some_and(|tx| tx.send(parts).is_err()) {
            self.sorted()?;
        }
        Ok(())
    }

    /// Waits for the sorting thread and returns its sorters.
    fn sorted(&mut self) -> io::Result<(Sorter, Sorter)> {
        self.tx = None;
        let done = self.sorting.take().map(|h| h.join().unwrap_or_else(|_| Err(io::Error::other("the thread panicked"))));
        done.unwrap_or_else(|| Err(io::Error::other("the thread stopped before")))
    }

    /// Writes the index as version `zone`'s base; `tick(rows)` lets the writer commit.
    pub fn write(
        mut self,
        conn: &Connection,
        tld: &str,
        zone: i64,
        tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
    ) -> rusqlite::Result<()> {
        self.send().map_err(spill_error)?;
        let (ns, glue) = self.sorted().map_err(spill_error)?;
        super::trace("index sorted");
        let mut blocks = Blocks::new(conn, tld, zone)?;
        each_key(ns, |key| {
            let (rhost, domain) = split(key)?;
            if blocks.add(rhost, domain)? {
                tick(BASE_ROW_WEIGHT)?;
            }
            Ok(())
        })?;
        blocks.finish()?;
        super::trace("name-server pairs written");
        append_glue(conn, glue, tld, zone, tick)
    }
}

fn split(key: &[u8]) -> rusqlite::Result<(&str, &str)> {
    let text = std::str::from_utf8(key).map_err(rusqlite::Error::Utf8Error)?;
    text.split_once('\0').ok_or_else(|| rusqlite::Error::InvalidParameterName("malformed index key".into()))
}

/// Calls `f` with each key of `sorter` in order, once: equal keys (the same pair noted
/// twice) come out of the merge side by side. The merge runs on a thread of its own and hands
/// the keys over in batches: it was a third of the index's time on the writer's thread, while
/// the other core stood idle (the grouping step is done by then).
fn each_key(sorter: Sorter, mut f: impl FnMut(&[u8]) -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    let (tx, rx) = bounded::<KeyBatch>(4);
    let merging = std::thread::spawn(move || merge_keys(sorter, &tx));
    for batch in &rx {
        let mut start = 0;
        for &end in &batch.ends {
            f(&batch.keys[start..end])?;
            start = end;
        }
    }
    // The channel ends when the thread does: with its error, or having sent every key.
    merging.join().unwrap_or_else(|_| Err(io::Error::other("the thread panicked"))).map_err(spill_error)
}

/// Sorted keys end to end, and where each ends.
#[derive(Default)]
struct KeyBatch {
    keys: Vec<u8>,
    ends: Vec<usize>,
}

/// Bytes of keys per [`KeyBatch`].
const KEY_BATCH_BYTES: usize = 1 << 20;

/// Merges `sorter`'s runs into batches of distinct keys sent to `tx`; stops early when the
/// receiver is gone (the writer stopped on an error of its own).
fn merge_keys(sorter: Sorter, tx: &Sender<KeyBatch>) -> io::Result<()> {
    let mut merged = sorter.finish()?;
    let mut batch = KeyBatch::default();
    let mut last: Vec<u8> = Vec::new();
    while let Some((key, _)) = merged.next_rec()? {
        if key == last.as_slice() {
            continue;
        }
        last.clear();
        last.extend_from_slice(key);
        batch.keys.extend_from_slice(key);
        batch.ends.push(batch.keys.len());
        if batch.keys.len() >= KEY_BATCH_BYTES && tx.send(std::mem::take(&mut batch)).is_err() {
            return Ok(());
        }
    }
    let _ = tx.send(batch);
    Ok(())
}

fn spill_error(e: io::Error) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(format!("sorting the name-server index: {e}")),
    )
}

/// Base rows being written: the (host, domain) pairs of version `zone` in key order, cut
/// into rows of JSON, `[["rhost", ["domain", ...]], ...]`, stored zstd-compressed (SQL reads
/// it with `json_each(zf_pairs(pairs))`, see [`super::pairs_json`]), keyed by their first host
/// and domain. A row holds the pairs of consecutive hosts: most hosts serve a domain or two
/// (2.5M of the 10M bench zone's), and a row per host cost the first import 2 s more.
/// Compressed, the 1M bench zone's base took 47.5 MiB as text. A row that holds one host's
/// pairs alone (a host of thousands of domains spans many) also stores how many (`n`): a count
/// of such a host reads that column instead of decompressing each row.
pub struct Blocks<'c> {
    multi: Statement<'c>,
    one: Statement<'c>,
    /// The row being built: its JSON so far (`[["com.a.ns",["x.com","y.com"`), its key,
    /// and the host it is at.
    json: String,
    host: String,
    first: (String, String),
    /// The row's pairs so far, and whether they are all the key host's.
    count: i64,
    one_host: bool,
    /// Where the row being built is cut: [`BLOCK_BYTES`] times the last row's ratio.
    cut: usize,
    /// Finished rows waiting for a full statement (one row a statement took 3-4x as long):
    /// their keys end to end in `arena` (and where each ends), their compressed pairs.
    arena: String,
    rows: Vec<[usize; 2]>,
    pairs: Vec<(rusqlite::types::Value, Option<i64>)>,
    packer: super::PairsPacker,
}

impl<'c> Blocks<'c> {
    pub fn new(conn: &'c Connection, tld: &str, zone: i64) -> rusqlite::Result<Self> {
        conn.execute("INSERT OR REPLACE INTO ns_bases (tld, version) VALUES (?1, ?2)", params![tld, zone])?;
        let cols = ["rhost", "first", "pairs", "n"];
        let mut multi = conn.prepare(&multi_insert("ns_base", &["tld", "since"], &cols, ROWS_PER_INSERT))?;
        let mut one = conn.prepare(&multi_insert("ns_base", &["tld", "since"], &cols, 1))?;
        for st in [&mut multi, &mut one] {
            st.raw_bind_parameter(1, tld)?;
            st.raw_bind_parameter(2, zone)?;
        }
        Ok(Blocks {
            multi,
            one,
            json: String::new(),
            host: String::new(),
            first: (String::new(), String::new()),
            count: 0,
            one_host: true,
            cut: BLOCK_BYTES * 3,
            arena: String::new(),
            rows: Vec::with_capacity(ROWS_PER_INSERT),
            pairs: Vec::with_capacity(ROWS_PER_INSERT),
            packer: super::PairsPacker::new(),
        })
    }

    /// Adds the next pair; true when it finished a row.
    pub fn add(&mut self, rhost: &str, domain: &str) -> rusqlite::Result<bool> {
        // JSON adds a few bytes a name (quotes, comma, brackets), more for escapes.
        let wrote = self.json.len() + rhost.len() + domain.len() + 12 > self.cut && self.flush()?;
        self.count += 1;
        if self.json.is_empty() {
            self.json.push('[');
            self.first = (rhost.to_string(), domain.to_string());
        } else if rhost == self.host {
            self.json.push(',');
            push_json(&mut self.json, domain);
            return Ok(wrote);
        } else {
            self.json.push_str("]],");
            self.one_host = false;
        }
        self.json.push('[');
        push_json(&mut self.json, rhost);
        self.json.push_str(",[");
        push_json(&mut self.json, domain);
        self.host.clear();
        self.host.push_str(rhost);
        Ok(wrote)
    }

    /// Ends the row being built (if any); writes a statement's worth of rows.
    fn flush(&mut self) -> rusqlite::Result<bool> {
        if self.json.is_empty() {
            return Ok(false);
        }
        self.json.push_str("]]]");
        let packed = self.packer.pack(&self.json);
        let packed_len = match &packed {
            rusqlite::types::Value::Blob(b) => b.len(),
            _ => self.json.len(),
        };
        self.cut = (self.json.len() * BLOCK_BYTES / packed_len.max(1)).clamp(BLOCK_BYTES, BLOCK_JSON_MAX);
        self.arena.push_str(&self.first.0);
        let key_end = self.arena.len();
        self.arena.push_str(&self.first.1);
        self.rows.push([key_end, self.arena.len()]);
        self.pairs.push((packed, self.one_host.then_some(self.count)));
        self.json.clear();
        self.host.clear();
        self.count = 0;
        self.one_host = true;
        if self.rows.len() == ROWS_PER_INSERT {
            Self::bind(&mut self.multi, &self.arena, &self.rows, &self.pairs)?;
            self.multi.raw_execute()?;
            self.rows.clear();
            self.arena.clear();
            self.pairs.clear();
        }
        Ok(true)
    }

    /// Binds `rows` (keys in `arena`) and their `pairs` (with their counts) from the
    /// statement's third parameter on.
    fn bind(
        st: &mut Statement<'_>,
        arena: &str,
        rows: &[[usize; 2]],
        pairs: &[(rusqlite::types::Value, Option<i64>)],
    ) -> rusqlite::Result<()> {
        let mut start = 0;
        for (i, (&[key_end, first_end], (packed, n))) in rows.iter().zip(pairs).enumerate() {
            st.raw_bind_parameter(3 + 4 * i, &arena[start..key_end])?;
            st.raw_bind_parameter(4 + 4 * i, &arena[key_end..first_end])?;
            st.raw_bind_parameter(5 + 4 * i, packed)?;
            st.raw_bind_parameter(6 + 4 * i, n)?;
            start = first_end;
        }
        Ok(())
    }

    pub fn finish(mut self) -> rusqlite::Result<()> {
        self.flush()?;
        let mut start = 0;
        for (&[key_end, first_end], packed) in self.rows.iter().zip(&self.pairs) {
            let row = [key_end - start, first_end - start];
            Self::bind(&mut self.one, &self.arena[start..first_end], &[row], std::slice::from_ref(packed))?;
            self.one.raw_execute()?;
            start = first_end;
        }
        Ok(())
    }
}

/// Inserts the sorted `addr \0 rhost` keys once each into `glue_links`.
fn append_glue(
    conn: &Connection,
    sorter: Sorter,
    tld: &str,
    zone: i64,
    tick: &mut dyn FnMut(usize) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let cols = ["addr", "rhost"];
    let mut multi = conn.prepare(&multi_insert("glue_links", &["tld", "since"], &cols, ROWS_PER_INSERT))?;
    let mut one = conn.prepare(&multi_insert("glue_links", &["tld", "since"], &cols, 1))?;
    for st in [&mut multi, &mut one] {
        st.raw_bind_parameter(1, tld)?;
        st.raw_bind_parameter(2, zone)?;
    }
    // The keys of the rows waiting for a full statement, and where each ends.
    let mut keys: Vec<u8> = Vec::new();
    let mut ends: Vec<usize> = Vec::with_capacity(ROWS_PER_INSERT);
    let bind = |st: &mut Statement<'_>, at: usize, key: &[u8]| -> rusqlite::Result<()> {
        let (a, b) = split(key)?;
        st.raw_bind_parameter(at, a)?;
        st.raw_bind_parameter(at + 1, b)
    };
    each_key(sorter, |key| {
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
        Ok(())
    })?;
    let mut start = 0;
    for &end in &ends {
        bind(&mut one, 3, &keys[start..end])?;
        one.raw_execute()?;
        start = end;
    }
    tick(ends.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_lists_what_the_other_sorted_side_lacks() {
        let (a, b) = (["a", "b", "d"], ["b", "c"]);
        assert_eq!(missing(&a, &b).copied().collect::<Vec<_>>(), ["a", "d"]);
        assert_eq!(missing(&b, &a).copied().collect::<Vec<_>>(), ["c"]);
        assert_eq!(missing::<&str>(&[], &b).count(), 0);
    }

    #[test]
    fn an_index_key_splits_once_and_a_bad_one_is_an_error() {
        assert_eq!(split(b"com.example.ns1\0example.com").unwrap(), ("com.example.ns1", "example.com"));
        assert!(split(b"no separator").is_err());
        assert!(split(&[0xff, 0, b'a']).is_err(), "not UTF-8");
    }

    #[test]
    fn each_key_gives_every_key_once_in_order_even_across_spills() {
        let dir = tempfile::tempdir().unwrap();
        // A budget this small spills a run per part.
        let mut sorter = Sorter::new(1, dir.path().to_path_buf());
        for keys in [&["b", "a", "c"][..], &["a", "d"], &["c", "b"]] {
            let mut p = Part::with_capacity(64);
            for k in keys {
                let start = p.key_buf().len();
                p.key_buf().extend_from_slice(k.as_bytes());
                p.finish(start, 0);
            }
            p.sort();
            sorter.push(p).unwrap();
        }
        let mut seen = Vec::new();
        each_key(sorter, |k| {
            seen.push(String::from_utf8(k.to_vec()).unwrap());
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, ["a", "b", "c", "d"]);
    }
}
