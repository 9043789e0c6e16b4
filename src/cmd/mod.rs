//! The commands: parsed flags in, an [`ExitStatus`] or an error out. One file per command; this
//! one dispatches and holds what they share: the exit codes, the error kinds that carry one,
//! and the openers every command uses.
//!
//! A command prints data through [`output::Output`] only, and never prints an error itself: it
//! returns it, and `main` reports it once ([`report`]). A closed stdout surfaces as an
//! `io::ErrorKind::BrokenPipe` error, which `main` turns into a quiet exit 0, as ripgrep does.

mod analyze;
mod changes;
mod check;
mod domain;
mod download;
mod export;
mod import;
mod log;
mod monitor;
mod ns;
pub mod output;
mod prune;
mod requests;
mod search;
mod serve;
mod service;
mod stats;
mod sync;
mod watch;
mod webhooks;

use anyhow::Context;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{Cli, Command};
use crate::config::Settings;
use crate::store::{self, StoreError};

pub use output::Output;

/// The documented exit codes (README, "Exit codes"): part of the interface scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Done (also: nothing to do, file unchanged).
    Success = 0,
    /// Failed, or not found / no match (as grep); the previous version is kept.
    Failure = 1,
    /// Bad flag, argument or config.
    Usage = 2,
    /// CZDS refused the credentials.
    Auth = 3,
    /// CZDS answered 429.
    RateLimited = 4,
    /// Another zonefeed holds the database (or the download directory).
    Busy = 5,
    /// Some items failed, the others are done.
    Partial = 6,
}

impl ExitStatus {
    /// The `code` of a `{"error": {...}}` object.
    pub fn name(self) -> &'static str {
        match self {
            ExitStatus::Success => "ok",
            ExitStatus::Failure => "failed",
            ExitStatus::Usage => "usage",
            ExitStatus::Auth => "authentication_failed",
            ExitStatus::RateLimited => "rate_limited",
            ExitStatus::Busy => "busy",
            ExitStatus::Partial => "partial",
        }
    }

    /// The status of a run over several items: all done, none done, or some.
    pub fn of_items(ok: usize, failed: usize) -> ExitStatus {
        match (ok, failed) {
            (_, 0) => ExitStatus::Success,
            (0, _) => ExitStatus::Failure,
            _ => ExitStatus::Partial,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s as u8)
    }
}

/// An error that decides its own exit status: a usage error (2), a not-found (1), ...
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    pub status: ExitStatus,
    pub message: String,
}

/// A usage error: exit 2.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Failure { status: ExitStatus::Usage, message: message.into() }.into()
}

/// A failure: exit 1.
pub fn failed(message: impl Into<String>) -> anyhow::Error {
    Failure { status: ExitStatus::Failure, message: message.into() }.into()
}

/// The exit status an error stands for: the first error in its chain that says.
pub fn status_of(err: &anyhow::Error) -> ExitStatus {
    for e in err.chain() {
        if let Some(f) = e.downcast_ref::<Failure>() {
            return f.status;
        }
        if let Some(e) = e.downcast_ref::<StoreError>() {
            if e.is_busy() {
                return ExitStatus::Busy;
            }
        }
        if let Some(e) = e.downcast_ref::<crate::ingest::ImportError>() {
            if e.is_busy() {
                return ExitStatus::Busy;
            }
        }
        if let Some(crate::lock::HoldError::Busy { .. }) = e.downcast_ref() {
            return ExitStatus::Busy;
        }
        if let Some(crate::changes::webhooks::DeliverError::Lock(e)) = e.downcast_ref() {
            if e.is_busy() {
                return ExitStatus::Busy;
            }
        }
        if let Some(e) = e.downcast_ref::<crate::czds::CzdsError>() {
            return e.fatal().map_or(ExitStatus::Failure, download::fatal_status);
        }
        if e.is::<crate::config::ConfigError>()
            || e.is::<crate::config::CredentialError>()
            || e.is::<crate::query::BadName>()
            || e.is::<crate::query::BadQuery>()
        {
            return ExitStatus::Usage;
        }
    }
    ExitStatus::Failure
}

/// Whether the error is stdout closing under us (`zonefeed search .com | head -1`).
pub fn is_closed_pipe(err: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == BrokenPipe)
            || e.downcast_ref::<serde_json::Error>().is_some_and(|e| e.io_error_kind() == Some(BrokenPipe))
    })
}

/// Reports a command's error once: `error: …` and each new `Caused by: …` on stderr, and with
/// a JSON format also `{"error": {"code", "message"}}` on stdout. Returns the exit code.
pub fn report(err: &anyhow::Error, json: bool) -> ExitCode {
    if is_closed_pipe(err) {
        return ExitCode::SUCCESS;
    }
    let status = status_of(err);
    let mut shown = err.to_string();
    eprintln!("error: {shown}");
    for cause in err.chain().skip(1) {
        // thiserror messages often hold their source's text already; print only what is new.
        let msg = cause.to_string();
        if !shown.contains(&msg) {
            eprintln!("Caused by: {msg}");
            shown.push_str(&msg);
        }
    }
    if json {
        let v = serde_json::json!({"error": {"code": status.name(), "message": format!("{err:#}")}});
        // A closed stdout has nothing more to say.
        let _ = output::write_line(&v.to_string());
    }
    status.into()
}

/// Runs the command `cli` names.
pub fn run(cli: &Cli) -> anyhow::Result<ExitStatus> {
    log::init(cli.global.verbose);
    let settings = Settings::resolve(cli.global.flags(), cli.command.wait())?;
    let s = &settings;
    let format = cli.global.output_format();
    // Lists have a tab form; a command whose output is a page or a report has none, and says
    // so rather than print text to a script that asked for tabs.
    let tsv = matches!(
        cli.command,
        Command::Changes(_)
            | Command::Search(_)
            | Command::Check(_)
            | Command::Analyze(_)
            | Command::Watch(_)
            | Command::Requests(_)
            | Command::Monitor(_)
    );
    if format == crate::cli::Format::Tsv && !tsv {
        return Err(usage("this command has no tsv form: use --format text, json or jsonl"));
    }
    let out = Output::new(format, s.quiet);
    match &cli.command {
        Command::Import(args) => import::run(s, &out, args),
        Command::Download(args) => download::run(s, &out, args),
        Command::Sync(args) => sync::run(s, &out, args),
        Command::Requests(args) => requests::run(s, &out, args),
        Command::Service(args) => service::run(s, &out, args),
        Command::Changes(args) => changes::run(s, &out, args),
        Command::Domain(args) => domain::run(s, &out, args),
        Command::Search(args) => search::run(s, &out, args),
        Command::Ns(args) => ns::run(s, &out, args),
        Command::Stats(args) => stats::run(s, &out, args),
        Command::Check(args) => check::run(s, &out, args),
        Command::Watch(args) => watch::run(s, &out, args),
        Command::Serve(args) => serve::run(s, &out, args),
        Command::Webhooks(args) => webhooks::run(s, &out, args),
        Command::Prune(args) => prune::run(s, &out, args),
        Command::Export(args) => export::run(s, &out, args),
        Command::Analyze(args) => analyze::run(s, &out, args),
        Command::Monitor(args) => monitor::run(s, &out, args),
        Command::Rdap(args) => monitor::rdap(s, &out, args),
        Command::Worker(args) => analyze::worker(s, &out, args),
    }
}

/// Exit 1 when there is no database: only the commands that import create one.
fn require_db(s: &Settings) -> anyhow::Result<()> {
    if !s.db.exists() {
        return Err(failed(format!("no database at `{}` (import a zone first, or give --db)", s.db.display())));
    }
    Ok(())
}

/// A read-only connection to an existing zonefeed database; never creates one.
pub fn open_query_db(s: &Settings) -> anyhow::Result<rusqlite::Connection> {
    require_db(s)?;
    let conn = store::open_ro(&s.db)?;
    store::check_readable(&conn, &s.db)?;
    if !store::is_older(&conn) {
        return Ok(conn);
    }
    // Queries read this zonefeed's schema: after an upgrade the first command brings the
    // database up to it, as the next import would.
    drop(conn);
    drop(open_writer(s, false).context("the database has an older schema, and upgrading it needs write access")?);
    let conn = store::open_ro(&s.db)?;
    Ok(conn)
}

/// A read-only connection and the zone named (which must be imported), or every current zone.
pub fn open_zones(s: &Settings, tld: Option<&str>) -> anyhow::Result<(rusqlite::Connection, Vec<String>)> {
    let conn = open_query_db(s)?;
    let current = store::current_zones(&conn)?;
    let zones = match tld {
        Some(t) => vec![known_zone(&current, t)?],
        None => current,
    };
    Ok((conn, zones))
}

/// `--tld` as the canonical name of an imported zone: a bad name is exit 2, an unknown zone 1.
pub fn known_zone(current: &[String], tld: &str) -> anyhow::Result<String> {
    let t = crate::query::normalize(tld)?;
    if !current.contains(&t) {
        return Err(failed(format!("{t}: not an imported zone")));
    }
    Ok(t)
}

/// `--tld` checked against the database, for commands that filter by zone.
pub fn tld_filter(conn: &rusqlite::Connection, tld: Option<&str>) -> anyhow::Result<Option<String>> {
    tld.map(|t| known_zone(&store::current_zones(conn)?, t)).transpose()
}

/// A lock file held for the whole command; exit 5 when another process keeps it past `wait`.
pub fn exclusive_lock(path: &Path, busy: &str, wait: Duration) -> anyhow::Result<std::fs::File> {
    Ok(crate::lock::hold(path, busy, wait)?)
}

/// The database opened for writing under the writer lock (exit 5 when another writer keeps
/// it). `create`: whether a missing database may be created (only imports make one).
pub fn open_writer(s: &Settings, create: bool) -> anyhow::Result<(store::WriteLock, rusqlite::Connection)> {
    if !create {
        require_db(s)?;
    }
    let lock = store::WriteLock::acquire(&s.db, s.wait)?;
    let conn = store::open_rw(&s.db, s.wait)?;
    Ok((lock, conn))
}

/// `1 domain`, `2 domains`: a count and its noun for people.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

pub use crate::progress::human_bytes;

/// A pivot on name servers reads the records imports keep: a zone imported with
/// `--no-records` (in its version current now, or on `at`) has no NS data, which is said
/// rather than finding nothing. An error when no zone has any; a warning for each that has none.
pub fn need_ns_data(conn: &rusqlite::Connection, tld: Option<&str>, at: Option<&str>, verb: &str) -> anyhow::Result<()> {
    let zones = crate::query::versions(conn, tld, at)?;
    let blind: Vec<&str> = zones.iter().filter(|z| !z.2).map(|z| z.1.as_str()).collect();
    if !blind.is_empty() && blind.len() == zones.len() {
        return Err(failed(format!("{}: imported with --no-records, so there is no NS data to search", blind.join(", "))));
    }
    for z in blind {
        eprintln!("warning: {z}: imported with --no-records, not {verb} (no NS data)");
    }
    // On a past day, what the index no longer or never covered is said, not left out.
    let Some(at) = at else { return Ok(()) };
    let day = crate::time::date_of(at);
    for (_, zone, _) in zones.iter().filter(|z| z.2) {
        match crate::query::index_start(conn, zone)? {
            Some(start) if start.as_str() <= at => {}
            Some(start) => eprintln!(
                "warning: {zone}: the name-server index starts on {}, after {day}: domains of {day} are not {verb}",
                crate::time::date_of(&start)
            ),
            None => eprintln!(
                "warning: {zone}: no name-server index (a later --no-records import dropped the records): domains of {day} are not {verb}"
            ),
        }
    }
    if let Some(p) = store::pruned_before(conn)?.filter(|p| p.as_str() > at) {
        eprintln!("note: history before {} was pruned: domains that left before then are not {verb}", crate::time::date_of(&p));
    }
    Ok(())
}

/// `--since` checked (exit 2 for anything but a date, a time or an age), before the database
/// is opened.
pub fn since_arg(since: Option<&str>) -> anyhow::Result<Option<crate::time::Since>> {
    since.map(|d| crate::time::Since::parse(d).map_err(|e| usage(format!("--since `{d}`: {e}")))).transpose()
}

/// `--since` as the RFC 3339 text events carry: an age counts back from the newest zone date
/// (see [`crate::query::age_reference`]).
pub fn since_text(conn: &rusqlite::Connection, since: Option<crate::time::Since>) -> anyhow::Result<Option<String>> {
    let Some(since) = since else { return Ok(None) };
    let reference = if since.is_age() { crate::query::age_reference(conn)? } else { 0 };
    Ok(Some(since.resolve(reference)))
}

/// The config's webhook endpoints and delivery settings.
pub fn webhook_config(
    s: &Settings,
) -> anyhow::Result<(Vec<crate::changes::webhooks::Endpoint>, crate::changes::webhooks::DeliveryOptions)> {
    use crate::changes::webhooks;
    Ok((webhooks::endpoints(&s.config)?, webhooks::DeliveryOptions::from_config(&s.config)))
}

/// A CZDS client from flags, environment and config.
pub fn czds_client(
    s: &Settings,
    username: Option<&str>,
    password_file: Option<&Path>,
) -> anyhow::Result<(crate::czds::Client, crate::config::CzdsSettings)> {
    let cfg = crate::config::CzdsSettings::resolve(&s.config, username, password_file)?;
    Ok((cfg.client(), cfg))
}

/// Asks `question [y/N]` on the terminal; true for yes.
pub fn confirm(question: &str) -> std::io::Result<bool> {
    use std::io::BufRead;
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The webhook delivery lock of a database (one deliverer at a time).
pub fn webhooks_lock(s: &Settings) -> anyhow::Result<std::fs::File> {
    Ok(crate::lock::webhooks(&s.db, s.wait)?)
}
