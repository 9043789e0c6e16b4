//! The CZDS commands: `download`, `sync` and `requests`.

use super::prelude::*;

/// What `download` and `sync` share: settings resolved, the directory locked, the zone list
/// fetched and filtered.
struct CzdsRun {
    client: czds::Client,
    plan: download::Plan,
    opts: download::Options,
    parallel: usize,
    conn: rusqlite::Connection,
    _dir_lock: std::fs::File,
}

fn czds_run(s: &Settings, args: &DownloadArgs) -> Result<CzdsRun, ExitCode> {
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(code::USAGE)
    };
    let (client, czds_cfg) = czds_client(s, args.username.as_deref(), args.password_file.as_deref())?;
    let dir = args.dir.clone().unwrap_or_else(|| czds_cfg.work_dir.join("zonefiles"));
    let opts = config::download_options(&s.config, dir.clone(), args.force).map_err(|e| usage(&e))?;
    let parallel = s.config.positive_integer("download.parallel").map_err(|e| usage(&e))?;
    let parallel = args.parallel.or(parallel.map(|p| p as usize)).unwrap_or(4).max(1);
    let wanted = if args.tlds.is_empty() { s.config.string_list("tlds").map_err(|e| usage(&e))? } else { Some(args.tlds.clone()) };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: `{}`: {e}", dir.display());
        return Err(ExitCode::from(code::FAILED));
    }
    // One downloader per directory: a second run waits, then exits 5.
    let what = format!("`{}` is busy: another zonefeed is downloading there", dir.display());
    let _dir_lock = exclusive_lock(&dir.join(".zonefeed-download.lock"), &what, s.wait)?;
    let conn = store::open_rw(&s.db, s.wait).map_err(|e| store_failure(&e))?;
    let links = client.links().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(e.exit_code())
    })?;
    let plan = download::plan(&links, wanted.as_deref(), &args.exclude);
    Ok(CzdsRun { client, plan, opts, parallel, conn, _dir_lock })
}

pub fn download(s: &Settings, args: &DownloadArgs) -> ExitCode {
    let CzdsRun { client, plan, opts, parallel, conn, _dir_lock } = match czds_run(s, args) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let progress = Transfers::new(Mode::detect(s.quiet, s.log_interval), plan.jobs.len() as u64);
    let (mut ok, mut failed, mut fatal) = (0usize, 0usize, None);
    let mut report = |r: download::ZoneResult| {
        match r.status {
            "failed" => {
                failed += 1;
                fatal = fatal.or(r.fatal);
                eprintln!("error: {}: {}", r.tld, r.reason.as_deref().unwrap_or("failed"));
            }
            status => {
                ok += 1;
                if status == "downloaded" {
                    if let Err(e) = download::record(&conn, &r) {
                        eprintln!("warning: {}: downloaded, but recording it in `{}` failed: {e}", r.tld, s.db.display());
                    }
                }
                if !s.json && !s.quiet {
                    let what = if status == "skipped" { "unchanged, skipped" } else { "downloaded" };
                    println!(
                        "{}: {what}, {}, {}",
                        r.tld,
                        human_bytes(r.bytes),
                        r.file.as_deref().map_or(String::new(), |f| f.display().to_string())
                    );
                }
            }
        }
        if s.json {
            println!("{}", serde_json::to_string(&r).unwrap_or_default());
        }
    };
    for r in plan.refused {
        report(r);
    }
    download::fetch_all(&client, &plan.jobs, &opts, parallel, &progress, &mut report);
    progress.finish();
    fatal.map_or_else(|| outcome(ok, failed), ExitCode::from)
}

pub fn sync(s: &Settings, args: &SyncArgs) -> ExitCode {
    run_sync(s, args).0
}

/// A sync; also returns the zones it covered and whether each went well (for the service).
pub fn run_sync(s: &Settings, args: &SyncArgs) -> (ExitCode, Vec<(String, bool)>) {
    let mut zones = Vec::new();
    let code = sync_into(s, args, &mut zones);
    (code, zones)
}

fn sync_into(s: &Settings, args: &SyncArgs, zones: &mut Vec<(String, bool)>) -> ExitCode {
    let (endpoints, delivery) = match webhook_config(s) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The same lock as import: overlapping cron runs wait, then exit 5.
    let _db_lock = match store::WriteLock::acquire(&s.db, s.wait) {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let CzdsRun { client, plan, opts, parallel, mut conn, _dir_lock } = match czds_run(s, &args.download) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let import = ingest::Options {
        tld: None,
        no_records: args.no_records,
        max_errors: args.max_errors,
        memory: args.memory,
        chunk: args.chunk_size.unwrap_or(ingest::source::CHUNK).max(1),
        spill_dir: spill_dir(&s.db),
        show_errors: 20,
        parser: Default::default(),
        force: args.force_import,
        max_removed: args.max_removed,
        webhooks: endpoints.clone(),
    };
    let mode = Mode::detect(s.quiet, s.log_interval);
    let transfers = Transfers::new(mode, plan.jobs.len() as u64);
    // Bars belong to the transfers; an import shows its progress as log lines only under cron.
    let progress = Progress::new(if matches!(mode, Mode::Bar) { Mode::Quiet } else { mode });
    let (mut ok, mut failed, mut fatal) = (0usize, 0usize, None);
    let mut report = |z: sync::ZoneSync| {
        zones.push((z.tld.clone(), z.status == "ok"));
        fatal = fatal.or(z.download.fatal);
        if z.status == "ok" {
            ok += 1;
        } else {
            failed += 1;
            eprintln!("error: {}: {}", z.tld, z.error.as_deref().unwrap_or("failed"));
        }
        if s.json {
            println!("{}", serde_json::to_string(&z).unwrap_or_default());
        } else if !s.quiet && z.status == "ok" {
            let got = match z.download.status {
                "skipped" => "unchanged file".to_string(),
                _ => format!("downloaded {}", human_bytes(z.download.bytes)),
            };
            let imported = match &z.import {
                Some(i) if i.unchanged => "already imported".to_string(),
                Some(i) => format!(
                    "version {}: {} new, {} changed, {} removed{}",
                    i.version,
                    i.new_domains,
                    i.changed_domains,
                    i.removed_domains,
                    if z.overlapped { " (imported while downloading)" } else { "" }
                ),
                None => String::new(),
            };
            println!("{}: {got}, {imported}", z.tld);
        }
    };
    for r in plan.refused {
        report(sync::ZoneSync {
            tld: r.tld.clone(),
            status: "failed",
            error: r.reason.clone(),
            download: r,
            import: None,
            overlapped: false,
        });
    }
    let cx = sync::Context { client: &client, download: &opts, import: &import, transfers: &transfers, progress: &progress };
    sync::run(&cx, &plan.jobs, parallel, &mut conn, &mut report);
    transfers.finish();
    let mut webhooks_failed = 0;
    if !args.no_webhooks && !endpoints.is_empty() {
        let _lock = match webhooks_lock(s) {
            Ok(l) => l,
            Err(code) => return code,
        };
        match webhooks::deliver(&conn, &endpoints, &delivery) {
            Ok(done) => webhooks_failed = report_deliveries(s, &done),
            Err(e) => {
                eprintln!("error: webhooks: `{}`: {e}", s.db.display());
                webhooks_failed = 1;
            }
        }
    }
    fatal.map_or_else(|| outcome(ok, failed + webhooks_failed), ExitCode::from)
}

pub fn requests_cmd(s: &Settings, args: &RequestsArgs) -> ExitCode {
    let client = match czds_client(s, args.username.as_deref(), args.password_file.as_deref()) {
        Ok((client, _)) => client,
        Err(code) => return code,
    };
    match requests_run(s, &client, &args.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// A TLD or a request id: the request it names (ids are matched as given, TLDs exactly).
fn find_request(client: &czds::Client, what: &str) -> Result<Option<requests::Request>, czds::CzdsError> {
    let tld = what.trim().trim_end_matches('.').to_ascii_lowercase();
    let by_tld = requests::list(client, &requests::Query { tlds: vec![tld], ..Default::default() })?;
    // The newest request of that TLD is the one that matters.
    if let Some(r) = by_tld.into_iter().max_by(|a, b| a.created.cmp(&b.created)) {
        return Ok(Some(r));
    }
    Ok(requests::list(client, &requests::Query::default())?.into_iter().find(|r| r.request_id == what))
}

fn requests_run(s: &Settings, client: &czds::Client, cmd: &RequestsCommand) -> Result<ExitCode, czds::CzdsError> {
    let norm = |t: &String| t.trim().trim_end_matches('.').to_ascii_lowercase();
    match cmd {
        RequestsCommand::List { status, tld, expiring_within, format } => {
            let q = requests::Query { status: status.clone().unwrap_or_default(), tlds: tld.iter().map(norm).collect(), sort: None };
            let mut list = requests::list(client, &q)?;
            if let Some(days) = expiring_within {
                let limit = store::unix_now() + days * 86400;
                list.retain(|r| r.expires().is_some_and(|t| t <= limit));
            }
            let format = if s.json { "json" } else { format.as_str() };
            for r in &list {
                match format {
                    "json" => println!("{}", serde_json::to_string(r).unwrap_or_default()),
                    "tsv" => println!("{}\t{}\t{}\t{}", r.tld, r.status, r.expired.as_deref().unwrap_or(""), r.request_id),
                    _ => println!("{:<24} {:<10} expires {:<24} {}", r.tld, r.status, r.expired.as_deref().unwrap_or("-"), r.request_id),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RequestsCommand::Show { what } => match find_request(client, what)? {
            Some(r) => {
                let d = requests::details(client, &r.request_id)?;
                println!("{}", serde_json::to_string_pretty(&d).unwrap_or_default());
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("error: no request for `{what}`");
                Ok(ExitCode::from(code::FAILED))
            }
        },
        RequestsCommand::Extend { tlds, within, dry_run } => {
            let done = requests::extend(client, &tlds.iter().map(norm).collect::<Vec<_>>(), *within, *dry_run)?;
            let failed = done.iter().filter(|e| e.action == "failed").count();
            for e in &done {
                if s.json {
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                } else if !s.quiet || e.action == "failed" {
                    println!("{}: {} (expires {}): {}", e.tld, e.action, e.expired.as_deref().unwrap_or("-"), e.reason);
                }
            }
            if done.is_empty() && !s.quiet && !s.json {
                println!("nothing expires within {within} days");
            }
            Ok(outcome(done.len() - failed, failed))
        }
        RequestsCommand::New { tlds, all, exclude, reason, yes } => {
            let exclude: Vec<String> = exclude.iter().map(norm).collect();
            let existing = requests::list(client, &requests::Query::default())?;
            let open: std::collections::BTreeSet<String> =
                existing.iter().filter(|r| requests::is_open(&r.status)).map(|r| r.tld.to_ascii_lowercase()).collect();
            let wanted: Vec<String> = if *all {
                requests::tlds(client)?.iter().map(|t| t.tld.to_ascii_lowercase()).collect()
            } else {
                tlds.iter().map(norm).collect()
            };
            let mut send = Vec::new();
            for t in wanted {
                if exclude.contains(&t) || send.contains(&t) {
                    continue;
                }
                if open.contains(&t) {
                    if !*all {
                        eprintln!("{t}: refused: already approved or pending");
                    }
                    continue;
                }
                send.push(t);
            }
            if send.is_empty() {
                eprintln!("error: nothing to request (every TLD named is approved or pending already)");
                return Ok(ExitCode::from(code::FAILED));
            }
            let (version, url) = requests::terms(client)?;
            eprintln!("CZDS terms and conditions version {version}{}", if url.is_empty() { String::new() } else { format!(": {url}") });
            eprintln!("requesting {} TLDs: {}", send.len(), send.join(" "));
            if !*yes {
                use std::io::{BufRead, IsTerminal};
                if !std::io::stdin().is_terminal() {
                    eprintln!("error: not a terminal to ask on; read the terms, then give --yes");
                    return Ok(ExitCode::from(code::USAGE));
                }
                eprint!("accept these terms and send the request? [y/N] ");
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    eprintln!("nothing sent");
                    return Ok(ExitCode::from(code::FAILED));
                }
            }
            requests::create(client, &send, reason, &version)?;
            if s.json {
                println!("{}", serde_json::json!({"requested": send, "tc_version": version}));
            } else if !s.quiet {
                println!("requested {} TLDs (terms version {version})", send.len());
            }
            Ok(ExitCode::SUCCESS)
        }
        RequestsCommand::Cancel { what } => match find_request(client, what)? {
            Some(r) => {
                requests::cancel(client, &r)?;
                if !s.quiet {
                    println!("{}: request {} canceled", r.tld, r.request_id);
                }
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!("error: no request for `{what}`");
                Ok(ExitCode::from(code::FAILED))
            }
        },
        RequestsCommand::Tlds => {
            for t in requests::tlds(client)? {
                if s.json {
                    println!("{}", serde_json::to_string(&t).unwrap_or_default());
                } else {
                    println!("{:<24} {}", t.tld, t.current_status.as_deref().unwrap_or("-"));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
