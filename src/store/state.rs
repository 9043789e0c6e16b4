//! A version's comparison state, packed: what the next import compares with.
//!
//! For every name the current rows hold (a `domains` row, current or removed, and the
//! `record_groups` row of a name with records that is no delegation), the state is the name
//! and its hashes. The rows hold them too, but reading every current row back to compare a
//! day's zone with them was three quarters of the writer's work on a next day (1M domains:
//! 0.6 s of 0.8 s). So the writer also packs the state it leaves, in name order, into
//! `state_blocks` rows of about [`BLOCK`] bytes, in the same transactions as the rows; the
//! next import merges its groups with those blocks.
//!
//! A version's blocks are a **base**, its whole state, or a **delta** on the state of the
//! version before it (`zones.state_prev`): only the names whose state it changed, and a
//! tombstone for each name it no longer has. A day of .com changes a few hundred thousand of
//! 160M names, so a delta is megabytes where a base is gigabytes. The state of a version is
//! its chain, a base and the deltas after it, merged name by name, the newest entry winning
//! ([`Chain`]). An import writes a new base instead of a delta when the chain's deltas reach
//! [`MAX_DELTAS`] or a quarter of the base's bytes; the chains of current versions are kept,
//! every other block is dropped once its version is no comparison's.
//!
//! The rows stay the store of record: a block is trusted only when its checksum, its entry
//! count, the names' order, the version's block count (`zones.state_blocks`, set in the
//! switch transaction) and the chain's links all agree. When they do not, the import says so
//! in a warning and compares with the rows from the last name the blocks gave, and the state
//! it leaves is a new base. A version with no blocks (one imported before schema 11) is
//! compared with its rows. Nothing reads a block destructively: an import that fails or is
//! refused leaves the chain it compared with as it was.
//!
//! An entry is: the length of the prefix it shares with the name before it in its block
//! (LEB128), the length of the rest (LEB128), the rest, a flags byte, then the hashes the flags
//! announce (16 bytes each): the domain's hash and signature hash, the group's hash and
//! signature hash. A tombstone is the flag [`GONE`] alone.

use rusqlite::{params, Connection, OptionalExtension, Statement};
use xxhash_rust::xxh3::xxh3_64;

/// Bytes of entries per block: large enough that a block is one read, small enough that a
/// damaged one is cheap to notice and the writer holds little.
pub const BLOCK: usize = 64 << 10; // 64 KiB

const DOMAIN: u8 = 1;
const REMOVED: u8 = 2;
const DOMAIN_SIG: u8 = 4;
const GROUP: u8 = 8;
const GROUP_SIG: u8 = 16;
/// A delta's tombstone: the name has no state in the version that wrote it.
const GONE: u8 = 32;
const KNOWN: u8 = DOMAIN | REMOVED | DOMAIN_SIG | GROUP | GROUP_SIG | GONE;

/// Deltas a chain holds before the next import writes a base.
pub const MAX_DELTAS: usize = 16;
/// A base is written once the deltas' bytes reach this share of the base's.
const MAX_DELTA_SHARE: f64 = 0.25;

/// A name's `domains` row, as far as a comparison needs it (its dates are carried in SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainState {
    pub hash: [u8; 16],
    pub sig: Option<[u8; 16]>,
    pub removed: bool,
}

impl DomainState {
    /// The state of the same domain once removed: its last hashes kept.
    pub fn as_removed(&self) -> DomainState {
        DomainState { removed: true, ..self.clone() }
    }
}

/// A name's `record_groups` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub hash: [u8; 16],
    pub sig: Option<[u8; 16]>,
}

/// One name's state; neither is there in a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub domain: Option<DomainState>,
    pub group: Option<GroupState>,
}

/// Why a version's blocks cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("version {zone}'s packed state is damaged: {msg}")]
    Damaged { zone: i64, msg: String },
}

/// Packs a version's state into `state_blocks` as the writer goes, names in ascending order.
pub struct BlockWriter<'c> {
    insert: Statement<'c>,
    zone: i64,
    data: Vec<u8>,
    count: i64,
    blocks: i64,
    /// The name before, in this block (the prefix the next one shares) and overall (the order).
    last: String,
}

impl<'c> BlockWriter<'c> {
    pub fn new(conn: &'c Connection, zone: i64) -> rusqlite::Result<Self> {
        let insert = conn.prepare("INSERT INTO state_blocks (zone, seq, count, sum, data) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        Ok(BlockWriter { insert, zone, data: Vec::with_capacity(BLOCK + 256), count: 0, blocks: 0, last: String::new() })
    }

    /// Adds the state of `name`, which must sort after the last one's, or with neither a
    /// tombstone (borrowed: the writer calls this for every name, and an owned [`Entry`]
    /// would copy each one).
    pub fn push(&mut self, name: &str, domain: Option<&DomainState>, group: Option<&GroupState>) -> rusqlite::Result<()> {
        if self.blocks + self.count > 0 && name <= self.last.as_str() {
            return Err(rusqlite::Error::InvalidParameterName(format!("packed state out of order at `{name}`")));
        }
        let shared = if self.count == 0 { 0 } else { common_prefix(self.last.as_bytes(), name.as_bytes()) };
        let rest = &name.as_bytes()[shared..];
        put_varint(&mut self.data, shared as u64);
        put_varint(&mut self.data, rest.len() as u64);
        self.data.extend_from_slice(rest);
        let mut flags = 0;
        if let Some(d) = domain {
            flags |= DOMAIN | if d.removed { REMOVED } else { 0 } | if d.sig.is_some() { DOMAIN_SIG } else { 0 };
        }
        if let Some(g) = group {
            flags |= GROUP | if g.sig.is_some() { GROUP_SIG } else { 0 };
        }
        if flags == 0 {
            flags = GONE;
        }
        self.data.push(flags);
        if let Some(d) = domain {
            self.data.extend_from_slice(&d.hash);
            self.data.extend_from_slice(d.sig.as_ref().map_or(&[][..], |s| &s[..]));
        }
        if let Some(g) = group {
            self.data.extend_from_slice(&g.hash);
            self.data.extend_from_slice(g.sig.as_ref().map_or(&[][..], |s| &s[..]));
        }
        self.count += 1;
        self.last.clear();
        self.last.push_str(name);
        if self.data.len() >= BLOCK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> rusqlite::Result<()> {
        if self.count > 0 {
            let sum = xxh3_64(&self.data) as i64;
            self.insert.execute(params![self.zone, self.blocks, self.count, sum, self.data])?;
            self.blocks += 1;
            self.count = 0;
            self.data.clear();
        }
        Ok(())
    }

    /// Writes the last block; returns how many the version has.
    pub fn finish(mut self) -> rusqlite::Result<i64> {
        self.flush()?;
        Ok(self.blocks)
    }
}

/// Reads one version's blocks back, entry by entry, checking each block as it comes.
struct Blocks<'c> {
    select: Statement<'c>,
    zone: i64,
    /// How many blocks the version says it has.
    blocks: i64,
    seq: i64,
    data: Vec<u8>,
    pos: usize,
    left: i64,
    name: Vec<u8>,
    /// The last name read, from any block (empty before the first: no name is): names only
    /// ascend. A buffer reused, not a copy per entry.
    last: Vec<u8>,
}

impl<'c> Blocks<'c> {
    /// The `blocks` blocks of version `zone`.
    fn new(conn: &'c Connection, zone: i64, blocks: i64) -> rusqlite::Result<Self> {
        let select = conn.prepare("SELECT count, sum, data FROM state_blocks WHERE zone = ?1 AND seq = ?2")?;
        Ok(Blocks { select, zone, blocks, seq: 0, data: Vec::new(), pos: 0, left: 0, name: Vec::new(), last: Vec::new() })
    }

    fn damaged(&self, msg: impl Into<String>) -> ReadError {
        ReadError::Damaged { zone: self.zone, msg: msg.into() }
    }

    /// The next entry, or None after the last block.
    fn next_entry(&mut self) -> Result<Option<Entry>, ReadError> {
        while self.left == 0 {
            if self.pos != self.data.len() {
                return Err(self.damaged(format!("block {} holds more than its count says", self.seq - 1)));
            }
            if self.seq == self.blocks {
                let extra: Option<i64> = self.select.query_row(params![self.zone, self.seq], |r| r.get(0)).optional()?;
                return match extra {
                    Some(_) => Err(self.damaged(format!("a block {} past the {} the version has", self.seq, self.blocks))),
                    None => Ok(None),
                };
            }
            // Into the one buffer: a fresh 64 KiB per block costs the kernel fresh pages.
            let (select, data) = (&mut self.select, &mut self.data);
            let row: Option<(i64, i64)> = select
                .query_row(params![self.zone, self.seq], |r| {
                    data.clear();
                    data.extend_from_slice(r.get_ref(2)?.as_blob()?);
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((count, sum)) = row else {
                self.data.clear();
                return Err(self.damaged(format!("block {} of {} is missing", self.seq, self.blocks)));
            };
            if xxh3_64(&self.data) as i64 != sum {
                return Err(self.damaged(format!("block {} fails its checksum", self.seq)));
            }
            if count <= 0 {
                return Err(self.damaged(format!("block {} says it holds {count} entries", self.seq)));
            }
            self.seq += 1;
            self.pos = 0;
            self.left = count;
            self.name.clear();
        }
        let e = self.decode().ok_or_else(|| self.damaged(format!("block {} ends inside an entry", self.seq - 1)))??;
        self.left -= 1;
        if self.last.as_slice() >= e.name.as_bytes() {
            return Err(self.damaged(format!("`{}` is out of order in block {}", e.name, self.seq - 1)));
        }
        self.last.clear();
        self.last.extend_from_slice(e.name.as_bytes());
        Ok(Some(e))
    }

    /// The entry at `pos`; None when the block ends first.
    fn decode(&mut self) -> Option<Result<Entry, ReadError>> {
        let shared = get_varint(&self.data, &mut self.pos)? as usize;
        let len = get_varint(&self.data, &mut self.pos)? as usize;
        let rest = self.data.get(self.pos..self.pos.checked_add(len)?)?;
        if shared > self.name.len() {
            return Some(Err(self.damaged(format!("a name in block {} shares more than the name before it has", self.seq - 1))));
        }
        self.name.truncate(shared);
        self.name.extend_from_slice(rest);
        self.pos += len;
        let flags = *self.data.get(self.pos)?;
        self.pos += 1;
        let gone = flags & GONE != 0;
        if flags & !KNOWN != 0 || gone != (flags & (DOMAIN | GROUP) == 0) || (gone && flags != GONE) {
            return Some(Err(self.damaged(format!("unknown flags {flags:#04x} in block {}", self.seq - 1))));
        }
        let mut hash = |present: bool| -> Option<Option<[u8; 16]>> {
            if !present {
                return Some(None);
            }
            let h: [u8; 16] = self.data.get(self.pos..self.pos + 16)?.try_into().ok()?;
            self.pos += 16;
            Some(Some(h))
        };
        let domain = match hash(flags & DOMAIN != 0)? {
            Some(h) => Some(DomainState { hash: h, sig: hash(flags & DOMAIN_SIG != 0)?, removed: flags & REMOVED != 0 }),
            None => None,
        };
        let group = match hash(flags & GROUP != 0)? {
            Some(h) => Some(GroupState { hash: h, sig: hash(flags & GROUP_SIG != 0)? }),
            None => None,
        };
        let Ok(name) = String::from_utf8(self.name.clone()) else {
            return Some(Err(self.damaged(format!("a name in block {} is not UTF-8", self.seq - 1))));
        };
        Some(Ok(Entry { name, domain, group }))
    }
}

/// One version of a chain, and the size of its blocks.
#[derive(Debug, Clone, Copy)]
struct Member {
    zone: i64,
    blocks: i64,
    bytes: i64,
}

/// A version's state: its chain's base and deltas merged in name order, the newest entry of a
/// name winning and tombstones dropped.
pub struct Chain<'c> {
    members: Vec<Member>,
    /// The base's reader, then the deltas', oldest first; with the entry each reads next.
    readers: Vec<Blocks<'c>>,
    heads: Vec<Option<Entry>>,
    /// The delta whose head comes first (the newest of equal names), kept between entries:
    /// deltas are small, and the base's entries then cost one comparison each.
    first_delta: Option<usize>,
    started: bool,
    /// The last name given: where a comparison that stops trusting the blocks goes on from.
    last: String,
}

impl<'c> Chain<'c> {
    /// The chain of version `zone`, which says it has `blocks` blocks: its links are followed
    /// and every member's block count checked before any entry is read.
    pub fn open(conn: &'c Connection, zone: i64, blocks: i64) -> Result<Chain<'c>, ReadError> {
        let damaged = |msg: String| ReadError::Damaged { zone, msg };
        let mut members = vec![Member { zone, blocks, bytes: 0 }];
        let mut prev: Option<i64> = conn.query_row("SELECT state_prev FROM zones WHERE id = ?1", params![zone], |r| r.get(0))?;
        while let Some(p) = prev {
            if members.len() > MAX_DELTAS + 1 || members.iter().any(|m| m.zone == p) {
                return Err(damaged(format!("its chain of deltas does not end at a base (at version {p})")));
            }
            let row: Option<(Option<i64>, Option<i64>)> = conn
                .query_row(
                    "SELECT state_blocks, state_prev FROM zones WHERE id = ?1 AND state IN ('current', 'replaced')",
                    params![p],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((Some(blocks), next)) = row else {
                return Err(damaged(format!("it is a delta on version {p}, which has no packed state")));
            };
            members.push(Member { zone: p, blocks, bytes: 0 });
            prev = next;
        }
        members.reverse();
        let mut size = conn.prepare("SELECT count(*), coalesce(sum(length(data)), 0) FROM state_blocks WHERE zone = ?1")?;
        for m in &mut members {
            let (count, bytes): (i64, i64) = size.query_row(params![m.zone], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if count != m.blocks {
                return Err(damaged(format!("version {} has {count} blocks where it says {}", m.zone, m.blocks)));
            }
            m.bytes = bytes;
        }
        let readers = members.iter().map(|m| Blocks::new(conn, m.zone, m.blocks)).collect::<rusqlite::Result<Vec<_>>>()?;
        let heads = members.iter().map(|_| None).collect();
        Ok(Chain { members, readers, heads, first_delta: None, started: false, last: String::new() })
    }

    /// Whether the next version should write a base: the deltas are many, or large beside it.
    pub fn wants_base(&self) -> bool {
        let deltas: i64 = self.members[1..].iter().map(|m| m.bytes).sum();
        self.members.len() > MAX_DELTAS || deltas as f64 >= self.members[0].bytes as f64 * MAX_DELTA_SHARE
    }

    /// The last name given.
    pub fn last(&self) -> &str {
        &self.last
    }

    /// The next name's state, or None after the last.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ReadError> {
        if !self.started {
            for i in 0..self.readers.len() {
                self.heads[i] = self.readers[i].next_entry()?;
            }
            self.first_delta = self.first_delta();
            self.started = true;
        }
        loop {
            let base = self.heads[0].as_ref().map(|e| e.name.as_str());
            let delta = self.first_delta.and_then(|i| Some((i, self.heads[i].as_ref()?.name.as_str())));
            let e = match (base, delta) {
                (None, None) => return Ok(None),
                (Some(_), None) => self.advance(0)?,
                (Some(b), Some((_, d))) if b < d => self.advance(0)?,
                (b, Some((newest, d))) => {
                    // The newest delta's entry wins; older ones and the base's are passed over.
                    let (name, also_base) = (d.to_string(), b == Some(d));
                    if also_base {
                        self.advance(0)?;
                    }
                    let e = self.advance(newest)?;
                    for i in 1..self.heads.len() {
                        if self.heads[i].as_ref().is_some_and(|h| h.name == name) {
                            self.advance(i)?;
                        }
                    }
                    self.first_delta = self.first_delta();
                    e
                }
            };
            let Some(e) = e else { continue };
            self.last.clear();
            self.last.push_str(&e.name);
            if e.domain.is_some() || e.group.is_some() {
                return Ok(Some(e));
            }
        }
    }

    /// Takes reader `i`'s head and reads its next.
    fn advance(&mut self, i: usize) -> Result<Option<Entry>, ReadError> {
        let next = self.readers[i].next_entry()?;
        Ok(std::mem::replace(&mut self.heads[i], next))
    }

    /// The delta whose head sorts first, the newest among equal names.
    fn first_delta(&self) -> Option<usize> {
        let mut first: Option<usize> = None;
        for i in 1..self.heads.len() {
            let Some(h) = &self.heads[i] else { continue };
            if first.and_then(|f| self.heads[f].as_ref()).is_none_or(|f| h.name <= f.name) {
                first = Some(i);
            }
        }
        first
    }
}

/// The state of the current version of `tld`, read whole through its chain (None: it has no
/// packed state). For checks and tests: an import streams it.
pub fn current(conn: &Connection, tld: &str) -> Result<Option<Vec<Entry>>, ReadError> {
    let cur: Option<(i64, Option<i64>)> = conn
        .query_row("SELECT id, state_blocks FROM current_zones WHERE tld = ?1", params![tld], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((zone, Some(blocks))) = cur else { return Ok(None) };
    let mut chain = Chain::open(conn, zone, blocks)?;
    let mut out = Vec::new();
    while let Some(e) = chain.next_entry()? {
        out.push(e);
    }
    Ok(Some(out))
}

/// The versions whose blocks a current version's state is made of.
const CHAINS: &str = "WITH RECURSIVE chain(id, prev) AS (
    SELECT id, state_prev FROM current_zones WHERE state_blocks IS NOT NULL
    UNION SELECT z.id, z.state_prev FROM zones z JOIN chain c ON z.id = c.prev
     WHERE z.state_blocks IS NOT NULL AND z.state IN ('current', 'replaced'))";

/// Drops the blocks of every version (of `tld`, or of every zone) that is no part of a
/// current version's chain: after a switch, the versions before a new base; a failed import's;
/// versions whose blocks an interrupted import left.
pub fn drop_unchained(conn: &Connection, tld: Option<&str>) -> rusqlite::Result<()> {
    // No transaction of its own: these versions are no one's to compare with either way.
    let of_tld = "(?1 IS NULL OR zone IN (SELECT id FROM zones WHERE tld = ?1))";
    conn.execute(&format!("{CHAINS} DELETE FROM state_blocks WHERE {of_tld} AND zone NOT IN (SELECT id FROM chain)"), params![tld])?;
    conn.execute(
        &format!(
            "{CHAINS} UPDATE zones SET state_blocks = NULL, state_prev = NULL
               WHERE (?1 IS NULL OR tld = ?1) AND state_blocks IS NOT NULL AND id NOT IN (SELECT id FROM chain)"
        ),
        params![tld],
    )?;
    Ok(())
}

/// Drops the blocks version `zone` wrote, when they cannot be its state after all.
pub fn discard(conn: &Connection, zone: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM state_blocks WHERE zone = ?1", params![zone])?;
    Ok(())
}

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(data: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(super::super::STATE).unwrap();
        c
    }

    fn entries(n: usize) -> Vec<Entry> {
        (0..n)
            .map(|i| Entry {
                name: format!("d{i:07}.com"),
                domain: (i % 5 != 0).then(|| DomainState {
                    hash: [i as u8; 16],
                    sig: (i % 3 == 0).then_some([7; 16]),
                    removed: i % 7 == 0,
                }),
                group: (i % 5 == 0 || i % 11 == 0).then(|| GroupState { hash: [(i / 3) as u8; 16], sig: (i % 2 == 0).then_some([9; 16]) }),
            })
            .collect()
    }

    fn write(c: &Connection, zone: i64, es: &[Entry]) -> i64 {
        let mut w = BlockWriter::new(c, zone).unwrap();
        for e in es {
            w.push(&e.name, e.domain.as_ref(), e.group.as_ref()).unwrap();
        }
        w.finish().unwrap()
    }

    fn read(c: &Connection, zone: i64, blocks: i64) -> Result<Vec<Entry>, ReadError> {
        let mut r = Blocks::new(c, zone, blocks)?;
        let mut out = Vec::new();
        while let Some(e) = r.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    #[test]
    fn blocks_read_back_what_was_written() {
        let c = db();
        let es = entries(20_000);
        let blocks = write(&c, 3, &es);
        assert!(blocks > 3, "{blocks} blocks");
        assert_eq!(read(&c, 3, blocks).unwrap(), es);
        assert_eq!(write(&c, 4, &[]), 0);
        assert!(read(&c, 4, 0).unwrap().is_empty());
    }

    #[test]
    fn names_must_ascend() {
        let c = db();
        let mut w = BlockWriter::new(&c, 1).unwrap();
        let es = entries(2);
        let push = |w: &mut BlockWriter<'_>, e: &Entry| w.push(&e.name, e.domain.as_ref(), e.group.as_ref());
        push(&mut w, &es[1]).unwrap();
        assert!(push(&mut w, &es[0]).is_err());
        assert!(push(&mut w, &es[1]).is_err());
    }

    /// Every kind of damage is caught and named, never read as state.
    #[test]
    fn damage_is_noticed() {
        let es = entries(20_000);
        let damaged = |sql: &str, blocks_delta: i64| -> String {
            let c = db();
            let blocks = write(&c, 1, &es);
            c.execute_batch(sql).unwrap();
            match read(&c, 1, blocks + blocks_delta) {
                Err(e @ ReadError::Damaged { .. }) => e.to_string(),
                other => panic!("{sql}: {:?}", other.map(|v| v.len())),
            }
        };
        assert!(damaged("DELETE FROM state_blocks WHERE seq = 1", 0).contains("block 1 of"));
        assert!(damaged("UPDATE state_blocks SET data = zeroblob(length(data)) WHERE seq = 2", 0).contains("checksum"));
        assert!(damaged("UPDATE state_blocks SET count = count + 1 WHERE seq = 0", 0).contains("block 0"));
        assert!(damaged("UPDATE state_blocks SET count = count - 1 WHERE seq = 0", 0).contains("more than its count"));
        assert!(damaged("UPDATE state_blocks SET seq = seq + 100 WHERE seq = 0", 0).contains("missing"));
        assert!(damaged("SELECT 1", -1).contains("past the"));
        // A block put in another's place fails the order check.
        assert!(damaged("UPDATE state_blocks SET seq = -1 WHERE seq = 0; UPDATE state_blocks SET seq = 0 WHERE seq = 1; UPDATE state_blocks SET seq = 1 WHERE seq = -1", 0)
            .contains("out of order"));
    }

    /// Writes `es` as version `zone`'s blocks, a delta on `prev` or a base.
    fn version(c: &Connection, zone: i64, prev: Option<i64>, es: &[Entry]) {
        let blocks = write(c, zone, es);
        c.execute(
            "INSERT INTO zones (id, tld, state, state_blocks, state_prev) VALUES (?1, 'com', 'replaced', ?2, ?3)",
            params![zone, blocks, prev],
        )
        .unwrap();
    }

    fn chained() -> Connection {
        let c = db();
        c.execute_batch("CREATE TABLE zones (id INTEGER PRIMARY KEY, tld TEXT, state TEXT, state_blocks INTEGER, state_prev INTEGER);")
            .unwrap();
        c
    }

    fn read_chain(c: &Connection, zone: i64) -> Result<Vec<Entry>, ReadError> {
        let blocks: i64 = c.query_row("SELECT state_blocks FROM zones WHERE id = ?1", [zone], |r| r.get(0)).unwrap();
        let mut chain = Chain::open(c, zone, blocks)?;
        let mut out = Vec::new();
        while let Some(e) = chain.next_entry()? {
            out.push(e);
        }
        Ok(out)
    }

    fn tombstone(name: &str) -> Entry {
        Entry { name: name.into(), domain: None, group: None }
    }

    /// A chain reads as its base with each delta applied in turn: the newest entry of a name
    /// wins, a tombstone takes the name out, a delta may bring it back.
    #[test]
    fn a_chain_is_its_base_with_each_delta_applied() {
        let c = chained();
        let base = entries(20_000);
        version(&c, 1, None, &base);
        let changed = |i: usize, v: u8| Entry {
            name: format!("d{i:07}.com"),
            domain: Some(DomainState { hash: [v; 16], sig: None, removed: false }),
            group: None,
        };
        // Delta 2: a change, a tombstone, a name the base lacks (between two of its names).
        let d2 = vec![changed(3, 200), tombstone("d0000010.com"), Entry { name: "d0000010.comx".into(), ..changed(0, 201) }];
        version(&c, 2, Some(1), &d2);
        // Delta 3: the same name changed again, the tombstoned one back, the new one gone.
        let d3 = vec![changed(3, 202), changed(10, 203), tombstone("d0000010.comx"), tombstone("d0019999.com")];
        version(&c, 3, Some(2), &d3);
        let mut want = base.clone();
        want[3] = changed(3, 202);
        want[10] = changed(10, 203);
        want.pop();
        assert_eq!(read_chain(&c, 3).unwrap(), want);
        // The chain of version 2 is still there, as it was.
        let mut want2 = base.clone();
        want2[3] = changed(3, 200);
        want2.remove(10);
        want2.insert(10, Entry { name: "d0000010.comx".into(), ..changed(0, 201) });
        assert_eq!(read_chain(&c, 2).unwrap(), want2);
        assert!(!Chain::open(&c, 3, 1).unwrap().wants_base(), "two small deltas on a large base");
    }

    /// A chain whose links or counts do not hold is damaged, said before any entry is read.
    #[test]
    fn a_broken_chain_is_noticed() {
        let broken = |sql: &str| -> String {
            let c = chained();
            version(&c, 1, None, &entries(100));
            version(&c, 2, Some(1), &entries(3));
            c.execute_batch(sql).unwrap();
            match read_chain(&c, 2) {
                Err(e @ ReadError::Damaged { .. }) => e.to_string(),
                other => panic!("{sql}: {:?}", other.map(|v| v.len())),
            }
        };
        assert!(broken("DELETE FROM zones WHERE id = 1").contains("version 1, which has no packed state"));
        assert!(broken("UPDATE zones SET state_blocks = NULL WHERE id = 1").contains("no packed state"));
        assert!(broken("UPDATE zones SET state = 'failed' WHERE id = 1").contains("no packed state"));
        assert!(broken("DELETE FROM state_blocks WHERE zone = 1").contains("version 1 has 0 blocks"));
        assert!(broken("UPDATE zones SET state_prev = 2 WHERE id = 1").contains("does not end at a base"));
    }

    #[test]
    fn varints_round_trip() {
        for v in [0u64, 1, 127, 128, 300, 1 << 20, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            let mut p = 0;
            assert_eq!(get_varint(&b, &mut p), Some(v));
            assert_eq!(p, b.len());
        }
        assert_eq!(get_varint(&[0x80], &mut 0), None);
    }
}
