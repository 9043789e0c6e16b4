//! `zonefeed watch`: watched domains and brand terms, and the hits imports found.

use super::{failed, open_query_db, open_writer, since_arg, since_text, usage, ExitStatus, Output};
use crate::changes::{self, watch, Filter, Kind};
use crate::cli::{Format, WatchArgs, WatchCommand};
use crate::config::Settings;
use crate::query;

pub fn run(s: &Settings, out: &Output, args: &WatchArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        WatchCommand::Hits { since } => hits(s, out, since.as_deref()),
        WatchCommand::List => {
            let conn = open_query_db(s)?;
            let watched = watch::list(&conn)?;
            out.note_empty(&watched, "nothing is watched (`zonefeed watch add DOMAIN` or `--term WORD` adds)");
            out.list(&watched, |e, f| match f {
                Format::Tsv => format!("{}\t{}", e.kind, e.value),
                _ => format!("{:<6} {}", e.kind, e.value),
            })?;
            Ok(ExitStatus::Success)
        }
        WatchCommand::Add { domains, terms, monitor } => add(s, out, domains, terms, monitor.as_deref()),
        WatchCommand::Remove { value } => {
            let v = query::normalize(value).unwrap_or_else(|_| value.trim().to_ascii_lowercase());
            let (_lock, conn) = open_writer(s, false)?;
            if !watch::remove(&conn, &v)? {
                return Err(failed(format!("`{v}` is not watched")));
            }
            out.say(&format!("{v}: no longer watched"))?;
            Ok(ExitStatus::Success)
        }
    }
}

/// Hits in the order the API gives them: oldest first (by event id).
fn hits(s: &Settings, out: &Output, since: Option<&str>) -> anyhow::Result<ExitStatus> {
    let since = since_arg(since)?;
    let conn = open_query_db(s)?;
    let since = since_text(&conn, since)?;
    let filter = Filter { kind: Some(Kind::Watch), since, after_id: Some(0), ..Default::default() };
    let hits = changes::list(&conn, &filter)?;
    out.list(&hits, |h, f| {
        let (term, rule) = (h.term.as_deref().unwrap_or(""), h.rule.as_deref().unwrap_or(""));
        match f {
            Format::Tsv => format!("{}\t{term}\t{rule}", h.domain),
            _ => format!("{}  {}  {:<24} {term} ({rule})", h.at, h.version_label(), h.domain),
        }
    })?;
    Ok(ExitStatus::Success)
}

/// Domains are checked as names, terms as 3+ letters, digits or hyphens; all before any is added.
fn add(s: &Settings, out: &Output, domains: &[String], terms: &[String], monitor: Option<&str>) -> anyhow::Result<ExitStatus> {
    if domains.is_empty() && terms.is_empty() {
        return Err(usage("give domains, or --term TERM"));
    }
    let days = monitor
        .map(|m| {
            m.trim()
                .trim_end_matches('d')
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| usage(format!("--monitor `{m}`: a number of days from 1 to 3650 (14d)")))
        })
        .transpose()?;
    let domains = domains.iter().map(|d| query::normalize(d)).collect::<Result<Vec<_>, _>>()?;
    let mut checked = Vec::new();
    for t in terms {
        let t = t.trim().to_ascii_lowercase();
        if t.len() < 3 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(usage(format!("term `{}`: use 3 or more letters, digits or hyphens", crate::zone::escape_text(&t))));
        }
        checked.push(t);
    }
    // A watchlist may be set up before the first import: this may create the database.
    let (_lock, conn) = open_writer(s, true)?;
    for d in &domains {
        watch::add(&conn, "domain", d)?;
    }
    for t in &checked {
        watch::add(&conn, "term", t)?;
        if days.is_some() {
            watch::monitor_term(&conn, t, days)?;
        }
    }
    out.say(&format!("watching {} domains and {} terms more", domains.len(), checked.len()))?;
    Ok(ExitStatus::Success)
}
