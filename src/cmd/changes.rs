//! `zonefeed changes`: the events between versions (the newly-registered feed).

use super::{open_query_db, since_arg, tld_filter, ExitStatus, Output};
use crate::changes::{self, Filter};
use crate::cli::{ChangesArgs, Format};
use crate::config::Settings;

pub fn run(s: &Settings, out: &Output, args: &ChangesArgs) -> anyhow::Result<ExitStatus> {
    let since = since_arg(args.since.as_deref())?;
    let conn = open_query_db(s)?;
    let tld = tld_filter(&conn, args.tld.as_deref())?;
    let filter = Filter { tld, kind: args.kind, since, version: args.zone_version, ..Default::default() };
    let events = changes::list(&conn, &filter)?;
    // A feed with nothing new is not a failure (as `git log`): exit 0, `[]` in JSON.
    out.list(&events, |e, f| match f {
        Format::Tsv => format!("{}\t{}", e.kind, e.domain),
        _ => format!("{}  {}  v{}  {:<8}  {}", e.at, e.tld, e.zone_version, e.kind, e.domain),
    })?;
    Ok(ExitStatus::Success)
}
