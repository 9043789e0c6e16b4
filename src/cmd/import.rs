//! `import` and `changes`: files into versions, and the events between them.

use super::prelude::*;

pub fn import(s: &Settings, args: &ImportArgs) -> ExitCode {
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
    let (_lock, mut conn) = match open_writer(s) {
        Ok(w) => w,
        Err(code) => return code,
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
                Ok(dir) => opts.parser.include = Some(crate::zone::parser::Include { dir, depth: 0 }),
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
    if ok == 0 && failed > 0 && busy {
        return ExitCode::from(code::BUSY);
    }
    outcome(ok, failed)
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

pub fn list_changes(s: &Settings, args: &ChangesArgs) -> ExitCode {
    let since = match since_arg(args.since.as_deref()) {
        Ok(v) => v,
        Err(code) => return code,
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
