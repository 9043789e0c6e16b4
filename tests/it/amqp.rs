//! Events to RabbitMQ: over four days of a zone, what a consumer receives (deduplicated by
//! message id) equals `changes`, with the broker stopped and started in the middle and
//! zonefeed killed while it publishes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::env::{shared, synth_day, zonegen, TestEnv};
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
    let Some(sh) = shared("amqp::every_event_reaches_the_exchange") else { return };
    let Some(mut rabbit) = Rabbit::start(&t, "amqp::every_event_reaches_the_exchange") else { return };
    consumer::bind(&rabbit.url(), "zonefeed", "test.all", "zonefeed.#");
    consumer::bind(&rabbit.url(), "zonefeed", "test.removed", "zonefeed.*.removed");
    let cfg = json!({"amqp.url": rabbit.url(), "webhooks.retries": 1, "webhooks.retry_delay_seconds": 0.1, "webhooks.timeout_seconds": 5});
    t.write("config.json", cfg.to_string().as_bytes());
    let day =
        |k: u64| t.write(&format!("d{k}.zone"), &zonegen(&sh, &["zone", "--tld", "com", "--domains", "20000", "--day", &k.to_string()]));
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
        assert_eq!(g.routing_key, format!("zonefeed.com.{kind}"));
        by_id.insert(id, g);
    }
    let received: BTreeSet<(String, String, String)> = by_id
        .values()
        .map(|g| (g.body["id"].to_string(), g.body["kind"].as_str().unwrap().to_string(), g.body["domain"].as_str().unwrap().to_string()))
        .collect();
    let want = changes(&t);
    assert!(want.len() > 300, "{}", want.len());
    assert_eq!(received, want);
    // And the days' changes as zonegen knows them.
    let mut truth: Vec<(String, String)> = Vec::new();
    for k in 1..=3 {
        let (from, to) = ((k - 1).to_string(), k.to_string());
        let text =
            String::from_utf8(zonegen(&sh, &["changes", "--tld", "com", "--domains", "20000", "--from", &from, "--to", &to])).unwrap();
        truth.extend(text.lines().map(|l| l.split_once('\t').map(|(k, d)| (k.to_string(), d.to_string())).unwrap()));
    }
    let mut got_pairs: Vec<(String, String)> = received.iter().map(|(_, k, d)| (k.clone(), d.clone())).collect();
    truth.sort();
    got_pairs.sort();
    assert_eq!(got_pairs, truth, "the events are the days' changes");
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
    // --via spreads a zone's run: with domains named it is a usage error, never a local run.
    let out = t.run(&["analyze", "c0.lab", "--via", &rabbit.url()]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--via goes with --tld"));
    // A worker: refused credentials exit 3, an unreachable broker 1.
    let out = t.run(&["worker", &rabbit.url(), "--max-tasks", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused the credentials"));
    t.write("none.json", b"{}");
    let out = t.run(&["--config", "none.json", "worker", "amqp://127.0.0.1:1/%2f", "--max-tasks", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp://127.0.0.1:1/%2F"));
    // Credentials in the URL are refused before anything is sent.
    t.write("config.json", json!({"amqp.url": format!("amqp://guest:guest@127.0.0.1:{}/%2f", rabbit.port)}).to_string().as_bytes());
    let out = t.run(&["--db", "z.db", "webhooks", "deliver"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("amqp.credentials_file"));
}

/// A database's kept analyses: domain -> (worst, counts), and the open findings.
fn analyses(t: &TestEnv, db: &str) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let conn = t.db(db);
    let rows = crate::env::column(
        &conn,
        "SELECT domain || ' ' || coalesce(worst, '-') || ' ' || info || '/' || notice || '/' || warning || '/' || error || '/' || critical FROM analyses",
    );
    let per: BTreeMap<String, String> =
        rows.iter().map(|r| r.split_once(' ').map(|(d, rest)| (d.to_string(), rest.to_string())).unwrap()).collect();
    assert_eq!(per.len(), rows.len(), "each domain kept once");
    let findings = crate::env::column(
        &conn,
        "SELECT domain || ' ' || testcase || ' ' || level || ' ' || tag || ' ' || args FROM findings WHERE until IS NULL",
    )
    .into_iter()
    .collect();
    (per, findings)
}

#[test]
fn analyses_spread_over_three_workers_one_killed_are_kept_once_and_equal_a_local_run() {
    let t = TestEnv::new();
    let Some(lab) = crate::lab::Lab::up(&t.path("lab"), 40) else { return };
    let Some(rabbit) = Rabbit::start(&t, "amqp::analyses_spread_over_three_workers") else { return };
    let engine =
        ["--root-hints", lab.path("hints").to_str().unwrap(), "--allow-private", "--qps", "1000", "--timeout", "1"].map(String::from);
    let zone = lab.path("zones/lab.zone");
    t.import_ok("local.db", &["--date", "2026-12-01", zone.to_str().unwrap()]);
    t.import_ok("spread.db", &["--date", "2026-12-01", zone.to_str().unwrap()]);

    // Without the broker.
    let mut a = vec!["--db", "local.db", "--quiet", "analyze", "--tld", "lab", "--all"];
    a.extend(engine.iter().map(String::as_str));
    let out = t.run(&a);
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1), "{}", String::from_utf8_lossy(&out.stderr));

    // Through it: the coordinator publishes, three workers run; garbage in the queue first.
    let url = rabbit.url();
    let mut c = vec!["--db", "spread.db", "--format", "jsonl", "analyze", "--tld", "lab", "--all", "--via", &url];
    c.extend(engine.iter().map(String::as_str));
    let coordinator = t.cmd().args(&c).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // The queues exist once the coordinator published.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while queue_len(&url, "zonefeed.tasks").is_none() {
        assert!(std::time::Instant::now() < deadline, "the coordinator declared no queue");
        std::thread::sleep(Duration::from_millis(200));
    }
    consumer::publish(&url, "zonefeed.tasks", b"this is not a task");
    // A result for a task the coordinator never published.
    let stray = json!({"run": 999, "seq": 0, "domain": "c0.lab", "elapsed_ms": 1, "findings": [], "worker": "elsewhere"});
    consumer::publish(&url, "zonefeed.results.analyze", stray.to_string().as_bytes());
    let worker = |log: &str| {
        let mut w = vec!["--db", "unused.db", "worker", &url, "--prefetch", "4"];
        w.extend(engine.iter().map(String::as_str));
        let f = std::fs::File::create(t.path(log)).unwrap();
        t.cmd().args(&w).stderr(f).spawn().unwrap()
    };
    let mut workers = [worker("w1.log"), worker("w2.log"), worker("w3.log")];
    // One worker dies mid-run: once some results are kept.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while crate::env::column(&t.db("spread.db"), "SELECT CAST(count(*) AS TEXT) FROM analyses")[0].parse::<u32>().unwrap() < 5 {
        assert!(std::time::Instant::now() < deadline, "no result kept");
        std::thread::sleep(Duration::from_millis(50));
    }
    workers[0].kill().unwrap();
    workers[0].wait().unwrap();
    let out = coordinator.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("refused a result for a task this run did not publish: run 999 #0 c0.lab") && err.contains("1 refused"), "{err}");
    for w in workers.iter_mut().skip(1) {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    let logs: String = ["w1.log", "w2.log", "w3.log"].iter().map(|l| std::fs::read_to_string(t.path(l)).unwrap()).collect();
    assert!(logs.contains("a task that is not one") && logs.contains("dead-lettered"), "{logs}");
    assert_eq!(queue_len(&url, "zonefeed.dead"), Some(2), "the garbage task and the stray result, dead-lettered");

    let (local, local_findings) = analyses(&t, "local.db");
    let (spread, spread_findings) = analyses(&t, "spread.db");
    assert!(local.len() > 40, "{}", local.len());
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).take(5).cloned().collect::<Vec<_>>();
    assert_eq!(
        spread_findings,
        local_findings,
        "only local: {:?}; only spread: {:?}",
        only(&local_findings, &spread_findings),
        only(&spread_findings, &local_findings)
    );
    assert_eq!(spread, local, "each domain's result equals the local run's");
    let unfinished = crate::env::column(&t.db("spread.db"), "SELECT CAST(count(*) AS TEXT) FROM analysis_runs WHERE finished_at IS NULL");
    assert_eq!(unfinished, ["0"], "the run is complete");
}

/// The messages in `queue`, or None when it does not exist.
fn queue_len(url: &str, queue: &str) -> Option<u32> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    rt.block_on(async {
        let conn = lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await.ok()?;
        let ch = conn.create_channel().await.unwrap();
        let passive = lapin::options::QueueDeclareOptions { passive: true, durable: true, ..Default::default() };
        let q = ch.queue_declare(lapin::types::ShortString::from(queue), passive, lapin::types::FieldTable::default()).await.ok();
        let _ = conn.close(200, lapin::types::ShortString::from("bye")).await;
        q.map(|q| q.message_count())
    })
}

#[test]
fn a_monitor_pass_through_workers_keeps_what_a_local_pass_keeps() {
    let t = TestEnv::new();
    let Some(lab) = crate::lab::Lab::up(&t.path("lab"), 12) else { return };
    let Some(rabbit) = Rabbit::start(&t, "amqp::a_monitor_pass_through_workers") else { return };
    let engine =
        ["--root-hints", lab.path("hints").to_str().unwrap(), "--allow-private", "--qps", "1000", "--timeout", "1"].map(String::from);
    let zone = lab.path("zones/lab.zone");
    let names: Vec<String> = (0..12).map(|i| format!("c{i}.lab")).chain(["lame.lab", "dead.lab", "gone.lab"].map(String::from)).collect();
    for db in ["local.db", "spread.db"] {
        t.import_ok(db, &["--date", "2026-12-01", zone.to_str().unwrap()]);
        let mut add = vec!["--db", db, "monitor", "add"];
        add.extend(names.iter().map(String::as_str));
        assert!(t.run(&add).status.success());
    }
    let mut local = vec!["--db", "local.db", "--quiet", "monitor", "run", "--once", "--only", "dns"];
    local.extend(engine.iter().map(String::as_str));
    assert!(t.run(&local).status.success());

    let url = rabbit.url();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let mut w = vec!["worker", &url, "--prefetch", "4"];
            w.extend(engine.iter().map(String::as_str));
            t.cmd().args(&w).stderr(std::process::Stdio::null()).spawn().unwrap()
        })
        .collect();
    let mut via = vec!["--db", "spread.db", "--format", "jsonl", "monitor", "run", "--once", "--only", "dns", "--via", &url];
    via.extend(engine.iter().map(String::as_str));
    let out = t.run(&via);
    for mut w in workers {
        w.kill().unwrap();
        w.wait().unwrap();
    }
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), names.len(), "one line per check");
    let kept = |db: &str| {
        let conn = t.db(db);
        let rrsets = crate::env::column(
            &conn,
            "SELECT name || ' ' || owner || ' ' || type || ' ' || ttl || ' ' || rdata FROM live_rrsets ORDER BY 1",
        );
        let states = crate::env::column(&conn, "SELECT name || ' ' || coalesce(state, '-') FROM monitored ORDER BY 1");
        (rrsets, states)
    };
    let (local_sets, local_states) = kept("local.db");
    let (spread_sets, spread_states) = kept("spread.db");
    assert!(local_sets.len() > 24, "{local_sets:?}");
    assert!(local_states.iter().any(|s| s.ends_with(" degraded")) && local_states.iter().any(|s| s.ends_with(" gone")), "{local_states:?}");
    assert_eq!(spread_states, local_states);
    assert_eq!(spread_sets, local_sets);
}
