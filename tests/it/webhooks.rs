//! Webhooks: the outbox, delivery through failures and a kill, 410, private addresses, prune.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::env::{summary, with_keys, TestEnv};
use crate::receiver::{Receiver, SECRET};

const DOMAINS: u64 = 3000;

struct Setup {
    env: TestEnv,
    hook: Receiver,
}

impl Setup {
    fn new(endpoint: serde_json::Value) -> Setup {
        let env = TestEnv::new();
        let hook = Receiver::start();
        let base = serde_json::json!({"url": hook.url(), "secret": SECRET, "batch_size": 7, "allow_private": true, "headers": {"X-Team": "brand"}});
        let ep = with_keys(base, &endpoint);
        let cfg = serde_json::json!({"webhooks": [ep], "webhooks.retry_delay_seconds": 0.05});
        env.write_private("config.json", cfg.to_string().as_bytes());
        Setup { env, hook }
    }

    fn day(&self, day: u64) -> PathBuf {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", DOMAINS, 5, day).unwrap();
        self.env.write(&format!("com-{day}.zone"), &text)
    }

    fn import(&self, day: u64) -> serde_json::Value {
        let f = self.day(day);
        summary(&self.env.import_ok("w.db", &[f.to_str().unwrap()]))
    }

    fn deliver(&self) -> std::process::Output {
        self.env.run(&["--db", "w.db", "--format", "jsonl", "webhooks", "deliver"])
    }

    /// Every event in the database as (id, kind, domain).
    fn events(&self) -> BTreeSet<(i64, String, String)> {
        let out = self.env.run(&["--db", "w.db", "changes", "--format", "jsonl"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .map(|e| (e["id"].as_i64().unwrap(), e["kind"].as_str().unwrap().into(), e["domain"].as_str().unwrap().into()))
            .collect()
    }

    /// What the receiver got, deduplicated by event id.
    fn received(&self) -> BTreeSet<(i64, String, String)> {
        self.hook
            .state()
            .received
            .iter()
            .flat_map(|d| d.body["events"].as_array().cloned().unwrap_or_default())
            .map(|e| (e["id"].as_i64().unwrap(), e["kind"].as_str().unwrap().into(), e["domain"].as_str().unwrap().into()))
            .collect()
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_event_arrives_signed_once_after_dedup_despite_500_and_429() {
    let t = Setup::new(serde_json::json!({}));
    let base = t.import(0);
    assert_eq!(base["queued"], 0, "the baseline has no events to send");
    let v1 = t.import(1);
    let v2 = t.import(2);
    let queued = v1["queued"].as_u64().unwrap() + v2["queued"].as_u64().unwrap();
    let events = t.events();
    assert!(events.len() > 20, "synthetic days change some domains");
    assert_eq!(queued as usize, events.len());
    {
        let mut s = t.hook.state();
        s.script.push_back((500, vec![], Duration::ZERO));
        s.script.push_back((429, vec![("Retry-After", "1".into())], Duration::ZERO));
    }
    let started = Instant::now();
    let out = t.deliver();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was honoured");
    assert_eq!(t.received(), events, "every event, none invented");
    let got = t.hook.state().received.clone();
    assert!(got.iter().all(|d| d.signature_ok), "every request carries a valid Standard Webhooks signature");
    assert!(got.iter().all(|d| d.custom_header.as_deref() == Some("brand")));
    // Modified events carry their diff (what changed), added and removed ones none.
    let all: Vec<serde_json::Value> = got.iter().flat_map(|d| d.body["events"].as_array().cloned().unwrap_or_default()).collect();
    let modified: Vec<&serde_json::Value> = all.iter().filter(|e| e["kind"] == "modified").collect();
    assert!(!modified.is_empty());
    for e in &modified {
        let n = e["diff"]["added"].as_array().map_or(0, Vec::len) + e["diff"]["removed"].as_array().map_or(0, Vec::len);
        assert!(n > 0, "a webhook's modified event without its diff: {e}");
    }
    assert!(all.iter().filter(|e| e["kind"] != "modified").all(|e| e.get("diff").is_none()));
    // The refused batch was resent with the same id and the same events.
    assert_eq!(got[0].id, got[1].id);
    assert_eq!(got[1].id, got[2].id);
    assert_eq!(got[0].body["events"], got[2].body["events"]);
    for d in &got {
        let evs = d.body["events"].as_array().unwrap();
        assert!(!evs.is_empty() && evs.len() <= 7, "batch_size 7");
        assert_eq!(d.body["id"], d.id.as_str());
        assert!(evs.iter().all(|e| e["tld"] == "com" && e["zone_version"].is_i64()));
    }
    // Delivered batches are not sent again; a new import's events are.
    let before = got.len();
    let out = t.deliver();
    assert!(out.status.success());
    assert_eq!(t.hook.state().received.len(), before);
    t.import(3);
    assert!(t.deliver().status.success());
    assert_eq!(t.received(), t.events());
    let status = t.env.run(&["--db", "w.db", "--format", "jsonl", "webhooks", "status"]);
    let st: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(st["pending_events"], 0);
    assert_eq!(st["delivered_events"].as_u64().unwrap() as usize, t.events().len());
}

#[test]
fn a_delivery_killed_midway_is_completed_by_the_next_run() {
    let t = Setup::new(serde_json::json!({}));
    t.import(0);
    t.import(1);
    let events = t.events();
    {
        let mut s = t.hook.state();
        s.script.push_back((200, vec![], Duration::ZERO));
        // The second batch hangs until the process is killed.
        s.script.push_back((200, vec![], Duration::from_secs(30)));
    }
    let mut child = t.env.cmd().args(["--db", "w.db", "webhooks", "deliver"]).spawn().unwrap();
    let start = Instant::now();
    while t.hook.state().received.len() < 2 {
        assert!(start.elapsed() < Duration::from_secs(20), "delivery did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let hung = t.hook.state().received[1].id.clone();
    t.hook.state().script.clear();
    let out = t.deliver();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.received(), events);
    let got = t.hook.state().received.clone();
    assert_eq!(got[2].id, hung, "the unacknowledged batch is sent again, same id");
    let ids: Vec<_> = got.iter().map(|d| d.id.clone()).collect();
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), unique.len() + 1, "exactly one batch was sent twice");
}

#[test]
fn gone_disables_the_endpoint_until_enabled() {
    let t = Setup::new(serde_json::json!({}));
    t.import(0);
    t.import(1);
    t.hook.state().script.push_back((410, vec![], Duration::ZERO));
    let out = t.deliver();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("410"), "{}", stderr(&out));
    let out = t.deliver();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(t.hook.state().received.len(), 1, "a disabled endpoint gets nothing more");
    let st = t.env.run(&["--db", "w.db", "webhooks", "status"]);
    assert!(String::from_utf8_lossy(&st.stdout).contains("DISABLED"));
    let url = t.hook.url();
    assert!(t.env.run(&["--db", "w.db", "webhooks", "enable", &url]).status.success());
    // A 500 that stays queued, then a 410: status shows the 410 that disabled the endpoint,
    // not the older 500 (it kept showing the 500 before).
    for _ in 0..6 {
        t.hook.state().script.push_back((500, vec![], Duration::ZERO));
    }
    assert_eq!(t.deliver().status.code(), Some(1));
    let st = t.env.run(&["--db", "w.db", "--json", "webhooks", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    assert!(v[0]["last_error"].as_str().unwrap_or("").contains("500"), "{v}");
    t.hook.state().script.clear();
    t.hook.state().script.push_back((410, vec![], Duration::ZERO));
    assert_eq!(t.deliver().status.code(), Some(1));
    let st = t.env.run(&["--db", "w.db", "--json", "webhooks", "status"]);
    let v: serde_json::Value = serde_json::from_slice(&st.stdout).unwrap();
    let last = v[0]["last_error"].as_str().unwrap_or("");
    assert!(last.contains("410") && !last.contains("500"), "status_after_410_shows_the_410: {v}");
    assert!(v[0].get("next_attempt").is_none(), "a disabled endpoint has no next attempt: {v}");
    assert!(t.env.run(&["--db", "w.db", "webhooks", "enable", &url]).status.success());
    assert!(t.deliver().status.success());
    assert_eq!(t.received(), t.events());
}

#[test]
fn a_private_address_is_refused_unless_allowed() {
    let t = Setup::new(serde_json::json!({"allow_private": false}));
    t.import(0);
    t.import(1);
    let out = t.deliver();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("loopback, private or link-local"), "{}", stderr(&out));
    assert!(t.hook.state().received.is_empty());
    let out = t.env.run(&["webhooks", "test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(t.hook.state().received.is_empty());
}

#[test]
fn only_committed_versions_queue_events_and_filters_apply() {
    let t = Setup::new(serde_json::json!({"events": ["added"], "tlds": ["com"]}));
    t.import(0);
    // A failing import (a malformed record) queues nothing.
    let mut bad = std::fs::read(t.day(1)).unwrap();
    bad.extend_from_slice(b"broken.com. 3600 IN NS\n");
    let f = t.env.write("bad.zone", &bad);
    let out = t.env.run(&["--db", "w.db", "import", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let conn = t.env.db("w.db");
    let n: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 0);
    let v1 = t.import(1);
    let added = t.events().iter().filter(|e| e.1 == "added").count();
    assert_eq!(v1["queued"].as_u64().unwrap() as usize, added, "only `added` events are queued for this endpoint");
    assert!(t.deliver().status.success());
    assert!(t.received().iter().all(|e| e.1 == "added"));
    assert_eq!(t.received().len(), added);
    // `webhooks test` sends one signed, empty batch.
    let out = t.env.run(&["webhooks", "test"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let last = t.hook.state().received.last().cloned().unwrap();
    assert!(last.signature_ok && last.id.starts_with("msg_test_"));
}

#[test]
fn prune_drops_old_history_but_never_current_or_undelivered() {
    let t = Setup::new(serde_json::json!({}));
    t.import(0);
    t.import(1);
    assert!(t.deliver().status.success());
    t.import(2);
    let conn = t.env.db("w.db");
    // Age everything recorded so far by a year.
    conn.execute_batch(
        "UPDATE events SET at = '2025-01-01T00:00:00Z';
         UPDATE outbox SET delivered_at = '2025-01-01T00:00:00Z' WHERE delivered_at IS NOT NULL;
         UPDATE webhook_batches SET delivered_at = '2025-01-01T00:00:00Z' WHERE delivered_at IS NOT NULL;
         UPDATE zones SET imported_at = '2025-01-01T00:00:00Z', finished_at = '2025-01-01T00:00:00Z';",
    )
    .unwrap();
    let pending: i64 = conn.query_row("SELECT count(*) FROM outbox WHERE delivered_at IS NULL", [], |r| r.get(0)).unwrap();
    assert!(pending > 0);
    let out = t.env.run(&["--db", "w.db", "--format", "jsonl", "prune", "--keep-days", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(p["events"].as_u64().unwrap() > 0 && p["outbox"].as_u64().unwrap() > 0);
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM zones WHERE state = 'current'"), 1, "the current version stays");
    assert_eq!(count("SELECT count(*) FROM events"), pending, "events still waiting for a webhook stay");
    // They still go out.
    assert!(t.deliver().status.success());
    assert_eq!(count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL"), 0);
    let current_domains = count("SELECT count(*) FROM domains d JOIN zones z ON z.tld = d.tld AND z.state = 'current'");
    assert!(current_domains as u64 >= DOMAINS - 100);
}

/// An endpoint that accepts and never answers: a delivery waits on it for its timeout and
/// retries, and meanwhile holds no write lock, so an import with a short --wait goes through.
#[test]
fn a_delivery_waiting_on_a_dead_endpoint_does_not_lock_imports_out() {
    let env = TestEnv::new();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let cfg = serde_json::json!({
        "webhooks": [{"url": url, "allow_private": true}],
        "webhooks.timeout_seconds": 2, "webhooks.retries": 3, "webhooks.retry_delay_seconds": 0.5,
    });
    env.write_private("config.json", cfg.to_string().as_bytes());
    for day in 0..2 {
        let mut text = Vec::new();
        zonefeed::synth::write_zone_day(&mut text, "com", 500, 5, day).unwrap();
        let f = env.write(&format!("com-{day}.zone"), &text);
        env.import_ok("w.db", &[f.to_str().unwrap()]);
    }
    let started = Instant::now();
    let mut deliver = env.cmd().args(["--db", "w.db", "-q", "webhooks", "deliver"]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, "com", 500, 5, 2).unwrap();
    let f = env.write("com-2.zone", &text);
    let out = env.run(&["--db", "w.db", "-q", "import", "--wait", "3", f.to_str().unwrap()]);
    let delivering = deliver.try_wait().unwrap().is_none();
    assert!(out.status.success(), "the import was locked out: {}", String::from_utf8_lossy(&out.stderr));
    assert!(delivering, "the delivery ended before the import ran: the test proves nothing");
    let status = deliver.wait().unwrap();
    assert_eq!(status.code(), Some(1), "nothing was delivered");
    assert!(started.elapsed() > Duration::from_secs(4), "the delivery did wait on the endpoint");
    drop(silent);
}
