//! BASIC: is there a parent, and does the delegation lead to servers that answer for the zone.

use hickory_proto::rr::RecordType;

use super::{rcode, records, text, Out, Section, Zone};
use crate::dns::Flags;

/// BASIC01: the parent zone exists (it refers to the domain).
pub async fn basic01(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "BASIC01";
    match z.parent().await {
        Some((p, _)) => out.add(TC, "HAS_PARENT", [("zone", text(&z.name)), ("pname", text(p))]),
        None => out.add(TC, "NO_PARENT", [("zone", text(&z.name))]),
    }
}

/// BASIC02: the delegation's servers answer NS questions for the zone.
pub async fn basic02(z: &Zone<'_>, out: &mut Out) {
    const TC: &str = "BASIC02";
    let glue = z.glue().await;
    if glue.is_empty() {
        out.add(TC, "NO_GLUE_PREVENTS_NAMESERVER_TESTS", []);
    }
    for ns in glue {
        if !z.ip_ok(ns) {
            continue;
        }
        match z.query(ns, &z.name, RecordType::NS, Flags::default()).await {
            None => out.add(TC, "NS_NO_RESPONSE", [("ns", ns.to_string())]),
            Some(m) => {
                let names = records(&m, RecordType::NS, Some(&z.name), Section::All);
                if names.is_empty() {
                    out.add(TC, "NS_FAILED", [("ns", ns.to_string()), ("rcode", rcode(&m))]);
                } else {
                    let list = super::list(super::ns_names(&names).iter().map(text));
                    out.add(TC, "HAS_NAMESERVERS", [("nsnlist", list), ("ns", ns.to_string())]);
                }
            }
        }
    }
}
