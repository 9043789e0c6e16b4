//! `zonefeed changes`: the events between versions (the newly-registered feed).

use super::{open_query_db, since_arg, since_text, tld_filter, ExitStatus, Output};
use crate::changes::{self, Filter};
use crate::cli::{ChangesArgs, Format};
use crate::config::Settings;

pub fn run(s: &Settings, out: &Output, args: &ChangesArgs) -> anyhow::Result<ExitStatus> {
    let since = since_arg(args.since.as_deref())?;
    let conn = open_query_db(s)?;
    let since = since_text(&conn, since)?;
    let tld = tld_filter(&conn, args.tld.as_deref())?;
    let kind = if args.moved { Some(changes::Kind::Modified) } else { args.kind };
    // TSV shows no diff: it is read only for the forms that print it.
    let diffs = out.format() != Format::Tsv;
    let filter = Filter { tld, kind, since, version: args.zone_version, moved: args.moved, diffs, ..Default::default() };
    let events = changes::list(&conn, &filter)?;
    // A feed with nothing new is not a failure (as `git log`): exit 0, `[]` in JSON.
    out.list(&events, |e, f| match (f, &e.moved) {
        (Format::Tsv, Some(m)) if args.moved => format!("{}\t{}\t{}", e.domain, m.from.join(","), m.to.join(",")),
        (Format::Tsv, _) => format!("{}\t{}", e.kind, e.domain),
        _ => text(e),
    })?;
    Ok(ExitStatus::Success)
}

/// An event for people: the line, then its diff (`-` removed, `+` added) and move.
pub(super) fn text(e: &changes::Event) -> String {
    let mut t = format!("{}  {}  {}  {:<8}  {}", e.at, e.tld, e.version_label(), e.kind, e.domain);
    t.push_str(&diff_lines(e, "    "));
    t
}

/// The `-`/`+` lines of a modified event's diff and its move, each indented by `indent`.
pub(super) fn diff_lines(e: &changes::Event, indent: &str) -> String {
    let mut t = String::new();
    match &e.diff {
        Some(Some(d)) => {
            for (sign, recs) in [("-", &d.removed), ("+", &d.added)] {
                for r in recs {
                    t.push_str(&format!("\n{indent}{sign} {} {} {} {}", r.owner, r.ttl, r.rtype, r.rdata));
                }
            }
        }
        Some(None) => t.push_str(&format!("\n{indent}(no diff: records not kept, imported with --no-records)")),
        None => {}
    }
    if let Some(m) = &e.moved {
        t.push_str(&format!("\n{indent}moved from {} to {}", m.from.join(", "), m.to.join(", ")));
    }
    t
}
