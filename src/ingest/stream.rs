//! Streaming a version written whole: its RRsets reach `rrsets` while the file still parses.
//!
//! A version written whole (a first import with records) writes a row for every RRset, and
//! the writer used to start only once the last chunk had parsed and the sort had merged. CZDS
//! serves its files in alphabetical order of owner names (the registry agreement's zone file
//! format, Specification 4 §2.1.4), so a delegation's own RRsets (NS, DS, their signatures:
//! owner = domain) come in key order. Glue sorts by its own first label, far from its domain;
//! it waits for the sort, as the apex does.
//!
//! Each chunk's part, sorted on its worker, lists those RRsets ([`build`]). The in-order step
//! sends them to the writer while later chunks parse ([`Streamer::take`]), as long as each
//! chunk's first such domain sorts at or after the last one sent; it stops for good at the
//! first chunk that does not (a scattered file: the rest waits for the sort, as before). A
//! domain equal to the last one sent (a set a chunk boundary may have cut) is left to the
//! sort.
//!
//! What was sent is marked in the part ([`STREAMED`](super::sort::STREAMED)) and goes through the sort like every
//! record. The grouping step skips an RRset all of whose records are marked, writes one that
//! only some are over what the stream wrote (a record of it repeated in a chunk the stream
//! did not send), and writes the rest. So the tables do not depend on the file's order.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_channel::Sender;

use super::group::{close_rrsets, rrset_prefix};
use super::sort::Part;
use crate::store::writer::{GroupBatch, ToWriter};

/// A chunk's RRsets at delegation points, ready for the writer.
pub struct Sets {
    batch: GroupBatch,
    /// Each set's records in the part, in its sorted order.
    spans: Vec<(usize, usize)>,
}

/// The RRsets of a sorted `part` whose owner is their domain, other than the apex (`apex`,
/// the zone's key text): duplicates folded, each with its lowest TTL and its rdata's JSON.
pub fn build(part: &Part, apex: &[u8]) -> Sets {
    let mut batch = GroupBatch::default();
    let mut spans = Vec::new();
    let n = part.len();
    let mut i = 0;
    while i < n {
        let prefix = rrset_prefix(part.record(i).0);
        let mut j = i + 1;
        while j < n && rrset_prefix(part.record(j).0) == prefix {
            j += 1;
        }
        if at_delegation(prefix, apex) {
            let start = batch.rows.len();
            for r in i..j {
                let (key, ttl) = part.record(r);
                match batch.rows[start..].last_mut() {
                    Some(last) if batch.keys[last.0 as usize..(last.0 + last.1) as usize] == *key => last.2 = last.2.min(ttl),
                    _ => batch.push_record(key, ttl),
                }
            }
            spans.push((i, j));
        }
        i = j;
    }
    close_rrsets(&mut batch, 0, true, true, false);
    Sets { batch, spans }
}

/// `domain \0 owner \0 TYPE` names an RRset at a delegation point (or any name directly under
/// the origin), not at the apex.
fn at_delegation(prefix: &[u8], apex: &[u8]) -> bool {
    let mut f = prefix.split(|&b| b == 0);
    let (domain, owner) = (f.next().unwrap_or_default(), f.next().unwrap_or_default());
    domain == owner && domain != apex
}

/// The in-order step's side of the stream. It holds each chunk back until the next one
/// shows the file is still in order: a scattered file sends nothing, where sending its first
/// chunk would leave the rest to be inserted between its rows, splitting pages all over the
/// table.
pub struct Streamer<'a> {
    tx: Sender<ToWriter>,
    /// Workers build [`Sets`] while this holds; it goes false once, for good.
    on: &'a AtomicBool,
    /// The chunk held back, with its sets and the first of them to send.
    held: Option<(Part, Sets, usize)>,
    /// The last domain of the chunks taken in order.
    last: Option<Vec<u8>>,
    /// RRsets sent.
    pub sent: u64,
    /// The chunk the stream stopped at, if it did.
    pub stopped_at: Option<u64>,
}

/// The writer is gone (its own error says why).
pub struct WriterGone;

impl<'a> Streamer<'a> {
    pub fn new(tx: Sender<ToWriter>, on: &'a AtomicBool) -> Self {
        Streamer { tx, on, held: None, last: None, sent: 0, stopped_at: None }
    }

    /// The stream still runs: chunks should bring their [`Sets`].
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Takes chunk `seq`, its sorted `part` and its `sets`: when it comes after the chunks
    /// before it, sends the one held back and holds this one; otherwise stops the stream.
    /// Returns the parts done with, for the sorter.
    pub fn take(&mut self, seq: u64, part: Part, sets: Option<Sets>) -> Result<Vec<Part>, WriterGone> {
        if !self.is_on() {
            return Ok(vec![part]);
        }
        let Some(sets) = sets else {
            return Ok(self.stop(seq, part));
        };
        let n = sets.batch.sets.len();
        if n == 0 {
            // Nothing at a delegation point (the apex, glue): the order is as it was.
            return Ok(vec![part]);
        }
        let first = match &self.last {
            Some(last) if sets.domain(0) < last.as_slice() => return Ok(self.stop(seq, part)),
            // A domain equal to the last one taken may be a set the boundary cut: the sort's.
            Some(last) => (0..n).take_while(|&k| sets.domain(k) == last.as_slice()).count(),
            None => 0,
        };
        let mut done = Vec::with_capacity(2);
        if let Some(h) = self.held.take() {
            done.push(self.send(h)?);
        }
        if first == n {
            done.push(part);
        } else {
            self.last = Some(sets.domain(n - 1).to_vec());
            self.held = Some((part, sets, first));
        }
        Ok(done)
    }

    /// Sends the chunk still held (the file is done), and returns its part for the sorter.
    pub fn finish(&mut self) -> Result<Option<Part>, WriterGone> {
        self.held.take().map(|h| self.send(h)).transpose()
    }

    /// Marks what it sends of a held chunk in its part, and sends it.
    fn send(&mut self, (mut part, Sets { batch, spans }, first): (Part, Sets, usize)) -> Result<Part, WriterGone> {
        for &(i, j) in &spans[first..] {
            part.mark_streamed(i..j);
        }
        self.sent += (batch.sets.len() - first) as u64;
        self.tx.send(ToWriter::Stream { batch, first }).map_err(|_| WriterGone)?;
        Ok(part)
    }

    /// Stops the stream at chunk `seq`: the chunk held goes to the sort unsent.
    fn stop(&mut self, seq: u64, part: Part) -> Vec<Part> {
        self.on.store(false, Ordering::Relaxed);
        self.stopped_at = Some(seq);
        self.held.take().map(|h| h.0).into_iter().chain([part]).collect()
    }
}

impl Sets {
    /// The domain of set `k`.
    fn domain(&self, k: usize) -> &[u8] {
        let b = &self.batch;
        let start = if k == 0 { 0 } else { b.sets[k - 1].rows_end as usize };
        let (off, len, _) = b.rows[start];
        let key = &b.keys[off as usize..(off + len) as usize];
        &key[..memchr::memchr(0, key).unwrap_or(key.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sort::STREAMED;
    use crate::store::writer::SetKind;

    fn part(keys: &[(&str, u32)]) -> Part {
        let mut p = Part::default();
        for (k, t) in keys {
            let start = p.arena_len();
            p.key_buf().extend_from_slice(k.replace('|', "\0").as_bytes());
            p.finish(start, *t);
        }
        p.sort();
        p
    }

    #[test]
    fn lists_delegation_rrsets_folded_with_their_lowest_ttl() {
        let p = part(&[
            ("b.t.|b.t.|NS|ns2.x.", 60),
            ("b.t.|ns.b.t.|A|192.0.2.1", 60),
            ("t.|t.|SOA|a b 1 2 3 4 5", 60),
            ("b.t.|b.t.|NS|ns1.x.", 30),
            ("b.t.|b.t.|NS|ns1.x.", 90),
            ("a.t.|a.t.|DS|1 8 2 AB", 10),
        ]);
        let s = build(&p, b"t.");
        let sets: Vec<_> = s.batch.sets.iter().map(|r| (r.rows_end, r.kind)).collect();
        assert_eq!(sets, [(1, SetKind::Write), (3, SetKind::Write)]);
        assert_eq!(s.batch.json.as_deref(), Some(r#"["1 8 2 AB"]["ns1.x.","ns2.x."]"#));
        let ttls: Vec<u32> = s.batch.rows.iter().map(|r| r.2).collect();
        assert_eq!(ttls, [10, 30, 30]);
        // The spans cover the part's records of each set, the duplicate included.
        assert_eq!(s.spans, [(0, 1), (1, 4)]);
    }

    #[test]
    fn sends_a_chunk_once_the_next_is_in_order_leaves_the_boundary_domain_and_stops_at_disorder() {
        let on = AtomicBool::new(true);
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut st = Streamer::new(tx, &on);
        let marks = |p: &Part| (0..p.len()).map(|i| p.record(i).1 & STREAMED != 0).collect::<Vec<_>>();
        let p1 = part(&[("a.t.|a.t.|NS|n.", 1), ("b.t.|b.t.|NS|n.", 1)]);
        let s1 = build(&p1, b"t.");
        assert!(st.take(0, p1, Some(s1)).ok().expect("held").is_empty());
        // The next chunk starts with b again: the first is sent; of this one, c will be.
        let p2 = part(&[("b.t.|b.t.|NS|m.", 1), ("c.t.|c.t.|NS|n.", 1)]);
        let s2 = build(&p2, b"t.");
        let done = st.take(1, p2, Some(s2)).ok().expect("sent");
        assert_eq!(done.iter().map(marks).collect::<Vec<_>>(), [[true, true]]);
        let done = st.finish().ok().expect("sent");
        assert_eq!(done.as_ref().map(marks), Some(vec![false, true]));
        assert_eq!((st.sent, st.stopped_at), (3, None));
        let firsts: Vec<usize> = rx.try_iter().map(|m| if let ToWriter::Stream { first, .. } = m { first } else { 99 }).collect();
        assert_eq!(firsts, [0, 1]);

        // Out of order at the second chunk: nothing is sent, nothing marked.
        let on = AtomicBool::new(true);
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut st = Streamer::new(tx, &on);
        let p1 = part(&[("c.t.|c.t.|NS|n.", 1), ("d.t.|d.t.|NS|n.", 1)]);
        let s1 = build(&p1, b"t.");
        assert!(st.take(0, p1, Some(s1)).ok().expect("held").is_empty());
        let p2 = part(&[("a.t.|a.t.|DS|1", 1), ("e.t.|e.t.|NS|n.", 1)]);
        let s2 = build(&p2, b"t.");
        let done = st.take(1, p2, Some(s2)).ok().expect("stopped");
        assert_eq!(done.iter().map(marks).collect::<Vec<_>>(), [[false, false], [false, false]]);
        assert_eq!((st.sent, st.stopped_at, on.load(Ordering::Relaxed)), (0, Some(1), false));
        assert!(st.finish().ok().expect("nothing held").is_none());
        assert_eq!(rx.try_iter().count(), 0);
    }
}
