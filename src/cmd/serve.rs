//! `zonefeed serve`: the web page, the JSON API and the Zonalizer API.

use super::{open_query_db, usage, ExitStatus, Output};
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
        zonalizer: zonalizer(s, args)?,
        allow_monitor: args.allow_monitor,
    };
    crate::serve::run(&args.listen, opts, |addr| {
        // stdout, one line, even under --quiet: scripts (and tests) read the port from it.
        super::output::write_line(&format!("listening on http://{addr}/ (the web page; the JSON API is under /v1/)"))
    })?;
    Ok(ExitStatus::Success)
}

/// The Zonalizer API's settings, and its write guard checked before anything listens: a
/// token file only its owner may read, and no writes beyond loopback without one.
fn zonalizer(s: &Settings, args: &ServeArgs) -> anyhow::Result<crate::serve::ZonalizerOptions> {
    let k = &s.config.keys;
    let token = match &k.zonalizer_token_file {
        Some(path) => {
            crate::config::check_private("token file", path)?;
            let text = std::fs::read_to_string(path).map_err(|e| usage(format!("zonalizer.token_file `{}`: {e}", path.display())))?;
            let token = text.trim().to_string();
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(usage(format!("zonalizer.token_file `{}`: the token is at least 16 printable characters", path.display())));
            }
            Some(token)
        }
        None => None,
    };
    let loopback =
        args.listen.parse::<std::net::SocketAddr>().map(|a| a.ip().is_loopback()).unwrap_or(args.listen.starts_with("localhost:"));
    if (args.allow_analysis || args.allow_monitor) && token.is_none() && !loopback {
        let flag = if args.allow_analysis { "--allow-analysis" } else { "--allow-monitor" };
        return Err(usage(format!(
            "{flag} on {} (beyond loopback) needs a token: set zonalizer.token_file to a file only you can read",
            args.listen
        )));
    }
    let engine = super::analyze::engine_of(s, &args.engine)?;
    Ok(crate::serve::ZonalizerOptions::from_config(&s.config, engine, args.allow_analysis, token))
}
