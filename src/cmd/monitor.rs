//! `zonefeed monitor`: chosen domains' live records, checked every few minutes.

use std::time::Duration;

use super::{failed, open_query_db, open_writer, usage, ExitStatus, Output};
use crate::cli::{Format, MonitorArgs, MonitorCommand, MonitorPart, RdapArgs, RdapCommand};
use crate::config::Settings;
use crate::monitor;
use crate::progress::{Mode, Tally};

pub fn run(s: &Settings, out: &Output, args: &MonitorArgs) -> anyhow::Result<ExitStatus> {
    match &args.command {
        MonitorCommand::Add { domains, from } => {
            let mut listed: Vec<(String, String)> = domains.iter().map(|d| (d.clone(), format!("`{d}`"))).collect();
            if let Some(path) = from {
                let text = if path.as_os_str() == "-" {
                    std::io::read_to_string(std::io::stdin())?
                } else {
                    std::fs::read_to_string(path).map_err(|e| failed(format!("{}: {e}", path.display())))?
                };
                for (i, line) in text.lines().enumerate() {
                    let d = line.split('#').next().unwrap_or("").trim();
                    if !d.is_empty() {
                        listed.push((d.to_string(), format!("{} line {}: `{d}`", path.display(), i + 1)));
                    }
                }
            }
            let mut names = Vec::new();
            for (d, place) in &listed {
                let n = crate::query::normalize(d).map_err(|e| usage(format!("{place}: {e}")))?;
                if !n.contains('.') {
                    return Err(usage(format!("{place}: a domain has a dot (example.com), not a zone alone")));
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
        MonitorCommand::Run { every, once, concurrency, only, via, engine } => {
            let engine = super::analyze::engine_of(s, engine)?;
            let mut setup = monitor::Setup::from_config(&s.config)?;
            setup.engine = engine;
            if let Some(e) = every {
                setup.every = interval(e)?;
            }
            setup.engine.concurrency = concurrency.unwrap_or(s.config.keys.monitor_concurrency.map_or(256, |c| c.usize()));
            match only {
                Some(MonitorPart::Dns) => setup.rdap = None,
                Some(MonitorPart::Rdap) => {
                    setup.dns = false;
                    setup.rdap = Some(monitor::rdap::Options::from_config(&s.config));
                }
                None => {}
            }
            let via =
                via.as_deref().map(|u| crate::amqp::Broker::at(u, &s.config)).transpose().map_err(|e| usage(format!("--via: {e}")))?;
            run_loop(s, out, *once, &setup, via.as_ref())
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

/// Checks what is due, then sleeps until more is (or, with `once`, checks everything once and
/// fetches the registrations that are due).
fn run_loop(
    s: &Settings,
    out: &Output,
    once: bool,
    setup: &monitor::Setup,
    via: Option<&crate::amqp::Broker>,
) -> anyhow::Result<ExitStatus> {
    super::require_db(s)?;
    let _lock = crate::lock::hold(
        &monitor::lock_path(&s.db),
        &format!("monitoring of `{}` is busy: another zonefeed monitor runs", s.db.display()),
        s.wait,
    )?;
    let mut conn = crate::store::open_rw(&s.db, s.wait)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut stream = out.stream();
    loop {
        let tally = Tally::counting(Mode::detect(s.quiet, s.log_interval), "monitor", "questions sent");
        let mut done = 0;
        let mut failure = None;
        let mut failed_fetches = 0;
        let each = |item: monitor::Item<'_>| {
            let (item, text) = match item {
                monitor::Item::Checked(o, events, sent) => {
                    done += 1;
                    tally.set(&format!("{done} domains"), sent);
                    let kinds: Vec<&str> = events.iter().map(|k| k.as_str()).collect();
                    let item = serde_json::json!({"domain": o.name, "state": o.state, "rrsets": o.rrsets.len(), "events": kinds});
                    let text = format!("{:<32} {:<10} {} rrsets{}", o.name, o.state, o.rrsets.len(), spaced(&kinds));
                    (item, text)
                }
                monitor::Item::Registration(name, f, events) => {
                    let kinds: Vec<&str> = events.iter().map(|k| k.as_str()).collect();
                    let (state, detail) = match f {
                        monitor::rdap::Fetched::Found { registration: r, .. } => {
                            ("found", r.registrar.clone().unwrap_or_else(|| "no registrar named".into()))
                        }
                        monitor::rdap::Fetched::NotFound { .. } => ("not_found", "not at the registry".into()),
                        monitor::rdap::Fetched::Unserved => ("no_server", "no RDAP server for its TLD in the bootstrap".into()),
                        monitor::rdap::Fetched::Failed { why, .. } => {
                            failed_fetches += 1;
                            log::warn!("rdap: {why}");
                            ("failed", why.clone())
                        }
                    };
                    let item = serde_json::json!({"domain": name, "rdap": state, "detail": detail, "events": kinds});
                    (item, format!("{name:<32} rdap {state:<9} {detail}{}", spaced(&kinds)))
                }
            };
            if failure.is_none() {
                failure = stream.push(&item, Some(text)).err();
            }
        };
        let stats = match via {
            Some(b) => {
                let log = |m: &str| log::warn!("monitor --via: {m}");
                crate::remote::monitor_pass(&rt, b, setup, &mut conn, once, each, &log).map_err(|e| {
                    match e.downcast::<crate::amqp::AmqpError>() {
                        Ok(e @ crate::amqp::AmqpError::Auth(..)) => {
                            super::Failure { status: ExitStatus::Auth, message: e.to_string() }.into()
                        }
                        Ok(other) => failed(other.to_string()),
                        Err(e) => e,
                    }
                })?
            }
            None => monitor::pass(&rt, setup, &mut conn, once, each)?,
        };
        tally.finish();
        if let Some(e) = failure {
            return Err(e);
        }
        // The pass's events go out now, not at the next sync (one attempt per endpoint).
        if stats.is_some() {
            for d in monitor::deliver(&conn, &s.db, s.wait, setup)? {
                if let Some(e) = &d.error {
                    log::warn!("delivery to {}: {e}", d.endpoint);
                }
            }
        }
        match stats {
            Some(c) if !s.quiet => eprintln!("{}", c.line()),
            None if once && !s.quiet => eprintln!("monitor: nothing to check (`zonefeed monitor add DOMAIN` adds)"),
            _ => {}
        }
        if once {
            if failed_fetches > 0 {
                stream.finish()?;
                return Ok(ExitStatus::Partial);
            }
            break;
        }
        std::thread::sleep(Duration::from_secs(5));
    }
    stream.finish()?;
    Ok(ExitStatus::Success)
}

/// `  kind kind` after a line, or nothing.
fn spaced(kinds: &[&str]) -> String {
    if kinds.is_empty() {
        String::new()
    } else {
        format!("  {}", kinds.join(" "))
    }
}

/// `zonefeed rdap`: the bootstrap, and a lookup.
pub fn rdap(s: &Settings, out: &Output, args: &RdapArgs) -> anyhow::Result<ExitStatus> {
    let timeout = monitor::rdap::Options::from_config(&s.config).timeout;
    match &args.command {
        RdapCommand::Bootstrap { update, url } => {
            let b = if *update {
                let url =
                    url.clone().or_else(|| s.config.keys.rdap_bootstrap_url.clone()).unwrap_or_else(|| monitor::rdap::IANA_URL.into());
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(usage(format!("`{url}` is not an http(s) URL")));
                }
                let (_lock, conn) = open_writer(s, false)?;
                monitor::rdap::update_bootstrap(&conn, &url, timeout).map_err(|e| failed(format!("{e:#}")))?
            } else if s.db.exists() {
                monitor::rdap::Bootstrap::load(&open_query_db(s)?)?
            } else {
                monitor::rdap::Bootstrap::bundled()
            };
            let info = serde_json::json!({
                "source": b.source, "publication": b.publication, "fetched_at": b.fetched_at, "suffixes": b.len(),
            });
            out.one(&info, |_| {
                format!(
                    "{} suffixes from {} (published {}{})",
                    b.len(),
                    b.source,
                    b.publication.as_deref().unwrap_or("-"),
                    b.fetched_at.as_deref().map(|t| format!(", fetched {t}")).unwrap_or_default()
                )
            })?;
            Ok(ExitStatus::Success)
        }
        RdapCommand::Lookup { domain } => {
            let name = crate::query::normalize(domain)?;
            let b = if s.db.exists() { monitor::rdap::Bootstrap::load(&open_query_db(s)?)? } else { monitor::rdap::Bootstrap::bundled() };
            let (server, r) = monitor::rdap::lookup(&b, &name, timeout).map_err(failed)?;
            let item = serde_json::json!({"domain": name, "server": server, "registration": r});
            out.one(&item, |_| registration_text(&name, &r))?;
            Ok(ExitStatus::Success)
        }
    }
}

/// A registration as text, a field a line.
pub fn registration_text(name: &str, r: &monitor::rdap::Registration) -> String {
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    let registrar = match &r.registrar_id {
        Some(id) => format!("{} (IANA {id})", dash(&r.registrar)),
        None => dash(&r.registrar),
    };
    format!(
        "{name}\n  registrar    {registrar}\n  created      {}\n  expires      {}\n  changed      {}\n  status       {}\n  nameservers  {}",
        dash(&r.created),
        dash(&r.expires),
        dash(&r.changed),
        r.status.join(", "),
        r.nameservers.join(" ")
    )
}
