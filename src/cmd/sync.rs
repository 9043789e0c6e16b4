//! `zonefeed sync`: download, import while downloading, deliver webhooks.

use super::download::{fatal_status, selection};
use super::{human_bytes, webhooks::report_deliveries, ExitStatus, Output};
use crate::cli::SyncArgs;
use crate::config::Settings;
use crate::czds::download::Status;
use crate::sync::{self, Plan, SyncStatus, ZoneSync};

pub fn run(s: &Settings, out: &Output, args: &SyncArgs) -> anyhow::Result<ExitStatus> {
    let plan = Plan {
        zones: selection(&args.download),
        import: super::import::options(s, &args.import, args.force_import)?,
        deliver: !args.no_webhooks,
    };
    let mut results = out.stream();
    let outcome = sync::sync(s, &plan, |z| {
        if z.status == SyncStatus::Failed {
            out.item_failed(&format!("{}: {}", z.tld, z.error.as_deref().unwrap_or("failed")));
        }
        results.push(z, (z.status == SyncStatus::Ok).then(|| summary_line(z)))
    })?;
    results.finish()?;
    let mut analyses_failed = 0;
    for a in &outcome.analyses {
        match &a.result {
            Ok((run, kept)) if !s.quiet => eprintln!("analyze: {}", kept.line(run)),
            Ok(_) => {}
            Err(e) => {
                analyses_failed += 1;
                out.item_failed(&format!("{}: analysis failed: {e:#}", a.tld));
            }
        }
    }
    let webhooks_failed = report_deliveries(out, &outcome.deliveries, true)?;
    let failed = outcome.failed + webhooks_failed + analyses_failed;
    Ok(outcome.fatal.map_or_else(|| ExitStatus::of_items(outcome.ok, failed), fatal_status))
}

/// `com: downloaded 5.1 GB, version 7: 1200 new, 300 changed, 800 removed`.
fn summary_line(z: &ZoneSync) -> String {
    let got = match z.download.status {
        Status::Skipped => "file already downloaded (unchanged on the server)".to_string(),
        _ => format!("downloaded {}", human_bytes(z.download.bytes)),
    };
    let imported = match &z.import {
        Some(i) if i.unchanged => format!("already imported as version {}", i.version),
        // A zone's first version is its baseline: it has no changes to count.
        Some(i) if i.new_domains == i.domains && i.changed_domains == 0 && i.removed_domains == 0 => {
            format!("version {}: {} (first import){}", i.version, super::count(i.domains, "domain"), overlap(z))
        }
        Some(i) => format!(
            "version {}: {} new, {} changed, {} removed{}",
            i.version,
            i.new_domains,
            i.changed_domains,
            i.removed_domains,
            overlap(z)
        ),
        None => String::new(),
    };
    format!("{}: {got}, {imported}", z.tld)
}

fn overlap(z: &ZoneSync) -> &'static str {
    if z.overlapped {
        " (imported while downloading)"
    } else {
        ""
    }
}
