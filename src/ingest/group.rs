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

use crate::store::links::Bulk;

use std::sync::atomic::Ordering;

use super::source::Counters;
use crate::sort::Merged;
use crate::store::push_json_array;
use crate::store::writer::{GroupBatch, GroupRow, RRset, ToWriter};
use crate::zone::name::Origin;

const BATCH: usize = 16_384;

/// What the grouping saw.
#[derive(Debug, Default)]
pub struct Grouped {
    pub records: u64,
    pub serial: Option<u32>,
    /// SOA records at the origin: a version needs exactly one.
    pub soas: u64,
    /// Domains with DS records at their name (signed delegations, RFC 4034 §5).
    pub ds_domains: u64,
    pub types: BTreeMap<String, u64>,
}

/// What a group's records are kept as.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Only the hashes (`--no-records`).
    Hashes,
    /// The records and their RRsets: the writer compares and writes the changed groups'.
    Records,
    /// The records and their RRsets' JSON: the writer writes every group's (a version written
    /// whole, see [`GroupBatch::json`]).
    Whole,
}

/// Drains the merged stream into the writer.
///
/// A group's records go straight into the batch being filled; the batch is sent between
/// groups, never inside one. Without records they are dropped again once the group's hashes
/// are taken.
/// `bulk`, for a version written whole, collects the reverse-lookup index from the batches.
pub fn run(
    mut merged: Merged,
    zone: &Origin,
    no_records: bool,
    tx: &Sender<ToWriter>,
    counters: &Counters,
    mut bulk: Option<&mut Bulk>,
) -> io::Result<Grouped> {
    let mut g = Grouped::default();
    // A zone holds a handful of types: a short list beats hashing the type on every record.
    let mut types: Vec<(Vec<u8>, u64)> = Vec::new();
    let mut domain: Vec<u8> = Vec::new();
    // Where the current group's records start in the batch.
    let mut start = 0;
    let mut batch = GroupBatch::default();
    let apex = zone.text().as_bytes();
    let closed = || io::Error::other("the database writer stopped");
    let keep = match (no_records, bulk.is_some()) {
        (true, _) => Keep::Hashes,
        (false, false) => Keep::Records,
        (false, true) => Keep::Whole,
    };
    while let Some((key, ttl)) = merged.next_rec()? {
        let dlen = memchr::memchr(0, key).unwrap_or(key.len());
        if key[..dlen] != domain[..] {
            flush(&domain, start, apex, keep, &mut batch, &mut g, &mut types);
            if batch.rows.len() >= BATCH || batch.groups.len() >= BATCH {
                counters.written.store(g.records, Ordering::Relaxed);
                if let Some(b) = bulk.as_deref_mut() {
                    b.batch(&batch)?;
                }
                tx.send(ToWriter::Batch(std::mem::take(&mut batch))).map_err(|_| closed())?;
            }
            start = batch.rows.len();
            domain.clear();
            domain.extend_from_slice(&key[..dlen]);
        }
        // Equal keys come out of the merge side by side: the same owner, type and RDATA is
        // one record, with the lowest TTL.
        if let Some(last) = batch.rows[start..].last_mut() {
            if batch.keys[last.0 as usize..(last.0 + last.1) as usize] == *key {
                last.2 = last.2.min(ttl);
                continue;
            }
        }
        batch.push_record(key, ttl);
    }
    flush(&domain, start, apex, keep, &mut batch, &mut g, &mut types);
    if !batch.groups.is_empty() {
        if let Some(b) = bulk {
            b.batch(&batch)?;
        }
        tx.send(ToWriter::Batch(batch)).map_err(|_| closed())?;
    }
    g.types = types.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect();
    Ok(g)
}

/// Closes the group named `domain` whose records are `batch.rows[start..]`: RRset TTLs, the
/// hashes, and its row in `batch.groups`.
fn flush(domain: &[u8], start: usize, apex: &[u8], keep: Keep, batch: &mut GroupBatch, g: &mut Grouped, types: &mut Vec<(Vec<u8>, u64)>) {
    if batch.rows.len() == start {
        return;
    }
    close_rrsets(start, keep, batch);
    let GroupBatch { keys, rows, .. } = batch;
    let rows = &rows[start..];
    let key = |r: &(u32, u32, u32)| &keys[r.0 as usize..(r.0 + r.1) as usize];
    let is_apex = domain == apex;
    let dlen = domain.len();
    let mut delegation = false;
    let mut signed = false;
    let mut hasher = Xxh3::new();
    let mut sig: Option<Xxh3> = None;
    for r in rows {
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
        if is_apex && owner == domain && rtype == b"SOA" {
            g.soas += 1;
            if g.serial.is_none() {
                g.serial = std::str::from_utf8(rdata).ok().and_then(|s| s.split(' ').nth(2)).and_then(|s| s.parse().ok());
            }
        }
        if !is_apex && owner == domain {
            delegation |= rtype == b"NS";
            signed |= rtype == b"DS";
        }
        let h = if matches!(rtype, b"RRSIG" | b"NSEC" | b"NSEC3") { sig.get_or_insert_with(Xxh3::new) } else { &mut hasher };
        h.update(rest);
        h.update(&r.2.to_be_bytes());
    }
    if delegation && signed {
        g.ds_domains += 1;
    }
    if keep == Keep::Hashes {
        // Only the hashes were needed.
        batch.keys.truncate(batch.rows[start].0 as usize);
        batch.rows.truncate(start);
        if !delegation {
            return; // without records only domains matter
        }
    }
    let name_start = batch.names.len() as u32;
    batch.names.push_str(&String::from_utf8_lossy(domain));
    batch.groups.push(GroupRow {
        name: (name_start, batch.names.len() as u32),
        end: batch.rows.len(),
        sets_end: batch.sets.len(),
        delegation,
        hash: hasher.digest128().to_be_bytes(),
        sig: sig.map(|s| s.digest128().to_be_bytes()),
    });
}

/// The RRsets of the group whose records are `batch.rows[start..]`: runs of equal (domain,
/// owner, type). Gives each its lowest TTL and, when records are kept, a place in `sets` (with
/// its rdata as a JSON array in a version written whole).
fn close_rrsets(start: usize, keep: Keep, batch: &mut GroupBatch) {
    let GroupBatch { keys, rows, sets, json, .. } = batch;
    let rows = &mut rows[start..];
    let key = |r: &(u32, u32, u32)| &keys[r.0 as usize..(r.0 + r.1) as usize];
    let mut i = 0;
    while i < rows.len() {
        let set = rrset_prefix(key(&rows[i]));
        let mut j = i + 1;
        while j < rows.len() && rrset_prefix(key(&rows[j])) == set {
            j += 1;
        }
        let min = rows[i..j].iter().map(|r| r.2).min().unwrap_or(0);
        for r in &mut rows[i..j] {
            r.2 = min;
        }
        let mut json_end = 0;
        if keep == Keep::Whole {
            let json = json.get_or_insert_with(String::new);
            // An NS set's rdata the writer encodes itself, with the `hosts` ids it holds:
            // its JSON here is empty.
            if !set.ends_with(b"\0NS") {
                // The writer refuses a batch whose keys are not UTF-8: what a lossy
                // conversion makes of one here is never written.
                let rdatas = rows[i..j].iter().map(|r| String::from_utf8_lossy(key(r).get(set.len() + 1..).unwrap_or_default()));
                push_json_array(json, rdatas);
            }
            json_end = json.len() as u32;
        }
        if keep != Keep::Hashes {
            sets.push(RRset { rows_end: (start + j) as u32, json_end });
        }
        i = j;
    }
}

/// Splits at the first NUL.
fn split0(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(0, b)?;
    Some((&b[..i], &b[i + 1..]))
}

/// `domain \0 owner \0 TYPE` of a key.
fn rrset_prefix(key: &[u8]) -> &[u8] {
    memchr::memchr_iter(0, key).nth(2).map_or(key, |i| &key[..i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_splits_at_its_nuls_and_its_rrset_is_its_first_three_fields() {
        let key = b"example.com\x00ns1.example.com\x00A\x00192.0.2.1";
        assert_eq!(split0(key), Some((&b"example.com"[..], &b"ns1.example.com\x00A\x00192.0.2.1"[..])));
        assert_eq!(split0(b"no nul"), None);
        assert_eq!(rrset_prefix(key), b"example.com\x00ns1.example.com\x00A");
        // Records of one RRset share the prefix; another type or owner does not.
        assert_eq!(rrset_prefix(b"example.com\x00ns1.example.com\x00A\x00192.0.2.2"), rrset_prefix(key));
        assert_ne!(rrset_prefix(b"example.com\x00ns1.example.com\x00AAAA\x00::1"), rrset_prefix(key));
        // A key without its rdata field is its own prefix.
        assert_eq!(rrset_prefix(b"a\x00b"), b"a\x00b");
    }
}
