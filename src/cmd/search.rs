//! `zonefeed search`: names by exact name, suffix, substring or glob.

use super::{need_ns_data, open_query_db, tld_filter, usage, ExitStatus, Output};
use crate::cli::{Format, SearchArgs};
use crate::config::Settings;
use crate::query::{self, Pattern};

pub fn run(s: &Settings, out: &Output, args: &SearchArgs) -> anyhow::Result<ExitStatus> {
    if let Some(tag) = &args.finding {
        return with_finding(s, out, args, tag);
    }
    let pattern = match (&args.query, &args.contains, &args.glob, &args.ns, &args.provider, &args.ip) {
        (_, Some(w), ..) => Pattern::contains(w)?,
        (_, _, Some(g), ..) => Pattern::glob(g)?,
        (.., Some(h), _, _) => Pattern::Ns(query::normalize(h)?),
        (.., Some(p), _) => Pattern::Provider(query::normalize(p)?),
        (.., Some(a)) => Pattern::ip(a)?,
        (Some(q), ..) => Pattern::parse(q)?,
        _ => return Err(usage("give a QUERY, --contains WORD, --glob PATTERN, --ns HOST, --provider DOMAIN or --ip ADDRESS")),
    };
    let conn = open_query_db(s)?;
    let tld = tld_filter(&conn, args.tld.as_deref())?;
    if pattern.is_pivot() {
        need_ns_data(&conn, tld.as_deref(), args.at.as_deref(), "searched")?;
    }
    // One more than asked for tells whether there are more; counting them is a second pass
    // made only then.
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    let page = query::Page { at: args.at.clone(), ..Default::default() };
    let mut hits = query::search_page(&conn, &pattern, tld.as_deref(), limit.saturating_add(1), &page)?;
    if hits.len() > limit {
        hits.truncate(limit);
        let total = query::search_count(&conn, &pattern, tld.as_deref(), args.at.as_deref())?;
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

/// `--finding TAG`: the domains whose latest kept analysis has it.
fn with_finding(s: &Settings, out: &Output, args: &SearchArgs, tag: &str) -> anyhow::Result<ExitStatus> {
    let tag = tag.trim().to_ascii_uppercase();
    if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(usage(format!("--finding `{tag}`: a Zonemaster message tag is letters, digits and `_` (NS_FAILED)")));
    }
    let conn = open_query_db(s)?;
    let tld = tld_filter(&conn, args.tld.as_deref())?;
    let limit = if args.limit == 0 { usize::MAX } else { args.limit };
    let mut hits = query::analyses::with_finding(&conn, &tag, tld.as_deref(), limit.saturating_add(1))?;
    if hits.len() > limit {
        hits.truncate(limit);
        eprintln!("the first {limit} shown (--limit N for more, --limit 0 for all)");
    }
    out.list(&hits, |h, f| match f {
        Format::Tsv => format!("{}\t{}\t{}\t{}\t{}", h.name, h.tld, h.level, h.testcase, h.since),
        _ => format!("{}  {} {} since {}", h.name, h.level, h.testcase, h.since),
    })?;
    Ok(if hits.is_empty() { ExitStatus::Failure } else { ExitStatus::Success })
}
