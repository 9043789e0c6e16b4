//! NAMESERVER: the zone's servers are not open resolvers, speak EDNS0, refuse zone transfers
//! to anyone, and answer AAAA questions as they answer A ones.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Name, RData, RecordType};

use super::{rcode, records, text, Out, Section, Zone};
use crate::dns::resolve::Ns;
use crate::dns::Flags;

/// Names that do not exist, in zones no analysed server should serve: an authoritative-only
/// server refuses them or refers upward; a resolver answers NXDOMAIN (Zonemaster's list).
const NONEXISTENT: [&str; 3] = ["xn--nameservertest.iis.se.", "xn--nameservertest.icann.org.", "xn--nameservertest.ripe.net."];

/// Each server once (name and address), in Zonemaster's order.
async fn servers(z: &Zone<'_>) -> Vec<Ns> {
    z.all_ns().await.into_iter().filter(|n| z.ip_ok(n)).collect()
}

/// NAMESERVER01: no server is an open recursive resolver.
pub async fn nameserver01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "NAMESERVER01";
    for ns in servers(z).await {
        let (mut answered, mut nxdomain, mut ra, mut not_recursor) = (0, 0, false, true);
        for n in NONEXISTENT {
            let Ok(name) = Name::from_ascii(n) else { continue };
            match z.query(&ns, &name, RecordType::A, Flags::default()).await {
                None => {
                    out.add(TC, "NO_RESPONSE", [("ns", ns.to_string()), ("domain", n.trim_end_matches('.').into())]);
                    not_recursor = false;
                }
                Some(m) => {
                    answered += 1;
                    ra |= m.metadata.recursion_available;
                    if m.metadata.response_code == ResponseCode::NXDomain {
                        nxdomain += 1;
                    }
                }
            }
        }
        if ra || (answered > 0 && nxdomain == answered) {
            out.add(TC, "IS_A_RECURSOR", [("ns", ns.to_string())]);
            not_recursor = false;
        }
        if not_recursor {
            out.add(TC, "NO_RECURSOR", [("ns", ns.to_string())]);
        }
    }
}

/// NAMESERVER02: every server speaks EDNS0 (version 0) and does not break on it.
pub async fn nameserver02(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "NAMESERVER02";
    let mut ok = Vec::new();
    let mut errors = 0;
    for ns in servers(z).await {
        let edns = Flags { edns: Some(512), ..Flags::default() };
        let args = || [("ns", ns.to_string()), ("domain", text(&z.name))];
        match z.query(&ns, &z.name, RecordType::SOA, edns).await {
            Some(m) => {
                let rc = m.metadata.response_code;
                let has_soa = !records(&m, RecordType::SOA, None, Section::Answer).is_empty();
                match &m.edns {
                    None if rc == ResponseCode::FormErr => {
                        out.add(TC, "NO_EDNS_SUPPORT", [("ns", ns.to_string())]);
                        errors += 1;
                    }
                    Some(e) if rc == ResponseCode::NoError && e.rcode_high() == 0 && has_soa && e.version() == 0 => {
                        ok.push(ns.to_string());
                    }
                    None if rc == ResponseCode::NoError => {
                        out.add(TC, "EDNS_RESPONSE_WITHOUT_EDNS", args());
                        errors += 1;
                    }
                    Some(e) if rc == ResponseCode::NoError && e.version() != 0 => {
                        out.add(TC, "EDNS_VERSION_ERROR", args());
                        errors += 1;
                    }
                    _ => {
                        out.add(TC, "NS_ERROR", [("ns", ns.to_string())]);
                        errors += 1;
                    }
                }
            }
            None => {
                let plain = z.query(&ns, &z.name, RecordType::SOA, Flags::default()).await;
                out.add(TC, if plain.is_some() { "BREAKS_ON_EDNS" } else { "NO_RESPONSE" }, args());
                errors += 1;
            }
        }
    }
    if !ok.is_empty() && errors == 0 {
        out.add(TC, "EDNS0_SUPPORT", [("ns_list", ok.join(";"))]);
    }
}

/// NAMESERVER03: no server gives the zone away by AXFR.
pub async fn nameserver03(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "NAMESERVER03";
    for ns in servers(z).await {
        match z.query(&ns, &z.name, RecordType::AXFR, Flags::TCP).await {
            Some(m)
                if m.metadata.response_code == ResponseCode::NoError
                    && m.answers.first().is_some_and(|r| r.record_type() == RecordType::SOA) =>
            {
                out.add(TC, "AXFR_AVAILABLE", [("ns", ns.to_string())]);
            }
            _ => out.add(TC, "AXFR_FAILURE", [("ns", ns.to_string())]),
        }
    }
}

/// NAMESERVER05: a server that answers A questions answers AAAA ones as well, well formed.
pub async fn nameserver05(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "NAMESERVER05";
    let mut issues = 0;
    let mut aaaa_ok = 0;
    let all = servers(z).await;
    for ns in &all {
        match z.query(ns, &z.name, RecordType::A, Flags::default()).await {
            None => out.add(TC, "NO_RESPONSE", [("ns", ns.to_string()), ("domain", text(&z.name))]),
            Some(m) if m.metadata.response_code != ResponseCode::NoError => {
                out.add(TC, "A_UNEXPECTED_RCODE", [("ns", ns.to_string()), ("rcode", rcode(&m))]);
            }
            Some(_) => match z.query(ns, &z.name, RecordType::AAAA, Flags::default()).await {
                None => {
                    out.add(TC, "AAAA_QUERY_DROPPED", [("ns", ns.to_string())]);
                    issues += 1;
                }
                Some(m) if m.metadata.response_code != ResponseCode::NoError => {
                    out.add(TC, "AAAA_UNEXPECTED_RCODE", [("ns", ns.to_string()), ("rcode", rcode(&m))]);
                    issues += 1;
                }
                // hickory reads an AAAA of the wrong length as a malformed message, which
                // arrives here as no answer (AAAA_QUERY_DROPPED) rather than AAAA_BAD_RDATA.
                Some(m) => aaaa_ok += m.answers.iter().filter(|r| matches!(r.data, RData::AAAA(_))).count(),
            },
        }
    }
    if aaaa_ok > 0 && issues == 0 {
        out.add(TC, "AAAA_WELL_PROCESSED", [("ns_list", all.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(";"))]);
    }
}
