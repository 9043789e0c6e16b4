//! Events to RabbitMQ: over four days of a zone, what a consumer receives (deduplicated by
//! message id) equals `changes`, with the broker stopped and started in the middle and
//! zonefeed killed while it publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::env::{synth_day, TestEnv};
use crate::rabbit::{consumer, Rabbit};

/// `changes` as (id, kind, domain).
fn changes(t: &TestEnv) -> BTreeSet<(String, String, String)> {
    let out = t.run(&["--db", "z.db", "--format", "jsonl", "changes"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|e| (e["id"].to_string(), e["kind"].as_str().unwrap().to_string(), e["domain"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn every_event_reaches_the_exchange_once_deduplicated_through_a_broker_restart_and_a_kill() {
    let t = TestEnv::new();
    let Some(mut rabbit) = Rabbit::start(&t, "amqp::every_event_reaches_the_exchange") else { return };
    consumer::bind(&rabbit.url(), "zonefeed", "test.all", "zonefeed.#");
    consumer::bind(&rabbit.url(), "zonefeed", "test.removed", "zonefeed.*.removed");
    let cfg = json!({"amqp.url": rabbit.url(), "webhooks.retries": 1, "webhooks.retry_delay_seconds": 0.1, "webhooks.timeout_seconds": 5});
    t.write("config.json", cfg.to_string().as_bytes());
    let day = |k: u64| synth_day(&t, &format!("d{k}.zone"), "example", 20_000, 11, k);
    let deliver = || t.run(&["--db", "z.db", "--json", "webhooks", "deliver"]);
    let mut got = Vec::new();

    // Days 0 and 1, delivered.
    t.import_ok("z.db", &["--date", "2026-12-01", day(0).to_str().unwrap()]);
    t.import_ok("z.db", &["--date", "2026-12-02", day(1).to_str().unwrap()]);
    let out = deliver();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    got.extend(consumer::drain(&rabbit.url(), "test.all"));
    assert!(!got.is_empty());

    // The broker goes down: day 2's delivery fails, names the broker, and loses nothing.
    rabbit.down();
    t.import_ok("z.db", &["--date", "2026-12-03", day(2).to_str().unwrap()]);
    let out = deliver();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("amqp://127.0.0.1:{}/%2F", rabbit.port)), "{err}");
    let out = t.run(&["--db", "z.db", "--json", "webhooks", "status"]);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let broker = status.as_array().unwrap().iter().find(|s| s["endpoint"].as_str().unwrap().starts_with("amqp://")).unwrap().clone();
    assert!(broker["pending_events"].as_u64().unwrap() > 0, "the backlog shows: {broker}");
    rabbit.up();
    let out = deliver();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    got.extend(consumer::drain(&rabbit.url(), "test.all"));

    // Day 3: delivery killed at random moments until one run finishes.
    t.import_ok("z.db", &["--date", "2026-12-04", day(3).to_str().unwrap()]);
    let mut killed = 0;
    for i in 0..20 {
        let mut child = t.cmd().args(["--db", "z.db", "--quiet", "webhooks", "deliver"]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(15 + 20 * i));
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        killed += 1;
    }
    let out = deliver();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    got.extend(consumer::drain(&rabbit.url(), "test.all"));
    eprintln!("deliveries killed: {killed}");

    // Deduplicated by message id, the messages are the events.
    let mut by_id: BTreeMap<String, &consumer::Got> = BTreeMap::new();
    for g in &got {
        assert!(g.persistent, "persistent: {g:?}");
        let id = g.message_id.clone().expect("a message id");
        assert_eq!(id, g.body["id"].to_string(), "the message id is the event id");
        let kind = g.body["kind"].as_str().unwrap();
        assert_eq!(g.routing_key, format!("zonefeed.example.{kind}"));
        by_id.insert(id, g);
    }
    let received: BTreeSet<(String, String, String)> = by_id
        .values()
        .map(|g| (g.body["id"].to_string(), g.body["kind"].as_str().unwrap().to_string(), g.body["domain"].as_str().unwrap().to_string()))
        .collect();
    let want = changes(&t);
    assert!(want.len() > 300, "{}", want.len());
    assert_eq!(received, want);
    // A modified event carries its diff, as on webhooks.
    assert!(by_id.values().any(|g| g.body["kind"] == "modified" && g.body["diff"]["added"].is_array()));
    // The binding by kind got the removals only.
    let removed = consumer::drain(&rabbit.url(), "test.removed");
    let removed_ids: BTreeSet<String> = removed.iter().map(|g| g.message_id.clone().unwrap()).collect();
    let want_removed: BTreeSet<String> = want.iter().filter(|(_, k, _)| k == "removed").map(|(id, _, _)| id.clone()).collect();
    assert_eq!(removed_ids, want_removed);
}

#[test]
fn an_unreachable_broker_or_refused_credentials_are_named() {
    let t = TestEnv::new();
    let Some(rabbit) = Rabbit::start(&t, "amqp::an_unreachable_broker_or_refused_credentials_are_named") else { return };
    let day0 = synth_day(&t, "d0.zone", "example", 500, 3, 0);
    let day1 = synth_day(&t, "d1.zone", "example", 500, 3, 1);
    // Nothing listens on port 1.
    t.write(
        "config.json",
        json!({"amqp.url": "amqp://127.0.0.1:1/%2f", "webhooks.retries": 1, "webhooks.retry_delay_seconds": 0.1}).to_string().as_bytes(),
    );
    t.import_ok("z.db", &["--date", "2026-12-01", day0.to_str().unwrap()]);
    t.import_ok("z.db", &["--date", "2026-12-02", day1.to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "webhooks", "deliver"]);
    assert_eq!(out.status.code(), Some(1), "its one endpoint failed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("amqp://127.0.0.1:1/%2F"), "{err}");
    // Wrong credentials: refused, said so, the password nowhere.
    let creds = t.write_private("amqp-credentials", b"guest\nnot-the-password-42\n");
    let cfg = json!({"amqp.url": rabbit.url(), "amqp.credentials_file": creds, "webhooks.retries": 1, "webhooks.retry_delay_seconds": 0.1});
    t.write("config.json", cfg.to_string().as_bytes());
    // The outbox is per endpoint: another broker's events are those imported after it was set.
    t.import_ok("z.db", &["--date", "2026-12-03", synth_day(&t, "d2.zone", "example", 500, 3, 2).to_str().unwrap()]);
    let out = t.run(&["--db", "z.db", "webhooks", "deliver"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the credentials") && !err.contains("not-the-password-42"), "{err}");
    // Credentials in the URL are refused before anything is sent.
    t.write("config.json", json!({"amqp.url": format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port)}).to_string().as_bytes());
    let out = t.run(&["--db", "z.db", "webhooks", "deliver"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp.credentials_file"));
}
