//! DELEGATION: enough name servers, on distinct addresses, authoritative, not aliases, with
//! a SOA, and the same names at the parent and the child.

use std::collections::BTreeMap;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{kind, list, rcode, records, text, Kind, Out, Section, Zone};
use crate::dns::resolve::Ns;
use crate::dns::Flags;

/// Zonemaster's MINIMUM_NUMBER_OF_NAMESERVERS.
const MINIMUM: usize = 2;

/// DELEGATION01: at least two name servers, at the parent and the child, per IP family.
pub async fn delegation01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DELEGATION01";
    let count = |names: &[hickory_proto::rr::Name], enough: &'static str, not: &'static str, out: &mut Out| {
        let args = [("count", names.len().to_string()), ("minimum", MINIMUM.to_string()), ("nsname_list", list(names.iter().map(text)))];
        out.add(TC, if names.len() >= MINIMUM { enough } else { not }, args);
    };
    count(z.glue_names().await, "ENOUGH_NS_DEL", "NOT_ENOUGH_NS_DEL", out);
    count(z.child_names().await, "ENOUGH_NS_CHILD", "NOT_ENOUGH_NS_CHILD", out);
    let child = z.ns().await.to_vec();
    let del = z.glue().await.to_vec();
    for (servers, side) in [(&child, "CHILD"), (&del, "DEL")] {
        for v4 in [true, false] {
            let of: Vec<&Ns> = servers.iter().filter(|n| n.ip.is_ipv4() == v4).collect();
            let mut names: Vec<String> = of.iter().map(|n| text(&n.name)).collect();
            names.dedup();
            let n = {
                let mut u = names.clone();
                u.sort();
                u.dedup();
                u.len()
            };
            let fam = if v4 { "IPV4" } else { "IPV6" };
            let tag = if n >= MINIMUM {
                format!("ENOUGH_{fam}_NS_{side}")
            } else if n > 0 {
                format!("NOT_ENOUGH_{fam}_NS_{side}")
            } else {
                format!("NO_{fam}_NS_{side}")
            };
            let args = [
                ("count", n.to_string()),
                ("minimum", MINIMUM.to_string()),
                ("nsname_list", list(names)),
                ("ns_ip_list", list(of.iter().map(|n| n.ip))),
            ];
            out.add(TC, static_tag(&tag), args);
        }
    }
}

fn static_tag(t: &str) -> &'static str {
    const TAGS: &[&str] = &[
        "ENOUGH_IPV4_NS_CHILD",
        "NOT_ENOUGH_IPV4_NS_CHILD",
        "NO_IPV4_NS_CHILD",
        "ENOUGH_IPV6_NS_CHILD",
        "NOT_ENOUGH_IPV6_NS_CHILD",
        "NO_IPV6_NS_CHILD",
        "ENOUGH_IPV4_NS_DEL",
        "NOT_ENOUGH_IPV4_NS_DEL",
        "NO_IPV4_NS_DEL",
        "ENOUGH_IPV6_NS_DEL",
        "NOT_ENOUGH_IPV6_NS_DEL",
        "NO_IPV6_NS_DEL",
    ];
    TAGS.iter().find(|k| **k == t).copied().unwrap_or("UNKNOWN")
}

/// Addresses that more than one name shares.
fn find_dup(out: &mut Out, servers: &[Ns], dup: &'static str, distinct: &'static str) {
    let mut ips: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen: Vec<&Ns> = Vec::new();
    for ns in servers {
        if seen.contains(&ns) {
            continue;
        }
        seen.push(ns);
        ips.entry(ns.ip.to_string()).or_default().push(text(&ns.name));
    }
    let mut any = false;
    for (ip, names) in &ips {
        if names.len() > 1 {
            any = true;
            out.add("DELEGATION02", dup, [("nsname_list", names.join(";")), ("ns_ip", ip.clone())]);
        }
    }
    if !servers.is_empty() && !any {
        out.add("DELEGATION02", distinct, []);
    }
}

/// DELEGATION02: no two name servers on one address.
pub async fn delegation02(z: &Zone<'_>, out: &mut Out) {
    let del = z.glue().await.to_vec();
    let child = z.ns().await.to_vec();
    find_dup(out, &del, "DEL_NS_SAME_IP", "DEL_DISTINCT_NS_IP");
    find_dup(out, &child, "CHILD_NS_SAME_IP", "CHILD_DISTINCT_NS_IP");
    let both: Vec<Ns> = del.iter().chain(&child).cloned().collect();
    find_dup(out, &both, "SAME_IP_ADDRESS", "DISTINCT_IP_ADDRESS");
}

/// DELEGATION04: every name server is authoritative, over UDP and TCP.
pub async fn delegation04(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DELEGATION04";
    let mut names_done: Vec<hickory_proto::rr::Name> = Vec::new();
    let mut auth: Vec<String> = Vec::new();
    let servers = z.glue_then_ns().await;
    for ns in &servers {
        if !z.ip_ok(ns) || names_done.contains(&ns.name) {
            continue;
        }
        for tcp in [false, true] {
            if let Some(m) = z.query(ns, &z.name, RecordType::SOA, Flags { tcp, ..Flags::default() }).await {
                if m.metadata.authoritative {
                    auth.push(text(&ns.name));
                } else {
                    out.add(TC, "IS_NOT_AUTHORITATIVE", [("ns", ns.to_string()), ("proto", if tcp { "TCP" } else { "UDP" }.to_string())]);
                }
            }
        }
        names_done.push(ns.name.clone());
    }
    if !servers.is_empty() && !auth.is_empty() {
        out.add(TC, "ARE_AUTHORITATIVE", [("nsname_list", list(auth))]);
    }
}

/// DELEGATION05: no name server name is an alias (CNAME).
pub async fn delegation05(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DELEGATION05";
    let cname = |m: &hickory_proto::op::Message| !records(m, RecordType::CNAME, None, Section::Answer).is_empty();
    for n in z.all_names().await {
        if z.name.zone_of(&n) {
            let mut servers = z.glue_then_ns().await;
            servers.sort_by_key(|s| s.to_string());
            servers.dedup();
            for ns in servers.iter().filter(|s| z.ip_ok(s)) {
                let Some(m) = z.query(ns, &n, RecordType::A, Flags::default()).await else {
                    out.add(TC, "NO_RESPONSE", [("ns", ns.to_string()), ("rrtype", "A".into())]);
                    continue;
                };
                if m.metadata.response_code != ResponseCode::NoError {
                    out.add(TC, "UNEXPECTED_RCODE", [("ns", ns.to_string()), ("rrtype", "A".into()), ("rcode", rcode(&m))]);
                } else if cname(&m) {
                    out.add(TC, "NS_IS_CNAME", [("nsname", text(&n))]);
                } else if kind(&m) == Kind::Referral {
                    let flags = Flags { recurse: true, ..Flags::default() };
                    if z.query(ns, &n, RecordType::A, flags).await.is_some_and(|m| cname(&m)) {
                        out.add(TC, "NS_IS_CNAME", [("nsname", text(&n))]);
                    }
                }
            }
        } else if z.r.recurse(&n, RecordType::A, &z.trace).await.is_some_and(|m| cname(&m)) {
            out.add(TC, "NS_IS_CNAME", [("nsname", text(&n))]);
        }
    }
    if !out.has_in(TC, "NS_IS_CNAME") {
        out.add(TC, "NO_NS_CNAME", []);
    }
}

/// DELEGATION06: every name server has a SOA for the zone.
pub async fn delegation06(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DELEGATION06";
    let mut names_done: Vec<hickory_proto::rr::Name> = Vec::new();
    let servers = z.glue_then_ns().await;
    for ns in &servers {
        if !z.ip_ok(ns) || names_done.contains(&ns.name) {
            continue;
        }
        if let Some(m) = z.query(ns, &z.name, RecordType::SOA, Flags::default()).await {
            if m.metadata.response_code == ResponseCode::NoError && records(&m, RecordType::SOA, None, Section::Answer).is_empty() {
                out.add(TC, "SOA_NOT_EXISTS", [("ns", ns.to_string())]);
            }
        }
        names_done.push(ns.name.clone());
    }
    if !servers.is_empty() {
        out.add(TC, "SOA_EXISTS", []);
    }
}

/// DELEGATION07: the parent's NS names and the child's are the same.
pub async fn delegation07(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "DELEGATION07";
    let mut count: BTreeMap<String, i32> = BTreeMap::new();
    for n in z.glue_names().await {
        *count.entry(text(n)).or_default() += 1;
    }
    for n in z.child_names().await {
        *count.entry(text(n)).or_default() -= 1;
    }
    let pick = |f: fn(i32) -> bool| count.iter().filter(|(_, c)| f(**c)).map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (same, parent, child) = (pick(|c| c == 0), pick(|c| c > 0), pick(|c| c < 0));
    if !parent.is_empty() {
        out.add(TC, "EXTRA_NAME_PARENT", [("extra", parent.join(";"))]);
    }
    if !child.is_empty() {
        out.add(TC, "EXTRA_NAME_CHILD", [("extra", child.join(";"))]);
    }
    if parent.is_empty() && child.is_empty() {
        out.add(TC, "NAMES_MATCH", [("names", same.join(";"))]);
    }
    if same.is_empty() {
        out.add(TC, "TOTAL_NAME_MISMATCH", [("glue", parent.join(";")), ("child", child.join(";"))]);
    }
}
