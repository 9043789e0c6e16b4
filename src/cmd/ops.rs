//! Running it: `webhooks`, `prune` and the `service`.

use super::prelude::*;

pub fn webhooks_cmd(s: &Settings, args: &WebhooksArgs) -> ExitCode {
    let (endpoints, opts) = match webhook_config(s) {
        Ok(c) => c,
        Err(code) => return code,
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
                outcome(done.len() - failed, failed)
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
pub fn report_deliveries(s: &Settings, done: &[webhooks::Delivered]) -> usize {
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

pub fn webhooks_lock(s: &Settings) -> Result<std::fs::File, ExitCode> {
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

pub fn prune(s: &Settings, args: &PruneArgs) -> ExitCode {
    let (_lock, conn) = match open_writer(s) {
        Ok(w) => w,
        Err(code) => return code,
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

/// The service's files: pid and log, in the working directory unless the config says otherwise.
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

pub fn service_cmd(s: &Settings, args: &ServiceArgs) -> ExitCode {
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
