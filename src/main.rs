//! The `zonefeed` binary: flags in, a command run, an exit code out.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use zonefeed::changes::{self, webhooks};
use zonefeed::cli::{
    ChangesArgs, CheckArgs, Cli, Command, DomainArgs, DownloadArgs, ImportArgs, PruneArgs, RequestsArgs, RequestsCommand, SearchArgs,
    ServeArgs, ServiceArgs, ServiceCommand, StatsArgs, SyncArgs, WatchArgs, WatchCommand, WebhooksArgs, WebhooksCommand,
};
use zonefeed::config::{self, CzdsSettings, Settings};
use zonefeed::czds::requests;
use zonefeed::czds::{self, download};
use zonefeed::ingest::{self, source::Input, ImportError};
use zonefeed::progress::{Mode, Progress, Transfers};
use zonefeed::query;
use zonefeed::service::{self, Wake, Window};
use zonefeed::store::{self, StoreError};
use zonefeed::sync;

// mimalloc: the parse workers and the sorter allocate from several threads at once, where
// glibc's allocator contends; mimalloc keeps per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes: part of the interface, written in the README.
mod code {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const BUSY: u8 = 5;
    pub const PARTIAL: u8 = 6;
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::resolve(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    match cli.command {
        Command::Import(args) => import(&settings, &args),
        Command::Download(args) => download(&settings, &args),
        Command::Sync(args) => sync(&settings, &args),
        Command::Requests(args) => requests_cmd(&settings, &args),
        Command::Service(args) => service_cmd(&settings, &args),
        Command::Changes(args) => list_changes(&settings, &args),
        Command::Domain(args) => domain_cmd(&settings, &args),
        Command::Search(args) => search_cmd(&settings, &args),
        Command::Stats(args) => stats_cmd(&settings, &args),
        Command::Check(args) => check_cmd(&settings, &args),
        Command::Watch(args) => watch_cmd(&settings, &args),
        Command::Serve(args) => serve_cmd(&settings, &args),
        Command::Webhooks(args) => webhooks_cmd(&settings, &args),
        Command::Prune(args) => prune(&settings, &args),
    }
}

fn sync(s: &Settings, args: &SyncArgs) -> ExitCode {
    run_sync(s, args).0
}

/// A sync; also returns the zones it covered and whether each went well (for the service).
fn run_sync(s: &Settings, args: &SyncArgs) -> (ExitCode, Vec<(String, bool)>) {
    let mut zones = Vec::new();
    let code = sync_into(s, args, &mut zones);
    (code, zones)
}

fn sync_into(s: &Settings, args: &SyncArgs, zones: &mut Vec<(String, bool)>) -> ExitCode {
    let (endpoints, delivery) = match (webhooks::endpoints(&s.config), webhooks::DeliveryOptions::from_config(&s.config)) {
        (Ok(e), Ok(o)) => (e, o),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
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
    match (fatal, ok, failed + webhooks_failed) {
        (Some(c), _, _) => ExitCode::from(c),
        (None, _, 0) => ExitCode::SUCCESS,
        (None, 0, _) => ExitCode::from(code::FAILED),
        _ => ExitCode::from(code::PARTIAL),
    }
}

/// The service's files: pid and log, in the working directory unless the config says otherwise.
fn requests_cmd(s: &Settings, args: &RequestsArgs) -> ExitCode {
    let czds_cfg = match CzdsSettings::resolve(&s.config, args.username.as_deref(), args.password_file.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let client = czds::Client::new(
        czds_cfg.endpoints.clone(),
        czds_cfg.credentials.clone(),
        czds::TokenCache::new(czds_cfg.token_cache()),
        &czds_cfg.http,
    );
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
            Ok(match failed {
                0 => ExitCode::SUCCESS,
                n if n == done.len() => ExitCode::from(code::FAILED),
                _ => ExitCode::from(code::PARTIAL),
            })
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

fn service_files(s: &Settings) -> Result<(std::path::PathBuf, std::path::PathBuf), config::ConfigError> {
    let work = s.config.string("working.directory")?.map_or_else(|| std::path::PathBuf::from("."), std::path::PathBuf::from);
    let pid = s.config.string("service.pid_file")?.map_or_else(|| work.join("zonefeed-service.pid"), std::path::PathBuf::from);
    let log = s.config.string("service.log_file")?.map_or_else(|| work.join("zonefeed-service.log"), std::path::PathBuf::from);
    Ok((pid, log))
}

/// The pid in the pid file, if that process is alive.
fn service_pid(pid_file: &std::path::Path) -> Option<i32> {
    let pid: i32 = std::fs::read_to_string(pid_file).ok()?.trim().parse().ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    #[cfg(unix)]
    let alive = pid > 0 && unsafe { libc::kill(pid, 0) } == 0;
    #[cfg(not(unix))]
    let alive = false;
    alive.then_some(pid)
}

fn service_cmd(s: &Settings, args: &ServiceArgs) -> ExitCode {
    let (window, (pid_file, log_file)) = match (Window::from_config(&s.config), service_files(s)) {
        (Ok(w), Ok(f)) => (w, f),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    for f in [&pid_file, &log_file] {
        if let Some(dir) = f.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    match args.command {
        ServiceCommand::Run => service_loop(s, &window, &pid_file, false),
        ServiceCommand::RunOnce => service_loop(s, &window, &pid_file, true),
        ServiceCommand::Start => {
            if let Some(pid) = service_pid(&pid_file) {
                eprintln!("error: the service already runs (pid {pid}, `{}`)", pid_file.display());
                return ExitCode::from(code::FAILED);
            }
            let log = match std::fs::OpenOptions::new().create(true).append(true).open(&log_file) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("error: log file `{}`: {e}", log_file.display());
                    return ExitCode::from(code::FAILED);
                }
            };
            let exe = std::env::current_exe().unwrap_or_else(|_| "zonefeed".into());
            let mut cmd = std::process::Command::new(exe);
            cmd.arg("--db").arg(&s.db).arg("--wait").arg(s.wait.as_secs().to_string());
            if let Some(c) = s.config.path().to_str().filter(|c| !c.is_empty()) {
                cmd.arg("--config").arg(c);
            }
            cmd.args(["service", "run"]).stdin(std::process::Stdio::null());
            match log.try_clone() {
                Ok(l2) => cmd.stdout(log).stderr(l2),
                Err(_) => cmd.stdout(log),
            };
            // Its own process group: a closing terminal does not take it down.
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            match cmd.spawn() {
                Ok(child) => {
                    if !s.quiet {
                        println!("service started (pid {}), log `{}`", child.id(), log_file.display());
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: starting the service: {e}");
                    ExitCode::from(code::FAILED)
                }
            }
        }
        ServiceCommand::Stop => {
            let Some(pid) = service_pid(&pid_file) else {
                eprintln!("error: the service is not running (`{}`)", pid_file.display());
                return ExitCode::from(code::FAILED);
            };
            // SAFETY: a plain signal to a pid read from our own pid file. Stopping at any point
            // is safe: imports commit atomically and downloads resume.
            #[cfg(unix)]
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let start = std::time::Instant::now();
            while service_pid(&pid_file).is_some() && start.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = std::fs::remove_file(&pid_file);
            if !s.quiet {
                println!("service stopped (pid {pid})");
            }
            ExitCode::SUCCESS
        }
        ServiceCommand::Status => {
            let running = service_pid(&pid_file);
            let runs = if s.db.exists() {
                store::open_ro(&s.db).ok().and_then(|c| service::runs(&c, 5).ok()).unwrap_or_default()
            } else {
                Vec::new()
            };
            if s.json {
                println!("{}", serde_json::json!({"running": running.is_some(), "pid": running, "runs": runs}));
            } else {
                match running {
                    Some(pid) => println!("running (pid {pid})"),
                    None => println!("not running"),
                }
                for r in &runs {
                    println!(
                        "run {} at {}: {} ({} zones: {} ok, {} failed, {} still waiting for today's file){}",
                        r.id,
                        r.started_at,
                        r.result,
                        r.zones,
                        r.ok,
                        r.failed,
                        r.pending,
                        r.next_run.as_deref().map_or(String::new(), |n| format!(", next run {n}"))
                    );
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// The service: sync pending zones when [`service::next_wake`] says so, sleep otherwise.
/// `once`: one run now, whatever the window.
fn service_loop(s: &Settings, window: &Window, pid_file: &std::path::Path, once: bool) -> ExitCode {
    if !once {
        if let Some(pid) = service_pid(pid_file).filter(|&p| p != std::process::id() as i32) {
            eprintln!("error: the service already runs (pid {pid})");
            return ExitCode::from(code::FAILED);
        }
        if let Err(e) = std::fs::write(pid_file, std::process::id().to_string()) {
            eprintln!("error: pid file `{}`: {e}", pid_file.display());
            return ExitCode::from(code::FAILED);
        }
    }
    let no_records = match s.config.boolean("service.no_records") {
        Ok(v) => v.unwrap_or(false),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let log = |msg: &str| eprintln!("{} zonefeed service: {msg}", store::now_utc());
    let mut day = service::utc_day(store::unix_now());
    // None: every zone (the day's first run); Some: the zones still waiting for today's file.
    let mut pending: Option<Vec<String>> = None;
    let mut last_check = None;
    loop {
        let now = store::unix_now();
        if service::utc_day(now) != day {
            day = service::utc_day(now);
            pending = None;
            last_check = None;
        }
        let waiting = pending.as_ref().is_none_or(|p| !p.is_empty());
        let wake = if once { Wake::Now } else { service::next_wake(now, window, waiting, last_check) };
        if let Wake::At(t) = wake {
            log(&format!("next check at {}", store::utc(t)));
            // Short sleeps: a suspended machine or a clock change is noticed within a minute.
            while store::unix_now() < t {
                std::thread::sleep(std::time::Duration::from_secs((t - store::unix_now()).clamp(1, 60) as u64));
            }
            continue;
        }
        let conn = match store::open_rw(&s.db, s.wait) {
            Ok(c) => c,
            Err(e) => return store_failure(&e),
        };
        let run = service::record_start(&conn, now).unwrap_or(0);
        let tlds = pending.clone().unwrap_or_default();
        log(&format!("sync of {}", if tlds.is_empty() { "every zone".to_string() } else { tlds.join(" ") }));
        let args = SyncArgs {
            download: DownloadArgs {
                tlds,
                exclude: Vec::new(),
                dir: None,
                parallel: None,
                force: false,
                username: None,
                password_file: None,
            },
            no_records,
            max_errors: 0,
            memory: 2 << 30,
            max_removed: 5.0,
            force_import: false,
            no_webhooks: false,
            chunk_size: None,
        };
        let (code, zones) = run_sync(s, &args);
        let failed = zones.iter().filter(|(_, ok)| !ok).count();
        let still: Vec<String> =
            zones.iter().map(|(t, _)| t).filter(|t| !service::day_done(&conn, t, &day).unwrap_or(false)).cloned().collect();
        last_check = Some(now);
        let after = store::unix_now();
        let next = match service::next_wake(after, window, !still.is_empty(), last_check) {
            Wake::At(t) => t,
            Wake::Now => after,
        };
        let result = match code {
            c if c == ExitCode::SUCCESS => "ok".to_string(),
            _ => "some zones failed".to_string(),
        };
        log(&format!("{} zones, {} still waiting for today's file: {result}", zones.len(), still.len()));
        let r = service::Run {
            id: run,
            started_at: store::utc(now),
            finished_at: Some(store::now_utc()),
            zones: zones.len() as i64,
            ok: (zones.len() - failed) as i64,
            failed: failed as i64,
            pending: still.len() as i64,
            result,
            next_run: (!once).then(|| store::utc(next)),
        };
        let _ = service::record_end(&conn, run, &r);
        pending = Some(still);
        if once {
            return code;
        }
    }
}

fn webhooks_cmd(s: &Settings, args: &WebhooksArgs) -> ExitCode {
    let (endpoints, opts) = match (webhooks::endpoints(&s.config), webhooks::DeliveryOptions::from_config(&s.config)) {
        (Ok(e), Ok(o)) => (e, o),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    if endpoints.is_empty() {
        eprintln!("error: no webhook endpoints: add a `webhooks` list to the config file (see `zonefeed webhooks --help`)");
        return ExitCode::from(code::USAGE);
    }
    if let WebhooksCommand::Test { url } = &args.command {
        return webhooks_test(s, &endpoints, &opts, url.as_deref());
    }
    // One deliverer at a time per database: two would send the same batch twice.
    let _lock = match webhooks_lock(s) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let conn = match store::open_rw(&s.db, s.wait) {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let sql_failure = |e: rusqlite::Error| {
        eprintln!("error: `{}`: {e}", s.db.display());
        ExitCode::from(code::FAILED)
    };
    match &args.command {
        WebhooksCommand::Status => match webhooks::status(&conn, &endpoints) {
            Ok(rows) => {
                for r in rows {
                    if s.json {
                        println!("{}", serde_json::to_string(&r).unwrap_or_default());
                    } else {
                        println!(
                            "{}: {} events waiting ({} open batches), {} events delivered in {} batches{}{}{}",
                            r.endpoint,
                            r.pending_events,
                            r.open_batches,
                            r.delivered_events,
                            r.delivered_batches,
                            r.last_error.map_or(String::new(), |e| format!(", last error: {e}")),
                            r.next_attempt.map_or(String::new(), |t| format!(", next attempt {t}")),
                            r.disabled.map_or(String::new(), |d| format!(", DISABLED ({d}; `zonefeed webhooks enable URL`)")),
                        );
                    }
                }
                ExitCode::SUCCESS
            }
            Err(e) => sql_failure(e),
        },
        WebhooksCommand::Deliver => match webhooks::deliver(&conn, &endpoints, &opts) {
            Ok(done) => {
                let failed = report_deliveries(s, &done);
                match failed {
                    0 => ExitCode::SUCCESS,
                    n if n == done.len() => ExitCode::from(code::FAILED),
                    _ => ExitCode::from(code::PARTIAL),
                }
            }
            Err(e) => sql_failure(e),
        },
        WebhooksCommand::Enable { url } => match webhooks::enable(&conn, url) {
            Ok(true) => {
                println!("{url}: enabled");
                ExitCode::SUCCESS
            }
            Ok(false) => {
                eprintln!("error: `{url}` is not disabled");
                ExitCode::from(code::FAILED)
            }
            Err(e) => sql_failure(e),
        },
        WebhooksCommand::Test { url } => webhooks_test(s, &endpoints, &opts, url.as_deref()),
    }
}

/// Prints what a delivery did; returns how many endpoints still wait for events.
fn report_deliveries(s: &Settings, done: &[webhooks::Delivered]) -> usize {
    let mut failed = 0;
    for d in done {
        failed += usize::from(d.pending > 0 || d.disabled);
        if s.json {
            println!("{}", serde_json::to_string(d).unwrap_or_default());
        } else if !s.quiet {
            println!("{}: {} events delivered in {} batches, {} waiting", d.endpoint, d.events, d.batches, d.pending);
        }
        if d.pending > 0 || d.disabled {
            eprintln!("error: {}: {}", d.endpoint, d.error.as_deref().unwrap_or("not everything was delivered"));
        }
    }
    failed
}

fn webhooks_lock(s: &Settings) -> Result<std::fs::File, ExitCode> {
    let path = std::path::PathBuf::from(format!("{}.webhooks.lock", s.db.display()));
    exclusive_lock(&path, &format!("webhooks of `{}` are busy: another zonefeed is delivering", s.db.display()), s.wait)
}

fn webhooks_test(s: &Settings, endpoints: &[webhooks::Endpoint], opts: &webhooks::DeliveryOptions, url: Option<&str>) -> ExitCode {
    let chosen: Vec<_> = endpoints.iter().filter(|e| url.is_none_or(|u| u == e.url)).collect();
    if chosen.is_empty() {
        eprintln!("error: `{}` is not in the config's `webhooks` list", url.unwrap_or(""));
        return ExitCode::from(code::USAGE);
    }
    let mut failed = 0;
    for e in chosen {
        let (ok, what) = match webhooks::test(e, opts) {
            Ok(st) if (200..300).contains(&st) => (true, format!("HTTP {st}")),
            Ok(st) => (false, format!("HTTP {st}")),
            Err(why) => (false, why),
        };
        failed += usize::from(!ok);
        if s.json {
            println!("{}", serde_json::json!({"endpoint": e.url, "ok": ok, "result": what}));
        } else {
            println!("{}: {}", e.url, if ok { format!("ok ({what})") } else { format!("failed: {what}") });
        }
    }
    ExitCode::from(if failed == 0 { 0 } else { code::FAILED })
}

fn prune(s: &Settings, args: &PruneArgs) -> ExitCode {
    let _lock = match store::WriteLock::acquire(&s.db, s.wait) {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let conn = match store::open_rw(&s.db, s.wait) {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let cutoff = store::utc(store::unix_now() - i64::from(args.keep_days) * 86400);
    match store::prune(&conn, &cutoff) {
        Ok(p) => {
            if s.json {
                println!("{}", serde_json::to_string(&p).unwrap_or_default());
            } else if !s.quiet {
                println!(
                    "pruned before {cutoff}: {} events, {} outbox rows, {} webhook batches, {} old versions, {} download records",
                    p.events, p.outbox, p.batches, p.versions, p.downloads
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: `{}`: {e}", s.db.display());
            ExitCode::from(code::FAILED)
        }
    }
}

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
    let czds_cfg = CzdsSettings::resolve(&s.config, args.username.as_deref(), args.password_file.as_deref()).map_err(|e| usage(&e))?;
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
    let client = czds::Client::new(
        czds_cfg.endpoints.clone(),
        czds_cfg.credentials.clone(),
        czds::TokenCache::new(czds_cfg.token_cache()),
        &czds_cfg.http,
    );
    let links = client.links().map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(e.exit_code())
    })?;
    let plan = download::plan(&links, wanted.as_deref(), &args.exclude);
    Ok(CzdsRun { client, plan, opts, parallel, conn, _dir_lock })
}

/// A lock file held for the whole command; exit 5 when another process keeps it past `wait`.
fn exclusive_lock(path: &std::path::Path, busy: &str, wait: std::time::Duration) -> Result<std::fs::File, ExitCode> {
    match zonefeed::lock::exclusive(path, wait) {
        Ok(l) => Ok(l),
        Err(zonefeed::lock::LockError::Busy) => {
            eprintln!("error: {busy} (waited {}s)", wait.as_secs());
            Err(ExitCode::from(code::BUSY))
        }
        Err(zonefeed::lock::LockError::Io(e)) => {
            eprintln!("error: lock file `{}`: {e}", path.display());
            Err(ExitCode::from(code::FAILED))
        }
    }
}

fn download(s: &Settings, args: &DownloadArgs) -> ExitCode {
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
    match (fatal, ok, failed) {
        (Some(c), _, _) => ExitCode::from(c),
        (None, _, 0) => ExitCode::SUCCESS,
        (None, 0, _) => ExitCode::from(code::FAILED),
        _ => ExitCode::from(code::PARTIAL),
    }
}

fn import(s: &Settings, args: &ImportArgs) -> ExitCode {
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global();
    }
    let webhooks = match webhooks::endpoints(&s.config) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let _lock = match store::WriteLock::acquire(&s.db, s.wait) {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let mut conn = match store::open_rw(&s.db, s.wait) {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let spill_dir = spill_dir(&s.db);
    let opts = ingest::Options {
        tld: args.tld.clone(),
        no_records: args.no_records,
        max_errors: args.max_errors,
        memory: args.memory,
        chunk: args.chunk_size.unwrap_or(ingest::source::CHUNK).max(1),
        spill_dir,
        show_errors: 20,
        parser: Default::default(),
        force: args.force,
        max_removed: args.max_removed,
        webhooks,
    };
    let progress = Progress::new(Mode::detect(s.quiet, s.log_interval));
    let (mut ok, mut failed, mut busy) = (0, 0, false);
    for f in &args.files {
        let input = Input::from_arg(f);
        let mut opts = opts.clone();
        if args.allow_include {
            // Confined to the zone file's own directory (the working directory for stdin).
            let dir = input.path().and_then(|p| p.parent()).filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            match dir.canonicalize() {
                Ok(dir) => opts.parser.include = Some(zonefeed::zone::parser::Include { dir, depth: 0 }),
                Err(e) => {
                    eprintln!("error: {f}: {e}");
                    failed += 1;
                    continue;
                }
            }
        }
        match ingest::import(&mut conn, &input, &opts, &progress) {
            Ok(sum) => {
                ok += 1;
                if s.json {
                    println!("{}", serde_json::to_string(&sum).unwrap_or_default());
                } else if !s.quiet {
                    if sum.unchanged {
                        println!("{}: unchanged (same SHA-256 as version {}), nothing imported", sum.tld, sum.version);
                    } else {
                        println!(
                            "{}: version {}, serial {}, {} records, {} domains ({} new, {} changed, {} removed), {} errors, {:.1} MB in {:.2} s ({:.0} MB/s)",
                            sum.tld,
                            sum.version,
                            sum.serial.map_or("-".into(), |s| s.to_string()),
                            sum.records,
                            sum.domains,
                            sum.new_domains,
                            sum.changed_domains,
                            sum.removed_domains,
                            sum.errors,
                            sum.bytes as f64 / 1e6,
                            sum.seconds,
                            sum.bytes as f64 / 1e6 / sum.seconds.max(1e-6)
                        );
                    }
                }
            }
            Err(e) => {
                failed += 1;
                busy |= e.is_busy();
                report(&e);
                if s.json {
                    let v = serde_json::json!({"file": f, "error": e.to_string()});
                    println!("{v}");
                }
            }
        }
    }
    match (ok, failed) {
        (_, 0) => ExitCode::SUCCESS,
        (0, _) if busy => ExitCode::from(code::BUSY),
        (0, _) => ExitCode::from(code::FAILED),
        _ => ExitCode::from(code::PARTIAL),
    }
}

/// A read-only connection, or the exit code saying why there is none.
fn open_query_db(s: &Settings) -> Result<rusqlite::Connection, ExitCode> {
    if !s.db.exists() {
        eprintln!("error: no database at `{}` (import a zone first, or give --db)", s.db.display());
        return Err(ExitCode::from(code::FAILED));
    }
    store::open_ro(&s.db).map_err(|e| store_failure(&e))
}

fn query_failure(s: &Settings, e: rusqlite::Error) -> ExitCode {
    eprintln!("error: `{}`: {e}", s.db.display());
    ExitCode::from(code::FAILED)
}

fn domain_cmd(s: &Settings, args: &DomainArgs) -> ExitCode {
    let name = match query::normalize(&args.name) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let conn = match open_query_db(s) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let found = match query::domain(&conn, &name, args.history) {
        Ok(f) => f,
        Err(e) => return query_failure(s, e),
    };
    if found.is_empty() {
        eprintln!("error: {name}: not in any imported zone");
        return ExitCode::from(code::FAILED);
    }
    if s.json || args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&found).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    for d in &found {
        let shown = if d.unicode != d.name { format!("{} ({})", d.name, d.unicode) } else { d.name.clone() };
        println!("{shown} in zone {} (version {})", d.tld, d.zone_version);
        println!("  first seen {}, last changed {}, last seen {}", d.first_seen, d.last_changed, d.last_seen);
        if let Some(r) = &d.removed_at {
            println!("  REMOVED at {r}");
        }
        if !d.records_kept {
            println!("  (records not kept: the zone was imported with --no-records)");
        }
        for r in &d.records {
            println!("  {}\t{}\t{}\t{}", r.owner, r.ttl, r.rtype, r.rdata);
        }
        if let Some(h) = &d.history {
            println!("  history:");
            for e in h {
                println!("    {}  v{}  {}", e.at, e.zone_version, e.kind);
            }
        }
    }
    ExitCode::SUCCESS
}

fn search_cmd(s: &Settings, args: &SearchArgs) -> ExitCode {
    let pattern = match (&args.query, &args.contains, &args.glob) {
        (_, Some(w), _) => Ok(query::Pattern::Contains(w.clone())),
        (_, _, Some(g)) => Ok(query::Pattern::Glob(g.clone())),
        (Some(q), _, _) => query::Pattern::parse(q),
        _ => unreachable!("clap requires one of them"),
    };
    let (pattern, tld) = match (pattern, args.tld.as_deref().map(query::normalize).transpose()) {
        (Ok(p), Ok(t)) => (p, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let conn = match open_query_db(s) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let hits = match query::search(&conn, &pattern, tld.as_deref(), args.limit) {
        Ok(h) => h,
        Err(e) => return query_failure(s, e),
    };
    let format = if s.json { "json" } else { args.format.as_str() };
    match format {
        "json" => println!("{}", serde_json::to_string_pretty(&hits).unwrap_or_default()),
        "jsonl" => hits.iter().for_each(|h| println!("{}", serde_json::to_string(h).unwrap_or_default())),
        "tsv" => hits.iter().for_each(|h| println!("{}\t{}", h.name, h.tld)),
        _ => hits.iter().for_each(|h| if h.unicode != h.name { println!("{} ({})", h.name, h.unicode) } else { println!("{}", h.name) }),
    }
    ExitCode::SUCCESS
}

/// The zone named, or every current zone.
fn zones_asked(s: &Settings, conn: &rusqlite::Connection, tld: Option<&str>) -> Result<Vec<String>, ExitCode> {
    match tld {
        Some(t) => query::normalize(t).map(|t| vec![t]).map_err(|e| {
            eprintln!("error: {e}");
            ExitCode::from(code::USAGE)
        }),
        None => conn
            .prepare("SELECT tld FROM zones WHERE state = 'current' ORDER BY tld")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
            .map_err(|e| query_failure(s, e)),
    }
}

fn watch_cmd(s: &Settings, args: &WatchArgs) -> ExitCode {
    if let WatchCommand::Hits { since, format } = &args.command {
        let since = match since.as_deref().map(|d| (d, changes::parse_since(d))) {
            Some((d, None)) => {
                eprintln!("error: --since `{d}`: give a UTC date (2026-11-23) or time (2026-11-23T06:00:00Z)");
                return ExitCode::from(code::USAGE);
            }
            Some((_, since)) => since,
            None => None,
        };
        let conn = match open_query_db(s) {
            Ok(c) => c,
            Err(code) => return code,
        };
        let hits = match changes::list(&conn, &changes::Filter { kind: Some("watch".into()), since, ..Default::default() }) {
            Ok(h) => h,
            Err(e) => return query_failure(s, e),
        };
        let format = if s.json { "jsonl" } else { format.as_str() };
        for h in &hits {
            let (term, rule) = (h.term.as_deref().unwrap_or(""), h.rule.as_deref().unwrap_or(""));
            match format {
                "json" | "jsonl" => println!("{}", serde_json::to_string(h).unwrap_or_default()),
                "tsv" => println!("{}\t{term}\t{rule}", h.domain),
                _ => println!("{}  v{}  {:<24} {term} ({rule})", h.at, h.zone_version, h.domain),
            }
        }
        return ExitCode::SUCCESS;
    }
    let _lock = match store::WriteLock::acquire(&s.db, s.wait) {
        Ok(l) => l,
        Err(e) => return store_failure(&e),
    };
    let conn = match store::open_rw(&s.db, s.wait) {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let result = match &args.command {
        WatchCommand::Add { domains, terms } => (|| {
            if domains.is_empty() && terms.is_empty() {
                eprintln!("error: give domains, or --term TERM");
                return Ok(ExitCode::from(code::USAGE));
            }
            for d in domains {
                match query::normalize(d) {
                    Ok(n) => {
                        changes::watch::add(&conn, "domain", &n)?;
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return Ok(ExitCode::from(code::USAGE));
                    }
                }
            }
            for t in terms {
                let t = t.trim().to_ascii_lowercase();
                if t.len() < 3 || !t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                    eprintln!("error: term `{t}`: use 3 or more letters, digits or hyphens");
                    return Ok(ExitCode::from(code::USAGE));
                }
                changes::watch::add(&conn, "term", &t)?;
            }
            Ok(ExitCode::SUCCESS)
        })(),
        WatchCommand::List => changes::watch::list(&conn).map(|l| {
            for e in &l {
                if s.json {
                    println!("{}", serde_json::to_string(e).unwrap_or_default());
                } else {
                    println!("{:<6} {}", e.kind, e.value);
                }
            }
            ExitCode::SUCCESS
        }),
        WatchCommand::Remove { value } => {
            let v = query::normalize(value).unwrap_or_else(|_| value.trim().to_ascii_lowercase());
            changes::watch::remove(&conn, &v).map(|gone| {
                if gone {
                    ExitCode::SUCCESS
                } else {
                    eprintln!("error: `{v}` is not watched");
                    ExitCode::from(code::FAILED)
                }
            })
        }
        WatchCommand::Hits { .. } => Ok(ExitCode::SUCCESS),
    };
    result.unwrap_or_else(|e| query_failure(s, e))
}

fn serve_cmd(s: &Settings, args: &ServeArgs) -> ExitCode {
    let max_limit = match s.config.positive_integer("serve.max_limit") {
        Ok(v) => v.unwrap_or(1000) as usize,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    if let Err(code) = open_query_db(s) {
        return code;
    }
    let opts = zonefeed::serve::Options { db: s.db.clone(), max_limit, threads: args.threads };
    let quiet = s.quiet;
    let result = zonefeed::serve::run(&args.listen, opts, |addr| {
        if !quiet {
            // stdout, one line, so scripts (and tests) can read the port.
            println!("listening on http://{addr}/v1/");
            use std::io::Write;
            let _ = std::io::stdout().flush();
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(code::FAILED)
        }
    }
}

fn check_cmd(s: &Settings, args: &CheckArgs) -> ExitCode {
    let min = query::check::Level::parse(&args.level).unwrap_or(query::check::Level::Notice);
    let conn = match open_query_db(s) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let tlds = match zones_asked(s, &conn, args.tld.as_deref()) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut reports = Vec::new();
    for t in &tlds {
        match query::check::check(&conn, t, min) {
            Ok(Some(r)) => reports.push(r),
            Ok(None) => {
                eprintln!("error: {t}: not an imported zone, or imported with --no-records (checks need the records)");
                return ExitCode::from(code::FAILED);
            }
            Err(e) => return query_failure(s, e),
        }
    }
    let format = if s.json { "json" } else { args.format.as_str() };
    for r in &reports {
        match format {
            "json" => println!("{}", serde_json::to_string_pretty(r).unwrap_or_default()),
            "tsv" => r.findings.iter().for_each(|f| println!("{}\t{}\t{}\t{}", f.level.name(), f.code, f.domain, f.message)),
            _ => {
                for f in &r.findings {
                    println!("{:<8} {:<16} {}: {}", f.level.name(), f.code, f.domain, f.message);
                }
                let sum: Vec<String> = r.summary.iter().map(|(l, n)| format!("{n} {l}")).collect();
                println!("{} (version {}): {}", r.tld, r.version, sum.join(", "));
            }
        }
    }
    ExitCode::SUCCESS
}

fn stats_cmd(s: &Settings, args: &StatsArgs) -> ExitCode {
    let conn = match open_query_db(s) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let tlds = match zones_asked(s, &conn, args.tld.as_deref()) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut all = Vec::new();
    for t in &tlds {
        match query::stats(&conn, t, args.top) {
            Ok(Some(st)) => all.push(st),
            Ok(None) => {
                eprintln!("error: {t}: not an imported zone");
                return ExitCode::from(code::FAILED);
            }
            Err(e) => return query_failure(s, e),
        }
    }
    if s.json || args.format == "json" {
        println!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    for st in &all {
        println!(
            "{} (version {}, serial {}, imported {})",
            st.tld,
            st.version,
            st.serial.map_or("-".into(), |v| v.to_string()),
            st.imported_at
        );
        println!("  domains {}, records {}{}", st.domains, st.records, if st.records_kept { "" } else { " (records not kept)" });
        println!("  with DS {} ({:.2}%)", st.domains_with_ds, st.ds_share * 100.0);
        println!("  delegations: {} in-bailiwick, {} out-of-bailiwick, {} mixed", st.in_bailiwick, st.out_of_bailiwick, st.mixed_bailiwick);
        println!("  records per type: {}", st.types.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", "));
        println!("  top name servers: {}", st.top_ns_hosts.iter().map(|(h, n)| format!("{h} {n}")).collect::<Vec<_>>().join(", "));
        println!("  top providers (domains): {}", st.top_providers.iter().map(|(h, n)| format!("{h} {n}")).collect::<Vec<_>>().join(", "));
        for v in &st.versions {
            println!("  version {} {}: +{} -{} ~{}", v.version, v.imported_at, v.added, v.removed, v.modified);
        }
    }
    ExitCode::SUCCESS
}

fn list_changes(s: &Settings, args: &ChangesArgs) -> ExitCode {
    let since = match args.since.as_deref().map(|d| (d, changes::parse_since(d))) {
        Some((d, None)) => {
            eprintln!("error: --since `{d}`: give a UTC date (2026-11-23) or time (2026-11-23T06:00:00Z)");
            return ExitCode::from(code::USAGE);
        }
        Some((_, since)) => since,
        None => None,
    };
    if !s.db.exists() {
        eprintln!("error: no database at `{}` (import a zone first, or give --db)", s.db.display());
        return ExitCode::from(code::FAILED);
    }
    let conn = match store::open_ro(&s.db) {
        Ok(c) => c,
        Err(e) => return store_failure(&e),
    };
    let filter = changes::Filter { tld: args.tld.clone(), kind: args.kind.clone(), since, version: args.version, ..Default::default() };
    let events = match changes::list(&conn, &filter) {
        Ok(ev) => ev,
        Err(e) => {
            eprintln!("error: `{}`: {e}", s.db.display());
            return ExitCode::from(code::FAILED);
        }
    };
    let format = if s.json { "json" } else { args.format.as_str() };
    let mut out = std::io::stdout().lock();
    let written = match format {
        "tsv" => events.iter().try_for_each(|e| writeln!(out, "{}\t{}", e.kind, e.domain)),
        "json" => writeln!(out, "{}", serde_json::to_string_pretty(&events).unwrap_or_default()),
        "jsonl" => events.iter().try_for_each(|e| writeln!(out, "{}", serde_json::to_string(e).unwrap_or_default())),
        _ => events.iter().try_for_each(|e| writeln!(out, "{}  {}  v{}  {:<8}  {}", e.at, e.tld, e.zone_version, e.kind, e.domain)),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing output: {e}");
            ExitCode::from(code::FAILED)
        }
    }
}

/// `31.2 MB`, `850.0 kB`, `12 bytes` (decimal units, as the summaries use).
fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// Sort runs spill next to the database.
fn spill_dir(db: &std::path::Path) -> std::path::PathBuf {
    db.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| ".".into(), |p| p.to_path_buf())
}

fn report(e: &ImportError) {
    eprintln!("error: {e}");
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        // thiserror messages above already include their source's text; print only new causes.
        let msg = s.to_string();
        if !e.to_string().contains(&msg) {
            eprintln!("Caused by: {msg}");
        }
        src = s.source();
    }
}

fn store_failure(e: &StoreError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(if e.is_busy() { code::BUSY } else { code::FAILED })
}
