//! DNSSEC: the parent's DS and the child's DNSKEY agree, the keys use algorithms fit to sign
//! a zone, the DNSKEY and SOA RRsets carry valid signatures, NSEC3 is not too costly, and
//! every server agrees on whether the zone is signed.
//!
//! As in Zonemaster, DNSSEC07 runs first: a zone with neither DNSKEY nor DS is `NOT_SIGNED`
//! and the other cases do not run. Signatures are checked with `hickory-proto`'s DNSSEC
//! verification (ring), at the time the answer came.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::dnssec::rdata::{DNSSECRData, DNSKEY, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, PublicKey, Verifier};
use hickory_proto::op::Message;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::{authoritative, list, text, Out, Zone};
use crate::dns::resolve::Ns;
use crate::dns::Flags;

const DNSSEC: Flags = Flags { tcp: false, dnssec: true, edns: None, recurse: false };

/// Runs the DNSSEC cases `wants` picks, in Zonemaster's order.
pub async fn run(z: &Zone<'_>, out: &mut Out, wants: impl Fn(&str) -> bool) {
    if wants("DNSSEC07") {
        dnssec07(z, out).await;
        if out.has_in("DNSSEC07", "NEITHER_DNSKEY_NOR_DS") {
            out.add_unspecified("DNSSEC", "NOT_SIGNED", [("zone", text(&z.name))]);
            return;
        }
    }
    if wants("DNSSEC01") {
        dnssec01(z, out).await;
    }
    if wants("DNSSEC02") {
        dnssec02(z, out).await;
    }
    if wants("DNSSEC03") {
        dnssec03(z, out).await;
    }
    if wants("DNSSEC05") {
        dnssec05(z, out).await;
    }
    if wants("DNSSEC08") {
        signatures(z, out, &DS08).await;
    }
    if wants("DNSSEC09") {
        signatures(z, out, &DS09).await;
    }
    if wants("DNSSEC11") {
        dnssec11(z, out).await;
    }
}

/// What `pick` takes from the DNSSEC records of `m`'s answer section (owned by `name` when
/// given).
fn dnssec_data<T>(m: &Message, name: Option<&Name>, pick: impl Fn(&DNSSECRData) -> Option<T>) -> Vec<T> {
    m.answers
        .iter()
        .filter(|r| name.is_none_or(|n| r.name == *n))
        .filter_map(|r| match &r.data {
            RData::DNSSEC(d) => pick(d),
            _ => None,
        })
        .collect()
}

fn dnskeys(m: &Message, name: Option<&Name>) -> Vec<DNSKEY> {
    dnssec_data(m, name, |d| match d {
        DNSSECRData::DNSKEY(k) => Some(k.clone()),
        _ => None,
    })
}

fn dss(m: &Message, name: &Name) -> Vec<DS> {
    dnssec_data(m, Some(name), |d| match d {
        DNSSECRData::DS(ds) => Some(ds.clone()),
        _ => None,
    })
}

fn rrsigs(m: &Message) -> Vec<RRSIG> {
    dnssec_data(m, None, |d| match d {
        DNSSECRData::RRSIG(sig) => Some(sig.clone()),
        _ => None,
    })
}

/// Findings by tag, then by key tag: the server addresses that gave each.
type ByKey = BTreeMap<&'static str, BTreeMap<u16, BTreeSet<String>>>;

fn add_by_key(out: &mut Out, tc: &'static str, found: &ByKey) {
    for (tag, by) in found {
        for (keytag, ips) in by {
            out.add(tc, tag, [("keytag", keytag.to_string()), ("ns_ip_list", list(ips))]);
        }
    }
}

fn key_tag(k: &DNSKEY) -> u16 {
    k.calculate_key_tag().unwrap_or(0)
}

fn algorithm_of(k: &DNSKEY) -> u8 {
    u8::from(k.public_key().algorithm())
}

/// An authoritative NOERROR answer with EDNS and the DO bit, as the DNSSEC cases require.
fn dnssec_answer(m: &Message) -> bool {
    authoritative(m) && m.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok)
}

/// The first answer from the zone's own servers (Zonemaster's `query_one`).
async fn child_one(z: &Zone<'_>, rtype: RecordType, flags: Flags) -> Option<(std::sync::Arc<Message>, Ns)> {
    for ns in z.ns().await.iter().filter(|n| z.ip_ok(n)) {
        if let Some(m) = z.query(ns, &z.name, rtype, flags).await {
            return Some((m, ns.clone()));
        }
    }
    None
}

/// The parent's servers, each address once, sorted as Zonemaster sorts them.
async fn parent_servers(z: &Zone<'_>) -> Vec<Ns> {
    let mut s = z.parent().await.map(|(_, s)| s.clone()).unwrap_or_default();
    s.sort_by_key(|n| n.to_string());
    let mut seen = BTreeSet::new();
    s.retain(|n| z.ip_ok(n) && seen.insert(n.ip));
    s
}

/// The delegation's and the child's servers, each address once, sorted.
async fn zone_servers(z: &Zone<'_>) -> Vec<Ns> {
    let mut s = z.all_ns().await;
    let mut seen = BTreeSet::new();
    s.retain(|n| z.ip_ok(n) && seen.insert(n.ip));
    s
}

/// DNSSEC07: DNSKEY at the child and DS at the parent go together.
async fn dnssec07(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC07";
    if z.parent().await.is_none() {
        return;
    }
    let Some((kp, kns)) = child_one(z, RecordType::DNSKEY, DNSSEC).await else { return };
    let has_key = !dnskeys(&kp, None).is_empty();
    let (has_ds, from) = match &z.undelegated_ds() {
        Some(ds) => (!ds.is_empty(), "-".to_string()),
        None => {
            let mut found = None;
            for ns in parent_servers(z).await {
                if let Some(m) = z.query(&ns, &z.name, RecordType::DS, DNSSEC).await {
                    found = Some((!dss(&m, &z.name).is_empty(), ns.ip.to_string()));
                    break;
                }
            }
            let Some(f) = found else { return };
            f
        }
    };
    let tag = match (has_key, has_ds) {
        (true, false) => "DNSKEY_BUT_NOT_DS",
        (true, true) => "DNSKEY_AND_DS",
        (false, true) => "DS_BUT_NOT_DNSKEY",
        (false, false) => "NEITHER_DNSKEY_NOR_DS",
    };
    out.add(TC, tag, [("child", kns.ip.to_string()), ("parent", from)]);
}

/// The DS records the parent's servers give (each with the addresses that gave it), or the
/// ones `--ds` gives.
async fn parent_ds(z: &Zone<'_>, require_dnssec: bool) -> Vec<(DS, Vec<String>)> {
    if let Some(ds) = z.undelegated_ds() {
        return ds.iter().map(|d| (d.clone(), vec!["-".to_string()])).collect();
    }
    let mut all: Vec<(DS, Vec<String>)> = Vec::new();
    for ns in parent_servers(z).await {
        let Some(m) = z.query(&ns, &z.name, RecordType::DS, DNSSEC).await else { continue };
        if require_dnssec && !dnssec_answer(&m) {
            continue;
        }
        for d in dss(&m, &z.name) {
            match all.iter_mut().find(|(x, _)| *x == d) {
                Some((_, ips)) => ips.push(ns.ip.to_string()),
                None => all.push((d, vec![ns.ip.to_string()])),
            }
        }
    }
    all
}

/// DNSSEC01: the DS digest types are ones to use (SHA-256 present).
async fn dnssec01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC01";
    if z.name.is_root() {
        return;
    }
    let mut by: BTreeMap<(u8, u16), Vec<String>> = BTreeMap::new();
    for (d, ips) in parent_ds(z, true).await {
        by.entry((u8::from(d.digest_type()), d.key_tag())).or_default().extend(ips);
    }
    if by.is_empty() {
        return;
    }
    let mut sha256 = false;
    for ((digtype, keytag), ips) in &by {
        let args = |mnemo: bool| {
            let mut a = vec![
                ("ns_ip_list", list(ips)),
                ("domain", text(&z.name)),
                ("keytag", keytag.to_string()),
                ("ds_algo_num", digtype.to_string()),
            ];
            if mnemo {
                a.push(("ds_algo_mnemo", digest_mnemonic(*digtype).to_string()));
            }
            a
        };
        match digtype {
            0 => out.add_vec(TC, "DS01_DS_ALGO_NOT_DS", args(true)),
            1 | 3 => out.add_vec(TC, "DS01_DS_ALGO_DEPRECATED", args(true)),
            5..=255 => out.add_vec(TC, "DS01_DS_ALGO_RESERVED", args(false)),
            _ => sha256 |= *digtype == 2,
        }
        // GOST (3) is the digest Zonemaster's library cannot compute; ring cannot either.
        if *digtype == 3 || *digtype > 4 || *digtype == 0 {
            out.add_vec(TC, "DS01_DIGEST_NOT_SUPPORTED_BY_ZM", args(true));
        }
    }
    if !sha256 {
        out.add(TC, "DS01_DS_ALGO_2_MISSING", [("domain", text(&z.name))]);
    }
}

fn digest_mnemonic(d: u8) -> &'static str {
    match d {
        0 => "Reserved",
        1 => "SHA-1",
        2 => "SHA-256",
        3 => "GOST R 34.11-94",
        4 => "SHA-384",
        _ => "Unassigned",
    }
}

/// Whether `sig` over `records` verifies with one of `keys` (of its key tag and algorithm).
fn verifies(z: &Zone<'_>, sig: &RRSIG, records: &[Record], keys: &[DNSKEY]) -> bool {
    let input = sig.input();
    keys.iter()
        .filter(|k| key_tag(k) == input.key_tag && k.public_key().algorithm() == input.algorithm)
        .any(|k| k.verify_rrsig(&z.name, DNSClass::IN, sig, records.iter()).is_ok())
}

/// DNSSEC02: each DS points at a zone-signing key of the child that signs the DNSKEY RRset.
async fn dnssec02(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC02";
    let ds: Vec<DS> = parent_ds(z, true).await.into_iter().map(|(d, _)| d).collect();
    if ds.is_empty() {
        return;
    }
    let mut found = ByKey::new();
    let mut note = |tag: &'static str, keytag: u16, ip: &str| {
        found.entry(tag).or_default().entry(keytag).or_default().insert(ip.to_string());
    };
    let (mut responding, mut key_ok, mut sig_ok) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for ns in zone_servers(z).await {
        let Some(m) = z.query(&ns, &z.name, RecordType::DNSKEY, DNSSEC).await else { continue };
        let keys = dnskeys(&m, Some(&z.name));
        if !dnssec_answer(&m) || keys.is_empty() {
            continue;
        }
        let ip = ns.ip.to_string();
        responding.insert(ip.clone());
        let records: Vec<Record> = m.answers.iter().filter(|r| r.record_type() == RecordType::DNSKEY).cloned().collect();
        let sigs = rrsigs(&m);
        for d in &ds {
            let same_tag: Vec<&DNSKEY> = keys.iter().filter(|k| key_tag(k) == d.key_tag()).collect();
            let matching = same_tag.iter().find(|k| !d.digest_type().is_supported() || d.covers(&z.name, k).unwrap_or(false));
            let key = match (matching, same_tag.first()) {
                (Some(k), _) => *k,
                (None, Some(k)) => {
                    note("DS02_NO_MATCH_DS_DNSKEY", d.key_tag(), &ip);
                    *k
                }
                (None, None) => {
                    note("DS02_NO_DNSKEY_FOR_DS", d.key_tag(), &ip);
                    continue;
                }
            };
            if !key.zone_key() {
                note("DS02_DNSKEY_NOT_FOR_ZONE_SIGNING", d.key_tag(), &ip);
                continue;
            }
            if !key.secure_entry_point() {
                note("DS02_DNSKEY_NOT_SEP", d.key_tag(), &ip);
            }
            key_ok.insert(ip.clone());
            let by_key: Vec<&RRSIG> = sigs.iter().filter(|s| s.input().key_tag == key_tag(key)).collect();
            let mut good = false;
            for s in &by_key {
                if !s.input().algorithm.is_supported() {
                    note("DS02_ALGO_NOT_SUPPORTED_BY_ZM", s.input().key_tag, &ip);
                } else if verifies(z, s, &records, &keys) && in_time(s) {
                    good = true;
                } else {
                    note("DS02_RRSIG_NOT_VALID_BY_DNSKEY", s.input().key_tag, &ip);
                }
            }
            if good {
                sig_ok.insert(ip.clone());
            } else {
                note("DS02_NO_MATCHING_DNSKEY_RRSIG", key_tag(key), &ip);
            }
        }
    }
    add_by_key(out, TC, &found);
    let no_key: Vec<&String> = responding.iter().filter(|ip| !key_ok.contains(*ip)).collect();
    let no_sig: Vec<&String> = responding.iter().filter(|ip| !sig_ok.contains(*ip)).collect();
    if !no_key.is_empty() {
        out.add(TC, "DS02_NO_VALID_DNSKEY_FOR_ANY_DS", [("ns_ip_list", list(no_key))]);
    } else if !no_sig.is_empty() {
        out.add(TC, "DS02_DNSKEY_NOT_SIGNED_BY_ANY_DS", [("ns_ip_list", list(no_sig))]);
    }
}

/// Whether the signature's validity period holds now (RFC 4034 §3.1.5, serial arithmetic).
fn in_time(s: &RRSIG) -> bool {
    let now = now();
    let i = s.input();
    !serial_lt(now, i.sig_inception.get()) && !serial_lt(i.sig_expiration.get(), now)
}

fn now() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as u32)
}

/// RFC 1982: `a` comes before `b`.
fn serial_lt(a: u32, b: u32) -> bool {
    a != b && b.wrapping_sub(a) < 1 << 31
}

/// DNSSEC03: NSEC3 iterations within what the key length bears.
async fn dnssec03(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC03";
    let p = child_one(z, RecordType::NSEC3PARAM, DNSSEC).await;
    let iterations = |d: &DNSSECRData| match d {
        DNSSECRData::NSEC3PARAM(n) => Some(n.iterations()),
        _ => None,
    };
    let params: Vec<u16> = p.as_ref().map(|(m, _)| dnssec_data(m, None, iterations)).unwrap_or_default();
    if params.is_empty() {
        let server = p.map_or("<no response>".to_string(), |(_, ns)| ns.ip.to_string());
        out.add(TC, "NO_NSEC3PARAM", [("server", server)]);
        return;
    }
    let keys = child_one(z, RecordType::DNSKEY, DNSSEC).await.map(|(m, _)| dnskeys(&m, None)).unwrap_or_default();
    let min_len = match keys.iter().map(key_size).min() {
        None => {
            out.add(TC, "NO_DNSKEY", []);
            0
        }
        Some(l) if l > 2048 => 4096,
        Some(l) if l > 1024 => 2048,
        Some(_) => 1024,
    };
    for iter in params {
        if iter > 100 {
            out.add(TC, "MANY_ITERATIONS", [("count", iter.to_string())]);
            let too_many = (min_len >= 4096 && iter > 2500)
                || (2048..4096).contains(&min_len) && iter > 500
                || (1024..2048).contains(&min_len) && iter > 150;
            if too_many {
                out.add(TC, "TOO_MANY_ITERATIONS", [("count", iter.to_string()), ("keylength", min_len.to_string())]);
            }
        } else if min_len > 0 {
            out.add(TC, "ITERATIONS_OK", [("count", iter.to_string())]);
        }
    }
}

/// A key's length in bits, as ldns counts it: the RSA modulus, the curve's size.
fn key_size(k: &DNSKEY) -> u32 {
    let key = k.public_key().public_bytes();
    match algorithm_of(k) {
        // RFC 3110 §2: exponent length (1 octet, or 0 then 2), exponent, modulus.
        1 | 5 | 7 | 8 | 10 => {
            let (skip, exp) = match key.first() {
                Some(0) if key.len() > 3 => (3, usize::from(u16::from_be_bytes([key[1], key[2]]))),
                Some(&n) => (1, usize::from(n)),
                None => return 0,
            };
            (key.len().saturating_sub(skip + exp) * 8) as u32
        }
        13 | 15 => 256,
        14 => 384,
        16 => 456,
        _ => (key.len() * 8) as u32,
    }
}

/// Zonemaster 4.6.2's table of DNSKEY algorithms (IANA's, 2017): the tag for a key whose
/// algorithm is not fit to sign a zone, None for one that is.
fn algorithm_status(a: u8) -> Option<&'static str> {
    Some(match a {
        0 | 2 | 252 => "ALGORITHM_NOT_ZONE_SIGN",
        1 | 3 | 6 | 12 => "ALGORITHM_DEPRECATED",
        4 | 9 | 11 | 123..=251 | 255 => "ALGORITHM_RESERVED",
        5 | 7 | 10 => "ALGORITHM_NOT_RECOMMENDED",
        253 | 254 => "ALGORITHM_PRIVATE",
        8 | 13 | 14 | 15 | 16 => return None,
        _ => "ALGORITHM_UNASSIGNED",
    })
}

fn algorithm_description(a: u8) -> &'static str {
    match a {
        5 => "RSA/SHA1",
        7 => "RSASHA1-NSEC3-SHA1",
        8 => "RSA/SHA-256",
        10 => "RSA/SHA-512",
        13 => "ECDSA Curve P-256 with SHA-256",
        14 => "ECDSA Curve P-384 with SHA-384",
        15 => "Ed25519",
        16 => "Ed448",
        _ => "",
    }
}

/// DNSSEC05: every key's algorithm is one to sign a zone with.
async fn dnssec05(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC05";
    let mut servers = z.all_ns().await;
    servers.retain(|n| z.ip_ok(n));
    for ns in servers {
        let Some(m) = z.query(&ns, &z.name, RecordType::DNSKEY, DNSSEC).await else {
            out.add(TC, "NO_RESPONSE", [("ns", ns.to_string())]);
            continue;
        };
        let keys = dnskeys(&m, None);
        if keys.is_empty() {
            out.add(TC, "NO_RESPONSE_DNSKEY", [("ns", ns.to_string())]);
            continue;
        }
        for k in keys {
            let a = algorithm_of(&k);
            let args =
                [("algo_num", a.to_string()), ("keytag", key_tag(&k).to_string()), ("algo_descr", algorithm_description(a).to_string())];
            match algorithm_status(a) {
                Some(tag) => out.add(TC, tag, args),
                None => out.add(TC, "ALGORITHM_OK", args),
            }
        }
    }
}

/// The tags of DNSSEC08 (the DNSKEY RRset) and DNSSEC09 (the SOA RRset): the same findings
/// about different RRsets.
struct SigTags {
    case: &'static str,
    rtype: RecordType,
    missing: &'static str,
    not_yet_valid: &'static str,
    expired: &'static str,
    algorithm: &'static str,
    no_key: &'static str,
    invalid: &'static str,
}

const DS08: SigTags = SigTags {
    case: "DNSSEC08",
    rtype: RecordType::DNSKEY,
    missing: "DS08_MISSING_RRSIG_IN_RESPONSE",
    not_yet_valid: "DS08_DNSKEY_RRSIG_NOT_YET_VALID",
    expired: "DS08_DNSKEY_RRSIG_EXPIRED",
    algorithm: "DS08_ALGO_NOT_SUPPORTED_BY_ZM",
    no_key: "DS08_NO_MATCHING_DNSKEY",
    invalid: "DS08_RRSIG_NOT_VALID_BY_DNSKEY",
};

const DS09: SigTags = SigTags {
    case: "DNSSEC09",
    rtype: RecordType::SOA,
    missing: "DS09_MISSING_RRSIG_IN_RESPONSE",
    not_yet_valid: "DS09_SOA_RRSIG_NOT_YET_VALID",
    expired: "DS09_SOA_RRSIG_EXPIRED",
    algorithm: "DS09_ALGO_NOT_SUPPORTED_BY_ZM",
    no_key: "DS09_NO_MATCHING_DNSKEY",
    invalid: "DS09_RRSIG_NOT_VALID_BY_DNSKEY",
};

/// DNSSEC08 and DNSSEC09: the RRset `t` names is signed, in time, by a key of the zone.
async fn signatures(z: &Zone<'_>, out: &mut Out, t: &SigTags) {
    let rtype = t.rtype;
    let mut missing = BTreeSet::new();
    let mut found = ByKey::new();
    for ns in zone_servers(z).await {
        let Some(km) = z.query(&ns, &z.name, RecordType::DNSKEY, DNSSEC).await else { continue };
        if !authoritative(&km) || dnskeys(&km, Some(&z.name)).is_empty() {
            continue;
        }
        let keys = dnskeys(&km, None);
        let m = if rtype == RecordType::DNSKEY {
            km.clone()
        } else {
            let Some(m) = z.query(&ns, &z.name, rtype, DNSSEC).await else { continue };
            let has = m.answers.iter().any(|r| r.name == z.name && r.record_type() == rtype);
            if !authoritative(&m) || !has {
                continue;
            }
            m
        };
        let records: Vec<Record> = m.answers.iter().filter(|r| r.record_type() == rtype).cloned().collect();
        let sigs = rrsigs(&m);
        let ip = ns.ip.to_string();
        if sigs.is_empty() {
            missing.insert(ip);
            continue;
        }
        let now = now();
        for s in &sigs {
            let i = s.input();
            let tag = if serial_lt(now, i.sig_inception.get()) {
                t.not_yet_valid
            } else if serial_lt(i.sig_expiration.get(), now) {
                t.expired
            } else if !i.algorithm.is_supported() {
                t.algorithm
            } else if !keys.iter().any(|k| key_tag(k) == i.key_tag) {
                t.no_key
            } else if !verifies(z, s, &records, &keys) {
                t.invalid
            } else {
                continue;
            };
            found.entry(tag).or_default().entry(i.key_tag).or_default().insert(ip.clone());
        }
    }
    if !missing.is_empty() {
        out.add(t.case, t.missing, [("ns_ip_list", list(&missing))]);
    }
    add_by_key(out, t.case, &found);
}

/// DNSSEC11: every parent server agrees on the DS, and a zone with DS is signed on every
/// server.
async fn dnssec11(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DNSSEC11";
    let (mut undetermined, mut without, mut with) = (Vec::new(), Vec::new(), Vec::new());
    if let Some(ds) = z.undelegated_ds() {
        if ds.is_empty() {
            return;
        }
        with.push("-".to_string());
    } else {
        for ns in parent_servers(z).await {
            let m = match z.query(&ns, &z.name, RecordType::DS, DNSSEC).await {
                Some(m) if m.metadata.truncation => z.query(&ns, &z.name, RecordType::DS, Flags { tcp: true, ..DNSSEC }).await,
                m => m,
            };
            let ip = ns.ip.to_string();
            match m {
                Some(m) if authoritative(&m) => {
                    if dss(&m, &z.name).is_empty() {
                        without.push(ip)
                    } else {
                        with.push(ip)
                    }
                }
                _ => undetermined.push(ip),
            }
        }
    }
    match (undetermined.is_empty(), without.is_empty(), with.is_empty()) {
        (false, true, true) => {
            out.add(TC, "DS11_UNDETERMINED_DS", []);
            return;
        }
        (_, false, true) => return,
        (_, false, false) => {
            out.add(TC, "DS11_INCONSISTENT_DS", []);
            out.add(TC, "DS11_PARENT_WITHOUT_DS", [("ns_ip_list", list(&without))]);
            out.add(TC, "DS11_PARENT_WITH_DS", [("ns_ip_list", list(&with))]);
        }
        _ => {}
    }
    let (mut undetermined, mut unsigned, mut signed) = (Vec::new(), Vec::new(), Vec::new());
    for ns in zone_servers(z).await {
        let Some(soa) = z.query(&ns, &z.name, RecordType::SOA, Flags::default()).await else { continue };
        let has_soa = soa.answers.iter().any(|r| r.name == z.name && r.record_type() == RecordType::SOA);
        if !authoritative(&soa) || !has_soa {
            continue;
        }
        let m = match z.query(&ns, &z.name, RecordType::DNSKEY, Flags::default()).await {
            Some(m) if m.metadata.truncation => z.query(&ns, &z.name, RecordType::DNSKEY, Flags::TCP).await,
            m => m,
        };
        let ip = ns.ip.to_string();
        match m {
            Some(m) if authoritative(&m) => {
                if dnskeys(&m, Some(&z.name)).is_empty() {
                    unsigned.push(ip)
                } else {
                    signed.push(ip)
                }
            }
            _ => undetermined.push(ip),
        }
    }
    match (undetermined.is_empty(), unsigned.is_empty(), signed.is_empty()) {
        (false, true, true) => out.add(TC, "DS11_UNDETERMINED_SIGNED_ZONE", []),
        (_, false, true) => out.add(TC, "DS11_DS_BUT_UNSIGNED_ZONE", []),
        (_, false, false) => {
            out.add(TC, "DS11_INCONSISTENT_SIGNED_ZONE", []);
            out.add(TC, "DS11_NS_WITH_UNSIGNED_ZONE", [("ns_ip_list", list(&unsigned))]);
            out.add(TC, "DS11_NS_WITH_SIGNED_ZONE", [("ns_ip_list", list(&signed))]);
        }
        _ => {}
    }
}

/// `--ds keytag,algorithm,type,digest` (hex digest), checked.
pub fn parse_ds(spec: &str) -> Result<DS, String> {
    let f: Vec<&str> = spec.split(',').map(str::trim).collect();
    let [tag, alg, dtype, digest] = f[..] else {
        return Err(format!("--ds `{spec}`: four fields, keytag,algorithm,type,digest"));
    };
    let num = |s: &str, what: &str, max: u32| -> Result<u32, String> {
        s.parse::<u32>().ok().filter(|n| *n <= max).ok_or_else(|| format!("--ds `{spec}`: {what} `{s}` is not a number up to {max}"))
    };
    let tag = num(tag, "keytag", 65535)? as u16;
    let alg = num(alg, "algorithm", 255)? as u8;
    let dtype = num(dtype, "digest type", 255)? as u8;
    let digest = data_encoding::HEXLOWER_PERMISSIVE
        .decode(digest.as_bytes())
        .map_err(|_| format!("--ds `{spec}`: the digest `{digest}` is not hexadecimal"))?;
    Ok(DS::new(tag, Algorithm::from_u8(alg), dtype.into(), digest))
}
