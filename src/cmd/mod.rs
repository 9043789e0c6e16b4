//! The commands: parsed flags in, an exit code out. Each file holds a family of commands;
//! this one dispatches and keeps what they share.

mod ask;
mod czds;
mod import;
mod ops;
mod prelude;

use std::process::ExitCode;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::store::StoreError;
use prelude::*;

/// Exit codes: part of the interface, written in the README.
pub mod code {
    pub const FAILED: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const BUSY: u8 = 5;
    pub const PARTIAL: u8 = 6;
}

/// Runs the command `cli` names.
pub fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::resolve(&cli.global) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(code::USAGE);
        }
    };
    let s = &settings;
    match cli.command {
        Command::Import(args) => import::import(s, &args),
        Command::Download(args) => czds::download(s, &args),
        Command::Sync(args) => czds::sync(s, &args),
        Command::Requests(args) => czds::requests_cmd(s, &args),
        Command::Service(args) => ops::service_cmd(s, &args),
        Command::Changes(args) => import::list_changes(s, &args),
        Command::Domain(args) => ask::domain_cmd(s, &args),
        Command::Search(args) => ask::search_cmd(s, &args),
        Command::Stats(args) => ask::stats_cmd(s, &args),
        Command::Check(args) => ask::check_cmd(s, &args),
        Command::Watch(args) => ask::watch_cmd(s, &args),
        Command::Serve(args) => ask::serve_cmd(s, &args),
        Command::Webhooks(args) => ops::webhooks_cmd(s, &args),
        Command::Prune(args) => ops::prune(s, &args),
    }
}

/// A read-only connection, or the exit code saying why there is none.
pub fn open_query_db(s: &Settings) -> Result<rusqlite::Connection, ExitCode> {
    if !s.db.exists() {
        eprintln!("error: no database at `{}` (import a zone first, or give --db)", s.db.display());
        return Err(ExitCode::from(code::FAILED));
    }
    store::open_ro(&s.db).map_err(|e| store_failure(&e))
}

pub fn query_failure(s: &Settings, e: rusqlite::Error) -> ExitCode {
    eprintln!("error: `{}`: {e}", s.db.display());
    ExitCode::from(code::FAILED)
}

/// A read-only connection and the zone named, or every current zone.
pub fn open_zones(s: &Settings, tld: Option<&str>) -> Result<(rusqlite::Connection, Vec<String>), ExitCode> {
    let conn = open_query_db(s)?;
    let zones = zones_asked(s, &conn, tld)?;
    Ok((conn, zones))
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

/// A lock file held for the whole command; exit 5 when another process keeps it past `wait`.
pub fn exclusive_lock(path: &std::path::Path, busy: &str, wait: std::time::Duration) -> Result<std::fs::File, ExitCode> {
    match crate::lock::exclusive(path, wait) {
        Ok(l) => Ok(l),
        Err(crate::lock::LockError::Busy) => {
            eprintln!("error: {busy} (waited {}s)", wait.as_secs());
            Err(ExitCode::from(code::BUSY))
        }
        Err(crate::lock::LockError::Io(e)) => {
            eprintln!("error: lock file `{}`: {e}", path.display());
            Err(ExitCode::from(code::FAILED))
        }
    }
}

/// `31.2 MB`, `850.0 kB`, `12 bytes` (decimal units, as the summaries use).
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

/// Sort runs spill next to the database.
pub fn spill_dir(db: &std::path::Path) -> std::path::PathBuf {
    db.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| ".".into(), |p| p.to_path_buf())
}

pub fn store_failure(e: &StoreError) -> ExitCode {
    eprintln!("error: {e}");
    ExitCode::from(if e.is_busy() { code::BUSY } else { code::FAILED })
}

/// The database opened for writing under the writer lock (exit 5 when another writer keeps it).
pub fn open_writer(s: &Settings) -> Result<(store::WriteLock, rusqlite::Connection), ExitCode> {
    let lock = store::WriteLock::acquire(&s.db, s.wait).map_err(|e| store_failure(&e))?;
    let conn = store::open_rw(&s.db, s.wait).map_err(|e| store_failure(&e))?;
    Ok((lock, conn))
}

/// `--since DATE` as the RFC 3339 text events carry; exit 2 for anything else.
pub fn since_arg(since: Option<&str>) -> Result<Option<String>, ExitCode> {
    since
        .map(|d| {
            changes::parse_since(d).ok_or_else(|| {
                eprintln!("error: --since `{d}`: give a UTC date (2026-11-23) or time (2026-11-23T06:00:00Z)");
                ExitCode::from(code::USAGE)
            })
        })
        .transpose()
}

/// The config's webhook endpoints and delivery settings; exit 2 when they are malformed.
pub fn webhook_config(s: &Settings) -> Result<(Vec<webhooks::Endpoint>, webhooks::DeliveryOptions), ExitCode> {
    let usage = |e: config::ConfigError| {
        eprintln!("error: {e}");
        ExitCode::from(code::USAGE)
    };
    Ok((webhooks::endpoints(&s.config).map_err(usage)?, webhooks::DeliveryOptions::from_config(&s.config).map_err(usage)?))
}

/// A CZDS client from flags, environment and config; exit 2 when credentials are missing.
pub fn czds_client(
    s: &Settings,
    username: Option<&str>,
    password_file: Option<&std::path::Path>,
) -> Result<(crate::czds::Client, CzdsSettings), ExitCode> {
    let cfg = CzdsSettings::resolve(&s.config, username, password_file).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(code::USAGE)
    })?;
    let client = crate::czds::Client::new(
        cfg.endpoints.clone(),
        cfg.credentials.clone(),
        crate::czds::TokenCache::new(cfg.token_cache()),
        &cfg.http,
    );
    Ok((client, cfg))
}

/// The exit code of a run over several items: 0 all done, 1 none done, 6 some.
pub fn outcome(ok: usize, failed: usize) -> ExitCode {
    match (ok, failed) {
        (_, 0) => ExitCode::SUCCESS,
        (0, _) => ExitCode::from(code::FAILED),
        _ => ExitCode::from(code::PARTIAL),
    }
}
