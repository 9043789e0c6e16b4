//! `zonefeed download`: zone files from CZDS, unchanged ones skipped, cut transfers resumed.

use super::{human_bytes, ExitStatus, Output};
use crate::cli::DownloadArgs;
use crate::config::Settings;
use crate::czds::download::{self, Status, ZoneResult};
use crate::progress::{Mode, Transfers};
use crate::sync::{Selection, Session};

/// The zones the download flags select.
pub(super) fn selection(args: &DownloadArgs) -> Selection {
    Selection {
        tlds: args.tlds.clone(),
        exclude: args.exclude.clone(),
        dir: args.dir.clone(),
        parallel: args.parallel,
        force: args.force,
        username: args.username.clone(),
        password_file: args.password_file.clone(),
    }
}

/// The exit status of a run that stopped on a login refusal (3) or a rate limit (4).
pub(super) fn fatal_status(f: crate::czds::Fatal) -> ExitStatus {
    match f {
        crate::czds::Fatal::Auth => ExitStatus::Auth,
        crate::czds::Fatal::RateLimited => ExitStatus::RateLimited,
    }
}

pub fn run(s: &Settings, out: &Output, args: &DownloadArgs) -> anyhow::Result<ExitStatus> {
    let Session { client, plan, opts, parallel, conn, .. } = Session::open(s, &selection(args))?;
    let progress = Transfers::new(Mode::detect(s.quiet, s.log_interval), plan.jobs.len() as u64);
    let (mut ok, mut failed, mut fatal) = (0usize, 0usize, None);
    let mut results = out.stream();
    let mut failure = None;
    let mut report = |r: ZoneResult| {
        let line = match r.status {
            Status::Failed => {
                failed += 1;
                fatal = fatal.or(r.fatal);
                out.item_failed(&format!("{}: {}", r.tld, r.reason.as_deref().unwrap_or("failed")));
                None
            }
            status => {
                ok += 1;
                if status == Status::Downloaded {
                    if let Err(e) = crate::store::record_download(&conn, &r.record()) {
                        eprintln!("warning: {}: downloaded, but recording it in `{}` failed: {e}", r.tld, s.db.display());
                    }
                }
                let what = if status == Status::Skipped { "unchanged, skipped" } else { "downloaded" };
                let file = r.file.as_deref().map_or(String::new(), |f| f.display().to_string());
                Some(format!("{}: {what}, {}, {file}", r.tld, human_bytes(r.bytes)))
            }
        };
        if let Err(e) = results.push(&r, line) {
            failure.get_or_insert(e);
        }
    };
    for r in plan.refused {
        report(r);
    }
    download::fetch_all(&client, &plan.jobs, &opts, parallel, &progress, &mut report);
    progress.finish();
    if let Some(e) = failure {
        return Err(e);
    }
    results.finish()?;
    Ok(fatal.map_or_else(|| ExitStatus::of_items(ok, failed), fatal_status))
}
