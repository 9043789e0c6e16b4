//! `zonefeed check`: findings from the zone data alone.

use std::fmt::Write;

use super::{failed, open_zones, ExitStatus, Output};
use crate::cli::{CheckArgs, Format};
use crate::config::Settings;
use crate::query::check::{self, Level, Report};

pub fn run(s: &Settings, out: &Output, args: &CheckArgs) -> anyhow::Result<ExitStatus> {
    let (conn, tlds) = open_zones(s, args.tld.as_deref())?;
    let mut reports = Vec::new();
    for t in &tlds {
        match check::check(&conn, t, args.level)? {
            Some(r) => reports.push(r),
            None if args.tld.is_some() => return Err(failed(format!("{t}: imported with --no-records (checks need the records)"))),
            None => eprintln!("warning: {t}: imported with --no-records, not checked"),
        }
    }
    out.list(&reports, text)?;
    let failing = args.fail_on.is_some_and(|level| reports.iter().any(|r| r.any_at(level)));
    Ok(if failing { ExitStatus::Failure } else { ExitStatus::Success })
}

fn text(r: &Report, f: Format) -> String {
    let mut t = String::new();
    for x in &r.findings {
        let _ = match f {
            Format::Tsv => writeln!(t, "{}\t{}\t{}\t{}", x.level.name(), x.code, x.domain, x.message),
            _ => writeln!(t, "{:<8} {:<16} {}: {}", x.level.name(), x.code, x.domain, x.message),
        };
    }
    if f != Format::Tsv {
        let levels = [Level::Notice, Level::Warning, Level::Error, Level::Critical];
        let sum: Vec<String> = levels.iter().map(|l| format!("{} {}", r.summary.get(l.name()).unwrap_or(&0), l.name())).collect();
        let _ = writeln!(t, "{} (version {}): {}", r.tld, r.version, sum.join(", "));
    }
    t
}
