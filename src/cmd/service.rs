//! `zonefeed service`: the daily sync in the background (start, stop, status, run, run-once).

use std::path::PathBuf;

use super::{failed, ExitStatus, Output};
use crate::cli::{ServiceArgs, ServiceCommand};
use crate::config::Settings;
use crate::service::{self, running_pid, Window};
use crate::store;
use crate::sync::{Plan, Selection};

/// The service's files: pid and log, in the working directory unless the config says otherwise.
fn service_files(s: &Settings) -> (PathBuf, PathBuf) {
    let (k, work) = (&s.config.keys, s.config.work_dir());
    let pid = k.service_pid_file.clone().unwrap_or_else(|| work.join("zonefeed-service.pid"));
    let log = k.service_log_file.clone().unwrap_or_else(|| work.join("zonefeed-service.log"));
    (pid, log)
}

/// Every run's plan: all zones, the import defaults, `service.no_records`, webhooks delivered.
fn plan(s: &Settings) -> anyhow::Result<Plan> {
    let mut import = crate::ingest::Options::new(s.config.temp_dir(None, &s.db));
    import.no_records = s.config.keys.service_no_records.unwrap_or(false);
    import.webhooks = crate::changes::webhooks::endpoints(&s.config)?;
    Ok(Plan { zones: Selection::default(), import, deliver: true })
}

pub fn run(s: &Settings, out: &Output, args: &ServiceArgs) -> anyhow::Result<ExitStatus> {
    let window = Window::from_config(&s.config)?;
    let (pid_file, log_file) = service_files(s);
    for f in [&pid_file, &log_file] {
        if let Some(dir) = f.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
    }
    match args.command {
        ServiceCommand::Run | ServiceCommand::RunOnce => {
            let once = matches!(args.command, ServiceCommand::RunOnce);
            let all_ok = service::run_loop(s, &window, &plan(s)?, &pid_file, once)?;
            Ok(if all_ok { ExitStatus::Success } else { ExitStatus::Partial })
        }
        ServiceCommand::Start => start(s, out, &pid_file, &log_file),
        ServiceCommand::Stop => {
            let pid = running_pid(&pid_file).ok_or_else(|| failed(format!("the service is not running (`{}`)", pid_file.display())))?;
            // SAFETY: a plain signal to a pid read from our own pid file. Stopping at any point
            // is safe: imports commit atomically and downloads resume.
            #[cfg(unix)]
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
            let start = std::time::Instant::now();
            while running_pid(&pid_file).is_some() && start.elapsed() < std::time::Duration::from_secs(10) {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let _ = std::fs::remove_file(&pid_file);
            out.one(&serde_json::json!({"stopped": pid}), |_| format!("service stopped (pid {pid})"))?;
            Ok(ExitStatus::Success)
        }
        ServiceCommand::Status => {
            let running = running_pid(&pid_file);
            let runs = if s.db.exists() {
                store::open_ro(&s.db).ok().and_then(|c| service::runs(&c, 5).ok()).unwrap_or_default()
            } else {
                Vec::new()
            };
            let v = serde_json::json!({"running": running.is_some(), "pid": running, "runs": runs});
            out.one(&v, |_| {
                let mut t = match running {
                    Some(pid) => format!("running (pid {pid})\n"),
                    None => "not running\n".to_string(),
                };
                for r in &runs {
                    t.push_str(&format!(
                        "run {} at {}: {} ({} zones: {} ok, {} failed, {} still waiting for today's file){}\n",
                        r.id,
                        r.started_at,
                        r.result,
                        r.zones,
                        r.ok,
                        r.failed,
                        r.pending,
                        r.next_run.as_deref().map_or(String::new(), |n| format!(", next run {n}"))
                    ));
                }
                t
            })?;
            Ok(ExitStatus::Success)
        }
    }
}

/// `service start`: `service run` in its own process group, logging to the log file.
fn start(s: &Settings, out: &Output, pid_file: &std::path::Path, log_file: &std::path::Path) -> anyhow::Result<ExitStatus> {
    if let Some(pid) = running_pid(pid_file) {
        return Err(failed(format!("the service already runs (pid {pid}, `{}`)", pid_file.display())));
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_file)
        .map_err(|e| anyhow::Error::new(e).context(format!("log file `{}`", log_file.display())))?;
    let exe = std::env::current_exe().unwrap_or_else(|_| "zonefeed".into());
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("--db").arg(&s.db);
    if let Some(c) = s.config.path().to_str().filter(|c| !c.is_empty()) {
        cmd.arg("--config").arg(c);
    }
    cmd.args(["service", "--wait", &s.wait.as_secs().to_string(), "run"]).stdin(std::process::Stdio::null());
    match log.try_clone() {
        Ok(l2) => cmd.stdout(log).stderr(l2),
        Err(_) => cmd.stdout(log),
    };
    // Its own process group: a closing terminal does not take it down.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let child = cmd.spawn().map_err(|e| anyhow::Error::new(e).context("starting the service"))?;
    let v = serde_json::json!({"started": child.id(), "log": log_file});
    out.one(&v, |_| format!("service started (pid {}), log `{}`", child.id(), log_file.display()))?;
    Ok(ExitStatus::Success)
}
