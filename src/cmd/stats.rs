//! `zonefeed stats`: figures of each imported zone.

use std::fmt::Write;

use super::{failed, open_zones, ExitStatus, Output};
use crate::cli::StatsArgs;
use crate::config::Settings;
use crate::query::{self, Stats};

pub fn run(s: &Settings, out: &Output, args: &StatsArgs) -> anyhow::Result<ExitStatus> {
    let (conn, tlds) = open_zones(s, args.tld.as_deref())?;
    if tlds.is_empty() {
        return Err(failed("no zone is imported yet (`zonefeed import FILE` or `zonefeed sync`)"));
    }
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
    let _ = writeln!(
        t,
        "{} (version {}, serial {serial}, zone date {}, imported {})",
        st.tld,
        st.version,
        day(st.zone_date.as_deref()),
        st.imported_at
    );
    let _ = writeln!(t, "  domains {}, records {}", st.domains, if st.records_kept { st.records.to_string() } else { "not kept".into() });
    let _ = writeln!(t, "  with DS {} ({:.2}%)", st.domains_with_ds, st.ds_share * 100.0);
    if st.records_kept {
        let _ = writeln!(
            t,
            "  delegations: {} in-bailiwick, {} out-of-bailiwick, {} mixed",
            st.in_bailiwick, st.out_of_bailiwick, st.mixed_bailiwick
        );
        let _ = writeln!(t, "  records per type: {}", join(&st.types));
        let _ = writeln!(t, "  top name servers: {}", join(st.top_ns_hosts.iter().map(|(h, n)| (h, n))));
        let _ = writeln!(t, "  top providers (domains): {}", join(st.top_providers.iter().map(|(h, n)| (h, n))));
    } else {
        // Without records there are no NS records to count: zeros would be claims about the zone.
        let _ = writeln!(t, "  delegations, record types, name servers and providers: not kept (imported with --no-records)");
    }
    for v in &st.versions {
        let changes = match (v.added, v.removed, v.modified) {
            (Some(a), Some(r), Some(m)) => format!("+{a} -{r} ~{m}"),
            _ => "first version (nothing to compare with)".into(),
        };
        let _ = writeln!(t, "  version {} of {}: {changes}", v.version, day(v.zone_date.as_deref()));
    }
    t
}

/// `2026-11-03` of `2026-11-03T00:00:00Z`; `-` for a version without a zone date.
fn day(d: Option<&str>) -> &str {
    d.map_or("-", crate::time::date_of)
}
