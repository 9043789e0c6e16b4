//! `zonefeed ns HOST`: a name server's page.

use super::{need_ns_data, open_query_db, ExitStatus, Output};
use crate::cli::NsArgs;
use crate::config::Settings;
use crate::query::{self, NameServer};

pub fn run(s: &Settings, out: &Output, args: &NsArgs) -> anyhow::Result<ExitStatus> {
    let host = query::normalize(&args.host)?;
    let conn = open_query_db(s)?;
    need_ns_data(&conn, None, None, "counted")?;
    let page = query::nameserver(&conn, &host, args.days)?;
    out.one(&page, text)?;
    // Like `domain`: a host no version ever delegated to is not found.
    Ok(if page.first_seen.is_none() { ExitStatus::Failure } else { ExitStatus::Success })
}

fn text(p: &NameServer) -> String {
    let mut t = format!(
        "{}: {} now; first seen {}, last seen {}\n",
        p.host,
        super::count(p.domains, "domain"),
        p.first_seen.as_deref().unwrap_or("never"),
        p.last_seen.as_deref().unwrap_or("never")
    );
    if let Some(b) = &p.history_pruned_before {
        t.push_str(&format!("  (history before {b} was pruned)\n"));
    }
    t.push_str(&format!("  addresses (glue): {}\n", if p.addresses.is_empty() { "none".into() } else { p.addresses.join(", ") }));
    for (what, list) in [("added", &p.added), ("removed", &p.removed)] {
        match &p.as_of {
            Some(d) => t.push_str(&format!("  {what} in the {} days to {}: {}\n", p.days, crate::time::date_of(d), list.len())),
            None => t.push_str(&format!("  {what}: no zone imported\n")),
        }
        for d in list {
            t.push_str(&format!("    {d}\n"));
        }
    }
    t
}
