//! `zonefeed monitor`: chosen domains' live records, checked every few minutes.

use std::time::Duration;

use super::{failed, open_query_db, open_writer, usage, ExitStatus, Output};
use crate::cli::{Format, MonitorArgs, MonitorCommand};
use crate::config::Settings;
use crate::monitor;
use crate::progress::{Mode, Tally};

pub fn run(s: &Settings, out: &Output, args: &MonitorArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        MonitorCommand::Add { domains } => {
            let mut names = Vec::new();
            for d in domains {
                let n = crate::query::normalize(d)?;
                if !n.contains('.') {
                    return Err(usage(format!("`{n}`: a domain has a dot (example.com), not a zone alone")));
                }
                names.push(n);
            }
            let (_lock, conn) = open_writer(s, true)?;
            let added = monitor::add(&conn, &names, "manual", None)?;
            out.say(&format!("{added} of {} domain(s) added; `zonefeed monitor run` checks them", names.len()))?;
            Ok(ExitStatus::Success)
        }
        MonitorCommand::Remove { domain } => {
            let n = crate::query::normalize(domain)?;
            let (_lock, conn) = open_writer(s, false)?;
            if !monitor::remove(&conn, &n)? {
                return Err(failed(format!("`{n}` is not monitored")));
            }
            out.say(&format!("{n}: no longer monitored (its history stays)"))?;
            Ok(ExitStatus::Success)
        }
        MonitorCommand::List => {
            let conn = open_query_db(s)?;
            let list = monitor::list(&conn)?;
            out.note_empty(&list, "nothing is monitored (`zonefeed monitor add DOMAIN` adds)");
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            out.list(&list, |e, f| match f {
                Format::Tsv => format!("{}\t{}\t{}\t{}\t{}", e.name, dash(&e.state), dash(&e.last_check), dash(&e.last_change), e.source),
                _ => format!(
                    "{:<32} {:<10} checked {}  changed {}  ({})",
                    e.name,
                    dash(&e.state),
                    dash(&e.last_check),
                    dash(&e.last_change),
                    e.source
                ),
            })?;
            Ok(ExitStatus::Success)
        }
        MonitorCommand::Run { every, once, concurrency, engine } => {
            let every = match every {
                Some(e) => interval(e)?,
                None => s.config.keys.monitor_every.map_or(Duration::from_secs(600), |e| e.0),
            };
            let mut engine = super::analyze::engine_of(s, engine)?;
            engine.concurrency = concurrency.unwrap_or(s.config.keys.monitor_concurrency.map_or(256, |c| c.usize()));
            run_loop(s, out, every, *once, &engine)
        }
    }
}

/// `10m`, `1h`, `90s`, `1d`: at least 10 seconds.
fn interval(text: &str) -> anyhow::Result<Duration> {
    let t = text.trim();
    let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = num.parse().map_err(|_| usage(format!("--every `{text}`: a number and a unit (90s, 10m, 1h, 1d)")))?;
    let secs = match unit {
        "s" => n,
        "m" | "" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(usage(format!("--every `{text}`: the unit is s, m, h or d"))),
    };
    if secs < 10 {
        return Err(usage(format!("--every `{text}`: at least 10s")));
    }
    Ok(Duration::from_secs(secs))
}

/// Checks what is due, then sleeps until more is (or, with `once`, checks everything once).
fn run_loop(s: &Settings, out: &Output, every: Duration, once: bool, engine: &crate::analyze::Engine) -> anyhow::Result<ExitStatus> {
    super::require_db(s)?;
    let _lock = crate::lock::hold(
        &monitor::lock_path(&s.db),
        &format!("monitoring of `{}` is busy: another zonefeed monitor runs", s.db.display()),
        s.wait,
    )?;
    let mut conn = crate::store::open_rw(&s.db, s.wait)?;
    let endpoints = crate::changes::webhooks::endpoints(&s.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut stream = out.stream();
    loop {
        let tally = Tally::counting(Mode::detect(s.quiet, s.log_interval), "monitor", "questions sent");
        let mut done = 0;
        let mut failure = None;
        let stats = monitor::pass(&rt, engine, &mut conn, every, once, &endpoints, |o, events, sent| {
            done += 1;
            tally.set(&format!("{done} domains"), sent);
            let kinds: Vec<&str> = events.iter().map(|k| k.as_str()).collect();
            let item = serde_json::json!({"domain": o.name, "state": o.state, "rrsets": o.rrsets.len(), "events": kinds});
            let events = if kinds.is_empty() { String::new() } else { format!("  {}", kinds.join(" ")) };
            let text = format!("{:<32} {:<10} {} rrsets{events}", o.name, o.state, o.rrsets.len());
            if failure.is_none() {
                failure = stream.push(&item, Some(text)).err();
            }
        })?;
        tally.finish();
        if let Some(e) = failure {
            return Err(e);
        }
        match stats {
            Some(c) if !s.quiet => eprintln!("{}", c.line()),
            None if once && !s.quiet => eprintln!("monitor: nothing to check (`zonefeed monitor add DOMAIN` adds)"),
            _ => {}
        }
        if once {
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    stream.finish()?;
    Ok(ExitStatus::Success)
}
