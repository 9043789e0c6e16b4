//! `zonefeed domain NAME`: a domain's records, dates and history in every imported zone.

use std::fmt::Write;

use super::{failed, open_query_db, usage, ExitStatus, Output};
use crate::cli::DomainArgs;
use crate::config::Settings;
use crate::query::{self, Domain};

pub fn run(s: &Settings, out: &Output, args: &DomainArgs) -> anyhow::Result<ExitStatus> {
    let name = query::normalize(&args.name)?;
    if args.live {
        return live(s, out, &name, args.at.as_deref());
    }
    let at = args.at.as_deref().map(|a| crate::time::parse_day(a).map_err(|e| usage(format!("--at `{a}`: {e}")))).transpose()?;
    let conn = open_query_db(s)?;
    let found = query::domain(&conn, &name, args.history, at.as_deref())?;
    if found.is_empty() {
        return Err(failed(query::domain_absent(&name, at.as_deref())));
    }
    out.list(&found, text)?;
    Ok(ExitStatus::Success)
}

/// `--live`: a monitored domain's records as its last check (at or before `at`) found them.
fn live(s: &Settings, out: &Output, name: &str, at: Option<&str>) -> anyhow::Result<ExitStatus> {
    // A day alone means the end of it.
    let at = match at {
        Some(a) => {
            let t = crate::time::parse_instant(a).map_err(|e| usage(format!("--at `{a}`: {e}")))?;
            Some(crate::time::utc(if a.len() == 10 { t + 86_399 } else { t }))
        }
        None => None,
    };
    let conn = open_query_db(s)?;
    let l = crate::monitor::live(&conn, name, at.as_deref())?;
    let registration = crate::monitor::rdap::current(&conn, name, at.as_deref())?;
    if l.is_none() && registration.is_none() {
        return Err(failed(match &at {
            Some(t) => format!("{name}: no live check at or before {t} (`zonefeed monitor add {name}` monitors it)"),
            None => format!("{name}: never checked live (`zonefeed monitor add {name}`, then `monitor run`)"),
        }));
    }
    let v = serde_json::json!({"name": name, "live": l, "registration": registration});
    let mut t = String::new();
    match &l {
        Some(l) => {
            let last = l.last_check.as_deref().unwrap_or("-");
            let _ = writeln!(t, "{name} live ({}), as found since {}, last checked {last}", l.state, l.since);
            for r in &l.records {
                let _ = writeln!(t, "  {}\t{}\t{}\t{}", r.owner, r.ttl, r.rtype, r.rdata);
            }
        }
        None => {
            let _ = writeln!(t, "{name}: no live check (only its registration)");
        }
    }
    if let Some(c) = &registration {
        let text = super::monitor::registration_text("registration", &c.registration);
        let _ = writeln!(t, "{text}\n  (from {}, since {})", c.server, c.since);
    }
    out.list(&[v], |_, _| t.trim_end().to_string())?;
    Ok(ExitStatus::Success)
}

fn text(d: &Domain, _: crate::cli::Format) -> String {
    let mut t = String::new();
    let shown = if d.unicode != d.name { format!("{} ({})", d.name, d.unicode) } else { d.name.clone() };
    let _ = writeln!(t, "{shown} in zone {} (version {})", d.tld, d.zone_version);
    let _ = writeln!(t, "  first seen {}, last changed {}, last seen {}", d.first_seen, d.last_changed, d.last_seen);
    if let Some(r) = &d.removed_at {
        let _ = writeln!(t, "  REMOVED at {r}");
    }
    if !d.records_kept {
        let _ = writeln!(t, "  (records not kept: the zone was imported with --no-records)");
    }
    for r in &d.records {
        let _ = writeln!(t, "  {}\t{}\t{}\t{}", r.owner, r.ttl, r.rtype, r.rdata);
    }
    if let Some(n) = d.records_total {
        let _ = writeln!(t, "  ({} of its {n} records shown)", d.records.len());
    }
    if let Some(a) = &d.analysis {
        let worst = a.worst.as_deref().unwrap_or("nothing");
        let c = &a.count;
        let _ = writeln!(
            t,
            "  analysis of {} (run {}): worst {worst}; {} critical, {} error, {} warning, {} notice",
            a.date, a.run, c.critical, c.error, c.warning, c.notice
        );
        for f in a.findings.iter().filter(|f| f.level != "INFO") {
            let _ = writeln!(t, "    {:<8} {:<14} {} {}", f.level, f.testcase, f.tag, args_text(&f.args));
        }
    }
    if let Some(h) = &d.history {
        let _ = writeln!(t, "  history:");
        if let Some(p) = &d.history_pruned_before {
            let _ = writeln!(t, "    (history before {p} was pruned)");
        }
        for e in h {
            let _ = writeln!(t, "    {}  {}  {}{}", e.at, e.version_label(), e.kind, super::changes::diff_lines(e, "      "));
        }
    }
    if let Some(h) = d.analysis_history.as_ref().filter(|h| !h.is_empty()) {
        let _ = writeln!(t, "  analysis history (NOTICE and above):");
        for c in h.iter().filter(|c| c.finding.level != "INFO") {
            let f = &c.finding;
            let _ = writeln!(t, "    {}  {:<5} {:<8} {:<14} {} {}", c.date, c.change, f.level, f.testcase, f.tag, args_text(&f.args));
        }
    }
    t
}

/// A finding's arguments as `key=value` words.
fn args_text(args: &serde_json::Value) -> String {
    let Some(map) = args.as_object() else { return args.to_string() };
    map.iter().map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string))).collect::<Vec<_>>().join(" ")
}
