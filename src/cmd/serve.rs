//! `zonefeed serve`: the read-only JSON API.

use super::{open_query_db, ExitStatus, Output};
use crate::cli::ServeArgs;
use crate::config::Settings;

/// Open connections at most when neither the flag nor the config says.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

pub fn run(s: &Settings, _out: &Output, args: &ServeArgs) -> anyhow::Result<ExitStatus> {
    let max_limit = s.config.positive_integer("serve.max_limit")?.unwrap_or(1000) as usize;
    let max_connections = match args.max_connections {
        Some(n) => n,
        None => s.config.positive_integer("serve.max_connections")?.map_or(DEFAULT_MAX_CONNECTIONS, |n| n as usize),
    };
    // A database the server cannot read is a startup error, not a 500 on every request.
    drop(open_query_db(s)?);
    let seconds = |key: &str, default: f64| -> anyhow::Result<std::time::Duration> {
        Ok(std::time::Duration::from_secs_f64(s.config.positive_number(key)?.unwrap_or(default)))
    };
    let opts = crate::serve::Options {
        db: s.db.clone(),
        max_limit,
        threads: usize::from(args.threads),
        max_connections,
        header_timeout: seconds("serve.header_timeout_seconds", 10.0)?,
        request_timeout: seconds("serve.request_timeout_seconds", 30.0)?,
    };
    crate::serve::run(&args.listen, opts, |addr| {
        // stdout, one line, even under --quiet: scripts (and tests) read the port from it.
        super::output::write_line(&format!("listening on http://{addr}/ (the web page; the JSON API is under /v1/)"))
    })?;
    Ok(ExitStatus::Success)
}
