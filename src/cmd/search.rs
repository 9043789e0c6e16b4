//! `zonefeed search`: names by exact name, suffix, substring or glob.

use super::{open_query_db, tld_filter, usage, ExitStatus, Output};
use crate::cli::{Format, SearchArgs};
use crate::config::Settings;
use crate::query::{self, Pattern};

pub fn run(s: &Settings, out: &Output, args: &SearchArgs) -> anyhow::Result<ExitStatus> {
    let pattern = match (&args.query, &args.contains, &args.glob) {
        (_, Some(w), _) => Pattern::contains(w)?,
        (_, _, Some(g)) => Pattern::glob(g)?,
        (Some(q), _, _) => Pattern::parse(q)?,
        _ => return Err(usage("give a QUERY, --contains WORD or --glob PATTERN")),
    };
    let conn = open_query_db(s)?;
    let tld = tld_filter(&conn, args.tld.as_deref())?;
    // One more than asked for tells whether there are more; counting them is a second pass
    // made only then.
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    let mut hits = query::search(&conn, &pattern, tld.as_deref(), limit.saturating_add(1))?;
    if hits.len() > limit {
        hits.truncate(limit);
        let total = query::search_count(&conn, &pattern, tld.as_deref())?;
        eprintln!("{limit} of {total} shown (--limit N for more, --limit 0 for all)");
    }
    out.list(&hits, |h, f| match f {
        Format::Tsv => format!("{}\t{}", h.name, h.tld),
        _ if h.unicode != h.name => format!("{} ({})", h.name, h.unicode),
        _ => h.name.clone(),
    })?;
    // No match is exit 1, as grep and rg do.
    Ok(if hits.is_empty() { ExitStatus::Failure } else { ExitStatus::Success })
}
