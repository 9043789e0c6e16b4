//! `zonefeed import`: files into versions.

use std::path::Path;

use super::{ExitStatus, Output};
use crate::cli::{ImportArgs, ImportFlags};
use crate::config::Settings;
use crate::ingest::{self, source::Input, Summary};
use crate::progress::{Mode, Progress};

/// The import options the flags shared by `import` and `sync` ask for.
pub(super) fn options(s: &Settings, flags: &ImportFlags, force: bool) -> anyhow::Result<ingest::Options> {
    let temp = s.config.temp_dir(flags.temp_dir.as_deref(), &s.db);
    let named = flags.temp_dir.is_some() || s.config.keys.import_temp_dir.is_some();
    if named && !temp.is_dir() {
        return Err(super::usage(format!("--temp-dir `{}` is not a directory", temp.display())));
    }
    let mut o = ingest::Options::new(temp);
    o.no_records = flags.no_records;
    o.max_errors = flags.max_errors;
    o.memory = flags.memory;
    o.max_removed = flags.max_removed;
    o.force = force;
    o.chunk = flags.chunk_size.unwrap_or(o.chunk).max(1);
    o.webhooks = crate::changes::webhooks::endpoints(&s.config)?;
    Ok(o)
}

/// The summary line of one import.
pub(super) fn summary_line(sum: &Summary) -> String {
    let serial = sum.serial.map_or("-".into(), |s| s.to_string());
    if sum.unchanged {
        return format!(
            "{}: unchanged (same SHA-256 as version {}, serial {serial}, {}), nothing imported",
            sum.tld,
            sum.version,
            super::count(sum.domains, "domain")
        );
    }
    format!(
        "{}: version {}, serial {serial}, {}, {} ({} new, {} changed, {} removed), {}, {:.1} MB in {:.2} s ({:.0} MB/s)",
        sum.tld,
        sum.version,
        super::count(sum.records, "record"),
        super::count(sum.domains, "domain"),
        sum.new_domains,
        sum.changed_domains,
        sum.removed_domains,
        super::count(sum.errors, "error"),
        sum.bytes as f64 / 1e6,
        sum.seconds,
        sum.bytes as f64 / 1e6 / sum.seconds.max(1e-6)
    )
}

pub fn run(s: &Settings, out: &Output, args: &ImportArgs) -> anyhow::Result<ExitStatus> {
    if let Some(n) = args.threads {
        let _ = rayon::ThreadPoolBuilder::new().num_threads(n.max(1)).build_global();
    }
    let mut opts = options(s, &args.flags, args.force)?;
    opts.tld.clone_from(&args.tld);
    opts.date.clone_from(&args.date);
    // No database is created for files that are not there: only once one of them can be read.
    if !args.files.iter().any(|f| f == "-" || std::fs::metadata(f).is_ok()) {
        let f = &args.files[0];
        let e = std::fs::metadata(f).err().unwrap_or_else(|| std::io::ErrorKind::NotFound.into());
        return Err(anyhow::Error::new(e).context(f.clone()));
    }
    let (_lock, mut conn) = super::open_writer(s, true)?;
    let progress = Progress::new(Mode::detect(s.quiet, s.log_interval));
    let mut results = out.stream();
    let (mut ok, mut failed, mut busy) = (0, 0, 0);
    for f in &args.files {
        let input = Input::from_arg(f);
        let mut opts = opts.clone();
        if args.allow_include {
            // Confined to the zone file's own directory (the working directory for stdin).
            let dir = input.path().and_then(Path::parent).filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            opts.parser.include = Some(crate::zone::parser::Include { dir: dir.canonicalize()?, depth: 0 });
        }
        match ingest::import(&mut conn, &input, &opts, &progress) {
            Ok(sum) => {
                ok += 1;
                results.push(&sum, Some(summary_line(&sum)))?;
            }
            Err(e) => {
                failed += 1;
                busy += usize::from(e.is_busy());
                let err = anyhow::Error::new(e);
                if args.files.len() == 1 {
                    return Err(err);
                }
                // One file failing does not stop the others; each error is reported as it comes.
                out.item_failed(&err.to_string());
                results.push(&serde_json::json!({"file": f, "error": err.to_string()}), None)?;
            }
        }
    }
    results.finish()?;
    Ok(if ok == 0 && busy == failed && failed > 0 { ExitStatus::Busy } else { ExitStatus::of_items(ok, failed) })
}
