//! `zonefeed prune`: the one way history is dropped.

use std::io::IsTerminal;

use super::{confirm, open_writer, usage, ExitStatus, Output};
use crate::cli::PruneArgs;
use crate::config::Settings;
use crate::store::{self, Pruned};

pub fn run(s: &Settings, out: &Output, args: &PruneArgs) -> anyhow::Result<ExitStatus> {
    if args.keep_days == 0 && !args.yes && !args.dry_run {
        return Err(usage("--keep-days 0 drops all history; give --yes if that is what you want (or --dry-run to see it)"));
    }
    let (_lock, conn) = open_writer(s, false)?;
    let cutoff = crate::time::utc(crate::time::unix_now() - i64::from(args.keep_days) * 86400);
    // On a terminal, show what would go and ask; from cron (no terminal) prune as told.
    let ask = !args.yes && !args.dry_run && std::io::stdin().is_terminal();
    let p = store::prune(&conn, &cutoff, args.dry_run || ask)?;
    if ask {
        eprintln!("would remove, before {cutoff}: {}", counts(&p));
        if !confirm("prune?")? {
            eprintln!("nothing pruned");
            return Ok(ExitStatus::Failure);
        }
        let p = store::prune(&conn, &cutoff, false)?;
        return report(out, &cutoff, &p);
    }
    report(out, &cutoff, &p)
}

fn counts(p: &Pruned) -> String {
    format!(
        "{} events, {} outbox rows, {} webhook batches, {} old versions, {} download records, {} removed domains, {} history rows, {} name-server hosts",
        p.events, p.outbox, p.batches, p.versions, p.downloads, p.removed_domains, p.history_rows, p.hosts
    )
}

fn report(out: &Output, cutoff: &str, p: &Pruned) -> anyhow::Result<ExitStatus> {
    let mut v = serde_json::to_value(p)?;
    v["before"] = cutoff.into();
    out.one(&v, |_| {
        let verb = if p.dry_run { "would prune" } else { "pruned" };
        format!("{verb} before {cutoff}: {}", counts(p))
    })?;
    Ok(ExitStatus::Success)
}
