//! `zonefeed analyze`: Zonemaster's test cases on live delegations.

use std::fmt::Write;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{usage, ExitStatus, Output};
use crate::analyze::history::{self, Keeper, Run};
use crate::analyze::{self, Analysis, Level, Selection, Undelegated};
use crate::cli::{AnalyzeArgs, Format};
use crate::config::Settings;
use crate::dns::client::{Client, Limits};
use crate::dns::resolve::Resolver;
use crate::dns::{hints, parse_name, Options};
use crate::progress::{Mode, Tally};
use crate::query::delegations::Pick;
use rusqlite::Connection;

/// One domain's report, as printed.
#[derive(serde::Serialize)]
struct Report<'a> {
    domain: &'a str,
    worst: Option<Level>,
    elapsed_ms: u128,
    findings: Vec<&'a analyze::Finding>,
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
    let keys = &s.config.keys;
    let pick = Selection::parse(&args.tests).map_err(|e| usage(e.to_string()))?;
    let undelegated = if args.ns.is_empty() { None } else { Some(parse_ns(&args.ns, &args.ds)?) };
    let hints_file = args.root_hints.clone().or_else(|| keys.dns_root_hints.clone());
    let hints = match &hints_file {
        Some(path) => hints::load(path).map_err(|e| usage(e.to_string()))?,
        None => hints::iana(),
    };
    let timeout = match args.timeout {
        Some(t) if !(t > 0.0 && t.is_finite()) => return Err(usage("--timeout: a positive number of seconds")),
        Some(t) => Duration::from_secs_f64(t),
        None => keys.dns_timeout.map_or(Duration::from_secs(2), |t| t.0),
    };
    let opts = Options { timeout, allow_private: args.allow_private || keys.dns_allow_private.unwrap_or(false), ..Options::default() };
    let limits = Limits {
        qps: args.qps.or(keys.dns_qps.map(|c| c.u32())).unwrap_or(Limits::default().qps),
        in_flight: args.in_flight.or(keys.dns_in_flight.map(|c| c.usize())).unwrap_or(Limits::default().in_flight),
    };
    let (ipv4, ipv6) = (!args.no_ipv4, !args.no_ipv6);
    if !ipv4 && !ipv6 {
        return Err(usage("--no-ipv4 and --no-ipv6 together leave nothing to ask"));
    }
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
    let (run, picked) = match (&db, keep) {
        (Some((conn, current)), true) => {
            let run = begin_or_resume(s, conn, current, args)?;
            let todo = run.todo.clone();
            (Some(run), todo)
        }
        _ => (None, delegations(db.as_ref(), args)?.into_iter().enumerate().map(|(i, d)| (i as i64, d)).collect()),
    };
    let mut names = Vec::with_capacity(picked.len());
    for (i, d) in picked {
        names.push((i, parse_name(&d).map_err(|e| usage(e.to_string()))?));
    }
    if names.is_empty() {
        if !s.quiet {
            eprintln!("analyze: no delegation to analyse");
        }
        if let (Some(run), Some((conn, _))) = (&run, &mut db) {
            Keeper::new(conn, run, &[]).finish()?;
        }
        out.stream().finish()?;
        return Ok(ExitStatus::Success);
    }
    let resolver = Arc::new(Resolver::new(Arc::new(Client::new(opts, limits)), &hints, ipv4, ipv6));
    if let Some((conn, current)) = &db {
        let just: Vec<_> = names.iter().map(|(_, n)| n.clone()).collect();
        seed_from_zones(conn, current, &resolver, &just)?;
    }
    let endpoints = if keep { crate::changes::webhooks::endpoints(&s.config)? } else { Vec::new() };
    let mut keeper = match (&run, &mut db) {
        (Some(run), Some((conn, _))) => Some(Keeper::new(conn, run, &endpoints)),
        _ => None,
    };
    let tally = Tally::counting(Mode::detect(s.quiet, s.log_interval), "analyze", "questions sent");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let total = names.len();
    let started = std::time::Instant::now();
    let mut results: Vec<(i64, Analysis)> = Vec::with_capacity(total);
    rt.block_on(analyze::many(&resolver, names, undelegated.as_ref(), &pick, args.concurrency, |i, mut a| -> anyhow::Result<()> {
        if let Some(k) = keeper.as_mut() {
            k.keep(i, &a)?;
        }
        if !args.trace {
            a.trace.clear();
        }
        results.push((i, a));
        tally.set(&format!("{}/{total} domains", results.len()), resolver.client().sent());
        Ok(())
    }))?;
    tally.finish();
    let kept = keeper.map(Keeper::finish).transpose()?;
    results.sort_by_key(|(i, _)| *i);
    let refused = resolver.client().refused();
    let mut stream = out.stream();
    let mut worst = None;
    for (_, a) in &results {
        let shown: Vec<&analyze::Finding> = a.findings.iter().filter(|f| f.level >= args.level).collect();
        worst = worst.max(a.worst());
        let asked: Vec<IpAddr> = a.trace.iter().map(|e| e.server.ip()).collect();
        let not_asked = refused.iter().filter(|(ip, _)| asked.contains(ip)).map(|(ip, why)| format!("{ip}: {why}")).collect();
        let trace = args.trace.then(|| a.trace.iter().map(trace_line).collect());
        let report = Report { domain: &a.domain, worst: a.worst(), elapsed_ms: a.elapsed.as_millis(), findings: shown, not_asked, trace };
        let text = text(&report, out.format());
        stream.push(&report, (!text.is_empty()).then(|| text.trim_end().to_string()))?;
    }
    stream.finish()?;
    if !s.quiet {
        let secs = started.elapsed().as_secs_f64();
        let sent = resolver.client().sent();
        eprintln!("analyze: {total} domain(s) in {secs:.2} s, {sent} questions sent ({:.0}/s)", sent as f64 / secs.max(1e-9));
        if let (Some(k), Some(run)) = (kept, &run) {
            let n = if k.analyses == 1 { "1 analysis".to_string() } else { format!("{} analyses", k.analyses) };
            eprintln!(
                "analyze: kept {n} in run {} of {} ({}), {}",
                run.id,
                run.tld,
                crate::time::date_of(&run.at),
                super::count(k.events, "delegation event")
            );
        }
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

/// The run of `--tld` to work on: the one an earlier `analyze` left unfinished (its picks
/// stand, whatever this one's flags say), else a new one of the delegations the flags pick.
fn begin_or_resume(s: &Settings, conn: &Connection, current: &[String], args: &AnalyzeArgs) -> anyhow::Result<Run> {
    let tld = super::known_zone(current, args.tld.as_deref().unwrap_or_default())?;
    if let Some(run) = history::unfinished(conn, &tld)? {
        if !s.quiet {
            eprintln!(
                "analyze: finishing run {} of {tld} ({}, begun by an earlier analyze): {} of {} domain(s) left",
                run.id,
                crate::time::date_of(&run.at),
                run.todo.len(),
                run.total
            );
        }
        return Ok(run);
    }
    let (zone, at) =
        crate::query::delegations::version(conn, &tld)?.ok_or_else(|| super::failed(format!("{tld}: not an imported zone")))?;
    let (pick, domains) = picked(conn, &tld, args)?;
    Ok(history::begin(conn, &tld, zone, &at, &pick.describe(), &domains)?)
}

/// The domains named, or those of `--tld` that the database picks.
fn delegations(db: Option<&(Connection, Vec<String>)>, args: &AnalyzeArgs) -> anyhow::Result<Vec<String>> {
    let (Some(tld), Some((conn, current))) = (&args.tld, db) else { return Ok(args.domains.clone()) };
    let zone = super::known_zone(current, tld)?;
    Ok(picked(conn, &zone, args)?.1)
}

/// The delegations of imported zone `zone` that the flags pick, and how they were picked.
fn picked(conn: &Connection, zone: &str, args: &AnalyzeArgs) -> anyhow::Result<(Pick, Vec<String>)> {
    let since =
        args.changed_since.as_deref().map(|d| crate::time::Since::parse(d).map_err(|e| usage(format!("--changed-since `{d}`: {e}"))));
    let since = since.transpose()?;
    let pick = match super::since_text(conn, since)? {
        Some(t) => Pick::ChangedSince(t),
        None if args.all => Pick::All,
        None => Pick::Latest,
    };
    let domains = crate::query::delegations::pick(conn, zone, &pick, args.limit)?;
    Ok((pick, domains))
}

/// The zones the database holds give their own servers: resolution of their children starts
/// there, not at the root. For a zone it lacks, or when no imported zone gives the servers'
/// addresses, the walk starts at the root hints.
fn seed_from_zones(conn: &Connection, current: &[String], r: &Resolver, names: &[hickory_proto::rr::Name]) -> anyhow::Result<()> {
    let mut tlds: Vec<hickory_proto::rr::Name> = names.iter().filter(|n| n.num_labels() > 1).map(|n| n.trim_to(1)).collect();
    tlds.sort();
    tlds.dedup();
    for tld in tlds {
        let text = crate::dns::text(&tld);
        if !current.contains(&text) {
            continue;
        }
        let mut servers = Vec::new();
        for (name, ips) in crate::query::delegations::apex(conn, &text)? {
            let Ok(n) = parse_name(&name) else { continue };
            // A name no imported zone gives an address to is left to resolution.
            let ips: Vec<IpAddr> = ips.iter().filter_map(|ip| ip.parse().ok()).collect();
            servers.extend(ips.into_iter().map(|ip| crate::dns::resolve::Ns { name: n.to_lowercase(), ip }));
        }
        r.seed(&tld, servers);
    }
    Ok(())
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
