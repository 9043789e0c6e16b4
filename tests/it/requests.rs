//! `zonefeed requests` against the test server's portal API: a few hundred requests, several pages.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::czds_server::{iso, AccessRequest, Czds};
use crate::env::TestEnv;

const DAY: u64 = 86_400;

struct Setup {
    env: TestEnv,
    czds: Czds,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

impl Setup {
    /// 320 requests: statuses cycling, expiry dates from 20 days ago to a year ahead, a few
    /// extensions already under way, and `red` / `kred` to catch substring matching.
    fn new() -> Setup {
        let env = TestEnv::new();
        let czds = Czds::start();
        {
            let mut s = czds.state();
            s.terms_version = "7".into();
            let statuses = ["Approved", "Approved", "Approved", "Pending", "Denied", "Expired", "Approved", "Revoked"];
            for i in 0..320u64 {
                let status = statuses[i as usize % statuses.len()];
                let expired = (status == "Approved").then(|| now() + (i * 37 % 380) * DAY + 3600 - 20 * DAY);
                s.access.push(AccessRequest {
                    id: format!("req{i:04}"),
                    tld: format!("t{i:03}"),
                    status: status.into(),
                    created: iso(now() - 300 * DAY + i),
                    expired,
                    extension_in_process: i % 11 == 0,
                });
            }
            for (id, tld, days) in [("reqred", "red", 10), ("reqkred", "kred", 5)] {
                s.access.push(AccessRequest {
                    id: id.into(),
                    tld: tld.into(),
                    status: "Approved".into(),
                    created: iso(now() - 300 * DAY),
                    expired: Some(now() + days * DAY),
                    extension_in_process: false,
                });
            }
            s.all_tlds = (0..330).map(|i| format!("t{i:03}")).chain(["red".into(), "kred".into()]).collect();
        }
        let cfg = czds.config(&env.path("."));
        env.write_private("config.json", cfg.to_string().as_bytes());
        Setup { env, czds }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        let mut a = vec!["--format", "jsonl", "requests"];
        a.extend_from_slice(args);
        self.env.run(&a)
    }

    /// The requests `extend --within 30` must extend.
    fn due(&self) -> BTreeSet<String> {
        self.czds.state().access.iter().filter(|r| r.extensible()).map(|r| r.id.clone()).collect()
    }
}

fn lines(out: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn extend_picks_exactly_the_due_requests_once() {
    let t = Setup::new();
    let due = t.due();
    assert!(due.len() >= 10, "the fixture has requests to extend: {}", due.len());
    // A dry run sends nothing and names them all.
    let out = t.run(&["extend", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let would: BTreeSet<String> =
        lines(&out).iter().filter(|e| e["action"] == "would extend").map(|e| e["request_id"].as_str().unwrap().into()).collect();
    assert_eq!(would, due);
    assert!(t.czds.state().extensions.is_empty());
    // The real run extends exactly those.
    let in_window =
        t.czds.state().access.iter().filter(|r| r.extension_in_process && r.expired.is_some_and(|e| e <= now() + 30 * DAY)).count();
    let calls_before = t.czds.state().list_calls.len();
    let out = t.run(&["extend"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sent: BTreeSet<String> = t.czds.state().extensions.iter().cloned().collect();
    assert_eq!(sent, due);
    assert_eq!(t.czds.state().extensions.len(), due.len(), "each once");
    // Requests already under way are skipped with their reason.
    let skipped = lines(&out).into_iter().filter(|e| e["action"] == "skipped").collect::<Vec<_>>();
    let in_process = skipped.iter().filter(|e| e["reason"].as_str().unwrap().contains("already in process")).count();
    assert!(in_process > 0 && in_process == in_window, "{in_process} vs {in_window}");
    // Paging stopped once past the window: sorted by expiry, the far pages were never asked for.
    let calls = t.czds.state().list_calls[calls_before..].to_vec();
    assert!(calls.iter().all(|c| c["sort"]["field"] == "expired" && c["status"] == "Approved"));
    let approved = t.czds.state().access.iter().filter(|r| r.status == "Approved").count();
    assert!(approved > 100 && calls.len() < approved.div_ceil(100), "{} pages for {approved} approved", calls.len());
    // Run again (cron, the next day): nothing new is sent.
    let out = t.run(&["extend"]);
    assert!(out.status.success());
    assert_eq!(t.czds.state().extensions.len(), due.len());
}

#[test]
fn tlds_are_matched_exactly_not_by_substring() {
    let t = Setup::new();
    let out = t.run(&["extend", "red"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.czds.state().extensions, ["reqred"], "`red` must not extend `kred`");
    let out = t.run(&["list", "--tld", "red"]);
    let l = lines(&out);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["tld"], "red");
    assert_eq!(t.czds.state().list_calls.last().unwrap()["filter"], "red", "the server's filter narrows the pages");
}

#[test]
fn list_reads_every_page_and_filters() {
    let t = Setup::new();
    let out = t.run(&["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(lines(&out).len(), 322, "all pages read");
    let out = t.run(&["list", "--status", "Pending"]);
    assert!(lines(&out).iter().all(|r| r["status"] == "Pending"));
    let out = t.run(&["list", "--status", "Approved", "--expiring-within", "7"]);
    let soon = lines(&out);
    assert!(soon.iter().any(|r| r["tld"] == "kred") && !soon.iter().any(|r| r["tld"] == "red"));
}

#[test]
fn new_sends_the_current_terms_version_and_refuses_open_tlds() {
    let t = Setup::new();
    // t000 is approved, t003 pending: refused; t330-style new TLDs go out.
    let out = t.run(&["new", "t000", "t003", "brandnew", "--reason", "brand protection", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("t000: refused") && err.contains("t003: refused") && err.contains("terms and conditions version 7"), "{err}");
    let creates = t.czds.state().creates.clone();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0]["tcVersion"], "7");
    assert_eq!(creates[0]["allTlds"], false);
    assert_eq!(creates[0]["tldNames"], serde_json::json!(["brandnew"]));
    // Without --yes and without a terminal to ask on: nothing is sent.
    let out = t.run(&["new", "another", "--reason", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(t.czds.state().creates.len(), 1);
    // --all is an explicit list: every TLD not open, less the exclusions.
    let out = t.run(&["new", "--all", "--exclude", "t329,t328", "--reason", "all of it", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sent: Vec<String> =
        t.czds.state().creates[1]["tldNames"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(sent.contains(&"t320".to_string()) && !sent.contains(&"t329".to_string()) && !sent.contains(&"t000".to_string()));
}

#[test]
fn show_and_cancel_by_tld_or_id() {
    let t = Setup::new();
    let out = t.run(&["show", "t005"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["requestId"], "req0005");
    assert!(v.get("extensible").is_some());
    let out = t.run(&["cancel", "req0003"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(t.czds.state().cancels[0], serde_json::json!({"integrationId": "req0003", "tldName": "t003"}));
    let out = t.run(&["show", "nothere"]);
    assert_eq!(out.status.code(), Some(1));
    let out = t.run(&["tlds"]);
    assert_eq!(lines(&out).len(), 332);
}

#[test]
fn a_wrong_password_exits_3() {
    let t = Setup::new();
    let pw = t.env.write_private("pw", b"wrong-password-123\n");
    let out = t.run(&["--password-file", pw.to_str().unwrap(), "list"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(!stderr(&out).contains("wrong-password-123"));
}
