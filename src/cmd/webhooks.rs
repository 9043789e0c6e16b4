//! `zonefeed webhooks`: deliver the outbox, see its state, test and re-enable endpoints.

use super::{failed, open_writer, usage, webhook_config, webhooks_lock, ExitStatus, Output};
use crate::changes::webhooks::{self, DeliveryOptions, Endpoint};
use crate::cli::{WebhooksArgs, WebhooksCommand};
use crate::config::Settings;

pub fn run(s: &Settings, out: &Output, args: &WebhooksArgs) -> anyhow::Result<ExitStatus> {
    let (endpoints, opts) = webhook_config(s)?;
    if let WebhooksCommand::Test { url } = &args.command {
        return test(out, &endpoints, &opts, url.as_deref());
    }
    let _lock = webhooks_lock(s)?;
    let (db_lock, conn) = open_writer(s, false)?;
    match &args.command {
        WebhooksCommand::Status => {
            let status = webhooks::status(&conn, &endpoints)?;
            out.note_empty(&status, "no webhook endpoints: the config's `webhooks` list is empty, and no events wait for one");
            out.list(&status, |r, _| {
                format!(
                    "{}: {} events waiting ({} open batches), {} events delivered in {} batches{}{}{}",
                    r.endpoint,
                    r.pending_events,
                    r.open_batches,
                    r.delivered_events,
                    r.delivered_batches,
                    r.last_error.as_ref().map_or(String::new(), |e| format!(", last error: {e}")),
                    r.next_attempt.as_ref().map_or(String::new(), |t| format!(", next attempt {t}")),
                    r.disabled.as_ref().map_or(String::new(), |_| ", DISABLED (`zonefeed webhooks enable URL`)".to_string()),
                )
            })?;
            Ok(ExitStatus::Success)
        }
        WebhooksCommand::Deliver => {
            // Delivery takes the write lock for each write only (see `WriteGate`).
            drop(db_lock);
            let gate = webhooks::WriteGate { db: &s.db, wait: s.wait };
            let done = webhooks::deliver(&conn, &endpoints, &opts, &gate)?;
            let failed = report_deliveries(out, &done, false)?;
            Ok(ExitStatus::of_items(done.len() - failed, failed))
        }
        WebhooksCommand::Enable { url } => {
            if !webhooks::enable(&conn, url)? {
                return Err(failed(format!("`{url}` is not disabled")));
            }
            out.one(&serde_json::json!({"endpoint": url, "enabled": true}), |_| format!("{url}: enabled"))?;
            Ok(ExitStatus::Success)
        }
        WebhooksCommand::Test { .. } => unreachable!("answered above"),
    }
}

/// Prints what a delivery did; returns how many endpoints still wait for events. Within
/// `sync` (`in_sync`) JSON forms leave it out: the zones' array is that command's document.
pub(super) fn report_deliveries(out: &Output, done: &[webhooks::Delivered], in_sync: bool) -> anyhow::Result<usize> {
    let mut results = out.stream();
    let mut failed = 0;
    for d in done {
        if d.pending > 0 || d.disabled {
            failed += 1;
            out.item_failed(&format!("{}: {}", d.endpoint, d.error.as_deref().unwrap_or("not everything was delivered")));
        }
        let line = format!("{}: {} events delivered in {} batches, {} waiting", d.endpoint, d.events, d.batches, d.pending);
        if !(in_sync && out.is_json()) {
            results.push(d, Some(line))?;
        }
    }
    if !(in_sync && out.is_json()) {
        results.finish()?;
    }
    Ok(failed)
}

fn test(out: &Output, endpoints: &[Endpoint], opts: &DeliveryOptions, url: Option<&str>) -> anyhow::Result<ExitStatus> {
    let chosen: Vec<_> = endpoints.iter().filter(|e| url.is_none_or(|u| u == e.url)).collect();
    if chosen.is_empty() {
        return Err(usage(match url {
            Some(u) => format!("`{u}` is not in the config's `webhooks` list"),
            None => "the config has no `webhooks` list: there is no endpoint to test".to_string(),
        }));
    }
    let mut results = out.stream();
    let mut failed = 0;
    for e in chosen {
        let (ok, what) = match webhooks::test(e, opts) {
            Ok(st) if (200..300).contains(&st) => (true, format!("HTTP {st}")),
            Ok(st) => (false, format!("HTTP {st}")),
            Err(why) => (false, why),
        };
        failed += usize::from(!ok);
        let line = format!("{}: {}", e.url, if ok { format!("ok ({what})") } else { format!("failed: {what}") });
        results.push(&serde_json::json!({"endpoint": e.url, "ok": ok, "result": what}), Some(line))?;
    }
    results.finish()?;
    Ok(if failed == 0 { ExitStatus::Success } else { ExitStatus::Failure })
}
