//! ZONE: the SOA's MNAME is a reachable primary, its timers are sane, the zone has one SOA,
//! its MX (if any) are consistent and not aliases.

use std::collections::{BTreeMap, BTreeSet};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, RecordType};

use super::{authoritative, list, records, soa, text, Out, Section, Zone};
use crate::dns::resolve::Ns;
use crate::dns::Flags;

/// Zonemaster's default profile values (seconds).
const REFRESH_MIN: i64 = 4 * 3600;
const RETRY_MIN: i64 = 3600;
const EXPIRE_MIN: i64 = 7 * 86400;
const TTL_MAX: i64 = 86400;
const TTL_MIN: i64 = 300;

/// An authoritative answer with the zone's SOA from the first child server that gives one.
async fn zone_soa(z: &Zone<'_>) -> Option<SOA> {
    for ns in z.ns().await.iter().filter(|n| z.ip_ok(n)) {
        if let Some(m) = z.query(ns, &z.name, RecordType::SOA, Flags::default()).await {
            if m.metadata.authoritative {
                if let Some(s) = soa(&records(&m, RecordType::SOA, None, Section::Answer)) {
                    return Some(s.clone());
                }
            }
        }
    }
    None
}

/// RFC 1982 §3.2: `a` is greater than `b` in serial number arithmetic.
fn serial_gt(a: u32, b: u32) -> bool {
    a != b && ((a < b && b - a > 1 << 31) || (a > b && a - b < 1 << 31))
}

/// ZONE01: the MNAME is a name server that answers, authoritatively, with the newest serial.
pub async fn zone01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "ZONE01";
    let mut mnames: BTreeSet<String> = BTreeSet::new();
    let (mut localhost, mut dot, mut serials) = (Vec::new(), Vec::new(), Vec::new());
    for ns in z.all_ns().await.iter().filter(|n| z.ip_ok(n)) {
        let Some(m) = z.query(ns, &z.name, RecordType::SOA, Flags::default()).await else { continue };
        let soas = records(&m, RecordType::SOA, Some(&z.name), Section::All);
        if !authoritative(&m) || soas.is_empty() {
            continue;
        }
        for r in &soas {
            let RData::SOA(s) = &r.data else { continue };
            match text(&s.mname).as_str() {
                "localhost" => localhost.push(ns.ip.to_string()),
                "." => dot.push(ns.ip.to_string()),
                m => {
                    mnames.insert(m.to_string());
                }
            }
            serials.push(s.serial);
        }
    }
    if !localhost.is_empty() {
        out.add(TC, "Z01_MNAME_IS_LOCALHOST", [("ns_ip_list", localhost.join(";"))]);
    }
    if !dot.is_empty() {
        out.add(TC, "Z01_MNAME_IS_DOT", [("ns_ip_list", dot.join(";"))]);
    }
    let child: Vec<String> = z.child_names().await.iter().map(text).collect();
    let mut mname_serials: BTreeMap<String, BTreeMap<String, Option<u32>>> = BTreeMap::new();
    let mut found_serial = false;
    for mname in &mnames {
        if !child.contains(mname) {
            out.add(TC, "Z01_MNAME_NOT_IN_NS_LIST", [("nsname", mname.clone())]);
        }
        let Ok(n) = crate::dns::parse_name(mname) else { continue };
        let ips = z.r.addresses(&n, &z.trace).await;
        if ips.is_empty() {
            out.add(TC, "Z01_MNAME_NOT_RESOLVE", [("nsname", mname.clone())]);
            continue;
        }
        let entry = mname_serials.entry(mname.clone()).or_default();
        for ip in ips {
            let ns = Ns { name: n.to_lowercase(), ip };
            if ip.is_loopback() && (ip.to_string() == "127.0.0.1" || ip.to_string() == "::1") {
                out.add(TC, "Z01_MNAME_HAS_LOCALHOST_ADDR", [("nsname", mname.clone()), ("ns_ip", ip.to_string())]);
                continue;
            }
            if !z.ip_ok(&ns) {
                continue;
            }
            entry.insert(ip.to_string(), None);
            let Some(m) = z.query(&ns, &z.name, RecordType::SOA, Flags::default()).await else {
                out.add(TC, "Z01_MNAME_NO_RESPONSE", [("ns", ns.to_string())]);
                continue;
            };
            let soas = records(&m, RecordType::SOA, Some(&z.name), Section::Answer);
            if m.metadata.response_code == ResponseCode::NoError && !soas.is_empty() {
                if !m.metadata.authoritative {
                    out.add(TC, "Z01_MNAME_NOT_AUTHORITATIVE", [("ns", ns.to_string())]);
                } else {
                    found_serial = true;
                    entry.insert(ip.to_string(), soa(&soas).map(|s| s.serial));
                }
            } else if m.metadata.response_code != ResponseCode::NoError {
                out.add(TC, "Z01_MNAME_UNEXPECTED_RCODE", [("ns", ns.to_string()), ("rcode", super::rcode(&m))]);
            } else {
                out.add(TC, "Z01_MNAME_MISSING_SOA_RECORD", [("ns", ns.to_string())]);
            }
        }
    }
    if !found_serial {
        return;
    }
    let (mut not_master, mut master, mut lagging) = (Vec::new(), Vec::new(), Vec::new());
    for (mname, ips) in &mname_serials {
        for (ip, serial) in ips {
            let Some(serial) = serial else { continue };
            if serials.iter().any(|s| serial_gt(*s, *serial)) {
                not_master.push(format!("{mname}/{ip}"));
                lagging.push(*serial);
            } else {
                master.push(format!("{mname}/{ip}"));
            }
        }
    }
    if !not_master.is_empty() {
        let mut uniq = serials.clone();
        uniq.dedup();
        out.add(
            TC,
            "Z01_MNAME_NOT_MASTER",
            [
                ("ns_list", list(&not_master)),
                ("soaserial", lagging.iter().max().copied().unwrap_or(0).to_string()),
                ("soaserial_list", uniq.iter().map(u32::to_string).collect::<Vec<_>>().join(";")),
            ],
        );
    }
    if !master.is_empty() {
        out.add(TC, "Z01_MNAME_IS_MASTER", [("ns_list", list(&master))]);
    }
}

/// ZONE02 to ZONE06: the SOA timers against Zonemaster's defaults.
async fn with_soa(z: &Zone<'_>, out: &mut Out, tc: &'static str, f: impl FnOnce(&SOA, &mut Out)) {
    match zone_soa(z).await {
        Some(s) => f(&s, out),
        None => out.add(tc, "NO_RESPONSE_SOA_QUERY", []),
    }
}

pub async fn zone02(z: &Zone<'_>, out: &mut Out) {
    with_soa(z, out, "ZONE02", |s, out| {
        let args = [("refresh", s.refresh.to_string()), ("required_refresh", REFRESH_MIN.to_string())];
        let tag = if i64::from(s.refresh) < REFRESH_MIN { "REFRESH_MINIMUM_VALUE_LOWER" } else { "REFRESH_MINIMUM_VALUE_OK" };
        out.add("ZONE02", tag, args);
    })
    .await;
}

pub async fn zone03(z: &Zone<'_>, out: &mut Out) {
    with_soa(z, out, "ZONE03", |s, out| {
        let args = [("retry", s.retry.to_string()), ("refresh", s.refresh.to_string())];
        let tag = if s.retry >= s.refresh { "REFRESH_LOWER_THAN_RETRY" } else { "REFRESH_HIGHER_THAN_RETRY" };
        out.add("ZONE03", tag, args);
    })
    .await;
}

pub async fn zone04(z: &Zone<'_>, out: &mut Out) {
    with_soa(z, out, "ZONE04", |s, out| {
        let args = [("retry", s.retry.to_string()), ("required_retry", RETRY_MIN.to_string())];
        let tag = if i64::from(s.retry) < RETRY_MIN { "RETRY_MINIMUM_VALUE_LOWER" } else { "RETRY_MINIMUM_VALUE_OK" };
        out.add("ZONE04", tag, args);
    })
    .await;
}

pub async fn zone05(z: &Zone<'_>, out: &mut Out) {
    with_soa(z, out, "ZONE05", |s, out| {
        let (expire, refresh) = (i64::from(s.expire), i64::from(s.refresh));
        if expire < EXPIRE_MIN {
            out.add("ZONE05", "EXPIRE_MINIMUM_VALUE_LOWER", [("expire", expire.to_string()), ("required_expire", EXPIRE_MIN.to_string())]);
        }
        if expire < refresh {
            out.add("ZONE05", "EXPIRE_LOWER_THAN_REFRESH", [("expire", expire.to_string()), ("refresh", refresh.to_string())]);
        } else if expire >= EXPIRE_MIN {
            out.add(
                "ZONE05",
                "EXPIRE_MINIMUM_VALUE_OK",
                [("expire", expire.to_string()), ("refresh", refresh.to_string()), ("required_expire", EXPIRE_MIN.to_string())],
            );
        }
    })
    .await;
}

pub async fn zone06(z: &Zone<'_>, out: &mut Out) {
    with_soa(z, out, "ZONE06", |s, out| {
        let min = i64::from(s.minimum);
        if min > TTL_MAX {
            out.add(
                "ZONE06",
                "SOA_DEFAULT_TTL_MAXIMUM_VALUE_HIGHER",
                [("minimum", min.to_string()), ("highest_minimum", TTL_MAX.to_string())],
            );
        } else if min < TTL_MIN {
            out.add(
                "ZONE06",
                "SOA_DEFAULT_TTL_MAXIMUM_VALUE_LOWER",
                [("minimum", min.to_string()), ("lowest_minimum", TTL_MIN.to_string())],
            );
        } else {
            out.add(
                "ZONE06",
                "SOA_DEFAULT_TTL_MAXIMUM_VALUE_OK",
                [("minimum", min.to_string()), ("highest_minimum", TTL_MAX.to_string()), ("lowest_minimum", TTL_MIN.to_string())],
            );
        }
    })
    .await;
}

/// ZONE07: the MNAME has an address and is not an alias.
pub async fn zone07(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "ZONE07";
    let Some(s) = zone_soa(z).await else {
        out.add(TC, "NO_RESPONSE_SOA_QUERY", []);
        return;
    };
    let mname = text(&s.mname);
    let mut addresses = 0;
    for rtype in [RecordType::A, RecordType::AAAA] {
        let Some(m) = z.r.recurse(&s.mname, rtype, &z.trace).await else { continue };
        if !records(&m, rtype, Some(&s.mname), Section::All).is_empty() {
            addresses += 1;
        }
        let tag =
            if records(&m, RecordType::CNAME, Some(&s.mname), Section::All).is_empty() { "MNAME_IS_NOT_CNAME" } else { "MNAME_IS_CNAME" };
        out.add(TC, tag, [("mname", mname.clone())]);
    }
    if addresses == 0 {
        out.add(TC, "MNAME_HAS_NO_ADDRESS", [("mname", mname)]);
    }
}

/// The first authoritative answer a child server gives (Zonemaster's `query_auth`).
async fn query_auth(z: &Zone<'_>, name: &Name, rtype: RecordType) -> Option<std::sync::Arc<Message>> {
    for ns in z.ns().await.iter().filter(|n| z.ip_ok(n)) {
        if let Some(m) = z.query(ns, name, rtype, Flags::default()).await {
            if m.metadata.authoritative {
                return Some(m);
            }
        }
    }
    None
}

/// ZONE08: no MX target is an alias.
pub async fn zone08(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "ZONE08";
    let Some(m) = query_auth(z, &z.name, RecordType::MX).await else {
        out.add(TC, "NO_RESPONSE_MX_QUERY", []);
        return;
    };
    for r in records(&m, RecordType::MX, Some(&z.name), Section::All) {
        let RData::MX(mx) = &r.data else { continue };
        if let Some(m2) = query_auth(z, &mx.exchange, RecordType::CNAME).await {
            let cname = !records(&m2, RecordType::CNAME, Some(&mx.exchange), Section::All).is_empty();
            out.add(TC, if cname { "MX_RECORD_IS_CNAME" } else { "MX_RECORD_IS_NOT_CNAME" }, []);
        }
    }
}

/// ZONE09: every server gives the same MX set, or a null MX; a domain that takes mail says
/// where.
pub async fn zone09(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "ZONE09";
    let mut done: BTreeSet<std::net::IpAddr> = BTreeSet::new();
    let (mut no_response, mut non_auth, mut no_mx) = (Vec::new(), Vec::new(), Vec::new());
    let mut rcodes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sets: BTreeMap<String, Vec<(u16, String)>> = BTreeMap::new();
    for ns in z.all_ns().await {
        if !done.insert(ns.ip) || !z.ip_ok(&ns) {
            continue;
        }
        let Some(p1) = z.query(&ns, &z.name, RecordType::SOA, Flags::default()).await else { continue };
        if !authoritative(&p1) || records(&p1, RecordType::SOA, Some(&z.name), Section::All).is_empty() {
            continue;
        }
        let ip = ns.ip.to_string();
        match z.query(&ns, &z.name, RecordType::MX, Flags::default()).await {
            None => no_response.push(ip),
            Some(m) if m.metadata.response_code != ResponseCode::NoError => rcodes.entry(super::rcode(&m)).or_default().push(ip),
            Some(m) if !m.metadata.authoritative => non_auth.push(ip),
            Some(m) => {
                let mx: Vec<(u16, String)> = records(&m, RecordType::MX, Some(&z.name), Section::Answer)
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((mx.preference, text(&mx.exchange))),
                        _ => None,
                    })
                    .collect();
                if mx.is_empty() {
                    no_mx.push(ip);
                } else {
                    sets.insert(ip, mx);
                }
            }
        }
    }
    if !no_response.is_empty() {
        out.add(TC, "Z09_NO_RESPONSE_MX_QUERY", [("ns_ip_list", list(&no_response))]);
    }
    for (rc, ips) in &rcodes {
        out.add(TC, "Z09_UNEXPECTED_RCODE_MX", [("rcode", rc.clone()), ("ns_ip_list", list(ips))]);
    }
    if !non_auth.is_empty() {
        out.add(TC, "Z09_NON_AUTH_MX_RESPONSE", [("ns_ip_list", list(&non_auth))]);
    }
    if !no_mx.is_empty() && !sets.is_empty() {
        out.add(TC, "Z09_INCONSISTENT_MX", []);
        out.add(TC, "Z09_NO_MX_FOUND", [("ns_ip_list", list(&no_mx))]);
        out.add(TC, "Z09_MX_FOUND", [("ns_ip_list", list(sets.keys()))]);
    }
    let tld_or_root = z.name.is_root() || z.name.base_name().is_root();
    if let Some(first) = sets.values().next() {
        let norm = |v: &Vec<(u16, String)>| {
            let mut v = v.clone();
            v.sort();
            v
        };
        if sets.values().any(|v| norm(v) != norm(first)) {
            out.add(TC, "Z09_INCONSISTENT_MX_DATA", []);
            return;
        }
        let null = first.iter().filter(|(_, x)| x == ".").collect::<Vec<_>>();
        if !null.is_empty() {
            if first.len() > 1 {
                out.add(TC, "Z09_NULL_MX_WITH_OTHER_MX", []);
            }
            if null.iter().any(|(p, _)| *p > 0) {
                out.add(TC, "Z09_NULL_MX_NON_ZERO_PREF", []);
            }
        } else if z.name.is_root() {
            out.add(TC, "Z09_ROOT_EMAIL_DOMAIN", []);
        } else if tld_or_root {
            out.add(TC, "Z09_TLD_EMAIL_DOMAIN", []);
        } else {
            out.add(
                TC,
                "Z09_MX_DATA",
                [
                    ("ns_ip_list", list(sets.keys())),
                    ("mailtarget_list", first.iter().map(|(_, x)| x.clone()).collect::<Vec<_>>().join(";")),
                ],
            );
        }
    } else if !no_mx.is_empty() && !tld_or_root && !text(&z.name).ends_with(".arpa") {
        out.add(TC, "Z09_MISSING_MAIL_TARGET", []);
    }
}

/// ZONE10: every server gives exactly one SOA, for the zone.
pub async fn zone10(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "ZONE10";
    for ns in z.all_ns().await.iter().filter(|n| z.ip_ok(n)) {
        let Some(m) = z.query(ns, &z.name, RecordType::SOA, Flags::default()).await else {
            out.add(TC, "NO_RESPONSE", [("ns", ns.to_string())]);
            continue;
        };
        let soas = records(&m, RecordType::SOA, None, Section::Answer);
        match soas.len() {
            0 => out.add(TC, "NO_SOA_IN_RESPONSE", [("ns", ns.to_string())]),
            1 if soas[0].name != z.name => {
                out.add(TC, "WRONG_SOA", [("ns", ns.to_string()), ("owner", text(&soas[0].name)), ("name", text(&z.name))])
            }
            1 => {}
            n => out.add(TC, "MULTIPLE_SOA", [("ns", ns.to_string()), ("count", n.to_string())]),
        }
    }
    let bad = ["NO_RESPONSE", "NO_SOA_IN_RESPONSE", "WRONG_SOA", "MULTIPLE_SOA"];
    if !bad.iter().any(|t| out.has_in(TC, t)) {
        out.add(TC, "ONE_SOA", []);
    }
}

#[cfg(test)]
mod tests {
    use super::serial_gt;

    #[test]
    fn serials_compare_in_rfc_1982_arithmetic() {
        assert!(serial_gt(2026120702, 2026120701));
        assert!(!serial_gt(2026120701, 2026120701));
        // Wrapped: 1 follows 4294967295.
        assert!(serial_gt(1, u32::MAX));
        assert!(!serial_gt(u32::MAX, 1));
    }
}
