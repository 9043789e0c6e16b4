//! Grouping the sorted record stream: RRsets get their lowest TTL (RFC 2181 §5.2), records
//! under a delegation form a domain with a state hash, and rows go to the writer in batches.
//!
//! Records are grouped by the name directly under the origin that they sit at or below (the
//! apex's own records form a group named for the zone). A group whose name owns NS records is
//! a domain. Each group gets a state hash over its records, sorted, with TTLs, except RRSIG,
//! NSEC and NSEC3 (re-signing a zone must not make every signed domain look changed), and a
//! second hash over just those: the writer rewrites a group's records only when either
//! differs from the previous version's.

use std::collections::BTreeMap;
use std::io;

use crossbeam_channel::Sender;
use xxhash_rust::xxh3::Xxh3;

use std::sync::atomic::Ordering;

use super::sort::Merged;
use super::source::Counters;
use crate::store::writer::{GroupBatch, GroupRow};
use crate::zone::name::Origin;

const BATCH: usize = 16_384;

/// What the grouping saw.
#[derive(Debug, Default)]
pub struct Grouped {
    pub records: u64,
    pub serial: Option<u32>,
    pub types: BTreeMap<String, u64>,
}

struct Group {
    domain: Vec<u8>,
    keys: Vec<u8>,
    rows: Vec<(u32, u32, u32)>,
}

/// Drains the merged stream into the writer.
pub fn run(mut merged: Merged, zone: &Origin, no_records: bool, tx: &Sender<GroupBatch>, counters: &Counters) -> io::Result<Grouped> {
    let mut g = Grouped::default();
    // A zone holds a handful of types: a short list beats hashing the type on every record.
    let mut types: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut group = Group { domain: Vec::new(), keys: Vec::new(), rows: Vec::new() };
    let mut batch = GroupBatch::default();
    let apex = zone.text().as_bytes();
    let closed = || io::Error::other("the database writer stopped");
    while let Some((key, ttl)) = merged.next_rec()? {
        let dlen = key.iter().position(|&b| b == 0).unwrap_or(key.len());
        if key[..dlen] != group.domain[..] {
            flush(&mut group, apex, no_records, &mut batch, &mut g, &mut types);
            group.domain.clear();
            group.domain.extend_from_slice(&key[..dlen]);
        }
        group.rows.push((group.keys.len() as u32, key.len() as u32, ttl));
        group.keys.extend_from_slice(key);
        if batch.rows.len() >= BATCH || batch.groups.len() >= BATCH {
            counters.written.store(g.records, Ordering::Relaxed);
            tx.send(std::mem::take(&mut batch)).map_err(|_| closed())?;
        }
    }
    flush(&mut group, apex, no_records, &mut batch, &mut g, &mut types);
    if !batch.groups.is_empty() {
        tx.send(batch).map_err(|_| closed())?;
    }
    g.types = types.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect();
    Ok(g)
}

fn flush(group: &mut Group, apex: &[u8], no_records: bool, batch: &mut GroupBatch, g: &mut Grouped, types: &mut Vec<(Vec<u8>, u64)>) {
    if group.rows.is_empty() {
        return;
    }
    let key = |r: &(u32, u32, u32)| &group.keys[r.0 as usize..(r.0 + r.1) as usize];
    // RRsets are runs of equal (domain, owner, type): give each its lowest TTL.
    let mut i = 0;
    while i < group.rows.len() {
        let set = rrset_prefix(key(&group.rows[i]));
        let mut j = i + 1;
        while j < group.rows.len() && rrset_prefix(key(&group.rows[j])) == set {
            j += 1;
        }
        let min = group.rows[i..j].iter().map(|r| r.2).min().unwrap_or(0);
        for r in &mut group.rows[i..j] {
            r.2 = min;
        }
        i = j;
    }
    let is_apex = group.domain == apex;
    let dlen = group.domain.len();
    let mut delegation = false;
    let mut hasher = Xxh3::new();
    let mut sig: Option<Xxh3> = None;
    for r in &group.rows {
        let k = key(r);
        // k = domain \0 owner \0 TYPE \0 rdata; `rest` starts at the owner.
        let rest = &k[(dlen + 1).min(k.len())..];
        let Some((owner, tail)) = split0(rest) else { continue };
        let Some((rtype, rdata)) = split0(tail) else { continue };
        g.records += 1;
        match types.iter_mut().find(|(t, _)| t.as_slice() == rtype) {
            Some((_, n)) => *n += 1,
            None => types.push((rtype.to_vec(), 1)),
        }
        if is_apex && rtype == b"SOA" && g.serial.is_none() {
            g.serial = std::str::from_utf8(rdata).ok().and_then(|s| s.split(' ').nth(2)).and_then(|s| s.parse().ok());
        }
        if !is_apex && owner == group.domain.as_slice() && rtype == b"NS" {
            delegation = true;
        }
        let h = if matches!(rtype, b"RRSIG" | b"NSEC" | b"NSEC3") { sig.get_or_insert_with(Xxh3::new) } else { &mut hasher };
        h.update(rest);
        h.update(&r.2.to_be_bytes());
        if !no_records {
            batch.push_record(k, r.2);
        }
    }
    // Without records only domains matter: other groups are not kept.
    if delegation || !no_records {
        batch.groups.push(GroupRow {
            name: String::from_utf8_lossy(&group.domain).into_owned(),
            end: batch.rows.len(),
            delegation,
            hash: hasher.digest128().to_be_bytes(),
            sig: sig.map(|s| s.digest128().to_be_bytes()),
        });
    }
    group.keys.clear();
    group.rows.clear();
}

/// Splits at the first NUL.
fn split0(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(0, b)?;
    Some((&b[..i], &b[i + 1..]))
}

/// `domain \0 owner \0 TYPE` of a key.
fn rrset_prefix(key: &[u8]) -> &[u8] {
    let mut zeros = 0;
    for (i, &b) in key.iter().enumerate() {
        if b == 0 {
            zeros += 1;
            if zeros == 3 {
                return &key[..i];
            }
        }
    }
    key
}
