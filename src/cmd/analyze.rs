//! `zonefeed analyze`: Zonemaster's test cases on live delegations.

use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{usage, ExitStatus, Output};
use crate::analyze::history::{self, Run};
use crate::analyze::{self, Analysis, Engine, Level, Selection, Undelegated};
use crate::cli::{AnalyzeArgs, Format};
use crate::config::Settings;
use crate::dns::{hints, parse_name};
use crate::progress::{Mode, Tally};
use crate::query::delegations::Pick;
use rusqlite::Connection;

/// One domain's report, as printed.
#[derive(serde::Serialize)]
struct Report {
    domain: String,
    worst: Option<Level>,
    elapsed_ms: u128,
    findings: Vec<analyze::Finding>,
    /// Addresses the guard kept the analysis from asking, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_asked: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<Vec<TraceLine>>,
}

#[derive(serde::Serialize)]
struct TraceLine {
    server: String,
    question: String,
    transport: crate::dns::Transport,
    ms: u128,
    answer: String,
}

pub fn run(s: &Settings, out: &Output, args: &AnalyzeArgs) -> anyhow::Result<ExitStatus> {
    // clap's `requires = "tld"` is not enforced beside the positional domains: checked here,
    // so that `--via` never silently analyses here what the user meant to spread.
    if args.tld.is_none() {
        let zone_only = [
            ("--via", args.via.is_some()),
            ("--all", args.all),
            ("--changed-since", args.changed_since.is_some()),
            ("--limit", args.limit.is_some()),
            ("--no-store", args.no_store),
        ];
        if let Some((flag, _)) = zone_only.iter().find(|(_, set)| *set) {
            return Err(usage(format!("{flag} goes with --tld (a zone's delegations), not with domains named")));
        }
    }
    let pick = Selection::parse(&args.tests).map_err(|e| usage(e.to_string()))?;
    let undelegated = if args.ns.is_empty() { None } else { Some(parse_ns(&args.ns, &args.ds)?) };
    let engine = engine(s, args)?;
    // A zone's run is kept, unless it is a partial one (--test) or asked not to be.
    let keep = args.tld.is_some() && !args.no_store && args.tests.is_empty();
    let _lock = if keep { Some(crate::lock::analyses(&s.db, s.wait)?) } else { None };
    // The database, when there is one (--tld needs it): read once, for the delegations --tld
    // picks and for the servers of the zones it holds.
    let mut db = if keep {
        super::require_db(s)?;
        let conn = crate::store::open_rw(&s.db, s.wait)?;
        let current = crate::store::current_zones(&conn)?;
        Some((conn, current))
    } else if args.tld.is_some() || s.db.exists() {
        let conn = super::open_query_db(s)?;
        let current = crate::store::current_zones(&conn)?;
        Some((conn, current))
    } else {
        None
    };
    let run = match (&db, keep) {
        (Some((conn, current)), true) => Some(begin_or_resume(s, conn, current, args)?),
        _ => None,
    };
    if let (Some(url), Some(run), Some((conn, _))) = (&args.via, &run, &mut db) {
        return via(s, out, url, conn, run);
    }
    let picked: Vec<(i64, String)> = match &run {
        Some(run) => run.todo.clone(),
        None => delegations(db.as_ref(), args)?.into_iter().enumerate().map(|(i, d)| (i as i64, d)).collect(),
    };
    let mut names = Vec::with_capacity(picked.len());
    for (i, d) in &picked {
        names.push((*i, parse_name(d).map_err(|e| usage(e.to_string()))?));
    }
    let resolver = engine.resolver();
    // A kept run seeds the resolver itself.
    if let (None, Some((conn, current))) = (&run, &db) {
        let just: Vec<_> = names.iter().map(|(_, n)| n.clone()).collect();
        history::seed_from_zones(conn, current, &resolver, &just)?;
    }
    if names.is_empty() && !s.quiet {
        eprintln!("analyze: no delegation to analyse");
    }
    let endpoints = if keep { crate::changes::webhooks::endpoints(&s.config)? } else { Vec::new() };
    let tally = Tally::counting(Mode::detect(s.quiet, s.log_interval), "analyze", "questions sent");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let total = names.len();
    let started = std::time::Instant::now();
    // jsonl prints each domain as it finishes; the other forms in the order picked, at the end.
    let streaming = out.format() == Format::Jsonl;
    let mut stream = out.stream();
    let mut reports: Vec<(i64, Report)> = Vec::new();
    let (mut done, mut worst) = (0, None);
    let each = |i: i64, a: Analysis| -> anyhow::Result<()> {
        done += 1;
        worst = worst.max(a.worst());
        let r = report(a, args, &resolver.client().refused());
        if streaming {
            print(&mut stream, &r, out.format())?;
        } else {
            reports.push((i, r));
        }
        tally.set(&format!("{done}/{total} domains"), resolver.client().sent());
        Ok(())
    };
    let kept = match (&run, &mut db) {
        (Some(run), Some((conn, _))) => Some(history::keep_run(&rt, &resolver, conn, run, &endpoints, engine.concurrency, each)?),
        _ => {
            rt.block_on(analyze::many(&resolver, names, undelegated.as_ref(), &pick, engine.concurrency, each))?;
            None
        }
    };
    tally.finish();
    reports.sort_by_key(|(i, _)| *i);
    for (_, r) in &reports {
        print(&mut stream, r, out.format())?;
    }
    let refused = resolver.client().refused();
    stream.finish()?;
    if !s.quiet && total > 0 {
        let secs = started.elapsed().as_secs_f64();
        let sent = resolver.client().sent();
        eprintln!("analyze: {total} domain(s) in {secs:.2} s, {sent} questions sent ({:.0}/s)", sent as f64 / secs.max(1e-9));
    }
    if let (Some(k), Some(run), false) = (kept, &run, s.quiet) {
        eprintln!("analyze: {}", k.line(run));
    }
    if !refused.is_empty() && !s.quiet {
        eprintln!(
            "warning: {} private or reserved address(es) not asked (--allow-private asks them): {}",
            refused.len(),
            refused.iter().map(|(ip, _)| ip.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    let failing = args.fail_on.is_some_and(|level| worst.is_some_and(|w| w >= level));
    Ok(if failing { ExitStatus::Failure } else { ExitStatus::Success })
}

/// `--via URL`: the run's domains published as tasks, their results kept as they come.
fn via(s: &Settings, out: &Output, url: &str, conn: &mut Connection, run: &Run) -> anyhow::Result<ExitStatus> {
    let broker = crate::amqp::Broker::at(url, &s.config).map_err(|e| usage(format!("--via: {e}")))?;
    let endpoints = crate::changes::webhooks::endpoints(&s.config)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let tally = Tally::counting(Mode::detect(s.quiet, s.log_interval), "analyze", "results kept");
    let total = run.todo.len();
    let (mut done, mut failure) = (0u64, None);
    let mut stream = out.stream();
    let started = std::time::Instant::now();
    let log = |m: &str| log::warn!("analyze --via: {m}");
    let result = crate::remote::coordinate(
        &rt,
        &broker,
        conn,
        run,
        &endpoints,
        |_, domain, worst| {
            done += 1;
            tally.set(&format!("{done}/{total} domains"), done);
            let item = serde_json::json!({"domain": domain, "worst": worst});
            let text = format!("{domain:<32} {}", worst.map_or("-", Level::as_str));
            if failure.is_none() {
                failure = stream.push(&item, Some(text)).err();
            }
        },
        &log,
    );
    tally.finish();
    let (kept, stats) = result.map_err(|e| match e.downcast::<crate::amqp::AmqpError>() {
        Ok(crate::amqp::AmqpError::Auth(u, why)) => {
            super::Failure { status: ExitStatus::Auth, message: format!("{u}: the broker refused the credentials ({why})") }.into()
        }
        Ok(other) => super::failed(other.to_string()),
        Err(e) => e,
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    stream.finish()?;
    if !s.quiet {
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "analyze --via: {} task(s) published, {} result(s) kept in {secs:.2} s ({:.0}/s), {} twice-run result(s) dropped, {} refused",
            stats.published,
            kept.analyses,
            kept.analyses as f64 / secs.max(1e-9),
            stats.duplicates,
            stats.refused
        );
        eprintln!("analyze: {}", kept.line(run));
    }
    Ok(ExitStatus::Success)
}

/// `zonefeed worker URL`: runs the tasks `analyze --via` publishes until stopped.
pub fn worker(s: &Settings, _out: &Output, args: &crate::cli::WorkerArgs) -> anyhow::Result<ExitStatus> {
    let broker = crate::amqp::Broker::at(&args.url, &s.config).map_err(usage)?;
    let mut engine = engine_of(s, &args.engine)?;
    let prefetch = args.prefetch.unwrap_or(s.config.keys.amqp_prefetch.map_or(64, |n| u16::try_from(n.0).unwrap_or(u16::MAX)));
    engine.concurrency = usize::from(prefetch);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let log = |m: &str| log::warn!("worker: {m}");
    if !s.quiet {
        eprintln!("worker: taking tasks from {} (queue {}.tasks), {prefetch} at once", broker.shown, broker.exchange);
    }
    let max = args.max_tasks;
    let worked = crate::remote::work(&rt, &broker, &engine, prefetch, |w| max.is_some_and(|m| w.done >= m), &log).map_err(|e| match e {
        crate::amqp::AmqpError::Auth(..) => anyhow::Error::from(super::Failure { status: ExitStatus::Auth, message: e.to_string() }),
        other => super::failed(other.to_string()),
    })?;
    if !s.quiet {
        eprintln!("worker: {} task(s) done, {} dead-lettered", worked.done, worked.rejected);
    }
    Ok(ExitStatus::Success)
}

/// What is printed of analysis `a`: findings at `--level` and above, the addresses it was kept
/// from asking (of `refused`), its trace when asked for.
fn report(a: Analysis, args: &AnalyzeArgs, refused: &[(IpAddr, &str)]) -> Report {
    let asked: Vec<IpAddr> = a.trace.iter().map(|e| e.server.ip()).collect();
    let not_asked = refused.iter().filter(|(ip, _)| asked.contains(ip)).map(|(ip, why)| format!("{ip}: {why}")).collect();
    let trace = args.trace.then(|| a.trace.iter().map(trace_line).collect());
    let worst = a.worst();
    let findings = a.findings.into_iter().filter(|f| f.level >= args.level).collect();
    Report { domain: a.domain, worst, elapsed_ms: a.elapsed.as_millis(), findings, not_asked, trace }
}

fn print(stream: &mut super::output::Stream<'_>, r: &Report, format: Format) -> anyhow::Result<()> {
    let text = text(r, format);
    stream.push(r, (!text.is_empty()).then(|| text.trim_end().to_string()))
}

/// `analyze`'s engine: its flags over the config's keys.
fn engine(s: &Settings, args: &AnalyzeArgs) -> anyhow::Result<Engine> {
    let mut e = engine_of(s, &args.engine)?;
    e.concurrency = args.concurrency.unwrap_or(e.concurrency);
    (e.ipv4, e.ipv6) = (!args.no_ipv4, !args.no_ipv6);
    if !e.ipv4 && !e.ipv6 {
        return Err(usage("--no-ipv4 and --no-ipv6 together leave nothing to ask"));
    }
    Ok(e)
}

/// The engine's settings, `analyze`'s and `serve`'s: the flags over the config's keys.
pub fn engine_of(s: &Settings, args: &crate::cli::EngineArgs) -> anyhow::Result<Engine> {
    let mut e = Engine::from_config(&s.config).map_err(|e| usage(e.to_string()))?;
    if let Some(path) = &args.root_hints {
        e.hints = hints::load(path).map_err(|e| usage(e.to_string()))?;
    }
    match args.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => return Err(usage("--timeout: a positive number of seconds")),
        Some(t) => e.options.timeout = Duration::from_secs_f64(t),
        None => {}
    }
    e.options.allow_private |= args.allow_private;
    e.limits.qps = args.qps.unwrap_or(e.limits.qps);
    e.limits.in_flight = args.in_flight.unwrap_or(e.limits.in_flight);
    Ok(e)
}

/// The run of `--tld` to work on: the one an earlier `analyze` left unfinished (its picks
/// stand, whatever this one's flags say), else a new one of the delegations the flags pick.
fn begin_or_resume(s: &Settings, conn: &Connection, current: &[String], args: &AnalyzeArgs) -> anyhow::Result<Run> {
    let tld = super::known_zone(current, args.tld.as_deref().unwrap_or_default())?;
    let pick = pick_of(conn, args)?;
    let run =
        history::begin_or_resume(conn, &tld, &pick, args.limit)?.ok_or_else(|| super::failed(format!("{tld}: not an imported zone")))?;
    if run.resumed && !s.quiet {
        eprintln!(
            "analyze: finishing run {} of {tld} ({}, begun by an earlier analyze): {} of {} domain(s) left",
            run.id,
            crate::time::date_of(&run.at),
            run.todo.len(),
            run.total
        );
    }
    Ok(run)
}

/// The domains named, or those of `--tld` that the database picks.
fn delegations(db: Option<&(Connection, Vec<String>)>, args: &AnalyzeArgs) -> anyhow::Result<Vec<String>> {
    let (Some(tld), Some((conn, current))) = (&args.tld, db) else { return Ok(args.domains.clone()) };
    let zone = super::known_zone(current, tld)?;
    Ok(crate::query::delegations::pick(conn, &zone, &pick_of(conn, args)?, args.limit)?)
}

/// How the flags pick a zone's delegations.
fn pick_of(conn: &Connection, args: &AnalyzeArgs) -> anyhow::Result<Pick> {
    let since =
        args.changed_since.as_deref().map(|d| crate::time::Since::parse(d).map_err(|e| usage(format!("--changed-since `{d}`: {e}"))));
    Ok(match super::since_text(conn, since.transpose()?)? {
        Some(t) => Pick::ChangedSince(t),
        None if args.all => Pick::All,
        None => Pick::Latest,
    })
}

/// `--ns NAME[/IP]` and `--ds`, each checked.
fn parse_ns(ns: &[String], ds: &[String]) -> anyhow::Result<Undelegated> {
    let mut u = Undelegated::default();
    for d in ds {
        u.ds.push(analyze::parse_ds(d).map_err(usage)?);
    }
    for spec in ns {
        let (name, ip) = match spec.split_once('/') {
            Some((n, ip)) => {
                let ip: IpAddr = ip.parse().map_err(|_| usage(format!("--ns `{spec}`: `{ip}` is not an IP address")))?;
                (n, Some(ip))
            }
            None => (spec.as_str(), None),
        };
        let name = parse_name(name).map_err(|e| usage(format!("--ns `{spec}`: {e}")))?;
        u.ns.push((name, ip));
    }
    Ok(u)
}

fn trace_line(e: &Arc<crate::dns::Exchange>) -> TraceLine {
    let answer = match &e.answer {
        Ok(m) => format!(
            "{} aa={} answers={} authority={} additional={}",
            crate::dns::rcode_name(m.metadata.response_code),
            u8::from(m.metadata.authoritative),
            m.answers.len(),
            m.authorities.len(),
            m.additionals.len()
        ),
        Err(err) => err.to_string(),
    };
    TraceLine {
        server: e.server.to_string(),
        question: format!("{} {}", e.name, e.rtype),
        transport: e.transport,
        ms: e.elapsed.as_millis(),
        answer,
    }
}

fn args_text(f: &analyze::Finding) -> String {
    f.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")
}

fn text(r: &Report, format: Format) -> String {
    let mut t = String::new();
    for f in &r.findings {
        let _ = match format {
            Format::Tsv => writeln!(t, "{}\t{}\t{}\t{}\t{}", r.domain, f.level, f.testcase, f.tag, args_text(f)),
            _ => writeln!(t, "{:<8} {:<14} {} {}", f.level.as_str(), f.testcase, f.tag, args_text(f)),
        };
    }
    if format != Format::Tsv {
        for n in &r.not_asked {
            let _ = writeln!(t, "not asked: {n}");
        }
        let worst = r.worst.map_or("nothing".to_string(), |w| w.to_string());
        let _ = writeln!(t, "{}: worst {worst}, {} shown, {} ms", r.domain, r.findings.len(), r.elapsed_ms);
        for l in r.trace.iter().flatten() {
            let _ = writeln!(t, "  trace: {} {} {:?} {} ms: {}", l.server, l.question, l.transport, l.ms, l.answer);
        }
    }
    t
}
