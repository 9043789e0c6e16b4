//! `zonefeed stats`: figures of each imported zone.

use std::fmt::Write;

use super::{open_zones, ExitStatus, Output};
use crate::cli::StatsArgs;
use crate::config::Settings;
use crate::query::{self, Stats};

pub fn run(s: &Settings, out: &Output, args: &StatsArgs) -> anyhow::Result<ExitStatus> {
    let (conn, tlds) = open_zones(s, args.tld.as_deref())?;
    let mut all = Vec::new();
    for t in &tlds {
        all.extend(query::stats(&conn, t, args.top)?);
    }
    out.list(&all, |st, _| text(st))?;
    Ok(ExitStatus::Success)
}

fn join<K: std::fmt::Display, N: std::fmt::Display>(list: impl IntoIterator<Item = (K, N)>) -> String {
    list.into_iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

fn text(st: &Stats) -> String {
    let mut t = String::new();
    let serial = st.serial.map_or("-".into(), |v| v.to_string());
    let _ = writeln!(t, "{} (version {}, serial {serial}, imported {})", st.tld, st.version, st.imported_at);
    let _ = writeln!(t, "  domains {}, records {}", st.domains, if st.records_kept { st.records.to_string() } else { "not kept".into() });
    if st.records_kept {
        let _ = writeln!(t, "  with DS {} ({:.2}%)", st.domains_with_ds, st.ds_share * 100.0);
    } else {
        // Without records there is no DS data: 0% would be a claim about the zone.
        let _ = writeln!(t, "  with DS: not kept (imported with --no-records)");
    }
    let _ = writeln!(
        t,
        "  delegations: {} in-bailiwick, {} out-of-bailiwick, {} mixed",
        st.in_bailiwick, st.out_of_bailiwick, st.mixed_bailiwick
    );
    let _ = writeln!(t, "  records per type: {}", join(&st.types));
    let _ = writeln!(t, "  top name servers: {}", join(st.top_ns_hosts.iter().map(|(h, n)| (h, n))));
    let _ = writeln!(t, "  top providers (domains): {}", join(st.top_providers.iter().map(|(h, n)| (h, n))));
    for v in &st.versions {
        let _ = writeln!(t, "  version {} {}: +{} -{} ~{}", v.version, v.imported_at, v.added, v.removed, v.modified);
    }
    t
}
