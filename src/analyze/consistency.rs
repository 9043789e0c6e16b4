//! CONSISTENCY: the zone's servers agree with one another (SOA serial, RNAME, timers, MNAME,
//! NS set) and the parent's glue agrees with the addresses the child serves.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{RData, RecordType};

use super::{kind, list, ns_names, records, soa, text, Kind, Out, Section, Zone};
use crate::dns::resolve::Ns;
use crate::dns::Flags;

/// Zonemaster 4.6.2's SERIAL_MAX_VARIATION.
const SERIAL_MAX_VARIATION: u32 = 0;

/// Each server's reading of its answer to `rtype` for the zone: the delegation's servers then
/// the child's, a server counted once its answer was read. NO_RESPONSE for a server that does
/// not answer and `missing` for an answer `read` finds nothing in, said as they come.
async fn read_each<T>(
    z: &Zone<'_>,
    tc: &'static str,
    rtype: RecordType,
    missing: &'static str,
    out: &mut Out,
    read: impl Fn(&Message) -> Option<T>,
) -> Vec<(Ns, T)> {
    let mut got: Vec<(Ns, T)> = Vec::new();
    for ns in z.glue_then_ns().await {
        if got.iter().any(|(n, _)| *n == ns) || !z.ip_ok(&ns) {
            continue;
        }
        let Some(m) = z.query(&ns, &z.name, rtype, Flags::default()).await else {
            out.add(tc, "NO_RESPONSE", [("ns", ns.to_string())]);
            continue;
        };
        match read(&m) {
            None => out.add(tc, missing, [("ns", ns.to_string())]),
            Some(v) => got.push((ns, v)),
        }
    }
    got
}

/// Each server's SOA for the zone, as [`read_each`] reads it.
async fn soas(z: &Zone<'_>, tc: &'static str, out: &mut Out) -> Vec<(Ns, SOA)> {
    let read = |m: &Message| soa(&records(m, RecordType::SOA, Some(&z.name), Section::All)).cloned();
    read_each(z, tc, RecordType::SOA, "NO_RESPONSE_SOA_QUERY", out, read).await
}

fn group<K: Ord>(v: impl IntoIterator<Item = (K, String)>) -> BTreeMap<K, Vec<String>> {
    let mut m: BTreeMap<K, Vec<String>> = BTreeMap::new();
    for (k, s) in v {
        m.entry(k).or_default().push(s);
    }
    m
}

/// CONSISTENCY01: one SOA serial.
pub async fn consistency01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY01";
    let serials = group(soas(z, TC, out).await.into_iter().map(|(ns, s)| (s.serial, ns.to_string())));
    for (serial, servers) in &serials {
        out.add(TC, "SOA_SERIAL", [("serial", serial.to_string()), ("ns_list", list(servers))]);
    }
    let keys: Vec<u32> = serials.keys().copied().collect();
    match keys.len() {
        0 => {}
        1 => out.add(TC, "ONE_SOA_SERIAL", [("serial", keys[0].to_string())]),
        n => {
            out.add(TC, "MULTIPLE_SOA_SERIALS", [("count", n.to_string())]);
            // Zonemaster sorts the serials as text and subtracts the ends; so do we.
            let mut texts: Vec<String> = keys.iter().map(u32::to_string).collect();
            texts.sort();
            let (lo, hi) = (texts[0].parse::<i64>().unwrap_or(0), texts[n - 1].parse::<i64>().unwrap_or(0));
            if hi - lo > i64::from(SERIAL_MAX_VARIATION) {
                out.add(
                    TC,
                    "SOA_SERIAL_VARIATION",
                    [
                        ("serial_min", texts[0].clone()),
                        ("serial_max", texts[n - 1].clone()),
                        ("max_variation", SERIAL_MAX_VARIATION.to_string()),
                    ],
                );
            }
        }
    }
}

/// CONSISTENCY02: one SOA RNAME.
pub async fn consistency02(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY02";
    let rnames = group(soas(z, TC, out).await.into_iter().map(|(ns, s)| (text(&s.rname), ns.to_string())));
    one_or_many(out, TC, &rnames, ("ONE_SOA_RNAME", "MULTIPLE_SOA_RNAMES", "SOA_RNAME"), ("rname", "ns_list"));
}

/// CONSISTENCY03: one set of SOA timers.
pub async fn consistency03(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY03";
    let sets = group(soas(z, TC, out).await.into_iter().map(|(ns, s)| ((s.refresh, s.retry, s.expire, s.minimum), ns.to_string())));
    let timers = |k: &(i32, i32, i32, u32)| {
        [("refresh", k.0.to_string()), ("retry", k.1.to_string()), ("expire", k.2.to_string()), ("minimum", k.3.to_string())]
    };
    match sets.len() {
        0 => {}
        1 => out.add(TC, "ONE_SOA_TIME_PARAMETER_SET", timers(sets.keys().next().unwrap_or(&(0, 0, 0, 0)))),
        n => {
            out.add(TC, "MULTIPLE_SOA_TIME_PARAMETER_SET", [("count", n.to_string())]);
            for (k, servers) in &sets {
                let [a, b, c, d] = timers(k);
                out.add(TC, "SOA_TIME_PARAMETER_SET", [a, b, c, d, ("ns_list", list(servers))]);
            }
        }
    }
}

/// CONSISTENCY06: one SOA MNAME.
pub async fn consistency06(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY06";
    let mnames = group(soas(z, TC, out).await.into_iter().map(|(ns, s)| (text(&s.mname), ns.to_string())));
    one_or_many(out, TC, &mnames, ("ONE_SOA_MNAME", "MULTIPLE_SOA_MNAMES", "SOA_MNAME"), ("mname", "ns_list"));
}

fn one_or_many(
    out: &mut Out,
    tc: &'static str,
    m: &BTreeMap<String, Vec<String>>,
    tags: (&'static str, &'static str, &'static str),
    (arg, servers_arg): (&'static str, &'static str),
) {
    match m.len() {
        0 => {}
        1 => out.add(tc, tags.0, [(arg, m.keys().next().cloned().unwrap_or_default())]),
        n => {
            out.add(tc, tags.1, [("count", n.to_string())]);
            for (k, servers) in m {
                out.add(tc, tags.2, [(arg, k.clone()), (servers_arg, servers.join(";"))]);
            }
        }
    }
}

/// CONSISTENCY04: one NS set.
pub async fn consistency04(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY04";
    let read = |m: &Message| {
        let names = ns_names(&records(m, RecordType::NS, Some(&z.name), Section::All));
        let mut names: Vec<String> = names.iter().map(text).collect();
        names.sort();
        (!names.is_empty()).then(|| names.join(";"))
    };
    let sets =
        group(read_each(z, TC, RecordType::NS, "NO_RESPONSE_NS_QUERY", out, read).await.into_iter().map(|(ns, set)| (set, ns.to_string())));
    one_or_many(out, TC, &sets, ("ONE_NS_SET", "MULTIPLE_NS_SET", "NS_SET"), ("nsname_list", "servers"));
}

/// What a server says about the addresses of `name`, as CONSISTENCY05 reads it: Err(tag) for
/// a finding, Ok(addresses) otherwise (a referral is followed from the root).
async fn addr_rrs(z: &Zone<'_>, ns: &Ns, name: &hickory_proto::rr::Name, rtype: RecordType) -> Result<Vec<String>, &'static str> {
    let Some(m) = z.query(ns, name, rtype, Flags::default()).await else { return Err("NO_RESPONSE") };
    let strings = |m: &hickory_proto::op::Message| {
        records(m, rtype, Some(name), Section::Answer)
            .iter()
            .filter_map(|r| address(&r.data))
            .map(|a| format!("{}/{a}", text(name)))
            .collect()
    };
    if kind(&m) == Kind::Referral {
        return Ok(z.r.recurse(name, rtype, &z.trace).await.map(|m| strings(&m)).unwrap_or_default());
    }
    let rc = m.metadata.response_code;
    if m.metadata.authoritative && rc == ResponseCode::NoError {
        return Ok(strings(&m));
    }
    if !(m.metadata.authoritative && rc == ResponseCode::NXDomain) {
        return Err("CHILD_NS_FAILED");
    }
    Ok(Vec::new())
}

fn address(d: &RData) -> Option<String> {
    match d {
        RData::A(a) => Some(a.0.to_string()),
        RData::AAAA(a) => Some(a.0.to_string()),
        _ => None,
    }
}

/// CONSISTENCY05: the parent's glue matches the addresses the zone serves for its in-zone
/// servers, and what resolution gives for the others.
pub async fn consistency05(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "CONSISTENCY05";
    let parent_servers = z.parent().await.map(|(_, s)| s.clone()).unwrap_or_default();
    let parent_servers: Vec<Ns> = parent_servers.into_iter().filter(|s| z.ip_ok(s)).collect();
    // The NS names every parent server gives, then the glue each gives for them.
    let mut names = Vec::new();
    for s in &parent_servers {
        if let Some(m) = z.query(s, &z.name, RecordType::NS, Flags::default()).await {
            names.extend(ns_names(&records(&m, RecordType::NS, Some(&z.name), Section::All)));
        }
    }
    let names = super::sorted(names);
    let mut parent_glue: BTreeMap<String, hickory_proto::rr::Name> = BTreeMap::new();
    for n in &names {
        for rtype in [RecordType::A, RecordType::AAAA] {
            for s in &parent_servers {
                if let Some(m) = z.query(s, n, rtype, Flags::default()).await {
                    for r in records(&m, rtype, Some(n), Section::All) {
                        if let Some(a) = address(&r.data) {
                            parent_glue.insert(format!("{}/{a}", text(n)), n.clone());
                        }
                    }
                }
            }
        }
    }
    let mut strict: BTreeSet<String> = BTreeSet::new();
    let mut extended: BTreeMap<hickory_proto::rr::Name, Vec<String>> = BTreeMap::new();
    for (s, n) in &parent_glue {
        if z.name.zone_of(n) {
            strict.insert(s.clone());
        } else {
            extended.entry(n.clone()).or_default().push(s.clone());
        }
    }
    let ib_names: Vec<_> = z.all_names().await.into_iter().filter(|n| z.name.zone_of(n)).collect();
    let ib_servers: Vec<Ns> = z.all_ns().await.into_iter().filter(|n| z.ip_ok(n)).collect();
    let mut child: BTreeSet<String> = BTreeSet::new();
    for n in &ib_names {
        let mut lame = true;
        for ns in &ib_servers {
            let a = addr_rrs(z, ns, n, RecordType::A).await;
            let aaaa = addr_rrs(z, ns, n, RecordType::AAAA).await;
            for r in [&a, &aaaa] {
                if let Err(tag) = r {
                    out.add(TC, tag, [("ns", ns.to_string())]);
                }
            }
            if a.is_ok() || aaaa.is_ok() {
                lame = false;
            }
            child.extend(a.unwrap_or_default());
            child.extend(aaaa.unwrap_or_default());
        }
        if lame {
            out.add(TC, "CHILD_ZONE_LAME", []);
        }
    }
    let ib_mismatch = strict.iter().any(|s| !child.contains(s));
    let extra: Vec<&String> = child.iter().filter(|s| !strict.contains(*s)).collect();
    if ib_mismatch {
        out.add(TC, "IN_BAILIWICK_ADDR_MISMATCH", [("parent_addresses", list(&strict)), ("zone_addresses", list(&child))]);
    }
    if !extra.is_empty() {
        out.add(TC, "EXTRA_ADDRESS_CHILD", [("ns_ip_list", list(extra.iter()))]);
    }
    let mut oob_mismatch = false;
    for (n, glue) in &extended {
        let mut found: BTreeSet<String> = BTreeSet::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(m) = z.r.recurse(n, rtype, &z.trace).await {
                for r in records(&m, rtype, Some(n), Section::Answer) {
                    if let Some(a) = address(&r.data) {
                        found.insert(format!("{}/{a}", text(n)));
                    }
                }
            }
        }
        if glue.iter().any(|g| !found.contains(g)) {
            oob_mismatch = true;
            out.add(TC, "OUT_OF_BAILIWICK_ADDR_MISMATCH", [("parent_addresses", list(glue)), ("zone_addresses", list(&found))]);
        }
    }
    if extra.is_empty() && !ib_mismatch && !oob_mismatch {
        out.add(TC, "ADDRESSES_MATCH", []);
    }
}
