//! Sorting records by (domain, owner, type, RDATA) within a memory cap.
//!
//! Records arrive in file order as sort keys (`domain \0 owner \0 TYPE \0 rdata`, canonical
//! text, which never holds a NUL) with a TTL, one [`Part`] per chunk. Each part is sorted where
//! it was parsed, on the worker, while it is small enough to sort in cache. The sorter keeps
//! the sorted parts as they are, without copying them into one run; when they outgrow the
//! cap they are merged and spilled to a temporary file. The end merges the parts in memory
//! with the spilled runs. Exact duplicates come out side by side, and the reader folds them.
//! Byte order of the keys is the order of SQLite's BINARY collation over the tuple, so the
//! writer appends in primary-key order.

pub mod spill;

use std::cmp::Ordering;
use std::fs::File;
use std::io;
use std::path::PathBuf;

use spill::Written;

/// One record in a run: the first 8 key bytes (most comparisons end there), where the key is
/// in the run's arena, and the TTL.
#[derive(Clone, Copy)]
struct Entry {
    prefix: u64,
    off: u64,
    len: u32,
    ttl: u32,
}

const ENTRY_BYTES: usize = std::mem::size_of::<Entry>();

fn prefix_of(key: &[u8]) -> u64 {
    // Nearly every key is longer than 8 bytes: a fixed-size load, where a copy of a variable
    // length was a call to memmove for every record merged (6% of a first import's CPU).
    match key.first_chunk::<8>() {
        Some(p) => u64::from_be_bytes(*p),
        None => {
            let mut p = [0u8; 8];
            p[..key.len()].copy_from_slice(key);
            u64::from_be_bytes(p)
        }
    }
}

/// A batch of keys and TTLs built by one parse worker.
#[derive(Default)]
pub struct Part {
    arena: Vec<u8>,
    entries: Vec<Entry>,
    sorted: bool,
}

impl Part {
    /// An empty part with room for about `bytes` of keys.
    pub fn with_capacity(bytes: usize) -> Part {
        Part { arena: Vec::with_capacity(bytes), entries: Vec::with_capacity(bytes / 48), sorted: false }
    }

    /// Sorts the keys (once; later keys unsort it again), and lays them out in their sorted
    /// order: the merge then reads each part front to back, where it jumped around the arena
    /// in file order, a cache miss per record on the one thread that merges.
    pub fn sort(&mut self) {
        if !self.sorted {
            let arena = &self.arena;
            let key = |e: &Entry| &arena[e.off as usize..e.off as usize + e.len as usize];
            self.entries.sort_unstable_by(|a, b| match a.prefix.cmp(&b.prefix) {
                Ordering::Equal => key(a).cmp(key(b)),
                o => o,
            });
            let mut sorted = Vec::with_capacity(self.arena.len());
            for e in &mut self.entries {
                let start = sorted.len();
                sorted.extend_from_slice(&self.arena[e.off as usize..e.off as usize + e.len as usize]);
                e.off = start as u64;
            }
            self.arena = sorted;
            self.sorted = true;
        }
    }

    /// Starts a key; append its bytes to the returned vector, then call [`Part::finish`].
    pub fn key_buf(&mut self) -> &mut Vec<u8> {
        &mut self.arena
    }

    /// Ends the key that began at arena length `start`.
    pub fn finish(&mut self, start: usize, ttl: u32) {
        let key = &self.arena[start..];
        self.entries.push(Entry { prefix: prefix_of(key), off: start as u64, len: key.len() as u32, ttl });
        self.sorted = false;
    }

    pub fn arena_len(&self) -> usize {
        self.arena.len()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What the part holds in memory.
    fn bytes(&self) -> usize {
        self.arena.capacity() + self.entries.capacity() * ENTRY_BYTES
    }
}

/// Collects sorted parts under a memory cap, spilling them merged to `spill_dir` when they
/// outgrow it. A spill runs on a thread of its own while the next parts come in: one at a
/// time, so the parts held are at most twice the cap.
pub struct Sorter {
    parts: Vec<Part>,
    bytes: usize,
    cap: usize,
    spill_dir: PathBuf,
    spilled: Vec<File>,
    spilling: Option<std::thread::JoinHandle<io::Result<(File, Written)>>>,
    written: Written,
}

impl Sorter {
    /// `memory` is the budget for the whole import; the parts held, those being spilled
    /// included, hold a quarter of it so chunks in flight, the decompressor, SQLite's page
    /// cache and the writer's batches fit beside them.
    pub fn new(memory: usize, spill_dir: PathBuf) -> Sorter {
        Sorter {
            parts: Vec::new(),
            bytes: 0,
            cap: (memory / 8).max(1 << 20),
            spill_dir,
            spilled: Vec::new(),
            spilling: None,
            written: Written::default(),
        }
    }

    /// Takes a part, sorting it first if its worker did not.
    pub fn push(&mut self, mut part: Part) -> io::Result<()> {
        if part.is_empty() {
            return Ok(());
        }
        if !self.parts.is_empty() && self.bytes + part.bytes() > self.cap {
            self.spill()?;
        }
        part.sort();
        self.bytes += part.bytes();
        self.parts.push(part);
        Ok(())
    }

    /// How many runs went to disk.
    pub fn spilled_runs(&self) -> usize {
        self.spilled.len() + usize::from(self.spilling.is_some())
    }

    /// Hands the parts held to a spill thread, once the one before it is done.
    fn spill(&mut self) -> io::Result<()> {
        self.join_spill()?;
        let parts = std::mem::take(&mut self.parts);
        self.bytes = 0;
        let dir = self.spill_dir.clone();
        self.spilling = Some(std::thread::spawn(move || write_run(parts, &dir)));
        Ok(())
    }

    fn join_spill(&mut self) -> io::Result<()> {
        if let Some(h) = self.spilling.take() {
            let (f, w) = h.join().map_err(|_| io::Error::other("the sort spill thread panicked"))??;
            self.written.bytes += w.bytes;
            self.written.raw += w.raw;
            self.spilled.push(f);
        }
        Ok(())
    }

    /// Every record in key order (see [`Merged`] on duplicates).
    pub fn finish(mut self) -> io::Result<Merged> {
        self.join_spill()?;
        if !self.spilled.is_empty() {
            let w = self.written;
            log::debug!(
                "sort: {} runs spilled to `{}`: {:.1} MiB on disk, {:.1} MiB uncompressed",
                self.spilled.len(),
                self.spill_dir.display(),
                w.bytes as f64 / 1048576.0,
                w.raw as f64 / 1048576.0
            );
        }
        let runs = self.parts.into_iter().map(Run::mem).chain(self.spilled.into_iter().map(Run::file)).collect();
        Ok(Merged { inner: Merge::new(runs)? })
    }
}

/// Merges sorted parts into a run file in `dir` ([`spill`]), rewound for reading.
fn write_run(parts: Vec<Part>, dir: &std::path::Path) -> io::Result<(File, Written)> {
    let mut merged = Merged { inner: Merge::new(parts.into_iter().map(Run::mem).collect())? };
    spill::write(dir, &mut merged)
}

/// A sorted run of (key, ttl): a part in memory or a spilled file. An enum, not a trait
/// object: the merge asks every record's key several times, and these calls inline.
enum Run {
    /// `i` is one past the current entry: 0 before the first advance.
    Mem {
        part: Part,
        i: usize,
    },
    File(Box<spill::Reader>),
}

impl Run {
    fn mem(part: Part) -> Run {
        Run::Mem { part, i: 0 }
    }

    fn file(f: File) -> Run {
        Run::File(Box::new(spill::Reader::new(f)))
    }

    /// Advances; false at the end.
    fn advance(&mut self) -> io::Result<bool> {
        match self {
            Run::Mem { part, i } => {
                let more = *i < part.entries.len();
                *i += usize::from(more);
                Ok(more)
            }
            Run::File(r) => r.advance(),
        }
    }

    /// Advances; the new record's first 8 key bytes, None at the end.
    fn next_prefix(&mut self) -> io::Result<Option<u64>> {
        Ok(if self.advance()? { Some(prefix_of(self.key())) } else { None })
    }

    fn key(&self) -> &[u8] {
        match self {
            Run::Mem { part, i } => {
                let e = &part.entries[*i - 1];
                &part.arena[e.off as usize..e.off as usize + e.len as usize]
            }
            Run::File(r) => r.key(),
        }
    }

    fn ttl(&self) -> u32 {
        match self {
            Run::Mem { part, i } => part.entries[*i - 1].ttl,
            Run::File(r) => r.ttl(),
        }
    }
}

/// k-way merge over sorted sources: a tree of losers (Knuth, TAOCP vol. 3, 5.4.1). Each node
/// holds the source that lost the match played there, `tree[0]` the overall winner; the next
/// record replays one path from its source's leaf to the root, one comparison a level, where
/// a binary heap makes two (and with a run of every chunk, 100-200 sources at .com scale,
/// the merge is the one thread an import waits for once the parse is done). The first 8 key
/// bytes of each source's record are kept beside the tree: they settle most comparisons
/// without touching the keys.
struct Merge {
    sources: Vec<Run>,
    /// Each source's record's first 8 key bytes; None once the source is done.
    prefix: Vec<Option<u64>>,
    tree: Vec<usize>,
    started: bool,
}

impl Merge {
    fn new(mut sources: Vec<Run>) -> io::Result<Merge> {
        let prefix = sources.iter_mut().map(Run::next_prefix).collect::<io::Result<Vec<_>>>()?;
        let k = sources.len();
        let mut m = Merge { sources, prefix, tree: vec![0; k.max(1)], started: false };
        // Leaf i is node k + i; node n plays its children 2n and 2n + 1, bottom up.
        let mut winner = vec![0; 2 * k];
        for i in 0..k {
            winner[k + i] = i;
        }
        for n in (1..k).rev() {
            let (a, b) = (winner[2 * n], winner[2 * n + 1]);
            let (w, l) = if m.beats(b, a) { (b, a) } else { (a, b) };
            winner[n] = w;
            m.tree[n] = l;
        }
        if k > 1 {
            m.tree[0] = winner[1];
        }
        Ok(m)
    }

    /// Source `a`'s record sorts before source `b`'s; a source that is done sorts last.
    fn beats(&self, a: usize, b: usize) -> bool {
        match (self.prefix[a], self.prefix[b]) {
            (Some(pa), Some(pb)) => match pa.cmp(&pb) {
                Ordering::Equal => self.sources[a].key() < self.sources[b].key(),
                o => o == Ordering::Less,
            },
            (a, _) => a.is_some(),
        }
    }

    /// Moves to the next record; false at the end.
    fn advance(&mut self) -> io::Result<bool> {
        if self.sources.is_empty() {
            return Ok(false);
        }
        if self.started {
            let mut w = self.tree[0];
            self.prefix[w] = self.sources[w].next_prefix()?;
            let mut n = (w + self.sources.len()) / 2;
            while n >= 1 {
                if self.beats(self.tree[n], w) {
                    std::mem::swap(&mut self.tree[n], &mut w);
                }
                n /= 2;
            }
            self.tree[0] = w;
        }
        self.started = true;
        Ok(self.prefix[self.tree[0]].is_some())
    }
    fn key(&self) -> &[u8] {
        self.sources[self.tree[0]].key()
    }
    fn ttl(&self) -> u32 {
        self.sources[self.tree[0]].ttl()
    }
}

/// The merged record stream, in key order. Equal keys (the same record written twice) come
/// out side by side, each with its own TTL: the reader keeps one, with the lowest TTL.
pub struct Merged {
    inner: Merge,
}

impl Merged {
    /// The next (key, ttl), or None at the end.
    pub fn next_rec(&mut self) -> io::Result<Option<(&[u8], u32)>> {
        Ok(if self.inner.advance()? { Some((self.inner.key(), self.inner.ttl())) } else { None })
    }

    /// Every record once, a duplicate with its lowest TTL, in memory (small inputs: tests and
    /// the fuzz targets; the import folds them as it groups).
    pub fn collect_folded(mut self) -> io::Result<Vec<(Vec<u8>, u32)>> {
        let mut out: Vec<(Vec<u8>, u32)> = Vec::new();
        while let Some((k, t)) = self.next_rec()? {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = last.1.min(t),
                _ => out.push((k.to_vec(), t)),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(keys: &[(&str, u32)]) -> Part {
        let mut p = Part::default();
        for (k, t) in keys {
            let start = p.arena_len();
            p.key_buf().extend_from_slice(k.as_bytes());
            p.finish(start, *t);
        }
        p
    }

    fn drain(m: Merged) -> Vec<(String, u32)> {
        m.collect_folded().unwrap().into_iter().map(|(k, t)| (String::from_utf8(k).unwrap(), t)).collect()
    }

    #[test]
    fn sorts_dedups_and_spills_alike() {
        let keys: Vec<(String, u32)> = (0..5000u32).map(|i| (format!("k{:05}", (i * 7919) % 3000), 100 + i % 7)).collect();
        let refs: Vec<(&str, u32)> = keys.iter().map(|(k, t)| (k.as_str(), *t)).collect();
        let mut want: std::collections::BTreeMap<String, u32> = Default::default();
        for (k, t) in &keys {
            let e = want.entry(k.clone()).or_insert(*t);
            *e = (*e).min(*t);
        }
        let want: Vec<(String, u32)> = want.into_iter().collect();
        let dir = tempfile::tempdir().unwrap();
        // All in memory.
        let mut s = Sorter::new(1 << 30, dir.path().into());
        s.push(part(&refs)).unwrap();
        assert_eq!(s.spilled_runs(), 0);
        assert_eq!(drain(s.finish().unwrap()), want);
        // Tiny runs: many spills, same answer.
        let mut s = Sorter::new(3 << 20, dir.path().into());
        s.cap = 4096;
        for c in refs.chunks(100) {
            s.push(part(c)).unwrap();
        }
        assert!(s.spilled_runs() > 10);
        assert_eq!(drain(s.finish().unwrap()), want);
        // Nothing at all.
        let s = Sorter::new(1 << 20, dir.path().into());
        assert!(drain(s.finish().unwrap()).is_empty());
        // Spilled runs larger than the reader's buffer: records straddle its refills.
        let long: Vec<(String, u32)> =
            (0..60_000u32).map(|i| (format!("{:08}.example.com\0ns{}", (i * 7919) % 60_000, i % 3), i % 5)).collect();
        let mut s = Sorter::new(3 << 20, dir.path().into());
        s.cap = 2 << 20;
        for c in long.chunks(5000) {
            s.push(part(&c.iter().map(|(k, t)| (k.as_str(), *t)).collect::<Vec<_>>())).unwrap();
        }
        assert!(s.spilled_runs() >= 1);
        let mut want_long = long.clone();
        want_long.sort();
        want_long.dedup_by(|a, b| a.0 == b.0);
        assert_eq!(drain(s.finish().unwrap()), want_long);
        // Any number of sources, some empty, some done long before the others: the merge's
        // tree has a leaf per source, whatever their count.
        for n in [1usize, 2, 3, 5, 7, 8, 13, 64, 100] {
            let mut s = Sorter::new(1 << 30, dir.path().into());
            for (i, c) in refs.chunks(refs.len().div_ceil(n)).enumerate() {
                let short = if i % 3 == 1 { &c[..c.len() / 10] } else { c };
                s.push(part(short)).unwrap();
            }
            let mut want: std::collections::BTreeMap<String, u32> = Default::default();
            for (i, c) in refs.chunks(refs.len().div_ceil(n)).enumerate() {
                let short = if i % 3 == 1 { &c[..c.len() / 10] } else { c };
                for (k, t) in short {
                    let e = want.entry(k.to_string()).or_insert(*t);
                    *e = (*e).min(*t);
                }
            }
            assert_eq!(drain(s.finish().unwrap()), want.into_iter().collect::<Vec<_>>(), "{n} sources");
        }
    }
}
