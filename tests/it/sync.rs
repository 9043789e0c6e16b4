//! `zonefeed sync` end to end: the CZDS test server, the importer and a webhook receiver.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::czds_server::{http_date, Czds};
use crate::env::{domains_sha256, gzip, with_keys, TestEnv};
use crate::receiver::{Receiver, SECRET};

const DOMAINS: u64 = 4000;

fn zone_day(tld: &str, day: u64) -> Vec<u8> {
    let mut text = Vec::new();
    zonefeed::synth::write_zone_day(&mut text, tld, DOMAINS, 9, day).unwrap();
    gzip(&text)
}

pub struct Setup {
    pub env: TestEnv,
    pub czds: Czds,
    pub hook: Receiver,
}

impl Setup {
    pub fn new() -> Setup {
        Setup::with(serde_json::json!({}))
    }

    /// A setup whose config has `extra` keys on top of the usual ones.
    pub fn with(extra: serde_json::Value) -> Setup {
        let env = TestEnv::new();
        let czds = Czds::start();
        let hook = Receiver::start();
        let ours = serde_json::json!({
            "download.retry_delay_seconds": 0.05,
            "webhooks": [{"url": hook.url(), "secret": SECRET, "allow_private": true, "batch_size": 50}],
            "webhooks.retry_delay_seconds": 0.05,
        });
        let cfg = with_keys(with_keys(czds.config(&env.path("work")), &ours), &extra);
        env.write_private("config.json", cfg.to_string().as_bytes());
        Setup { env, czds, hook }
    }

    pub fn publish(&self, tld: &str, day: u64) {
        self.publish_at(tld, day, SystemTime::now() - Duration::from_secs(86_400 * (10 - day)));
    }

    /// Publishes day `day` of `tld` with this Last-Modified.
    pub fn publish_at(&self, tld: &str, day: u64, modified: SystemTime) {
        let data = zone_day(tld, day);
        let mut s = self.czds.state();
        let z = s.zones.entry(tld.into()).or_insert_with(|| crate::czds_server::Zone {
            data: Vec::new(),
            last_modified: String::new(),
            status: None,
        });
        z.data = data;
        z.last_modified = http_date(modified);
    }

    pub fn sync(&self, args: &[&str]) -> std::process::Output {
        let mut a = vec!["--format", "jsonl", "--db", "s.db", "sync", "--chunk-size", "65536"];
        a.extend_from_slice(args);
        self.env.run(&a)
    }

    /// The per-zone objects `--json` printed.
    fn zones(out: &std::process::Output) -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v.get("download").is_some())
            .collect()
    }
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn sync_downloads_imports_and_delivers_each_day() {
    let t = Setup::new();
    t.publish("com", 0);
    t.publish("net", 0);
    let out = t.sync(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let zones = Setup::zones(&out);
    assert_eq!(zones.len(), 2);
    assert!(zones.iter().all(|z| z["status"] == "ok" && z["download"]["status"] == "downloaded" && z["import"]["version"].is_i64()));
    assert!(t.hook.state().received.is_empty(), "a baseline sends nothing");

    t.publish("com", 1);
    let out = t.sync(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let zones = Setup::zones(&out);
    let com = zones.iter().find(|z| z["tld"] == "com").unwrap();
    let net = zones.iter().find(|z| z["tld"] == "net").unwrap();
    assert_eq!(com["download"]["status"], "downloaded");
    assert_eq!(net["download"]["status"], "skipped");
    assert_eq!(net["import"]["unchanged"], true);
    // The day's changes reached the webhook, exactly.
    let events = t.env.run(&["--db", "s.db", "changes", "--format", "jsonl"]);
    let want: std::collections::BTreeSet<i64> = String::from_utf8_lossy(&events.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_i64().unwrap())
        .collect();
    assert!(want.len() > 20);
    let got: std::collections::BTreeSet<i64> = t
        .hook
        .state()
        .received
        .iter()
        .flat_map(|d| d.body["events"].as_array().cloned().unwrap_or_default())
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, want);
    // The imported .com is the file on the server.
    let direct = TestEnv::new();
    let f = direct.write("com.zone.gz", &zone_day("com", 1));
    direct.import_ok("d.db", &[f.to_str().unwrap()]);
    assert_eq!(domains_sha256(&t.env.db("s.db"), "com"), domains_sha256(&direct.db("d.db"), "com"));
    // Nothing new: nothing downloaded, nothing imported.
    let out = t.sync(&[]);
    assert!(out.status.success());
    assert!(Setup::zones(&out).iter().all(|z| z["download"]["status"] == "skipped" && z["import"]["unchanged"] == true));
}

#[test]
fn sync_imports_while_the_download_is_still_arriving() {
    let t = Setup::new();
    t.publish("org", 0);
    // The server keeps the last 2000 bytes back until the import has begun: its version row
    // exists only once the importer has read and parsed the first chunk.
    let db = t.env.path("s.db");
    let check: crate::czds_server::HoldCheck = Arc::new(move || {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT count(*) FROM zones WHERE tld = 'org' AND state = 'importing'", [], |r| r.get::<_, i64>(0)))
            .is_ok_and(|n| n > 0)
    });
    t.czds.state().faults.hold_tail = Some((2000, check));
    let out = t.sync(&["--no-webhooks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.czds.state().hold_passed, Some(true), "the import consumed bytes before the server sent its last one");
    let z = &Setup::zones(&out)[0];
    assert_eq!(z["overlapped"], true);
    let direct = TestEnv::new();
    let f = direct.write("org.zone.gz", &zone_day("org", 0));
    direct.import_ok("d.db", &[f.to_str().unwrap()]);
    assert_eq!(crate::env::tables(&t.env.db("s.db")), crate::env::tables(&direct.db("d.db")));
}

#[test]
fn a_file_replaced_mid_sync_is_imported_whole_not_spliced() {
    let t = Setup::new();
    t.publish("info", 0);
    {
        let mut s = t.czds.state();
        s.faults.cut_after = Some((100_000, 1));
        s.faults.change_after_cut = Some(zone_day("info", 2));
    }
    let out = t.sync(&["--no-webhooks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let direct = TestEnv::new();
    let f = direct.write("info.zone.gz", &zone_day("info", 2));
    direct.import_ok("d.db", &[f.to_str().unwrap()]);
    assert_eq!(crate::env::tables(&t.env.db("s.db")), crate::env::tables(&direct.db("d.db")));
}

#[test]
fn one_failing_zone_does_not_stop_the_others() {
    let t = Setup::new();
    t.publish("com", 0);
    t.publish("bad", 0);
    t.czds.state().zones.get_mut("bad").unwrap().status = Some(403);
    let out = t.sync(&[]);
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    let zones = Setup::zones(&out);
    assert_eq!(zones.iter().find(|z| z["tld"] == "com").unwrap()["status"], "ok");
    assert_eq!(zones.iter().find(|z| z["tld"] == "bad").unwrap()["status"], "failed");
    // A truncated file on the server fails its zone, keeps the current version.
    let mut cut = zone_day("com", 1);
    cut.truncate(cut.len() - 50);
    {
        let mut s = t.czds.state();
        let z = s.zones.get_mut("com").unwrap();
        z.data = cut;
        z.last_modified = http_date(SystemTime::now());
    }
    let before = domains_sha256(&t.env.db("s.db"), "com");
    let out = t.sync(&["com"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(domains_sha256(&t.env.db("s.db"), "com"), before);
}

#[test]
fn a_dropped_connection_resumes_under_the_running_import() {
    let t = Setup::new();
    t.publish("net", 0);
    t.czds.state().faults.cut_after = Some((60_000, 1));
    let out = t.sync(&["--no-webhooks"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let z = &Setup::zones(&out)[0];
    assert_eq!(z["overlapped"], true, "the import read on across the resume: {z}");
    let gets = t.czds.state().gets.clone();
    assert_eq!(gets.len(), 2);
    assert_eq!(gets[1].1.as_deref(), Some("bytes=60000-"));
    let direct = TestEnv::new();
    let f = direct.write("net.zone.gz", &zone_day("net", 0));
    direct.import_ok("d.db", &[f.to_str().unwrap()]);
    assert_eq!(crate::env::tables(&t.env.db("s.db")), crate::env::tables(&direct.db("d.db")));
}

#[test]
fn the_first_sync_of_a_file_already_downloaded_says_so_not_unchanged() {
    let t = Setup::new();
    t.publish("com", 0);
    assert!(t.env.run(&["--db", "s.db", "-q", "download", "com"]).status.success());
    let out = t.env.run(&["--db", "s.db", "sync", "com"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("com: file already downloaded (unchanged on the server), version 1:"), "{text}");
    assert!(text.contains("domains (first import)") && !text.contains(" new, "), "{text}");
}
