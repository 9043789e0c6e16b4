//! `zonefeed requests`: CZDS access requests: list, show, extend, request, cancel.

use std::collections::BTreeSet;
use std::io::IsTerminal;

use super::{confirm, czds_client, failed, usage, ExitStatus, Output};
use crate::cli::{Format, RequestsArgs, RequestsCommand};
use crate::config::Settings;
use crate::czds::{self, requests};

pub fn run(s: &Settings, out: &Output, args: &RequestsArgs) -> anyhow::Result<ExitStatus> {
    let (client, _) = czds_client(s, args.username.as_deref(), args.password_file.as_deref())?;
    let norm = |t: &String| t.trim().trim_end_matches('.').to_ascii_lowercase();
    match &args.command {
        RequestsCommand::List { status, tld, expiring_within } => {
            let q = requests::Query {
                status: status.map(|s| s.api_name().to_string()).unwrap_or_default(),
                tlds: tld.iter().map(norm).collect(),
                sort: None,
            };
            let mut list = requests::list(&client, &q)?;
            if let Some(days) = expiring_within {
                let limit = crate::time::unix_now() + days * 86400;
                list.retain(|r| r.expires().is_some_and(|t| t <= limit));
            }
            out.list(&list, |r, f| match f {
                Format::Tsv => format!("{}\t{}\t{}\t{}", r.tld, r.status, r.expired.as_deref().unwrap_or(""), r.request_id),
                _ => format!("{:<24} {:<10} expires {:<24} {}", r.tld, r.status, r.expired.as_deref().unwrap_or("-"), r.request_id),
            })?;
            Ok(ExitStatus::Success)
        }
        RequestsCommand::Show { what } => {
            let r = find_request(&client, what)?.ok_or_else(|| failed(format!("no request for `{what}`")))?;
            let d = requests::details(&client, &r.request_id)?;
            out.one(&d, |d| serde_json::to_string_pretty(d).unwrap_or_default())?;
            Ok(ExitStatus::Success)
        }
        RequestsCommand::Extend { tlds, within, dry_run } => {
            let done = requests::extend(&client, &tlds.iter().map(norm).collect::<Vec<_>>(), *within, *dry_run)?;
            let failed = done.iter().filter(|e| e.action == requests::Action::Failed).count();
            let mut results = out.stream();
            for e in &done {
                results
                    .push(e, Some(format!("{}: {} (expires {}): {}", e.tld, e.action, e.expired.as_deref().unwrap_or("-"), e.reason)))?;
            }
            results.finish()?;
            if done.is_empty() {
                out.say(&format!("nothing expires within {within} days"))?;
            }
            Ok(ExitStatus::of_items(done.len() - failed, failed))
        }
        RequestsCommand::New { tlds, all, exclude, reason, yes } => {
            let exclude: Vec<String> = exclude.iter().map(norm).collect();
            let wanted: Vec<String> = if *all {
                requests::tlds(&client)?.iter().map(|t| t.tld.to_ascii_lowercase()).collect()
            } else {
                tlds.iter().map(norm).collect()
            };
            request_access(&client, out, wanted, &exclude, !*all, reason, *yes)
        }
        RequestsCommand::Cancel { what } => {
            let r = find_request(&client, what)?.ok_or_else(|| failed(format!("no request for `{what}`")))?;
            requests::cancel(&client, &r)?;
            let v = serde_json::json!({"tld": r.tld, "request_id": r.request_id, "canceled": true});
            out.one(&v, |_| format!("{}: request {} canceled", r.tld, r.request_id))?;
            Ok(ExitStatus::Success)
        }
        RequestsCommand::Tlds => {
            out.list(&requests::tlds(&client)?, |t, f| match f {
                Format::Tsv => format!("{}\t{}", t.tld, t.current_status.as_deref().unwrap_or("")),
                _ => format!("{:<24} {}", t.tld, t.current_status.as_deref().unwrap_or("-")),
            })?;
            Ok(ExitStatus::Success)
        }
    }
}

/// Requests access to the zones `wanted` that are not in `exclude` and have no open request,
/// once the user has accepted the terms (or gave `--yes`). `named`: the TLDs were named one by
/// one, so each refused one is said.
fn request_access(
    client: &czds::Client,
    out: &Output,
    wanted: Vec<String>,
    exclude: &[String],
    named: bool,
    reason: &str,
    yes: bool,
) -> anyhow::Result<ExitStatus> {
    let existing = requests::list(client, &requests::Query::default())?;
    let open: BTreeSet<String> = existing.iter().filter(|r| requests::is_open(&r.status)).map(|r| r.tld.to_ascii_lowercase()).collect();
    let mut send = Vec::new();
    for t in wanted {
        if exclude.contains(&t) || send.contains(&t) {
            continue;
        }
        if open.contains(&t) {
            if named {
                eprintln!("{t}: refused: already approved or pending");
            }
            continue;
        }
        send.push(t);
    }
    if send.is_empty() {
        return Err(failed("nothing to request (every TLD named is approved or pending already)"));
    }
    let (version, url) = requests::terms(client)?;
    eprintln!("CZDS terms and conditions version {version}{}", if url.is_empty() { String::new() } else { format!(": {url}") });
    eprintln!("requesting {} TLDs: {}", send.len(), send.join(" "));
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(usage("not a terminal to ask on; read the terms, then give --yes"));
        }
        if !confirm("accept these terms and send the request?")? {
            eprintln!("nothing sent");
            return Ok(ExitStatus::Failure);
        }
    }
    requests::create(client, &send, reason, &version)?;
    let v = serde_json::json!({"requested": send, "tc_version": version});
    out.one(&v, |_| format!("requested {} TLDs (terms version {version})", send.len()))?;
    Ok(ExitStatus::Success)
}

/// A TLD or a request id: the request it names (ids are matched as given, TLDs exactly).
fn find_request(client: &czds::Client, what: &str) -> Result<Option<requests::Request>, czds::CzdsError> {
    let tld = what.trim().trim_end_matches('.').to_ascii_lowercase();
    let by_tld = requests::list(client, &requests::Query { tlds: vec![tld], ..Default::default() })?;
    // The newest request of that TLD is the one that matters.
    if let Some(r) = by_tld.into_iter().max_by(|a, b| a.created.cmp(&b.created)) {
        return Ok(Some(r));
    }
    Ok(requests::list(client, &requests::Query::default())?.into_iter().find(|r| r.request_id == what))
}
