//! CONNECTIVITY: every name server answers SOA and NS questions for the zone over UDP
//! (CONNECTIVITY01) and TCP (CONNECTIVITY02), authoritatively and for the right owner.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{rcode, records, text, Out, Section, Zone};
use crate::dns::Flags;

pub async fn connectivity01(z: &Zone<'_>, out: &mut Out) {
    let all = z.all_ns().await;
    let off = |v4: bool| all.iter().filter(|n| n.ip.is_ipv4() == v4 && !z.ip_ok(n)).map(|n| n.to_string()).collect::<Vec<_>>();
    let (v4, v6) = (off(true), off(false));
    if !v4.is_empty() {
        out.add("CONNECTIVITY01", "CN01_IPV4_DISABLED", [("ns_list", v4.join(";"))]);
    }
    if !v6.is_empty() {
        out.add("CONNECTIVITY01", "CN01_IPV6_DISABLED", [("ns_list", v6.join(";"))]);
    }
    each_server(z, out, false).await;
}

pub async fn connectivity02(z: &Zone<'_>, out: &mut Out) {
    each_server(z, out, true).await;
}

async fn each_server(z: &Zone<'_>, out: &mut Out, tcp: bool) {
    let (tc, prefix, proto) = if tcp { ("CONNECTIVITY02", "CN02", "TCP") } else { ("CONNECTIVITY01", "CN01", "UDP") };
    let flags = Flags { tcp, ..Flags::default() };
    for ns in z.all_ns().await.iter().filter(|n| z.ip_ok(n)) {
        let soa = z.query(ns, &z.name, RecordType::SOA, flags).await;
        let nsq = z.query(ns, &z.name, RecordType::NS, flags).await;
        if soa.is_none() && nsq.is_none() {
            out.add(tc, tag(prefix, "NO_RESPONSE", proto), [("ns", ns.to_string())]);
            continue;
        }
        for (qtype, m) in [("SOA", soa), ("NS", nsq)] {
            let rtype = if qtype == "SOA" { RecordType::SOA } else { RecordType::NS };
            let Some(m) = m else {
                out.add(tc, tag(prefix, &format!("NO_RESPONSE_{qtype}_QUERY"), proto), [("ns", ns.to_string())]);
                continue;
            };
            if m.metadata.response_code != ResponseCode::NoError {
                out.add(tc, tag(prefix, &format!("UNEXPECTED_RCODE_{qtype}_QUERY"), proto), [("ns", ns.to_string()), ("rcode", rcode(&m))]);
                continue;
            }
            match records(&m, rtype, None, Section::Answer).first() {
                None => out.add(tc, tag(prefix, &format!("MISSING_{qtype}_RECORD"), proto), [("ns", ns.to_string())]),
                Some(rr) if rr.name != z.name => out.add(
                    tc,
                    tag(prefix, &format!("WRONG_{qtype}_RECORD"), proto),
                    [("ns", ns.to_string()), ("domain_found", text(&rr.name)), ("domain_expected", text(&z.name))],
                ),
                Some(_) if !m.metadata.authoritative => {
                    out.add(tc, tag(prefix, &format!("{qtype}_RECORD_NOT_AA"), proto), [("ns", ns.to_string())])
                }
                Some(_) => {}
            }
        }
    }
}

/// `CN01_NO_RESPONSE_SOA_QUERY_UDP` and its kin: Zonemaster's tag for `what` (always one of
/// [`TAGS`]).
fn tag(prefix: &str, what: &str, proto: &str) -> &'static str {
    let t = format!("{prefix}_{what}_{proto}");
    TAGS.iter().find(|k| **k == t).copied().unwrap_or("CN_UNKNOWN")
}

const TAGS: &[&str] = &[
    "CN01_NO_RESPONSE_UDP",
    "CN01_NO_RESPONSE_SOA_QUERY_UDP",
    "CN01_NO_RESPONSE_NS_QUERY_UDP",
    "CN01_UNEXPECTED_RCODE_SOA_QUERY_UDP",
    "CN01_UNEXPECTED_RCODE_NS_QUERY_UDP",
    "CN01_MISSING_SOA_RECORD_UDP",
    "CN01_MISSING_NS_RECORD_UDP",
    "CN01_WRONG_SOA_RECORD_UDP",
    "CN01_WRONG_NS_RECORD_UDP",
    "CN01_SOA_RECORD_NOT_AA_UDP",
    "CN01_NS_RECORD_NOT_AA_UDP",
    "CN02_NO_RESPONSE_TCP",
    "CN02_NO_RESPONSE_SOA_QUERY_TCP",
    "CN02_NO_RESPONSE_NS_QUERY_TCP",
    "CN02_UNEXPECTED_RCODE_SOA_QUERY_TCP",
    "CN02_UNEXPECTED_RCODE_NS_QUERY_TCP",
    "CN02_MISSING_SOA_RECORD_TCP",
    "CN02_MISSING_NS_RECORD_TCP",
    "CN02_WRONG_SOA_RECORD_TCP",
    "CN02_WRONG_NS_RECORD_TCP",
    "CN02_SOA_RECORD_NOT_AA_TCP",
    "CN02_NS_RECORD_NOT_AA_TCP",
];
