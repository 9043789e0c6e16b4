//! `zonefeed serve`: the read-only JSON API.

use super::{open_query_db, ExitStatus, Output};
use crate::cli::ServeArgs;
use crate::config::{Count, Settings};

/// Open connections at most when neither the flag nor the config says.
const DEFAULT_MAX_CONNECTIONS: usize = 4096;

pub fn run(s: &Settings, _out: &Output, args: &ServeArgs) -> anyhow::Result<ExitStatus> {
    let k = &s.config.keys;
    let max_limit = k.serve_max_limit.map_or(1000, Count::usize);
    let max_connections = match args.max_connections {
        Some(n) => n,
        None => k.serve_max_connections.map_or(DEFAULT_MAX_CONNECTIONS, Count::usize),
    };
    // A database the server cannot read is a startup error, not a 500 on every request.
    drop(open_query_db(s)?);
    let seconds = |key: Option<crate::config::Seconds>, default: u64| key.map_or(std::time::Duration::from_secs(default), |s| s.0);
    let opts = crate::serve::Options {
        db: s.db.clone(),
        max_limit,
        threads: usize::from(args.threads),
        max_connections,
        header_timeout: seconds(k.serve_header_timeout, 10),
        request_timeout: seconds(k.serve_request_timeout, 30),
    };
    crate::serve::run(&args.listen, opts, |addr| {
        // stdout, one line, even under --quiet: scripts (and tests) read the port from it.
        super::output::write_line(&format!("listening on http://{addr}/ (the web page; the JSON API is under /v1/)"))
    })?;
    Ok(ExitStatus::Success)
}
