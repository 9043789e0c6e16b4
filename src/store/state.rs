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
//! The rows stay the store of record: a block is trusted only when its checksum, its entry
//! count, the names' order and the version's block count (`zones.state_blocks`, set in the
//! switch transaction) all agree. When they do not, the import says so in a warning and
//! compares with the rows from the last name the blocks gave. A version with no blocks (one
//! imported before schema 11, or whose blocks a failed import already read: the next import
//! deletes each block as it reads it, see [`Blocks`]) is compared with its rows.
//!
//! An entry is: the length of the prefix it shares with the name before it in its block
//! (LEB128), the length of the rest (LEB128), the rest, a flags byte, then the hashes the flags
//! announce (16 bytes each): the domain's hash and signature hash, the group's hash and
//! signature hash.

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
const KNOWN: u8 = DOMAIN | REMOVED | DOMAIN_SIG | GROUP | GROUP_SIG;

/// A name's `domains` row, as far as a comparison needs it (its dates are carried in SQL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainState {
    pub hash: [u8; 16],
    pub sig: Option<[u8; 16]>,
    pub removed: bool,
}

/// A name's `record_groups` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupState {
    pub hash: [u8; 16],
    pub sig: Option<[u8; 16]>,
}

/// One name's state: at least one of the two is there.
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

    /// Adds the state of `name`, which must sort after the last one's (borrowed: the writer
    /// calls this for every name, and an owned [`Entry`] would copy each one).
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

/// Reads a version's blocks back once, entry by entry, checking each block as it comes and
/// deleting it once read (in the reader's transaction): the blocks the new version writes
/// then take the pages the old ones leave, and a database holds about one version's state,
/// not two.
pub struct Blocks<'c> {
    select: Statement<'c>,
    delete: Statement<'c>,
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
    pub fn new(conn: &'c Connection, zone: i64, blocks: i64) -> rusqlite::Result<Self> {
        let select = conn.prepare("SELECT count, sum, data FROM state_blocks WHERE zone = ?1 AND seq = ?2")?;
        let delete = conn.prepare("DELETE FROM state_blocks WHERE zone = ?1 AND seq = ?2")?;
        Ok(Blocks { select, delete, zone, blocks, seq: 0, data: Vec::new(), pos: 0, left: 0, name: Vec::new(), last: Vec::new() })
    }

    /// The last name read: where a comparison that stops trusting the blocks goes on from.
    pub fn last(&self) -> Option<&str> {
        std::str::from_utf8(&self.last).ok().filter(|l| !l.is_empty())
    }

    fn damaged(&self, msg: impl Into<String>) -> ReadError {
        ReadError::Damaged { zone: self.zone, msg: msg.into() }
    }

    /// The next entry, or None after the last block.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, ReadError> {
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
            self.delete.execute(params![self.zone, self.seq])?;
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
        if flags & !KNOWN != 0 || flags & (DOMAIN | GROUP) == 0 {
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

/// Drops the blocks of every version of `tld` but `keep` (after `keep` became current, the
/// others are no comparison's).
pub fn drop_others(conn: &Connection, tld: &str, keep: i64) -> rusqlite::Result<()> {
    // No transaction of its own: these versions are no one's to compare with either way.
    conn.execute("DELETE FROM state_blocks WHERE zone IN (SELECT id FROM zones WHERE tld = ?1 AND id <> ?2)", params![tld, keep])?;
    conn.execute("UPDATE zones SET state_blocks = NULL WHERE tld = ?1 AND id <> ?2 AND state_blocks IS NOT NULL", params![tld, keep])?;
    Ok(())
}

/// Drops the blocks of every version that is not current (failed imports, and replaced
/// versions whose blocks an interrupted import left).
pub fn drop_stale(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM state_blocks WHERE zone NOT IN (SELECT id FROM zones WHERE state = 'current')", [])?;
    conn.execute("UPDATE zones SET state_blocks = NULL WHERE state <> 'current' AND state_blocks IS NOT NULL", [])?;
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
