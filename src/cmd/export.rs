//! `zonefeed export`: the history as a Parquet dataset.

use super::{failed, open_query_db, usage, ExitStatus, Output};
use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::export::{self, ExportError, Options, Written};
use crate::progress::{Mode, Tally};

pub fn run(s: &Settings, out: &Output, args: &ExportArgs) -> anyhow::Result<ExitStatus> {
    let conn = open_query_db(s)?;
    let current = crate::store::current_zones(&conn)?;
    let tlds = args.tld.iter().map(|t| super::known_zone(&current, t)).collect::<anyhow::Result<Vec<_>>>()?;
    let opts = Options { tlds, since: args.since.as_ref().map(|d| d[..10].to_string()), tables: args.tables.clone() };
    let tally = Tally::new(Mode::detect(s.quiet, s.log_interval), "export");
    let done = export::export(&conn, &args.to, &opts, &mut |step, rows| tally.set(step, rows));
    tally.finish();
    let report = match done {
        Ok(r) => r,
        Err(e) if e.is_usage() => return Err(usage(e.to_string())),
        Err(e @ ExportError::Busy { .. }) => return Err(super::Failure { status: ExitStatus::Busy, message: e.to_string() }.into()),
        Err(e) => return Err(failed(e.to_string())),
    };
    if report.pruned > 0 {
        eprintln!("note: {} versions not exported: prune dropped part of their history", report.pruned);
    }
    let rows: u64 = report.written.iter().map(|w| w.rows).sum();
    // The lines for people are a report of progress: --quiet leaves them out, JSON keeps them.
    if s.quiet && !out.is_json() {
        return Ok(ExitStatus::Success);
    }
    out.one(&report, |r| {
        let mut t: Vec<String> = r.written.iter().map(line).collect();
        t.push(format!("{}: {} partitions written ({rows} rows), {} already there", r.dir, r.written.len(), r.kept));
        t.join("\n")
    })?;
    Ok(ExitStatus::Success)
}

fn line(w: &Written) -> String {
    format!("{} {} {}: {} rows{}", w.table.name(), w.tld, w.date, w.rows, w.file.as_ref().map_or(String::new(), |f| format!(" -> {f}")))
}
