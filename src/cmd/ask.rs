//! Asking the database: `domain`, `search`, `stats`, `check`, `watch`, `serve`.

use super::prelude::*;

pub fn domain_cmd(s: &Settings, args: &DomainArgs) -> ExitCode {
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

pub fn search_cmd(s: &Settings, args: &SearchArgs) -> ExitCode {
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

pub fn stats_cmd(s: &Settings, args: &StatsArgs) -> ExitCode {
    let (conn, tlds) = match open_zones(s, args.tld.as_deref()) {
        Ok(z) => z,
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

pub fn check_cmd(s: &Settings, args: &CheckArgs) -> ExitCode {
    let min = query::check::Level::parse(&args.level).unwrap_or(query::check::Level::Notice);
    let (conn, tlds) = match open_zones(s, args.tld.as_deref()) {
        Ok(z) => z,
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

pub fn watch_cmd(s: &Settings, args: &WatchArgs) -> ExitCode {
    if let WatchCommand::Hits { since, format } = &args.command {
        let since = match since_arg(since.as_deref()) {
            Ok(v) => v,
            Err(code) => return code,
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
    let (_lock, conn) = match open_writer(s) {
        Ok(w) => w,
        Err(code) => return code,
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

pub fn serve_cmd(s: &Settings, args: &ServeArgs) -> ExitCode {
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
    let opts = crate::serve::Options { db: s.db.clone(), max_limit, threads: args.threads };
    let quiet = s.quiet;
    let result = crate::serve::run(&args.listen, opts, |addr| {
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
